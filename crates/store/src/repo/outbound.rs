//! Messages we send: queued with their job in one transaction, then marked sent or failed by
//! the job that talks to Meta.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use switchboard_domain::outbound::OutboundContent;
use switchboard_domain::{MessageStatus, job_kind};

use crate::db::{AnyConnection, write_transaction};
use crate::error::StoreError;
use crate::models::{Channel, IntegrationJob, MessageLog, new_id, now};
use crate::repo::conversations::{self, ConversationKey};
use crate::repo::{jobs, leads, messages, notes};
use crate::schema::{integration_jobs, message_logs};

/// Attempts a send gets before its message is marked FAILED (backoff spreads them over hours).
pub const SEND_MAX_ATTEMPTS: i32 = 8;

/// What the send job finds in its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPayload {
    pub message_log_id: String,
}

/// A message to queue. `to` is already normalized (E.164 digits without `+`) and the content
/// validated.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub organization_id: String,
    pub channel: Channel,
    pub to: String,
    pub content: OutboundContent,
    pub lead_id: Option<String>,
    pub reply_to: Option<String>,
    /// The caller's `Idempotency-Key`, scoped to the organization here.
    pub idempotency_key: Option<String>,
    /// `message_logs.origin` (see `messages::origin`): None for a person's or a system's send.
    pub origin: Option<&'static str>,
}

/// The queued message and its job; `created` is false when the idempotency key had been
/// used before, and both are the ones made then.
#[derive(Debug, Clone)]
pub struct Queued {
    pub job: IntegrationJob,
    pub message: MessageLog,
    pub created: bool,
}

fn scoped_key(org: &str, key: &str) -> String {
    format!("send:{org}:{key}")
}

/// Creates the OUTBOUND/QUEUED message and its send job in one transaction, and shows the
/// message in its conversation. A repeated idempotency key returns the first message instead.
pub fn queue_message(conn: &mut AnyConnection, new: &NewOutbound) -> Result<Queued, StoreError> {
    write_transaction(conn, |conn| {
        let queued = queue_message_in(conn, new)?;
        jobs::announce_jobs(conn)?;
        Ok(queued)
    })
}

