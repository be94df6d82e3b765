//! The job kinds this runner knows.

pub mod process_webhook;

use switchboard_domain::job_kind;
use switchboard_store::{Db, StoreError};

use crate::registry::{Noop, Registry};

pub const NOOP: &str = "NOOP";

/// Every handler of this build (some start their own writer threads on `db`).
pub fn registry(db: &Db) -> Result<Registry, StoreError> {
    Ok(Registry::new().register(NOOP, Noop).register(
        job_kind::PROCESS_WEBHOOK,
        process_webhook::ProcessWebhook::start(db)?,
    ))
}
