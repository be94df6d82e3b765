//! What the stats and status pages read: counts over a period of an organization's messages,
//! tickets and leads; the pairs (customer message, agent answer) behind the average response
//! time; its open jobs; and each channel's last send.
//!
//! Messages imported by history sync (`origin` = HISTORY) are left out of every number: they
//! happened before Switchboard and would skew the period they were imported in. Echoes of
//! messages typed in the WhatsApp Business app (BUSINESS_APP) count as outbound.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, max};
use diesel::prelude::*;
use switchboard_domain::{JobStatus, MessageStatus};

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::helpdesk::EVENT_STATUS_CHANGED;
use crate::repo::outbound::SendPayload;
use crate::schema::{integration_jobs, leads, message_logs, ticket_notifications, tickets};

use crate::repo::messages::origin::{
    ASSISTANT as ORIGIN_ASSISTANT, BUSINESS_APP as ORIGIN_BUSINESS_APP, HISTORY as ORIGIN_HISTORY,
};

const INBOUND: &str = "INBOUND";
const OUTBOUND: &str = "OUTBOUND";
/// A reaction (an emoji on a message) neither asks nor answers anything.
const REACTION: &str = "reaction";

/// From `from` to `to`, both included (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
}

/// An organization's numbers over a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrganizationStats {
    pub inbound_messages: i64,
    pub outbound_messages: i64,
    /// Customers messages were exchanged with (by phone number).
    pub unique_contacts: i64,
    pub tickets_created: i64,
    pub leads_created: i64,
    /// Outbound messages by their status (QUEUED, SENT, DELIVERED, READ, PLAYED, FAILED).
    pub outbound_by_status: HashMap<String, i64>,
    /// Failed outbound messages by Meta's error code ("unknown" when none was given).
    pub failed_by_code: BTreeMap<String, i64>,
    /// Seconds from each waiting customer's message to the agent answer that ended the wait.
    pub response_seconds: Vec<f64>,
}

/// The filter every message count shares: the organization, the period, no history imports.
macro_rules! period_messages {
    ($org:expr, $period:expr) => {
        message_logs::table
            .filter(message_logs::organization_id.eq($org))
            .filter(message_logs::created_at.ge($period.from))
            .filter(message_logs::created_at.le($period.to))
            .filter(
                message_logs::origin
                    .is_null()
                    .or(message_logs::origin.ne(ORIGIN_HISTORY)),
            )
    };
}

