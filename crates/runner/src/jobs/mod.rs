//! The job kinds this runner knows.

pub mod process_webhook;

use switchboard_domain::job_kind;

use crate::registry::{Noop, Registry};

pub const NOOP: &str = "NOOP";

/// Every handler of this build.
pub fn registry() -> Registry {
    Registry::new()
        .register(NOOP, Noop)
        .register(job_kind::PROCESS_WEBHOOK, process_webhook::ProcessWebhook)
}
