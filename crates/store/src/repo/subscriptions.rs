//! Outgoing event webhooks: which URLs an organization subscribed to which events, and the
//! deliveries owed to them. [`emit_in`] runs inside the transaction that made the change, so an
//! event is queued exactly when the change commits, never for a change that rolled back.

use diesel::prelude::*;
use serde_json::{Value, json};
use switchboard_domain::events::EventType;
use switchboard_domain::job_kind;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{
    IntegrationJob, MessageLog, WebhookDelivery, WebhookSubscription, new_id, now,
};
use crate::repo::jobs;
use crate::schema::{webhook_deliveries, webhook_subscriptions};

/// Attempts of one delivery before it is dead-lettered (about a day with the runner's backoff).
pub const DELIVERY_MAX_ATTEMPTS: i32 = 12;

/// Delivery statuses.
pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";
pub const DEAD: &str = "DEAD";

/// One thing that happened, to tell the organization's subscribers about.
pub struct Event<'a> {
    pub organization_id: &'a str,
    pub kind: EventType,
    /// What makes this occurrence unique (`<wamid>`, `<ticket id>:<status>:<time>`): the
    /// event's id is derived from it, so projecting the same change again (a repeated webhook,
    /// a replay) queues nothing new.
    pub key: &'a str,
    pub data: Value,
}

/// The event id for a kind and key: stable, so a repeated emission is recognised.
pub fn event_id(kind: EventType, key: &str) -> String {
    let digest = crate::crypto::hash_api_token(&format!("{}\n{key}", kind.as_str()));
    format!("evt_{}", &digest[..32])
}

/// Queues one delivery (and its DELIVER_EVENT job) for every enabled subscription of the
/// organization that wants this kind of event. Returns how many were queued.
pub fn emit_in(conn: &mut AnyConnection, event: &Event<'_>) -> Result<usize, StoreError> {
    let subscribers: Vec<WebhookSubscription> = webhook_subscriptions::table
        .filter(webhook_subscriptions::organization_id.eq(event.organization_id))
        .filter(webhook_subscriptions::enabled.eq(true))
        .select(WebhookSubscription::as_select())
        .load(conn)?;
    let wanted: Vec<&WebhookSubscription> = subscribers
        .iter()
        .filter(|s| wants(s, event.kind))
        .collect();
    if wanted.is_empty() {
        return Ok(0);
    }
    let at = now();
    let id = event_id(event.kind, event.key);
    let body = json!({
        "id": id,
        "type": event.kind.as_str(),
        "createdAt": at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "organizationId": event.organization_id,
        "data": event.data,
    })
    .to_string();
    let mut queued = Vec::new();
    for subscription in wanted {
        let job = delivery_job(event.organization_id, at);
        let delivery = WebhookDelivery {
            id: new_id(),
            organization_id: event.organization_id.to_string(),
            subscription_id: subscription.id.clone(),
            event_id: id.clone(),
            event_type: event.kind.as_str().to_string(),
            body: body.clone(),
            status: PENDING.into(),
            attempts: 0,
            response_status: None,
            response_body: None,
            error: None,
            job_id: Some(job.id.clone()),
            created_at: at,
            updated_at: at,
            delivered_at: None,
        };
        if insert_ignoring_conflicts!(conn, webhook_deliveries::table, &delivery) == 1 {
            queued.push(with_delivery(job, &delivery.id));
        }
    }
    jobs::insert_jobs(conn, &queued)?;
    Ok(queued.len())
}

fn wants(subscription: &WebhookSubscription, kind: EventType) -> bool {
    serde_json::from_str::<Vec<String>>(&subscription.events)
        .is_ok_and(|events| events.iter().any(|e| e == kind.as_str()))
}

fn delivery_job(org: &str, at: chrono::NaiveDateTime) -> IntegrationJob {
    let mut job = jobs::new_job(
        job_kind::DELIVER_EVENT,
        Some(org.to_string()),
        String::new(),
        at,
    );
    job.max_attempts = DELIVERY_MAX_ATTEMPTS;
    job
}

fn with_delivery(mut job: IntegrationJob, delivery_id: &str) -> IntegrationJob {
    job.payload = json!({ "deliveryId": delivery_id }).to_string();
    job
}

/// A message as events describe it (`message.received`, `message.status`): ids, parties, kind,
/// text and where its delivery stands. The same shape for both, so subscribers parse one.
pub fn message_data(message: &MessageLog) -> Value {
    let utc = |t: chrono::NaiveDateTime| {
        t.and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    json!({
        "messageId": message.id,
        "wamid": message.external_message_id,
        "conversationId": message.conversation_id,
        "leadId": message.lead_id,
        "channelId": message.channel_id,
        "direction": message.direction,
        "type": message.message_type,
        "from": message.from_phone,
        "to": message.to_phone,
        "text": message.text,
        "status": message.status,
        "errorCode": message.error_code,
        "errorMessage": message.error_message,
        "origin": message.origin,
        "sentAt": message.sent_at.map(utc),
        "createdAt": utc(message.created_at),
    })
}