/// Every number of the stats page for `org` over `period`.
pub fn organization_stats(
    conn: &mut AnyConnection,
    org: &str,
    period: Period,
) -> Result<OrganizationStats, StoreError> {
    let by_direction: HashMap<String, i64> = period_messages!(org, period)
        .group_by(message_logs::direction)
        .select((message_logs::direction, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let outbound_by_status = period_messages!(org, period)
        .filter(message_logs::direction.eq(OUTBOUND))
        .group_by(message_logs::status)
        .select((message_logs::status, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let failed_by_code = period_messages!(org, period)
        .filter(message_logs::direction.eq(OUTBOUND))
        .filter(message_logs::status.eq(MessageStatus::Failed.as_str()))
        .group_by(message_logs::error_code)
        .select((message_logs::error_code, count_star()))
        .load::<(Option<String>, i64)>(conn)?
        .into_iter()
        .fold(BTreeMap::new(), |mut codes, (code, n)| {
            *codes
                .entry(code.unwrap_or_else(|| "unknown".into()))
                .or_insert(0) += n;
            codes
        });
    Ok(OrganizationStats {
        inbound_messages: by_direction.get(INBOUND).copied().unwrap_or(0),
        outbound_messages: by_direction.get(OUTBOUND).copied().unwrap_or(0),
        unique_contacts: count_unique_contacts(conn, org, period)?,
        tickets_created: tickets::table
            .filter(tickets::organization_id.eq(org))
            .filter(tickets::created_at.ge(period.from))
            .filter(tickets::created_at.le(period.to))
            .count()
            .get_result(conn)?,
        leads_created: leads::table
            .filter(leads::organization_id.eq(org))
            .filter(leads::created_at.ge(period.from))
            .filter(leads::created_at.le(period.to))
            .count()
            .get_result(conn)?,
        outbound_by_status,
        failed_by_code,
        response_seconds: response_seconds(conn, org, period)?,
    })
}

/// Customers are told apart by phone: the sender of what came in, the recipient of what went out.
fn count_unique_contacts(
    conn: &mut AnyConnection,
    org: &str,
    period: Period,
) -> Result<i64, StoreError> {
    let senders: Vec<Option<String>> = period_messages!(org, period)
        .filter(message_logs::direction.eq(INBOUND))
        .select(message_logs::from_phone)
        .distinct()
        .load(conn)?;
    let recipients: Vec<Option<String>> = period_messages!(org, period)
        .filter(message_logs::direction.eq(OUTBOUND))
        .select(message_logs::to_phone)
        .distinct()
        .load(conn)?;
    let contacts: HashSet<String> = senders.into_iter().chain(recipients).flatten().collect();
    Ok(i64::try_from(contacts.len()).unwrap_or(i64::MAX))
}

/// One message as the response-time scan sees it (no body).
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct TimedMessage {
    pub conversation_id: Option<String>,
    pub id: String,
    pub direction: String,
    pub message_type: String,
    pub origin: Option<String>,
    pub at: NaiveDateTime,
}

fn response_seconds(
    conn: &mut AnyConnection,
    org: &str,
    period: Period,
) -> Result<Vec<f64>, StoreError> {
    let messages: Vec<TimedMessage> = period_messages!(org, period)
        .filter(message_logs::conversation_id.is_not_null())
        .order((
            message_logs::conversation_id.asc(),
            message_logs::created_at.asc(),
            message_logs::direction.asc(), // INBOUND first when both share a time
        ))
        .select((
            message_logs::conversation_id,
            message_logs::id,
            message_logs::direction,
            message_logs::message_type,
            message_logs::origin,
            message_logs::created_at,
        ))
        .load(conn)?;
    let automatic = automatic_message_ids(conn, org, period)?;
    Ok(response_times(&messages, &automatic))
}

/// Outbound messages nobody wrote: the helpdesk assistant's replies (their send jobs are keyed
/// `assistant:…`, kept until finished jobs are pruned; later ones are marked by `origin`) and
/// the notices of a ticket's status change. Agents' replies on tickets are answers.
fn automatic_message_ids(
    conn: &mut AnyConnection,
    org: &str,
    period: Period,
) -> Result<HashSet<String>, StoreError> {
    let notices: Vec<Option<String>> = ticket_notifications::table
        .filter(ticket_notifications::organization_id.eq(org))
        .filter(ticket_notifications::event.eq(EVENT_STATUS_CHANGED))
        .filter(ticket_notifications::created_at.ge(period.from))
        .select(ticket_notifications::message_log_id)
        .load(conn)?;
    // Send jobs' keys are scoped to the organization (see `outbound::queue_message_in`).
    let assistant_jobs: Vec<String> = integration_jobs::table
        .filter(integration_jobs::organization_id.eq(org))
        .filter(integration_jobs::idempotency_key.like(format!("send:{org}:assistant:%")))
        .filter(integration_jobs::created_at.ge(period.from))
        .select(integration_jobs::payload)
        .load(conn)?;
    let assistant = assistant_jobs
        .iter()
        .filter_map(|payload| serde_json::from_str::<SendPayload>(payload).ok())
        .map(|p| p.message_log_id);
    Ok(notices.into_iter().flatten().chain(assistant).collect())
}

/// The waits an agent ended, in seconds. `messages` are ordered by conversation and time.
///
/// Per conversation: the first customer message after the last answer starts a wait; the next
/// answer ends it. An answer is an outbound message a person (or the company's systems through
/// the API, or the WhatsApp Business app) sent: not an `automatic` one, not one marked
/// [`ORIGIN_ASSISTANT`]. Reactions neither start nor end a wait. A wait still open at the end
/// of the period is not counted.
pub fn response_times(messages: &[TimedMessage], automatic: &HashSet<String>) -> Vec<f64> {
    let mut times = Vec::new();
    let mut conversation: Option<&str> = None;
    let mut waiting_since: Option<NaiveDateTime> = None;
    for message in messages {
        if message.conversation_id.as_deref() != conversation {
            conversation = message.conversation_id.as_deref();
            waiting_since = None;
        }
        if message.message_type == REACTION {
            continue;
        }
        match message.direction.as_str() {
            INBOUND => {
                waiting_since.get_or_insert(message.at);
            }
            OUTBOUND if is_answer(message, automatic) => {
                if let Some(since) = waiting_since.take() {
                    let millis = (message.at - since).num_milliseconds().max(0);
                    times.push(millis as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }
    times
}

fn is_answer(message: &TimedMessage, automatic: &HashSet<String>) -> bool {
    message.origin.as_deref() != Some(ORIGIN_ASSISTANT) && !automatic.contains(&message.id)
}

/// The organization's jobs waiting, running and dead, by status.
pub fn count_open_jobs(
    conn: &mut AnyConnection,
    org: &str,
) -> Result<HashMap<String, i64>, StoreError> {
    let open = [
        JobStatus::Pending.as_str(),
        JobStatus::Running.as_str(),
        JobStatus::Dead.as_str(),
    ];
    Ok(integration_jobs::table
        .filter(integration_jobs::organization_id.eq(org))
        .filter(integration_jobs::status.eq_any(open))
        .group_by(integration_jobs::status)
        .select((integration_jobs::status, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect())
}

/// When Meta last accepted a message Switchboard sent from each channel of `org` (echoes of
/// the Business app and history imports were not sent by us).
pub fn last_sends(
    conn: &mut AnyConnection,
    org: &str,
) -> Result<HashMap<String, NaiveDateTime>, StoreError> {
    let rows: Vec<(Option<String>, Option<NaiveDateTime>)> = message_logs::table
        .filter(message_logs::organization_id.eq(org))
        .filter(message_logs::direction.eq(OUTBOUND))
        .filter(message_logs::sent_at.is_not_null())
        .filter(
            message_logs::origin
                .is_null()
                .or(message_logs::origin.ne_all([ORIGIN_HISTORY, ORIGIN_BUSINESS_APP])),
        )
        .group_by(message_logs::channel_id)
        .select((message_logs::channel_id, max(message_logs::sent_at)))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(channel, at)| Some((channel?, at?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_700_000_000 + seconds, 0)
            .unwrap()
            .naive_utc()
    }

    fn message(conversation: &str, id: &str, direction: &str, seconds: i64) -> TimedMessage {
        TimedMessage {
            conversation_id: Some(conversation.into()),
            id: id.into(),
            direction: direction.into(),
            message_type: "text".into(),
            origin: None,
            at: at(seconds),
        }
    }

    #[test]
    fn the_first_unanswered_message_starts_the_wait_and_the_next_answer_ends_it() {
        let messages = [
            message("c1", "a", INBOUND, 0),
            message("c1", "b", INBOUND, 30), // still the same wait
            message("c1", "c", OUTBOUND, 100),
            message("c1", "d", OUTBOUND, 150), // nothing waiting
            message("c1", "e", INBOUND, 200),
            message("c1", "f", OUTBOUND, 260),
            message("c1", "g", INBOUND, 300), // never answered
        ];
        assert_eq!(
            response_times(&messages, &HashSet::new()),
            vec![100.0, 60.0]
        );
    }

    #[test]
    fn automatic_replies_and_reactions_neither_answer_nor_reset() {
        let mut assistant = message("c1", "menu", OUTBOUND, 1);
        assistant.origin = Some(ORIGIN_ASSISTANT.into());
        let mut thumbs = message("c1", "r", INBOUND, 5);
        thumbs.message_type = REACTION.into();
        let messages = [
            message("c1", "a", INBOUND, 0),
            assistant,
            message("c1", "notice", OUTBOUND, 2),
            message("c1", "agent", OUTBOUND, 40),
            thumbs,
            message("c1", "late", OUTBOUND, 90),
        ];
        let automatic = HashSet::from(["notice".to_string()]);
        assert_eq!(response_times(&messages, &automatic), vec![40.0]);
    }

    #[test]
    fn a_wait_does_not_cross_into_another_conversation() {
        let messages = [
            message("c1", "a", INBOUND, 0),
            message("c2", "b", OUTBOUND, 10),
            message("c2", "c", INBOUND, 20),
            message("c2", "d", OUTBOUND, 20),
        ];
        assert_eq!(response_times(&messages, &HashSet::new()), vec![0.0]);
    }
}
