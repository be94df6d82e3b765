//! The job queue's rows. Claiming, leasing and retries arrive with the runner; this is how
//! work gets enqueued.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use switchboard_domain::JobStatus;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{IntegrationJob, new_id};
use crate::schema::integration_jobs;

/// Attempts before a job is dead-lettered, unless its kind says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// A new PENDING job, due at `at`.
pub fn new_job(
    kind: &str,
    organization_id: Option<String>,
    payload: String,
    at: NaiveDateTime,
) -> IntegrationJob {
    IntegrationJob {
        id: new_id(),
        organization_id,
        kind: kind.to_string(),
        payload,
        status: JobStatus::Pending.as_str().to_string(),
        attempts: 0,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        run_at: at,
        lease_owner: None,
        lease_expires_at: None,
        last_error: None,
        idempotency_key: None,
        webhook_event_id: None,
        created_at: at,
        updated_at: at,
        finished_at: None,
    }
}

/// Inserts jobs: one multi-row statement on PostgreSQL (one round trip), row by row on
/// SQLite (in-process calls on a cached statement, as fast).
pub fn insert_jobs(conn: &mut AnyConnection, jobs: &[IntegrationJob]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Postgres(c) => {
            diesel::insert_into(integration_jobs::table)
                .values(jobs)
                .execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            for job in jobs {
                diesel::insert_into(integration_jobs::table)
                    .values(job)
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

pub fn find_job(conn: &mut AnyConnection, id: &str) -> Result<Option<IntegrationJob>, StoreError> {
    Ok(integration_jobs::table.find(id).first(conn).optional()?)
}

/// The jobs created for a webhook event (one PROCESS_WEBHOOK job, when it was routed).
pub fn list_jobs_for_event(
    conn: &mut AnyConnection,
    webhook_event_id: &str,
) -> Result<Vec<IntegrationJob>, StoreError> {
    Ok(integration_jobs::table
        .filter(integration_jobs::webhook_event_id.eq(webhook_event_id))
        .load(conn)?)
}

pub fn count_jobs(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(integration_jobs::table.count().get_result(conn)?)
}
