//! What became of each claimed job, written back in batches through a group-commit writer:
//! thousands of completions per second cost a handful of transactions.

use chrono::NaiveDateTime;
use switchboard_store::repo::{jobs, webhooks};
use switchboard_store::writer::Batch;
use switchboard_store::{AnyConnection, StoreError};

#[derive(Debug, Clone)]
pub enum Outcome {
    Done {
        id: String,
    },
    /// Done, and already marked so by the handler in its own transaction: nothing to write.
    Completed {
        id: String,
    },
    Retry {
        id: String,
        run_at: NaiveDateTime,
        error: String,
    },
    /// Not a failure: the job had to wait (paused channel, pacing); the attempt is not counted.
    Defer {
        id: String,
        run_at: NaiveDateTime,
        reason: String,
    },
    Dead {
        id: String,
        error: String,
        webhook_event_id: Option<String>,
    },
}

/// An outcome and the runner that holds the job's lease (only the holder may settle it).
#[derive(Debug, Clone)]
pub struct Settle {
    pub owner: String,
    pub outcome: Outcome,
}

impl Batch for Settle {
    type Output = ();

    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<()>, StoreError> {
        let now = switchboard_store::models::now();
        let mut done_by_owner: Vec<(&str, Vec<String>)> = Vec::new();
        for item in items {
            match &item.outcome {
                Outcome::Completed { .. } => {}
                Outcome::Done { id } => {
                    match done_by_owner.iter_mut().find(|(o, _)| *o == item.owner) {
                        Some((_, ids)) => ids.push(id.clone()),
                        None => done_by_owner.push((&item.owner, vec![id.clone()])),
                    }
                }
                Outcome::Retry { id, run_at, error } => {
                    jobs::retry_job_later(conn, &item.owner, id, *run_at, error, now)?;
                }
                Outcome::Defer { id, run_at, reason } => {
                    jobs::defer_job(conn, &item.owner, id, *run_at, reason, now)?;
                }
                Outcome::Dead {
                    id,
                    error,
                    webhook_event_id,
                } => {
                    if jobs::dead_letter_job(conn, &item.owner, id, error, now)?
                        && let Some(event) = webhook_event_id
                    {
                        webhooks::mark_event_failed(conn, event, error)?;
                    }
                }
            }
        }
        for (owner, ids) in done_by_owner {
            jobs::complete_jobs(conn, owner, &ids, now)?;
        }
        Ok(vec![(); items.len()])
    }
}