/// [`queue_message`] inside the caller's transaction (a batch writer gives each a savepoint);
/// the caller announces the new job with [`jobs::announce_jobs`] (once per transaction).
pub fn queue_message_in(conn: &mut AnyConnection, new: &NewOutbound) -> Result<Queued, StoreError> {
    {
        if let Some(found) = find_by_idempotency_key(conn, new)? {
            return Ok(found);
        }
        // Refused before anything is stored: Meta would refuse it too (131050).
        if let Some(message) =
            super::opt_outs::marketing_refusal(conn, &new.organization_id, &new.to, &new.content)?
        {
            return Err(StoreError::Refused {
                code: "OPTED_OUT",
                message,
            });
        }
        let at = now();
        let org = new.organization_id.as_str();
        let key = ConversationKey {
            organization_id: org,
            channel_id: &new.channel.id,
            contact_phone: &new.to,
        };
        let lead_id = match &new.lead_id {
            Some(id) => Some(id.clone()),
            None => leads::find_lead_by_contact(conn, org, Some(&new.to), None)?.map(|l| l.id),
        };
        let conversation =
            conversations::upsert_conversation(conn, &key, None, lead_id.as_deref())?;
        let lead_id = lead_id.or(conversation.lead_id.clone());
        let message = outbound_row(new, &conversation.id, lead_id, at)?;
        diesel::insert_into(message_logs::table)
            .values(&message)
            .execute(conn)?;
        let kind = match new.content {
            OutboundContent::Template(_) => job_kind::SEND_MESSAGE_TEMPLATE,
            _ => job_kind::SEND_MESSAGE,
        };
        let payload = serde_json::to_string(&SendPayload {
            message_log_id: message.id.clone(),
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut job = jobs::new_job(kind, Some(org.to_string()), payload, at);
        job.max_attempts = SEND_MAX_ATTEMPTS;
        job.idempotency_key = new.idempotency_key.as_deref().map(|k| scoped_key(org, k));
        jobs::insert_jobs_quietly(conn, std::slice::from_ref(&job))?;
        let preview = new.content.preview_text().unwrap_or_default();
        conversations::record_message(conn, &conversation.id, "OUTBOUND", &preview, at, "", false)?;
        Ok(Queued {
            job,
            message,
            created: true,
        })
    }
}

fn find_by_idempotency_key(
    conn: &mut AnyConnection,
    new: &NewOutbound,
) -> Result<Option<Queued>, StoreError> {
    let Some(key) = &new.idempotency_key else {
        return Ok(None);
    };
    let Some(job) = integration_jobs::table
        .filter(integration_jobs::idempotency_key.eq(scoped_key(&new.organization_id, key)))
        .load::<IntegrationJob>(conn)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let payload: SendPayload = serde_json::from_str(&job.payload)
        .map_err(|e| StoreError::Internal(format!("send job {} payload: {e}", job.id)))?;
    let message = find_message(conn, &new.organization_id, &payload.message_log_id)?
        .ok_or(StoreError::NotFound("message"))?;
    Ok(Some(Queued {
        job,
        message,
        created: false,
    }))
}

fn outbound_row(
    new: &NewOutbound,
    conversation_id: &str,
    lead_id: Option<String>,
    at: NaiveDateTime,
) -> Result<MessageLog, StoreError> {
    let details =
        serde_json::to_string(&new.content).map_err(|e| StoreError::Internal(e.to_string()))?;
    let template = match &new.content {
        OutboundContent::Template(t) => Some(t),
        _ => None,
    };
    let media = match &new.content {
        OutboundContent::Image(m)
        | OutboundContent::Video(m)
        | OutboundContent::Audio(m)
        | OutboundContent::Document(m)
        | OutboundContent::Sticker(m) => Some(m),
        _ => None,
    };
    Ok(MessageLog {
        id: new_id(),
        organization_id: new.organization_id.clone(),
        channel_id: Some(new.channel.id.clone()),
        conversation_id: Some(conversation_id.to_string()),
        lead_id,
        provider: "WHATSAPP".into(),
        direction: "OUTBOUND".into(),
        message_type: new.content.kind().to_string(),
        from_phone: new.channel.display_phone_number.clone(),
        to_phone: Some(new.to.clone()),
        text: new.content.preview_text(),
        media_id: media.and_then(|m| m.id.clone().or(m.link.clone())),
        media_mime_type: None,
        media_filename: media.and_then(|m| m.filename.clone()),
        details: Some(details),
        context_message_id: new.reply_to.clone(),
        template_name: template.map(|t| t.name.clone()),
        template_language: template.map(|t| t.language.code.clone()),
        template_variables: template
            .map(|t| serde_json::to_string(&t.variables()))
            .transpose()
            .map_err(|e| StoreError::Internal(e.to_string()))?,
        external_message_id: None,
        status: MessageStatus::Queued.as_str().to_string(),
        error_code: None,
        error_message: None,
        status_updated_at: None,
        sent_at: None,
        created_at: at,
        updated_at: at,
        origin: new.origin.map(str::to_string),
    })
}

pub fn find_message(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<MessageLog>, StoreError> {
    Ok(message_logs::table
        .filter(message_logs::id.eq(id))
        .filter(message_logs::organization_id.eq(org))
        .load(conn)?
        .into_iter()
        .next())
}

/// The content a queued message was stored with.
pub fn content_of(message: &MessageLog) -> Result<OutboundContent, StoreError> {
    let details = message.details.as_deref().unwrap_or("null");
    serde_json::from_str(details).map_err(|e| {
        StoreError::Invalid(format!(
            "message {} has no sendable content stored: {e}",
            message.id
        ))
    })
}

/// Meta accepted a message: what the send job records.
#[derive(Debug, Clone)]
pub struct Sent {
    pub organization_id: String,
    pub message_id: String,
    pub wamid: String,
    pub at: NaiveDateTime,
}

/// Stores the wamid and moves the message to SENT, then applies any statuses that reached
/// us before the send's response (Meta's `delivered` can beat it), and notes it on the lead.
/// Idempotent: a second call for the same message changes nothing.
pub fn mark_sent(conn: &mut AnyConnection, sent: &Sent) -> Result<(), StoreError> {
    let updated = diesel::update(
        message_logs::table
            .filter(message_logs::id.eq(&sent.message_id))
            .filter(message_logs::external_message_id.is_null()),
    )
    .set((
        message_logs::external_message_id.eq(Some(&sent.wamid)),
        message_logs::status.eq(MessageStatus::Sent.as_str()),
        message_logs::sent_at.eq(Some(sent.at)),
        message_logs::status_updated_at.eq(Some(sent.at)),
        message_logs::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(());
    }
    // Read before the waiting statuses apply: `message.status` tells SENT, then each later one.
    let Some(message) = find_message(conn, &sent.organization_id, &sent.message_id)? else {
        return Ok(());
    };
    super::subscriptions::emit_message_status(conn, &message, MessageStatus::Queued.as_str())?;
    messages::apply_status_events(conn, &sent.organization_id, &sent.wamid)?;
    if let Some(lead) = &message.lead_id {
        let text = message.text.as_deref().unwrap_or(&message.message_type);
        notes::insert_note_once(
            conn,
            &sent.organization_id,
            lead,
            &format!("WhatsApp message sent: {text}"),
            "WHATSAPP",
            &sent.wamid,
        )?;
    }
    Ok(())
}

/// Meta refused the message for good (or we gave up on it): FAILED with Meta's code and a
/// reason a person can act on. A message already sent is left alone.
pub fn mark_failed(
    conn: &mut AnyConnection,
    org: &str,
    message_id: &str,
    code: Option<String>,
    reason: &str,
) -> Result<(), StoreError> {
    let at = now();
    // Only a message Meta never took can fail here; the row is read to tell subscribers.
    let Some(before) =
        find_message(conn, org, message_id)?.filter(|m| m.external_message_id.is_none())
    else {
        return Ok(());
    };
    diesel::update(
        message_logs::table
            .filter(message_logs::id.eq(message_id))
            .filter(message_logs::organization_id.eq(org))
            .filter(message_logs::external_message_id.is_null()),
    )
    .set((
        message_logs::status.eq(MessageStatus::Failed.as_str()),
        message_logs::error_code.eq(&code),
        message_logs::error_message.eq(Some(reason)),
        message_logs::status_updated_at.eq(Some(at)),
        message_logs::updated_at.eq(at),
    ))
    .execute(conn)?;
    let failed = MessageLog {
        status: MessageStatus::Failed.as_str().to_string(),
        error_code: code,
        error_message: Some(reason.to_string()),
        status_updated_at: Some(at),
        updated_at: at,
        ..before.clone()
    };
    super::subscriptions::emit_message_status(conn, &failed, &before.status)?;
    Ok(())
}
