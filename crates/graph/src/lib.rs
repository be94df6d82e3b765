//! The WhatsApp Cloud API client: everything Switchboard asks of Meta's Graph API.
//!
//! Sending, mark-as-read, media, template listing and submission, each returning either Meta's answer or a
//! [`GraphError`] already sorted by [`ErrorClass`], so the job runner knows whether to retry,
//! fail the message, or pause the channel without reading Meta's error table itself. Calls are
//! made once: retrying is the job runner's business, where attempts are counted and stored.

// `GraphError` keeps Meta's fields public and unboxed so callers can match on them; it is built
// only on the failure path of a network call, where its size costs nothing measurable.
#![allow(clippy::result_large_err)]

mod client;
mod error;
mod media;
mod messages;
mod phone_numbers;
mod templates;

pub use client::{ChannelAuth, GraphClient, GraphConfig};
pub use error::{ErrorClass, GraphError, WINDOW_CLOSED_REASON, classify, error_chain};
pub use media::MediaInfo;
pub use messages::Accepted;
pub use phone_numbers::PhoneNumberInfo;
pub use templates::{CreatedTemplate, RemoteTemplate, TemplateSubmission};
