//! The webhook target in-process (actix's test server), on SQLite and, when configured, PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod receive;
mod verify;
