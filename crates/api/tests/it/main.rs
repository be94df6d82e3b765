//! API tests on SQLite and, when SWITCHBOARD_TEST_DATABASE_URL is set, PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checks;
mod frontend;
mod helpdesk;
mod inbox;
mod jira;
mod leads;
mod matrix;
mod media;
mod notify;
mod ops;
mod opt_outs;
mod people;
mod send;
mod templates;
mod webhook_subscriptions;
mod world;
