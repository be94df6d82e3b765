//! Job kinds and their handlers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use switchboard_store::models::IntegrationJob;
use switchboard_store::{Db, StoreError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a job did not finish, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Try again later (with backoff, or after `after` when the other side said when).
    #[error("{message}")]
    Retry {
        message: String,
        after: Option<Duration>,
    },
    /// Not a failure: wait `after`, then run again without counting this attempt (the
    /// channel is paused, or pacing says the send must wait).
    #[error("{reason}")]
    Defer { reason: String, after: Duration },
    /// Trying again cannot help: dead-letter it now.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> Self {
        JobError::Retry {
            message: message.into(),
            after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        JobError::Permanent(message.into())
    }
}

/// The database failing is a reason to try again, not to give up; bad data and a rule's
/// refusal (an opted-out contact) would fail the same way every time.
impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(message) | StoreError::Refused { message, .. } => {
                JobError::Permanent(message)
            }
            other => JobError::retry(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        JobError::from(StoreError::from(e))
    }
}

/// What a handler gets besides its job.
#[derive(Clone)]
pub struct JobContext {
    pub db: Db,
}

/// One job kind. Handlers must be idempotent: a job can run twice (a crash between its work
/// and its completion), and the second run must change nothing.
pub trait JobHandler: Send + Sync + 'static {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>>;

    /// True when a successful run has already marked its claimed job DONE, in the same
    /// transaction as its work, so the runner writes nothing more for it (one commit saved per
    /// batch, and the work and its job can never disagree after a crash).
    fn completes_its_jobs(&self) -> bool {
        false
    }
}

#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, kind: &str, handler: impl JobHandler) -> Self {
        self.handlers.insert(kind.to_string(), Arc::new(handler));
        self
    }

    /// One handler for several kinds.
    pub fn register_shared(mut self, kind: &str, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind.to_string(), handler);
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }

    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}

/// `NOOP`: does nothing, successfully. Used by smoke tests and the queue benchmark.
pub struct Noop;

impl JobHandler for Noop {
    fn run<'a>(
        &'a self,
        _ctx: &'a JobContext,
        _job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Ok(()) })
    }
}
