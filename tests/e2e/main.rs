//! End-to-end tests: the real `switchboard` binary, as an operator runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod event_webhooks;
mod helpdesk;
mod inbox;
mod ingest;
mod outbound;
mod runner;
mod web;
