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

/// `message_logs.origin`: where a message came from when it was neither a customer's message
/// nor a send through the API (those have none).
pub mod origin {
    /// Typed in the WhatsApp Business app on a coexistence number (an echo).
    pub const BUSINESS_APP: &str = "BUSINESS_APP";
    /// Imported by history sync: recorded, never announced.
    pub const HISTORY: &str = "HISTORY";
    /// A reply the helpdesk assistant (or the opt-out confirmation) sent by itself.
    pub const ASSISTANT: &str = "ASSISTANT";
}

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
/// here too, whenever the message appears, and marked applied. True when the message changed.
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
    let Some(locked) = try_lock_message(conn, &message.id)? else {
        // Another transaction is writing this message; the statuses stay waiting for the sweep.
        return Ok(false);
    };
    let changed = fold_into(conn, &locked)?;
    diesel::update(
        message_status_events::table
            .filter(message_status_events::external_message_id.eq(wamid))
            .filter(message_status_events::applied.eq(false)),
    )
    .set(message_status_events::applied.eq(true))
    .execute(conn)?;
    Ok(changed)
}

/// The message, locked for the rest of the transaction; `None` when another transaction holds
/// it (PostgreSQL: `FOR UPDATE SKIP LOCKED`). Status projections never wait for a message row:
/// when it is busy they leave the status waiting for the sweep. So only the send job's writer
/// ever waits on such a lock, and no cycle of waits (a deadlock) can form between the
/// projections' and the sends' batches. SQLite has one writer: it just reads the row.
pub fn try_lock_message(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<MessageLog>, StoreError> {
    let query = message_logs::table.filter(message_logs::id.eq(id));
    let found = match conn {
        AnyConnection::Postgres(c) => query.for_update().skip_locked().load::<MessageLog>(c)?,
        AnyConnection::Sqlite(c) => query.load::<MessageLog>(c)?,
    };
    Ok(found.into_iter().next())
}

/// Folds every status of `message`'s wamid into it (the caller holds the row: see
/// [`try_lock_message`]). The UPDATE also only moves the status forward (its WHERE names the
/// statuses the fold may replace), so a stale snapshot can never move a message back.
pub fn fold_into(conn: &mut AnyConnection, message: &MessageLog) -> Result<bool, StoreError> {
    let Some(wamid) = message.external_message_id.as_deref() else {
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
    let replaceable: Vec<&str> = [
        MessageStatus::Queued,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Played,
    ]
    .iter()
    .filter(|s| switchboard_domain::status::advance(s, &folded))
    .map(MessageStatus::as_str)
    .collect();
    let updated = diesel::update(
        message_logs::table
            .filter(message_logs::id.eq(&message.id))
            .filter(message_logs::status.eq_any(replaceable)),
    )
    .set((
        message_logs::status.eq(folded.as_str()),
        message_logs::status_updated_at.eq(decisive.map(|e| e.occurred_at)),
        message_logs::sent_at.eq(sent_at),
        message_logs::error_code.eq(&error_code),
        message_logs::error_message.eq(&error_message),
        message_logs::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if updated == 1 {
        // The message as just written, without reading it back.
        let moved = MessageLog {
            status: folded.as_str().to_string(),
            status_updated_at: decisive.map(|e| e.occurred_at),
            sent_at,
            error_code,
            error_message,
            ..message.clone()
        };
        super::subscriptions::emit_message_status(conn, &moved, &message.status)?;
    }
    Ok(updated == 1)
}

/// Statuses still waiting whose message has since appeared: applied now. The send job applies
/// what it finds when it records the wamid; this sweep catches a status whose projection and
/// the send's record raced past each other (each committed without seeing the other's row).
/// Looks at statuses received since `since`, `limit` messages at a time. Returns how many
/// messages it looked at.
pub fn apply_waiting_statuses(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
    limit: i64,
) -> Result<usize, StoreError> {
    let waiting = find_waiting_statuses(conn, since, limit)?;
    apply_statuses_of(conn, &waiting)
}

/// (organization, wamid) of waiting statuses whose message exists: a read, so a runner can
/// look without taking SQLite's write lock when (as usual) there is nothing to do.
pub fn find_waiting_statuses(
    conn: &mut AnyConnection,
    since: NaiveDateTime,
    limit: i64,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(message_status_events::table
        .filter(message_status_events::applied.eq(false))
        .filter(message_status_events::created_at.ge(since))
        // A correlated EXISTS: one probe of the wamid's unique index per waiting status (an
        // IN over all message ids was planned as a scan of every message per status).
        .filter(diesel::dsl::exists(
            message_logs::table.filter(
                message_logs::external_message_id
                    .eq(message_status_events::external_message_id.nullable()),
            ),
        ))
        .select((
            message_status_events::organization_id,
            message_status_events::external_message_id,
        ))
        .distinct()
        .limit(limit)
        .load(conn)?)
}

/// Applies the statuses of these (organization, wamid) pairs; returns how many it looked at.
pub fn apply_statuses_of(
    conn: &mut AnyConnection,
    waiting: &[(String, String)],
) -> Result<usize, StoreError> {
    for (org, wamid) in waiting {
        apply_status_events(conn, org, wamid)?;
    }
    Ok(waiting.len())
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

/// Filters of the message list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub conversation_id: Option<String>,
    pub lead_id: Option<String>,
}

fn filtered<'a>(
    org: &'a str,
    filter: &'a MessageFilter,
) -> crate::schema::message_logs::BoxedQuery<'a, super::Backend> {
    use crate::schema::message_logs as logs;
    let mut query = logs::table
        .filter(logs::organization_id.eq(org))
        .into_boxed();
    if let Some(id) = &filter.conversation_id {
        query = query.filter(logs::conversation_id.eq(id));
    }
    if let Some(id) = &filter.lead_id {
        query = query.filter(logs::lead_id.eq(id));
    }
    query
}

/// One page of the organization's messages, newest first, and how many match.
pub fn list_message_page(
    conn: &mut AnyConnection,
    org: &str,
    filter: &MessageFilter,
    page: super::Page,
) -> Result<(Vec<MessageLog>, i64), StoreError> {
    use crate::schema::message_logs as logs;
    let total: i64 = filtered(org, filter).count().get_result(conn)?;
    let found = filtered(org, filter)
        .order((logs::created_at.desc(), logs::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((found, total))
}
