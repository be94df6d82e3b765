//! Message logs and their delivery statuses.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use switchboard_domain::MessageStatus;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{MessageLog, MessageStatusEvent, now};
use crate::schema::{message_logs, message_status_events};

/// Stored status of an inbound message (delivery statuses are for what we send).
pub const RECEIVED: &str = "RECEIVED";

/// Inserts the message unless its wamid is already stored. True when inserted.
pub fn insert_message_once(
    conn: &mut AnyConnection,
    message: &MessageLog,
) -> Result<bool, StoreError> {
    Ok(insert_ignoring_conflicts!(conn, message_logs::table, message) == 1)
}

pub fn find_message_by_wamid(
    conn: &mut AnyConnection,
    org: &str,
    wamid: &str,
) -> Result<Option<MessageLog>, StoreError> {
    Ok(message_logs::table
        .filter(message_logs::organization_id.eq(org))
        .filter(message_logs::external_message_id.eq(wamid))
        .load(conn)?
        .into_iter()
        .next())
}

/// Serializes, per wamid, the two writers that meet on it: the send job storing the wamid
/// Meta returned and the projection of a status webhook for it, which can arrive first.
/// Without it, on PostgreSQL each could commit without seeing the other's uncommitted row and
/// the status would never be applied. Held until the transaction ends; SQLite has one writer.
pub fn lock_wamid(conn: &mut AnyConnection, wamid: &str) -> Result<(), StoreError> {
    if let AnyConnection::Postgres(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind::<diesel::sql_types::Text, _>(wamid)
            .execute(c)?;
    }
    Ok(())
}

/// Keeps a status report once per (wamid, status). True when it was new.
pub fn record_status_event(
    conn: &mut AnyConnection,
    event: &MessageStatusEvent,
) -> Result<bool, StoreError> {
    Ok(insert_ignoring_conflicts!(conn, message_status_events::table, event) == 1)
}

pub fn list_status_events(
    conn: &mut AnyConnection,
    wamid: &str,
) -> Result<Vec<MessageStatusEvent>, StoreError> {
    Ok(message_status_events::table
        .filter(message_status_events::external_message_id.eq(wamid))
        .order(message_status_events::occurred_at.asc())
        .load(conn)?)
}

/// Brings the message with this wamid up to date with every status reported for it: one way
/// (sent → delivered → read), failed wins. Statuses that came before the message are applied
/// here too, whenever the message appears. True when the message changed.
pub fn apply_status_events(
    conn: &mut AnyConnection,
    org: &str,
    wamid: &str,
) -> Result<bool, StoreError> {
    // Statuses describe what we sent; an inbound message never takes one.
    let Some(message) =
        find_message_by_wamid(conn, org, wamid)?.filter(|m| m.direction == "OUTBOUND")
    else {
        return Ok(false);
    };
    let events = list_status_events(conn, wamid)?;
    let current = MessageStatus::parse(&message.status);
    let folded = switchboard_domain::status::fold(
        events.iter().map(|e| MessageStatus::parse(&e.status)),
        current.clone(),
    );
    if folded == current {
        return Ok(false);
    }
    let decisive = events
        .iter()
        .find(|e| MessageStatus::parse(&e.status) == folded);
    let sent_at = events
        .iter()
        .find(|e| MessageStatus::parse(&e.status) == MessageStatus::Sent)
        .map(|e| e.occurred_at)
        .or(message.sent_at);
    let (error_code, error_message) = match (folded == MessageStatus::Failed, decisive) {
        (true, Some(e)) => (e.error_code.clone(), error_text(e)),
        _ => (message.error_code.clone(), message.error_message.clone()),
    };
    diesel::update(message_logs::table.find(&message.id))
        .set((
            message_logs::status.eq(folded.as_str()),
            message_logs::status_updated_at.eq(decisive.map(|e| e.occurred_at)),
            message_logs::sent_at.eq(sent_at),
            message_logs::error_code.eq(error_code),
            message_logs::error_message.eq(error_message),
            message_logs::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(true)
}

fn error_text(event: &MessageStatusEvent) -> Option<String> {
    match (&event.error_title, &event.error_message) {
        (Some(title), Some(message)) if title != message => Some(format!("{title}: {message}")),
        (Some(text), _) | (None, Some(text)) => Some(text.clone()),
        (None, None) => None,
    }
}

pub fn list_messages(conn: &mut AnyConnection, org: &str) -> Result<Vec<MessageLog>, StoreError> {
    Ok(message_logs::table
        .filter(message_logs::organization_id.eq(org))
        .order(message_logs::created_at.asc())
        .load(conn)?)
}

/// A time from Meta (Unix seconds) as a UTC timestamp; nonsense becomes now.
pub fn meta_time(unix_seconds: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(unix_seconds, 0).map_or_else(now, |t| t.naive_utc())
}
