//! Pure rules and types of Switchboard: no I/O lives here.
//!
//! Every other crate depends on this one; it depends on nothing of ours.

pub mod backoff;
pub mod events;
pub mod helpdesk;
pub mod media;
pub mod opt_out;
pub mod outbound;
pub mod phone;
pub mod role;
pub mod settings;
pub mod status;
pub mod template_def;
pub mod webhook;
pub mod window;

pub use role::Role;
pub use status::{EventStatus, JobStatus, MessageStatus, job_kind};
