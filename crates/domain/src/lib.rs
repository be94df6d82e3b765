//! Pure rules and types of Switchboard: no I/O lives here.
//!
//! Every other crate depends on this one; it depends on nothing of ours.

pub mod role;
pub mod status;

pub use role::Role;
pub use status::{EventStatus, JobStatus, job_kind};
