//! Store tests: each runs against SQLite and, when SWITCHBOARD_TEST_DATABASE_URL is set, PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod channels;
mod conversations;
mod jira;
mod media;
mod organizations;
mod outbound;
mod schema;
mod subscriptions;
mod tokens;
mod writer;
