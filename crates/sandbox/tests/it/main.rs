//! The sandbox in-process on loopback ports chosen by the OS, with a tiny actix receiver
//! standing in for Switchboard's webhook target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod graph;
mod harness;
mod inbound;
mod templates;
mod webhooks;
