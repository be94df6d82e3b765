//! The job kinds this runner knows.

pub mod process_webhook;
pub mod send_message;

use std::sync::Arc;

use switchboard_domain::job_kind;
use switchboard_store::{Db, StoreError};

use crate::registry::{Noop, Registry};
pub use send_message::{Outbound, SendMessage};

pub const NOOP: &str = "NOOP";

/// Every handler of this build (some start their own writer threads on `db`). Without
/// `outbound` (no Graph client: replay, tests of projections) send jobs wait in the queue.
pub fn registry(db: &Db, outbound: Option<Outbound>) -> Result<Registry, StoreError> {
    let registry = Registry::new().register(NOOP, Noop).register(
        job_kind::PROCESS_WEBHOOK,
        process_webhook::ProcessWebhook::start(db)?,
    );
    let Some(outbound) = outbound else {
        return Ok(registry);
    };
    let send = Arc::new(SendMessage::start(db, outbound)?);
    Ok(registry
        .register_shared(job_kind::SEND_MESSAGE, send.clone())
        .register_shared(job_kind::SEND_MESSAGE_TEMPLATE, send))
}
