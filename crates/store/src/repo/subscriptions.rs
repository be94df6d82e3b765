//! Outgoing event webhooks: which URLs an organization subscribed to which events, and the
//! deliveries owed to them. [`emit_in`] runs inside the transaction that made the change, so an
//! event is queued exactly when the change commits, never for a change that rolled back.
//!
//! Each delivery is one `DELIVER_EVENT` job. The job records every attempt here
//! ([`record_attempt`]); a delivery that used all its attempts is DEAD, and a subscription one
//! of whose deliveries died while nothing else reached its URL is disabled ([`disable_if_down`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use switchboard_domain::events::EventType;
use switchboard_domain::job_kind;

use crate::crypto::{CryptoError, SecretBox};
use crate::db::{AnyConnection, write_transaction};
use crate::error::StoreError;
use crate::models::{
    IntegrationJob, Lead, MessageLog, Template, Ticket, TicketComment, WebhookDelivery,
    WebhookSubscription, new_id, now,
};
use crate::repo::jobs;
use crate::schema::{webhook_deliveries, webhook_subscriptions};

/// Attempts of one delivery before it is dead-lettered. With the runner's default backoff
/// (5 s doubling to a 1 h cap, jittered) 30 attempts span roughly 10 to 20 hours: a receiver
/// that is down overnight still gets its events.
pub const DELIVERY_MAX_ATTEMPTS: i32 = 30;

/// Delivery statuses.
pub const PENDING: &str = "PENDING";
pub const DELIVERED: &str = "DELIVERED";
pub const FAILED: &str = "FAILED";
pub const DEAD: &str = "DEAD";

/// The sealing context of `webhook_subscriptions.secret_sealed`.
pub const SECRET_CONTEXT: &str = "webhook_subscription_secret";
/// What every signing secret begins with, so people recognise one.
pub const SECRET_PREFIX: &str = "whsec_";
/// The type of the test event `POST /api/webhook-subscriptions/{id}/test` sends; no one
/// subscribes to it, it goes to the one subscription asked for.
pub const PING: &str = "ping";
/// Subscriptions per organization: every event reads them all, so they stay few.
pub const MAX_SUBSCRIPTIONS: i64 = 25;
/// How much of a receiver's answer a delivery keeps.
pub const RESPONSE_BODY_BYTES: usize = 1024;
const MAX_URL_CHARS: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 500;

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
    let wanted = subscribers(conn, event.organization_id, event.kind)?;
    let Event {
        organization_id,
        kind,
        key,
        data,
    } = event;
    queue_event(conn, &wanted, organization_id, *kind, key, data)
}

/// [`emit_in`] for data that costs a query: `data` runs only when someone subscribed to
/// `kind` (and may find there is nothing to tell after all: `None`).
pub fn emit_with(
    conn: &mut AnyConnection,
    organization_id: &str,
    kind: EventType,
    key: &str,
    data: impl FnOnce(&mut AnyConnection) -> Result<Option<Value>, StoreError>,
) -> Result<usize, StoreError> {
    let wanted = subscribers(conn, organization_id, kind)?;
    if wanted.is_empty() {
        return Ok(0);
    }
    let Some(data) = data(conn)? else {
        return Ok(0);
    };
    queue_event(conn, &wanted, organization_id, kind, key, &data)
}

/// The enabled subscriptions of the organization that want `kind`: one indexed query.
fn subscribers(
    conn: &mut AnyConnection,
    org: &str,
    kind: EventType,
) -> Result<Vec<WebhookSubscription>, StoreError> {
    let enabled: Vec<WebhookSubscription> = webhook_subscriptions::table
        .filter(webhook_subscriptions::organization_id.eq(org))
        .filter(webhook_subscriptions::enabled.eq(true))
        .select(WebhookSubscription::as_select())
        .load(conn)?;
    Ok(enabled.into_iter().filter(|s| wants(s, kind)).collect())
}

fn queue_event(
    conn: &mut AnyConnection,
    wanted: &[WebhookSubscription],
    org: &str,
    kind: EventType,
    key: &str,
    data: &Value,
) -> Result<usize, StoreError> {
    if wanted.is_empty() {
        return Ok(0);
    }
    let at = now();
    let id = event_id(kind, key);
    let kind = kind.as_str();
    let body = envelope(&id, kind, org, data, at);
    let mut queued = Vec::new();
    for subscription in wanted {
        let (delivery, job) = new_delivery(subscription, &id, kind, &body, at);
        if insert_ignoring_conflicts!(conn, webhook_deliveries::table, &delivery) == 1 {
            queued.push(job);
        }
    }
    jobs::insert_jobs(conn, &queued)?;
    Ok(queued.len())
}

