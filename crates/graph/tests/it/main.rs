//! The Graph client against a scripted local server that answers with Meta's recorded responses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod harness;
mod media;
mod phone_numbers;
mod send;
mod templates;
