//! The webhook log of record: every body Meta delivered, stored raw, exactly once.

use diesel::prelude::*;
use serde_json::json;
use switchboard_domain::{EventStatus, job_kind};

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::WebhookEvent;
use crate::repo::jobs;
use crate::schema::webhook_events;

/// What became of one event handed to [`insert_events_with_jobs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventInsert {
    /// Stored now (with its job when the event is PENDING).
    Stored,
    /// A byte-identical body was stored before: nothing written.
    Duplicate,
}

/// Stores events and, for each newly stored PENDING one, its PROCESS_WEBHOOK job. Meant to run
/// inside one write transaction for a whole batch (group commit). Duplicates are detected by
/// the unique `body_sha256`, in the database, so they are caught across processes and restarts.
pub fn insert_events_with_jobs(
    conn: &mut AnyConnection,
    events: &[WebhookEvent],
) -> Result<Vec<EventInsert>, StoreError> {
    let stored_ids = insert_events_skipping_duplicates(conn, events)?;
    let jobs: Vec<_> = events
        .iter()
        .filter(|e| e.status == EventStatus::Pending.as_str() && stored_ids.contains(&e.id))
        .map(|e| {
            let mut job = jobs::new_job(
                job_kind::PROCESS_WEBHOOK,
                e.organization_id.clone(),
                json!({ "webhookEventId": e.id }).to_string(),
                e.received_at,
            );
            job.webhook_event_id = Some(e.id.clone());
            job
        })
        .collect();
    jobs::insert_jobs(conn, &jobs)?;
    Ok(events
        .iter()
        .map(|e| {
            if stored_ids.contains(&e.id) {
                EventInsert::Stored
            } else {
                EventInsert::Duplicate
            }
        })
        .collect())
}

/// Returns the ids that were inserted (the others' bodies were already stored).
fn insert_events_skipping_duplicates(
    conn: &mut AnyConnection,
    events: &[WebhookEvent],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if events.is_empty() {
        return Ok(Default::default());
    }
    let ids = match conn {
        AnyConnection::Postgres(c) => diesel::insert_into(webhook_events::table)
            .values(events)
            .on_conflict(webhook_events::body_sha256)
            .do_nothing()
            .returning(webhook_events::id)
            .get_results::<String>(c)?,
        AnyConnection::Sqlite(c) => {
            let mut ids = Vec::with_capacity(events.len());
            for event in events {
                let inserted = diesel::insert_into(webhook_events::table)
                    .values(event)
                    .on_conflict(webhook_events::body_sha256)
                    .do_nothing()
                    .execute(c)?;
                if inserted == 1 {
                    ids.push(event.id.clone());
                }
            }
            ids
        }
    };
    Ok(ids.into_iter().collect())
}

pub fn find_event(conn: &mut AnyConnection, id: &str) -> Result<Option<WebhookEvent>, StoreError> {
    Ok(webhook_events::table
        .find(id)
        .load(conn)?
        .into_iter()
        .next())
}

pub fn find_event_by_sha256(
    conn: &mut AnyConnection,
    body_sha256: &str,
) -> Result<Option<WebhookEvent>, StoreError> {
    Ok(webhook_events::table
        .filter(webhook_events::body_sha256.eq(body_sha256))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn list_events(conn: &mut AnyConnection) -> Result<Vec<WebhookEvent>, StoreError> {
    Ok(webhook_events::table
        .order(webhook_events::received_at.asc())
        .load(conn)?)
}

pub fn count_events(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(webhook_events::table.count().get_result(conn)?)
}

/// Webhook events are written through the group-commit writer, a batch per transaction.
impl crate::writer::Batch for WebhookEvent {
    type Output = EventInsert;

    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<EventInsert>, StoreError> {
        insert_events_with_jobs(conn, items)
    }
}

/// The event's projections are written: PROCESSED, with any per-item problems recorded.
pub fn mark_event_processed(
    conn: &mut AnyConnection,
    id: &str,
    problems: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(webhook_events::table.find(id))
        .set((
            webhook_events::status.eq(EventStatus::Processed.as_str()),
            webhook_events::error.eq(problems),
            webhook_events::processed_at.eq(Some(crate::models::now())),
        ))
        .execute(conn)?;
    Ok(())
}

/// Events projected without a problem: PROCESSED, in as few statements as the list allows.
pub fn mark_events_processed(conn: &mut AnyConnection, ids: &[&str]) -> Result<(), StoreError> {
    let at = crate::models::now();
    for chunk in ids.chunks(500) {
        diesel::update(webhook_events::table.filter(webhook_events::id.eq_any(chunk)))
            .set((
                webhook_events::status.eq(EventStatus::Processed.as_str()),
                webhook_events::error.eq(None::<&str>),
                webhook_events::processed_at.eq(Some(at)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Its job was dead-lettered: FAILED, with the reason.
pub fn mark_event_failed(
    conn: &mut AnyConnection,
    id: &str,
    error: &str,
) -> Result<(), StoreError> {
    diesel::update(webhook_events::table.find(id))
        .set((
            webhook_events::status.eq(EventStatus::Failed.as_str()),
            webhook_events::error.eq(Some(error)),
            webhook_events::processed_at.eq(Some(crate::models::now())),
        ))
        .execute(conn)?;
    Ok(())
}

/// An organization's events in the order they were received (UUIDv7 ids sort by time),
/// from `since` on: what replay walks.
pub fn list_org_events_since(
    conn: &mut AnyConnection,
    organization_id: &str,
    since: Option<chrono::NaiveDateTime>,
    after_id: Option<&str>,
    limit: i64,
) -> Result<Vec<WebhookEvent>, StoreError> {
    let mut query = webhook_events::table
        .filter(webhook_events::organization_id.eq(organization_id))
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(webhook_events::received_at.ge(since));
    }
    if let Some(after) = after_id {
        query = query.filter(webhook_events::id.gt(after.to_string()));
    }
    Ok(query
        .order(webhook_events::id.asc())
        .limit(limit)
        .load(conn)?)
}
