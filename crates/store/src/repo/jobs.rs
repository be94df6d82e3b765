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
    insert_jobs_quietly(conn, jobs)?;
    announce_jobs(conn)
}

/// Tells runner processes LISTENing on PostgreSQL that jobs were enqueued: they wake at commit
/// instead of at their next poll. PostgreSQL folds repeats within a transaction, so a batch
/// writer inserting many jobs (see [`insert_jobs_quietly`]) announces once.
pub fn announce_jobs(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Postgres(c) = conn {
        diesel::sql_query("SELECT pg_notify('switchboard_jobs', '')").execute(c)?;
    }
    Ok(())
}

/// [`insert_jobs`] without the announcement: the caller calls [`announce_jobs`] once.
pub fn insert_jobs_quietly(
    conn: &mut AnyConnection,
    jobs: &[IntegrationJob],
) -> Result<(), StoreError> {
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
    Ok(integration_jobs::table
        .find(id)
        .load(conn)?
        .into_iter()
        .next())
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

/// Claims up to `limit` due PENDING jobs for `owner`: RUNNING, leased until `lease_until`,
/// `attempts + 1`, oldest `run_at` first. On PostgreSQL one statement with `FOR UPDATE SKIP
/// LOCKED`, so any number of runner processes never claim one job twice; on SQLite one short
/// write (call it inside `write_transaction`).
pub fn claim_due_jobs(
    conn: &mut AnyConnection,
    owner: &str,
    limit: i64,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> Result<Vec<IntegrationJob>, StoreError> {
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{BigInt, Text, Timestamp};
    const SET: &str = "UPDATE integration_jobs SET status = 'RUNNING', lease_owner = $1, lease_expires_at = $2, \
                       attempts = attempts + 1, updated_at = $3 WHERE id IN ";
    const DUE: &str = "(SELECT id FROM integration_jobs WHERE status = 'PENDING' AND run_at <= $3 ORDER BY run_at LIMIT $4";
    let jobs = match conn {
        AnyConnection::Postgres(c) => {
            // Walk the partial index of due jobs in run_at order and stop after `limit`. Right
            // after a bulk enqueue the planner has no statistics yet and would rather
            // bitmap-scan and sort every pending job on each claim; these settings last for
            // this transaction only and keep the plan that is right for a queue.
            c.batch_execute("SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off")?;
            diesel::sql_query(format!("{SET}{DUE} FOR UPDATE SKIP LOCKED) RETURNING *"))
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(c)?
        }
        // SQLite's ?NNN parameters are numbered like PostgreSQL's $N.
        AnyConnection::Sqlite(c) => {
            diesel::sql_query(format!("{SET}{DUE}) RETURNING *").replace('$', "?"))
                .bind::<Text, _>(owner)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(c)?
        }
    };
    Ok(jobs)
}

/// Marks jobs this owner still holds as DONE; returns how many it held.
pub fn complete_jobs(
    conn: &mut AnyConnection,
    owner: &str,
    ids: &[String],
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut done = 0;
    // Bounded IN lists keep both backends' parameter limits far away.
    for chunk in ids.chunks(500) {
        done += diesel::update(
            integration_jobs::table
                .filter(integration_jobs::id.eq_any(chunk))
                .filter(integration_jobs::lease_owner.eq(owner))
                .filter(integration_jobs::status.eq(JobStatus::Running.as_str())),
        )
        .set((
            integration_jobs::status.eq(JobStatus::Done.as_str()),
            integration_jobs::finished_at.eq(Some(now)),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            integration_jobs::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    }
    Ok(done)
}

/// Puts a failed job back to PENDING, due at `run_at`, keeping the error. False when the lease was lost.
pub fn retry_job_later(
    conn: &mut AnyConnection,
    owner: &str,
    id: &str,
    run_at: NaiveDateTime,
    error: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let updated = diesel::update(held(owner, id))
        .set((
            integration_jobs::status.eq(JobStatus::Pending.as_str()),
            integration_jobs::run_at.eq(run_at),
            integration_jobs::last_error.eq(Some(error)),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Puts a job back to PENDING, due at `run_at`, without counting the attempt: it did not
/// fail, it had to wait (its channel is paused, or its recipient's pair limit is spent).
pub fn defer_job(
    conn: &mut AnyConnection,
    owner: &str,
    id: &str,
    run_at: NaiveDateTime,
    reason: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let updated = diesel::update(held(owner, id))
        .set((
            integration_jobs::status.eq(JobStatus::Pending.as_str()),
            integration_jobs::attempts.eq(integration_jobs::attempts - 1),
            integration_jobs::run_at.eq(run_at),
            integration_jobs::last_error.eq(Some(reason)),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Makes an organization's waiting jobs of these kinds due now (a paused channel resumed).
pub fn wake_jobs(
    conn: &mut AnyConnection,
    org: &str,
    kinds: &[&str],
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let woken = diesel::update(
        integration_jobs::table
            .filter(integration_jobs::organization_id.eq(org))
            .filter(integration_jobs::kind.eq_any(kinds))
            .filter(integration_jobs::status.eq(JobStatus::Pending.as_str()))
            .filter(integration_jobs::run_at.gt(now)),
    )
    .set(integration_jobs::run_at.eq(now))
    .execute(conn)?;
    Ok(woken)
}

/// Dead-letters a job: it will not run again unless an operator retries it.
pub fn dead_letter_job(
    conn: &mut AnyConnection,
    owner: &str,
    id: &str,
    error: &str,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let updated = diesel::update(held(owner, id))
        .set((
            integration_jobs::status.eq(JobStatus::Dead.as_str()),
            integration_jobs::last_error.eq(Some(error)),
            integration_jobs::finished_at.eq(Some(now)),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

type HeldJob<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            integration_jobs::table,
            diesel::dsl::Eq<integration_jobs::id, &'a str>,
        >,
        diesel::dsl::Eq<integration_jobs::lease_owner, &'a str>,
    >,
    diesel::dsl::Eq<integration_jobs::status, &'static str>,
>;

/// The job `id`, only while `owner` holds its lease.
fn held<'a>(owner: &'a str, id: &'a str) -> HeldJob<'a> {
    integration_jobs::table
        .filter(integration_jobs::id.eq(id))
        .filter(integration_jobs::lease_owner.eq(owner))
        .filter(integration_jobs::status.eq(JobStatus::Running.as_str()))
}

/// Extends the leases of jobs still running (a long job must not be claimed by another runner).
pub fn renew_leases(
    conn: &mut AnyConnection,
    owner: &str,
    ids: &[String],
    until: NaiveDateTime,
) -> Result<usize, StoreError> {
    let mut renewed = 0;
    for chunk in ids.chunks(500) {
        renewed += diesel::update(
            integration_jobs::table
                .filter(integration_jobs::id.eq_any(chunk))
                .filter(integration_jobs::lease_owner.eq(owner))
                .filter(integration_jobs::status.eq(JobStatus::Running.as_str())),
        )
        .set(integration_jobs::lease_expires_at.eq(Some(until)))
        .execute(conn)?;
    }
    Ok(renewed)
}

/// Hands back jobs a stopping runner did not finish: PENDING again, due now, the interrupted
/// attempt not counted.
pub fn release_leases(
    conn: &mut AnyConnection,
    owner: &str,
    ids: &[String],
    now: NaiveDateTime,
) -> Result<usize, StoreError> {
    let mut released = 0;
    for chunk in ids.chunks(500) {
        released += diesel::update(
            integration_jobs::table
                .filter(integration_jobs::id.eq_any(chunk))
                .filter(integration_jobs::lease_owner.eq(owner))
                .filter(integration_jobs::status.eq(JobStatus::Running.as_str())),
        )
        .set((
            integration_jobs::status.eq(JobStatus::Pending.as_str()),
            integration_jobs::run_at.eq(now),
            integration_jobs::attempts.eq(integration_jobs::attempts - 1),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    }
    Ok(released)
}

/// Jobs whose runner died (lease expired while RUNNING): back to PENDING, or DEAD when they
/// have used every attempt. Returns (requeued, dead-lettered).
pub fn recover_expired_leases(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
) -> Result<(usize, usize), StoreError> {
    const NO_ATTEMPTS_LEFT: &str = "the runner holding it stopped, and no attempts are left";
    let expired = integration_jobs::table
        .filter(integration_jobs::status.eq(JobStatus::Running.as_str()))
        .filter(integration_jobs::lease_expires_at.lt(now));
    let exhausted = expired.filter(integration_jobs::attempts.ge(integration_jobs::max_attempts));
    // Their handlers never see this last failure: what they would have settled is settled here.
    let dying: Vec<IntegrationJob> = exhausted.select(IntegrationJob::as_select()).load(conn)?;
    let dead = diesel::update(exhausted)
        .set((
            integration_jobs::status.eq(JobStatus::Dead.as_str()),
            integration_jobs::last_error.eq(Some(NO_ATTEMPTS_LEFT)),
            integration_jobs::finished_at.eq(Some(now)),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    for job in &dying {
        settle_abandoned(conn, job, NO_ATTEMPTS_LEFT)?;
    }
    let requeued = diesel::update(expired)
        .set((
            integration_jobs::status.eq(JobStatus::Pending.as_str()),
            integration_jobs::run_at.eq(now),
            integration_jobs::last_error.eq(Some(
                "lease expired: the runner holding it stopped or stalled",
            )),
            integration_jobs::updated_at.eq(now),
            integration_jobs::lease_owner.eq(None::<String>),
            integration_jobs::lease_expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok((requeued, dead))
}

/// A job dead-lettered without its handler running (its runner stopped on the last attempt):
/// what the handler marks on its own last attempt is marked here, so no message stays QUEUED,
/// no file PENDING, no delivery PENDING and no event PENDING for ever.
fn settle_abandoned(
    conn: &mut AnyConnection,
    job: &IntegrationJob,
    reason: &str,
) -> Result<(), StoreError> {
    use crate::repo::{media, outbound, subscriptions, webhooks};
    use switchboard_domain::job_kind;
    let org = job.organization_id.as_deref().unwrap_or_default();
    match job.kind.as_str() {
        job_kind::PROCESS_WEBHOOK => {
            if let Some(event) = &job.webhook_event_id {
                webhooks::mark_event_failed(conn, event, reason)?;
            }
        }
        job_kind::SEND_MESSAGE | job_kind::SEND_MESSAGE_TEMPLATE => {
            if let Ok(payload) = serde_json::from_str::<outbound::SendPayload>(&job.payload) {
                outbound::mark_failed(conn, org, &payload.message_log_id, None, reason)?;
            }
        }
        job_kind::DOWNLOAD_MEDIA => {
            if let Ok(payload) = serde_json::from_str::<media::DownloadPayload>(&job.payload) {
                media::mark_failed(conn, org, &payload.media_id, reason)?;
            }
        }
        job_kind::DELIVER_EVENT => {
            subscriptions::abandon_deliveries_of_jobs(conn, std::slice::from_ref(&job.id), reason)?;
        }
        _ => {}
    }
    Ok(())
}

/// An operator's retry: a DEAD (or FAILED) job back to PENDING with fresh attempts.
pub fn retry_dead_job(
    conn: &mut AnyConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<IntegrationJob, StoreError> {
    let job = find_job(conn, id)?.ok_or(StoreError::NotFound("job"))?;
    if job.status != JobStatus::Dead.as_str() && job.status != JobStatus::Failed.as_str() {
        return Err(StoreError::Invalid(format!(
            "job {id} is {}: only DEAD or FAILED jobs can be retried",
            job.status
        )));
    }
    diesel::update(integration_jobs::table.find(id))
        .set((
            integration_jobs::status.eq(JobStatus::Pending.as_str()),
            integration_jobs::attempts.eq(0),
            integration_jobs::run_at.eq(now),
            integration_jobs::finished_at.eq(None::<NaiveDateTime>),
            integration_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    find_job(conn, id)?.ok_or(StoreError::NotFound("job"))
}

/// Filters for listing jobs; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub organization_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

pub fn list_jobs(
    conn: &mut AnyConnection,
    filter: &JobFilter,
) -> Result<Vec<IntegrationJob>, StoreError> {
    let mut query = integration_jobs::table.into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(integration_jobs::status.eq(status.to_uppercase()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(integration_jobs::kind.eq(kind.to_uppercase()));
    }
    if let Some(org) = &filter.organization_id {
        query = query.filter(integration_jobs::organization_id.eq(org));
    }
    let limit = if filter.limit <= 0 { 50 } else { filter.limit };
    Ok(query
        .order(integration_jobs::created_at.desc())
        .limit(limit)
        .offset(filter.offset.max(0))
        .load(conn)?)
}

/// One page of jobs matching `filter` (its `limit`/`offset` are ignored), newest first, and
/// how many match.
pub fn list_job_page(
    conn: &mut AnyConnection,
    filter: &JobFilter,
    page: super::Page,
) -> Result<(Vec<IntegrationJob>, i64), StoreError> {
    let boxed = |filter: &JobFilter| {
        let mut query = integration_jobs::table.into_boxed::<super::Backend>();
        if let Some(status) = &filter.status {
            query = query.filter(integration_jobs::status.eq(status.to_uppercase()));
        }
        if let Some(kind) = &filter.kind {
            query = query.filter(integration_jobs::kind.eq(kind.to_uppercase()));
        }
        if let Some(org) = &filter.organization_id {
            query = query.filter(integration_jobs::organization_id.eq(org.clone()));
        }
        query
    };
    let total: i64 = boxed(filter).count().get_result(conn)?;
    let found = boxed(filter)
        .order((
            integration_jobs::created_at.desc(),
            integration_jobs::id.desc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((found, total))
}

/// [`retry_dead_job`] for a job of one organization (what the API offers).
pub fn retry_org_job(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<IntegrationJob, StoreError> {
    let owned = integration_jobs::table
        .find(id)
        .filter(integration_jobs::organization_id.eq(org))
        .count()
        .get_result::<i64>(conn)?;
    if owned == 0 {
        return Err(StoreError::NotFound("job"));
    }
    let job = retry_dead_job(conn, id, crate::models::now())?;
    announce_jobs(conn)?;
    Ok(job)
}

/// Deletes DONE jobs finished before `before` (the event log itself is never pruned here).
pub fn prune_finished_jobs(
    conn: &mut AnyConnection,
    before: NaiveDateTime,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        integration_jobs::table
            .filter(integration_jobs::status.eq(JobStatus::Done.as_str()))
            .filter(integration_jobs::finished_at.lt(before)),
    )
    .execute(conn)?)
}

/// How many jobs are PENDING, RUNNING and DEAD: the queue's depth, read through the status
/// index without touching the (many) finished jobs.
pub fn count_open_jobs(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    let open = [
        JobStatus::Pending.as_str(),
        JobStatus::Running.as_str(),
        JobStatus::Dead.as_str(),
    ];
    Ok(integration_jobs::table
        .filter(integration_jobs::status.eq_any(open))
        .group_by(integration_jobs::status)
        .select((integration_jobs::status, diesel::dsl::count_star()))
        .load(conn)?)
}

/// How many jobs wait in each status (for metrics and `jobs list`).
pub fn count_jobs_by_status(conn: &mut AnyConnection) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(integration_jobs::table
        .group_by(integration_jobs::status)
        .select((integration_jobs::status, diesel::dsl::count_star()))
        .load(conn)?)
}
