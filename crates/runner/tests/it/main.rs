//! Runner tests on SQLite and, when SWITCHBOARD_TEST_DATABASE_URL is set, PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod coexistence;
mod deliveries;
mod jira;
mod media;
mod projection;
mod queue;
mod reads;
mod sending;
mod support;
mod templates;
