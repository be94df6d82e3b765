//! Lifecycle states stored as text in the database.

/// A stored webhook's state: the log of record keeps every event, whatever happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventStatus {
    /// Stored, waiting for its PROCESS_WEBHOOK job.
    Pending,
    Processed,
    /// Its job was dead-lettered.
    Failed,
    /// Stored for the record but routed to no channel (unknown phone number id): no job.
    Ignored,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processed => "PROCESSED",
            Self::Failed => "FAILED",
            Self::Ignored => "IGNORED",
        }
    }
}

/// A job's state in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Pending,
    Running,
    Done,
    Failed,
    /// Dead letter: it will not be retried unless an operator says so.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
            Self::Dead => "DEAD",
        }
    }
}

/// Job kinds, named as the seed systems named them.
pub mod job_kind {
    pub const PROCESS_WEBHOOK: &str = "PROCESS_WEBHOOK";
}