/// What every delivery's body is: `{"id","type","createdAt","organizationId","data"}`.
fn envelope(id: &str, kind: &str, org: &str, data: &Value, at: NaiveDateTime) -> String {
    json!({
        "id": id,
        "type": kind,
        "createdAt": utc(at),
        "organizationId": org,
        "data": data,
    })
    .to_string()
}

fn wants(subscription: &WebhookSubscription, kind: EventType) -> bool {
    subscription
        .event_types()
        .iter()
        .any(|e| e == kind.as_str())
}

/// A PENDING delivery of `body` to `subscription` and the job that will send it.
fn new_delivery(
    subscription: &WebhookSubscription,
    event_id: &str,
    kind: &str,
    body: &str,
    at: NaiveDateTime,
) -> (WebhookDelivery, IntegrationJob) {
    let id = new_id();
    let job = delivery_job(&subscription.organization_id, &id, at);
    let delivery = WebhookDelivery {
        id,
        organization_id: subscription.organization_id.clone(),
        subscription_id: subscription.id.clone(),
        event_id: event_id.to_string(),
        event_type: kind.to_string(),
        body: body.to_string(),
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
    (delivery, job)
}

fn delivery_job(org: &str, delivery_id: &str, at: NaiveDateTime) -> IntegrationJob {
    let mut job = jobs::new_job(
        job_kind::DELIVER_EVENT,
        Some(org.to_string()),
        json!({ "deliveryId": delivery_id }).to_string(),
        at,
    );
    job.max_attempts = DELIVERY_MAX_ATTEMPTS;
    job
}

fn utc(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------------
// What events say

/// A message as events describe it (`message.received`, `message.status`): ids, parties, kind,
/// text and where its delivery stands. The same shape for both, so subscribers parse one.
pub fn message_data(message: &MessageLog) -> Value {
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

/// `message.status`: an outbound message's status moved from `previous` to what it is now.
/// Keyed by message and status, so the same status reported twice tells subscribers once.
pub fn emit_message_status(
    conn: &mut AnyConnection,
    message: &MessageLog,
    previous: &str,
) -> Result<usize, StoreError> {
    let mut data = message_data(message);
    data["previousStatus"] = json!(previous);
    emit_in(
        conn,
        &Event {
            organization_id: &message.organization_id,
            kind: EventType::MessageStatus,
            key: &format!("{}:{}", message.id, message.status),
            data,
        },
    )
}

/// `lead.created`, once per lead (keyed by its id).
pub fn emit_lead_created(conn: &mut AnyConnection, lead: &Lead) -> Result<usize, StoreError> {
    let referral = lead
        .referral
        .as_deref()
        .map(|r| serde_json::from_str(r).unwrap_or_else(|_| json!(r)));
    emit_in(
        conn,
        &Event {
            organization_id: &lead.organization_id,
            kind: EventType::LeadCreated,
            key: &lead.id,
            data: json!({
                "leadId": lead.id,
                "name": lead.name,
                "phone": lead.phone,
                "waUserId": lead.wa_user_id,
                "status": lead.status,
                "source": lead.source,
                "pipelineId": lead.pipeline_id,
                "stageId": lead.stage_id,
                "assignedToId": lead.assigned_to_id,
                "referral": referral,
                "createdAt": utc(lead.created_at),
            }),
        },
    )
}

/// `conversation.assigned`: someone assigned (or unassigned) a conversation. People's actions
/// are never replayed, so each one is its own event.
pub fn emit_conversation_assigned(
    conn: &mut AnyConnection,
    conversation: &crate::models::Conversation,
    assignee: Option<&str>,
) -> Result<usize, StoreError> {
    emit_in(
        conn,
        &Event {
            organization_id: &conversation.organization_id,
            kind: EventType::ConversationAssigned,
            key: &format!("{}:{}", conversation.id, new_id()),
            data: json!({
                "conversationId": conversation.id,
                "assigneeId": assignee,
                "previousAssigneeId": conversation.assigned_to_id,
                "contactPhone": conversation.contact_phone,
                "channelId": conversation.channel_id,
                "leadId": conversation.lead_id,
            }),
        },
    )
}

/// A ticket as the API shows it (`GET /api/tickets/{id}`).
pub fn ticket_data(ticket: &Ticket) -> Value {
    json!({
        "id": ticket.id,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "serviceId": ticket.service_id,
        "conversationId": ticket.conversation_id,
        "leadId": ticket.lead_id,
        "contactPhone": ticket.contact_phone,
        "assignedToId": ticket.assigned_to_id,
        "jiraIssueKey": ticket.jira_issue_key,
        "lastActivityAt": utc(ticket.last_activity_at),
        "closedAt": ticket.closed_at.map(utc),
        "createdAt": utc(ticket.created_at),
        "updatedAt": utc(ticket.updated_at),
    })
}

/// `ticket.created`, once per ticket.
pub fn emit_ticket_created(conn: &mut AnyConnection, ticket: &Ticket) -> Result<usize, StoreError> {
    emit_in(
        conn,
        &Event {
            organization_id: &ticket.organization_id,
            kind: EventType::TicketCreated,
            key: &ticket.id,
            data: ticket_data(ticket),
        },
    )
}

/// What changed on a ticket, for `ticket.updated`.
pub enum TicketChange<'a> {
    /// Its status, from `previous`.
    Status { previous: &'a str },
    /// Its assignee, from `previous` (None: nobody).
    Assignee { previous: Option<&'a str> },
    /// A comment was added (a customer's message or an agent's reply).
    Comment(&'a TicketComment),
}

/// `ticket.updated`: the ticket as it is now (read only when someone subscribed), with
/// `change` ("status", "assignee" or "comment") and `previous` (the former status or
/// assignee; null for comments). `key` makes it unique: the inbound message for a customer's
/// doing (so a replay repeats nothing), a fresh id for an agent's.
pub fn emit_ticket_updated(
    conn: &mut AnyConnection,
    org: &str,
    ticket_id: &str,
    change: TicketChange<'_>,
    key: &str,
) -> Result<usize, StoreError> {
    let (name, previous, comment) = match change {
        TicketChange::Status { previous } => ("status", json!(previous), None),
        TicketChange::Assignee { previous } => ("assignee", json!(previous), None),
        TicketChange::Comment(comment) => ("comment", Value::Null, Some(comment_data(comment))),
    };
    let key = format!("{ticket_id}:{name}:{key}");
    emit_with(conn, org, EventType::TicketUpdated, &key, |c| {
        let Some(ticket) = crate::repo::tickets::find_ticket(c, org, ticket_id)? else {
            return Ok(None);
        };
        let mut data = ticket_data(&ticket);
        data["change"] = json!(name);
        data["previous"] = previous;
        if let Some(comment) = comment {
            data["comment"] = comment;
        }
        Ok(Some(data))
    })
}

fn comment_data(comment: &TicketComment) -> Value {
    json!({
        "id": comment.id,
        "authorType": comment.author_type,
        "authorUserId": comment.author_user_id,
        "body": comment.body,
        "messageLogId": comment.message_log_id,
        "mediaId": comment.media_id,
        "createdAt": utc(comment.created_at),
    })
}

/// `template.status`: Meta moved a template to `template.status` (from `previous`, None when
/// the template was not known here). Keyed by template, status and Meta's time.
pub fn emit_template_status(
    conn: &mut AnyConnection,
    template: &Template,
    previous: Option<&str>,
    at: NaiveDateTime,
) -> Result<usize, StoreError> {
    emit_in(
        conn,
        &Event {
            organization_id: &template.organization_id,
            kind: EventType::TemplateStatus,
            key: &format!("{}:{}:{}", template.id, template.status, utc(at)),
            data: json!({
                "templateId": template.id,
                "externalId": template.external_id,
                "name": template.name,
                "language": template.language,
                "category": template.category,
                "status": template.status,
                "previousStatus": previous,
                "reason": template.rejection_reason,
                "changedAt": utc(at),
            }),
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

impl WebhookSubscription {
    /// The event types it wants (a JSON array in the row).
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    /// The signing secret, opened (to sign deliveries only; never log it).
    pub fn open_secret(&self, secrets: &SecretBox) -> Result<String, StoreError> {
        Ok(secrets.open(SECRET_CONTEXT, &self.secret_sealed)?)
    }
}

/// A subscription to create. `require_https` is true in production.
#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    pub organization_id: &'a str,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub enabled: bool,
    pub require_https: bool,
}

/// What a PATCH changes; `None` leaves a field as it is (`Some(None)` clears the description).
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub require_https: bool,
}

/// A subscription with its signing secret in plaintext: the only time the secret is shown.
pub struct WithSecret {
    pub subscription: WebhookSubscription,
    pub secret: String,
}

impl std::fmt::Debug for WithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithSecret")
            .field("subscription", &self.subscription.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A new signing secret: `whsec_` and 32 random bytes (URL-safe base64).
pub fn generate_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    Ok(format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The URL events go to: absolute http(s) (https only when `require_https`), with a host, no
/// credentials and no fragment. Returns it trimmed, its scheme lower-cased.
pub fn check_url(raw: &str, require_https: bool) -> Result<String, StoreError> {
    let url = raw.trim();
    let shown: String = url.chars().take(100).collect();
    let invalid = |why: &str| StoreError::Invalid(format!("url '{shown}' {why}"));
    if url.is_empty() {
        return Err(StoreError::Invalid(
            "url is required: the http(s) address events are POSTed to, like https://example.com/hooks/switchboard".into(),
        ));
    }
    if url.len() > MAX_URL_CHARS {
        return Err(invalid(&format!(
            "is longer than {MAX_URL_CHARS} characters"
        )));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains spaces or control characters"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid(
            "is not an absolute URL: give the full address, like https://example.com/hooks/switchboard",
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    check_scheme(&scheme, require_https).map_err(|why| invalid(&why))?;
    if rest.contains('#') {
        return Err(invalid(
            "has a fragment (#…), which is never sent to a server: remove it",
        ));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    check_authority(authority).map_err(|why| invalid(&why))?;
    Ok(format!("{scheme}://{rest}"))
}

fn check_scheme(scheme: &str, require_https: bool) -> Result<(), String> {
    match scheme {
        "https" => Ok(()),
        "http" if !require_https => Ok(()),
        "http" => Err(
            "must use https: this server runs with SWITCHBOARD_ENV=production, where events (and their signatures) never travel in clear text"
                .into(),
        ),
        other => Err(format!(
            "uses the scheme '{other}': only http and https addresses can receive webhooks"
        )),
    }
}

/// `host[:port]`, with `[v6]` hosts; no `user:password@`.
fn check_authority(authority: &str) -> Result<(), String> {
    if authority.contains('@') {
        return Err(
            "must not carry credentials (user:password@): every delivery is signed instead".into(),
        );
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or("has an unclosed [ in its host")?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '%'));
    if !host_ok {
        return Err("has no valid host name".into());
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(format!("has an invalid port '{port}'"));
    }
    Ok(())
}

/// The event types, each one known: the error lists the valid ones. Repeats are dropped.
pub fn check_events(events: &[String]) -> Result<Vec<String>, StoreError> {
    if events.is_empty() {
        return Err(StoreError::Invalid(format!(
            "events must name at least one event type: {}",
            EventType::names().join(", ")
        )));
    }
    let mut checked: Vec<String> = Vec::new();
    for name in events {
        let kind = name
            .trim()
            .parse::<EventType>()
            .map_err(|e| StoreError::Invalid(format!("events: {e}")))?;
        if !checked.iter().any(|c| c == kind.as_str()) {
            checked.push(kind.as_str().to_string());
        }
    }
    Ok(checked)
}

fn check_description(description: Option<&str>) -> Result<Option<String>, StoreError> {
    let description = description.map(str::trim).filter(|d| !d.is_empty());
    if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(StoreError::Invalid(format!(
            "description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    Ok(description.map(str::to_string))
}

fn events_json(events: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(events).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Creates a subscription with a new signing secret (returned once, stored sealed).
pub fn insert_subscription(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    new: &NewSubscription<'_>,
) -> Result<WithSecret, StoreError> {
    let url = check_url(new.url, new.require_https)?;
    let events = check_events(new.events)?;
    let description = check_description(new.description)?;
    let secret = generate_secret()?;
    let at = now();
    let subscription = WebhookSubscription {
        id: new_id(),
        organization_id: new.organization_id.to_string(),
        url,
        description,
        events: events_json(&events)?,
        secret_sealed: secrets.seal(SECRET_CONTEXT, &secret)?,
        enabled: new.enabled,
        disabled_reason: (!new.enabled).then(disabled_by_user),
        consecutive_failures: 0,
        created_at: at,
        updated_at: at,
    };
    write_transaction(conn, |c| {
        let count: i64 = webhook_subscriptions::table
            .filter(webhook_subscriptions::organization_id.eq(new.organization_id))
            .count()
            .get_result(c)?;
        if count >= MAX_SUBSCRIPTIONS {
            return Err(StoreError::Conflict(format!(
                "this organization has {count} webhook subscriptions, the most it may have: delete one it no longer needs, or subscribe one URL to several events"
            )));
        }
        diesel::insert_into(webhook_subscriptions::table)
            .values(&subscription)
            .execute(c)?;
        Ok(())
    })?;
    Ok(WithSecret {
        subscription,
        secret,
    })
}

fn disabled_by_user() -> String {
    "disabled by a user; PATCH it with {\"enabled\": true} to receive events again".into()
}

/// The organization's subscriptions, oldest first.
pub fn list_subscriptions(
    conn: &mut AnyConnection,
    org: &str,
) -> Result<Vec<WebhookSubscription>, StoreError> {
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::organization_id.eq(org))
        .order((
            webhook_subscriptions::created_at.asc(),
            webhook_subscriptions::id.asc(),
        ))
        .select(WebhookSubscription::as_select())
        .load(conn)?)
}

pub fn find_subscription(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<WebhookSubscription>, StoreError> {
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::organization_id.eq(org))
        .filter(webhook_subscriptions::id.eq(id))
        .select(WebhookSubscription::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

fn require_subscription(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<WebhookSubscription, StoreError> {
    find_subscription(conn, org, id)?.ok_or(StoreError::NotFound("webhook subscription"))
}

/// Applies a PATCH. Enabling a subscription clears its failure count and the reason it was
/// disabled; disabling one records that a person did it.
pub fn update_subscription(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    changes: &SubscriptionChanges,
) -> Result<WebhookSubscription, StoreError> {
    let url = changes
        .url
        .as_deref()
        .map(|u| check_url(u, changes.require_https))
        .transpose()?;
    let events = changes.events.as_deref().map(check_events).transpose()?;
    let description = changes
        .description
        .as_ref()
        .map(|d| check_description(d.as_deref()))
        .transpose()?;
    write_transaction(conn, |c| {
        let mut subscription = require_subscription(c, org, id)?;
        if let Some(url) = url {
            subscription.url = url;
        }
        if let Some(events) = &events {
            subscription.events = events_json(events)?;
        }
        if let Some(description) = description {
            subscription.description = description;
        }
        match changes.enabled {
            Some(true) => {
                subscription.enabled = true;
                subscription.disabled_reason = None;
                subscription.consecutive_failures = 0;
            }
            Some(false) if subscription.enabled => {
                subscription.enabled = false;
                subscription.disabled_reason = Some(disabled_by_user());
            }
            _ => {}
        }
        subscription.updated_at = now();
        save_settings(c, &subscription)?;
        Ok(subscription)
    })
}

fn save_settings(
    conn: &mut AnyConnection,
    subscription: &WebhookSubscription,
) -> Result<(), StoreError> {
    use webhook_subscriptions::dsl as s;
    diesel::update(s::webhook_subscriptions.find(&subscription.id))
        .set((
            s::url.eq(&subscription.url),
            s::events.eq(&subscription.events),
            s::description.eq(&subscription.description),
            s::enabled.eq(subscription.enabled),
            s::disabled_reason.eq(&subscription.disabled_reason),
            s::consecutive_failures.eq(subscription.consecutive_failures),
            s::updated_at.eq(subscription.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes a subscription and its delivery log; its waiting jobs find nothing to send.
pub fn delete_subscription(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<bool, StoreError> {
    // Its deliveries go with it (ON DELETE CASCADE; SQLite connections turn foreign keys on).
    let deleted = diesel::delete(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::organization_id.eq(org))
            .filter(webhook_subscriptions::id.eq(id)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// A new signing secret for the subscription, returned once; the old one stops signing at
/// once (deliveries are signed when sent, so retries use the new one too).
pub fn rotate_secret(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    org: &str,
    id: &str,
) -> Result<WithSecret, StoreError> {
    let secret = generate_secret()?;
    let sealed = secrets.seal(SECRET_CONTEXT, &secret)?;
    write_transaction(conn, |c| {
        let mut subscription = require_subscription(c, org, id)?;
        subscription.secret_sealed = sealed;
        subscription.updated_at = now();
        diesel::update(webhook_subscriptions::table.find(&subscription.id))
            .set((
                webhook_subscriptions::secret_sealed.eq(&subscription.secret_sealed),
                webhook_subscriptions::updated_at.eq(subscription.updated_at),
            ))
            .execute(c)?;
        Ok(WithSecret {
            subscription,
            secret,
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Deliveries, as people see and resend them

/// One page of a subscription's deliveries, newest first, and how many there are; `status`
/// narrows it to PENDING, DELIVERED, FAILED or DEAD.
pub fn list_delivery_page(
    conn: &mut AnyConnection,
    org: &str,
    subscription_id: &str,
    status: Option<&str>,
    page: super::Page,
) -> Result<(Vec<WebhookDelivery>, i64), StoreError> {
    let filtered = || {
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::organization_id.eq(org.to_string()))
            .filter(webhook_deliveries::subscription_id.eq(subscription_id.to_string()))
            .into_boxed::<super::Backend>();
        if let Some(status) = status {
            query = query.filter(webhook_deliveries::status.eq(status.to_uppercase()));
        }
        query
    };
    let total: i64 = filtered().count().get_result(conn)?;
    let found = filtered()
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .select(WebhookDelivery::as_select())
        .load(conn)?;
    Ok((found, total))
}

/// A delivery of the organization (the job's look-up; the API goes by subscription too).
pub fn find_delivery(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<WebhookDelivery>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::organization_id.eq(org))
        .filter(webhook_deliveries::id.eq(id))
        .select(WebhookDelivery::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

fn require_enabled(subscription: &WebhookSubscription) -> Result<(), StoreError> {
    if subscription.enabled {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "webhook subscription {} is disabled ({}): enable it first with PATCH {{\"enabled\": true}}",
        subscription.id,
        subscription
            .disabled_reason
            .as_deref()
            .unwrap_or("no reason recorded")
    )))
}

/// Sends a delivery again: a fresh DELIVER_EVENT job with the same event id and body (signed
/// anew when sent), and the delivery PENDING. Works for DEAD and DELIVERED ones too. A job
/// still retrying the old attempt finds itself replaced and sends nothing.
pub fn redeliver(
    conn: &mut AnyConnection,
    org: &str,
    subscription_id: &str,
    delivery_id: &str,
) -> Result<WebhookDelivery, StoreError> {
    write_transaction(conn, |c| {
        let subscription = require_subscription(c, org, subscription_id)?;
        let mut delivery = find_delivery(c, org, delivery_id)?
            .filter(|d| d.subscription_id == subscription.id)
            .ok_or(StoreError::NotFound("delivery"))?;
        require_enabled(&subscription)?;
        let at = now();
        let job = delivery_job(org, &delivery.id, at);
        delivery.status = PENDING.into();
        delivery.job_id = Some(job.id.clone());
        delivery.updated_at = at;
        diesel::update(webhook_deliveries::table.find(&delivery.id))
            .set((
                webhook_deliveries::status.eq(&delivery.status),
                webhook_deliveries::job_id.eq(&delivery.job_id),
                webhook_deliveries::updated_at.eq(at),
            ))
            .execute(c)?;
        jobs::insert_jobs(c, std::slice::from_ref(&job))?;
        Ok(delivery)
    })
}

/// Queues a `ping` event to this one subscription, to check the receiver and its signature
/// check: `data` names the subscription.
pub fn queue_ping(
    conn: &mut AnyConnection,
    org: &str,
    subscription_id: &str,
) -> Result<WebhookDelivery, StoreError> {
    write_transaction(conn, |c| {
        let subscription = require_subscription(c, org, subscription_id)?;
        require_enabled(&subscription)?;
        let at = now();
        let id = format!("evt_ping_{}", new_id().replace('-', ""));
        let data = json!({
            "subscriptionId": subscription.id,
            "url": subscription.url,
            "message": "A test event from Switchboard: your endpoint is reachable if you see this.",
        });
        let body = envelope(&id, PING, org, &data, at);
        let (delivery, job) = new_delivery(&subscription, &id, PING, &body, at);
        diesel::insert_into(webhook_deliveries::table)
            .values(&delivery)
            .execute(c)?;
        jobs::insert_jobs(c, std::slice::from_ref(&job))?;
        Ok(delivery)
    })
}

// ---------------------------------------------------------------------------------------------
// Deliveries, as the DELIVER_EVENT job records them

/// What one attempt to POST a delivery got.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub delivery_id: &'a str,
    /// The job making it: only the delivery's current job may record (see [`redeliver`]).
    pub job_id: &'a str,
    /// None when no answer came (timeout, refused connection).
    pub response_status: Option<i32>,
    /// The first [`RESPONSE_BODY_BYTES`] of the answer.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub delivered: bool,
    /// This was the job's last attempt: a failure makes the delivery DEAD.
    pub last: bool,
}

/// What recording an attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The delivery is gone, or another job was queued for it since (a redeliver).
    Superseded,
    /// The delivery's new status.
    Status(&'static str),
    /// The delivery is DEAD and its subscription was disabled for it (the reason).
    DeadAndDisabled(String),
}

/// Records an attempt on the delivery (status, attempts + 1, the answer) and on its
/// subscription (failures in a row, reset by a success), in the caller's transaction.
pub fn record_attempt(
    conn: &mut AnyConnection,
    attempt: &Attempt<'_>,
) -> Result<Recorded, StoreError> {
    let Some(delivery) = current_delivery(conn, attempt.delivery_id, attempt.job_id)? else {
        return Ok(Recorded::Superseded);
    };
    let at = now();
    let status = match (attempt.delivered, attempt.last) {
        (true, _) => DELIVERED,
        (false, false) => FAILED,
        (false, true) => DEAD,
    };
    use webhook_deliveries::dsl as d;
    diesel::update(d::webhook_deliveries.find(&delivery.id))
        .set((
            d::status.eq(status),
            d::attempts.eq(d::attempts + 1),
            d::response_status.eq(attempt.response_status),
            d::response_body.eq(&attempt.response_body),
            d::error.eq(&attempt.error),
            d::updated_at.eq(at),
            d::delivered_at.eq(attempt.delivered.then_some(at).or(delivery.delivered_at)),
        ))
        .execute(conn)?;
    count_failure(conn, &delivery.subscription_id, !attempt.delivered)?;
    if status == DEAD
        && let Some(reason) = disable_if_down(conn, &delivery, at)?
    {
        return Ok(Recorded::DeadAndDisabled(reason));
    }
    Ok(Recorded::Status(status))
}

/// The delivery, when `job_id` is still the job meant to send it.
fn current_delivery(
    conn: &mut AnyConnection,
    delivery_id: &str,
    job_id: &str,
) -> Result<Option<WebhookDelivery>, StoreError> {
    Ok(webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(delivery_id))
        .filter(webhook_deliveries::job_id.eq(job_id))
        .select(WebhookDelivery::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

fn count_failure(
    conn: &mut AnyConnection,
    subscription_id: &str,
    failed: bool,
) -> Result<(), StoreError> {
    use webhook_subscriptions::dsl as s;
    let subscription = s::webhook_subscriptions.find(subscription_id);
    if failed {
        diesel::update(subscription)
            .set(s::consecutive_failures.eq(s::consecutive_failures + 1))
            .execute(conn)?;
    } else {
        // Only when there is something to reset: most successes write nothing here.
        diesel::update(subscription.filter(s::consecutive_failures.ne(0)))
            .set(s::consecutive_failures.eq(0))
            .execute(conn)?;
    }
    Ok(())
}

/// A delivery died. When nothing else reached its URL since that event was first tried (so
/// the receiver failed for the whole retry schedule, hours), the subscription is disabled
/// with the reason and how to enable it again. A receiver that takes other events but
/// refuses this one keeps its subscription: the DEAD delivery in its log says enough.
pub fn disable_if_down(
    conn: &mut AnyConnection,
    delivery: &WebhookDelivery,
    at: NaiveDateTime,
) -> Result<Option<String>, StoreError> {
    use webhook_deliveries::dsl as d;
    let delivered_since: i64 = d::webhook_deliveries
        .filter(d::subscription_id.eq(&delivery.subscription_id))
        .filter(d::status.eq(DELIVERED))
        .filter(d::delivered_at.gt(delivery.created_at))
        .count()
        .get_result(conn)?;
    if delivered_since > 0 {
        return Ok(None);
    }
    let reason = format!(
        "disabled automatically at {}: delivery {} ({}) failed every attempt and nothing reached this URL since {}. \
         Fix the receiver, then PATCH /api/webhook-subscriptions/{} with {{\"enabled\": true}} and redeliver what it missed \
         (POST /api/webhook-subscriptions/{}/deliveries/{{deliveryId}}/redeliver)",
        utc(at),
        delivery.id,
        delivery.event_type,
        utc(delivery.created_at),
        delivery.subscription_id,
        delivery.subscription_id,
    );
    use webhook_subscriptions::dsl as s;
    let disabled = diesel::update(
        s::webhook_subscriptions
            .find(&delivery.subscription_id)
            .filter(s::enabled.eq(true)),
    )
    .set((
        s::enabled.eq(false),
        s::disabled_reason.eq(Some(&reason)),
        s::updated_at.eq(at),
    ))
    .execute(conn)?;
    Ok((disabled == 1).then_some(reason))
}

/// The delivery will not be sent: its subscription was disabled. DEAD with `reason`, unless
/// another job was queued for it since.
pub fn abandon_delivery(
    conn: &mut AnyConnection,
    delivery_id: &str,
    job_id: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(delivery_id))
            .filter(webhook_deliveries::job_id.eq(job_id)),
    )
    .set((
        webhook_deliveries::status.eq(DEAD),
        webhook_deliveries::error.eq(Some(reason)),
        webhook_deliveries::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Deliveries whose DELIVER_EVENT jobs were dead-lettered without running (their runner
/// stopped on the last attempt): DEAD with `reason`, unless one was delivered after all.
pub fn abandon_deliveries_of_jobs(
    conn: &mut AnyConnection,
    job_ids: &[String],
    reason: &str,
) -> Result<usize, StoreError> {
    if job_ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::job_id.eq_any(job_ids))
            .filter(webhook_deliveries::status.ne(DELIVERED)),
    )
    .set((
        webhook_deliveries::status.eq(DEAD),
        webhook_deliveries::error.eq(Some(reason)),
        webhook_deliveries::updated_at.eq(now()),
    ))
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_with_a_host() {
        for good in [
            "https://example.com/hooks",
            "HTTPS://example.com",
            "http://127.0.0.1:8080/x?token=abc",
            "http://[::1]:9000/",
            "https://hooks.example.com:443/a/b",
        ] {
            assert!(check_url(good, false).is_ok(), "{good}");
        }
        assert_eq!(
            check_url("  HTTPS://example.com/a ", false).unwrap(),
            "https://example.com/a"
        );
        for (bad, why) in [
            ("", "required"),
            ("example.com/hook", "absolute"),
            ("ftp://example.com/x", "scheme 'ftp'"),
            ("javascript://x", "scheme"),
            ("https://user:pw@example.com", "credentials"),
            ("https:///path", "host"),
            ("https://example.com:99999/", "port"),
            ("https://example.com:0/", "port"),
            ("https://exa mple.com", "spaces"),
            ("https://example.com/#top", "fragment"),
            ("http://[::1/", "unclosed"),
        ] {
            let err = check_url(bad, false).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn production_wants_https() {
        let err = check_url("http://example.com", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("SWITCHBOARD_ENV=production"), "{err}");
        assert!(check_url("https://example.com", true).is_ok());
    }

    #[test]
    fn events_are_known_types_and_the_error_lists_them() {
        let ok = check_events(&[
            "ticket.created".into(),
            "lead.created".into(),
            "ticket.created".into(),
        ])
        .unwrap();
        assert_eq!(ok, vec!["ticket.created", "lead.created"]);
        let err = check_events(&["lead.deleted".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lead.deleted") && err.contains("message.received"),
            "{err}"
        );
        let err = check_events(&[]).unwrap_err().to_string();
        assert!(err.contains("template.status"), "{err}");
        assert!(
            check_events(&[PING.into()]).is_err(),
            "ping is not subscribable"
        );
    }

    #[test]
    fn secrets_are_prefixed_random_and_hidden_from_debug() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert!(
            a.starts_with(SECRET_PREFIX) && a.len() == SECRET_PREFIX.len() + 43,
            "{a}"
        );
        assert_ne!(a, b);
        let shown = format!(
            "{:?}",
            WithSecret {
                subscription: WebhookSubscription {
                    id: "s".into(),
                    organization_id: "o".into(),
                    url: "https://x".into(),
                    description: None,
                    events: "[]".into(),
                    secret_sealed: "v1.x".into(),
                    enabled: true,
                    disabled_reason: None,
                    consecutive_failures: 0,
                    created_at: now(),
                    updated_at: now(),
                },
                secret: a.clone(),
            }
        );
        assert!(!shown.contains(&a), "{shown}");
    }
}
