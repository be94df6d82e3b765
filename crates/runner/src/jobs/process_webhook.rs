//! `PROCESS_WEBHOOK`: turns one stored webhook into contacts, leads, conversations, message
//! logs, notes, delivery statuses, template statuses, channel updates, Business app echoes and
//! history ([`coexistence`]) and marketing opt-outs ([`consent`]). Every entry, change,
//! message and status in the body is processed (Meta batches them); a bad item is recorded on
//! the event and the others go on. Running it twice, or over events in any order, ends in the
//! same state as one in-order pass.

mod coexistence;
mod consent;

use diesel::Connection;
use serde_json::json;
use switchboard_domain::MessageStatus;
use switchboard_domain::events::EventType;
use switchboard_domain::settings::OrgSettings;
use switchboard_domain::webhook::{
    self, Change, Contact, Entry, Message, MessagesValue, Status, WebhookBody,
};
use switchboard_store::helpdesk::{self, Inbound};
use switchboard_store::models::{
    Channel, IntegrationJob, MessageLog, MessageStatusEvent, WebhookEvent, new_id, now,
};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::leads::{self, LeadFromWhatsApp};
use switchboard_store::repo::messages::{self, meta_time};
use switchboard_store::repo::opt_outs;
use switchboard_store::repo::subscriptions::{self, Event};
use switchboard_store::repo::templates::{self, TemplateStatusChange};
use switchboard_store::repo::{channels, contacts, jobs, notes, organizations, webhooks};
use switchboard_store::writer::{Batch, GroupCommit};
use switchboard_store::{AnyConnection, Db, StoreError};

use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

/// Projects through its own group-commit writer: the events of every concurrent job share one
/// transaction and one commit, instead of one fsync per event. Each job reads and parses its
/// event itself, concurrently, so the writer (one thread every job waits on) only writes.
/// On PostgreSQL several projectors commit side by side, each customer's events always on the
/// same one, so they never wait on (or deadlock over) each other's conversation, lead and
/// contact rows; SQLite has one writer anyway.
pub struct ProcessWebhook {
    projectors: Vec<GroupCommit<ProjectEvent>>,
}

impl ProcessWebhook {
    pub fn start(db: &Db) -> Result<Self, StoreError> {
        let count = if db.is_sqlite() { 1 } else { 4 };
        let projectors = (0..count)
            .map(|_| GroupCommit::start(db.clone(), "projections", 128, None))
            .collect::<Result<_, _>>()?;
        Ok(Self { projectors })
    }

    fn projector_for(&self, event: &ProjectEvent) -> &GroupCommit<ProjectEvent> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        customer_of(&event.body)
            .unwrap_or(&event.event.id)
            .hash(&mut hasher);
        let i = hasher.finish() as usize % self.projectors.len();
        &self.projectors[i]
    }
}

/// The customer a webhook is about (its first message's sender, or its first status's
/// recipient): the key that sends one customer's events to one projector.
fn customer_of(body: &WebhookBody) -> Option<&str> {
    body.changes().find_map(|(_, change)| {
        let value = &change.value;
        let first = |list: &str, key: &str| value.get(list)?.get(0)?.get(key)?.as_str();
        first("messages", "from").or_else(|| first("statuses", "recipient_id"))
    })
}

impl JobHandler for ProcessWebhook {
    fn completes_its_jobs(&self) -> bool {
        true
    }

    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let event = read_event(ctx, job).await?;
            match self.projector_for(&event).write(event).await? {
                Projected::Done => Ok(()),
                Projected::Retry(message) => Err(JobError::retry(message)),
                Projected::Permanent(message) => Err(JobError::permanent(message)),
            }
        })
    }
}

/// One event to project, read and parsed, as an item of the projector's batches.
pub struct ProjectEvent {
    event: WebhookEvent,
    body: WebhookBody,
    /// The claimed job (id, and the runner holding its lease), marked DONE in the same
    /// transaction as its projection.
    job: Option<(String, String)>,
}

/// Reads the job's event and parses its body; either failing is permanent (nothing to do
/// again would change it).
async fn read_event(ctx: &JobContext, job: &IntegrationJob) -> Result<ProjectEvent, JobError> {
    let id = event_id(job)?;
    let event = ctx
        .db
        .run({
            let id = id.clone();
            move |c| webhooks::find_event(c, &id)
        })
        .await?
        .ok_or_else(|| JobError::permanent(format!("webhook event {id} does not exist")))?;
    let body = parse_body(&event)?;
    let job = job.lease_owner.clone().map(|owner| (job.id.clone(), owner));
    Ok(ProjectEvent { event, body, job })
}

fn parse_body(event: &WebhookEvent) -> Result<WebhookBody, JobError> {
    webhook::parse(&event.body)
        .map_err(|e| JobError::permanent(format!("the stored body is not a WhatsApp webhook: {e}")))
}

/// What became of one event in a batch.
pub enum Projected {
    Done,
    Retry(String),
    Permanent(String),
}

impl Batch for ProjectEvent {
    type Output = Projected;

    /// Optimistically, a batch of events is projected without a savepoint per event (parsing
    /// `SAVEPOINT`/`RELEASE` for each was a tenth of the projector's time). Should any event
    /// fail (only the database can fail it: bad items are recorded and skipped), the whole
    /// batch is rolled back and the writer retries each event alone, in its own transaction,
    /// where it gets the savepoint: one that fails is rolled back alone and its job retried,
    /// without failing its neighbours.
    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<Projected>, StoreError> {
        if items.len() > 1 {
            write_all_or_nothing(conn, items)
        } else {
            write_each_in_a_savepoint(conn, items)
        }
    }
}

/// Projects every event of the batch, or fails (and the transaction is rolled back) at the
/// first that cannot be projected. The events projected cleanly are marked PROCESSED
/// together, in one statement rather than one per event, and the channels' last webhook
/// times are written once, at the end.
fn write_all_or_nothing(
    conn: &mut AnyConnection,
    items: &[ProjectEvent],
) -> Result<Vec<Projected>, StoreError> {
    let mut clean = Vec::with_capacity(items.len());
    let mut times = FieldTimes::default();
    for item in items {
        let id = item.event.id.as_str();
        match project(conn, &item.event, &item.body, &mut times) {
            Ok(None) => clean.push(id),
            Ok(Some(problems)) => webhooks::mark_event_processed(conn, id, Some(&problems))?,
            Err(e) => {
                return Err(StoreError::Internal(format!(
                    "event {id} of a projection batch failed, so each is projected alone: {e}"
                )));
            }
        }
    }
    times.write(conn)?;
    webhooks::mark_events_processed(conn, &clean)?;
    complete_jobs(conn, items.iter())?;
    Ok(items.iter().map(|_| Projected::Done).collect())
}

/// Marks the claimed jobs of these projected events DONE (those whose lease this runner still
/// holds; another runner that took over an expired lease projects again, idempotently).
fn complete_jobs<'a>(
    conn: &mut AnyConnection,
    projected: impl Iterator<Item = &'a ProjectEvent>,
) -> Result<(), StoreError> {
    let mut by_owner: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (id, owner) in projected.filter_map(|item| item.job.as_ref()) {
        by_owner.entry(owner).or_default().push(id.clone());
    }
    for (owner, ids) in by_owner {
        jobs::complete_jobs(conn, owner, &ids, now())?;
    }
    Ok(())
}

/// Each event in its own savepoint: one that fails is rolled back alone, and its job retried.
fn write_each_in_a_savepoint(
    conn: &mut AnyConnection,
    items: &[ProjectEvent],
) -> Result<Vec<Projected>, StoreError> {
    let mut outputs = Vec::with_capacity(items.len());
    let mut clean = Vec::with_capacity(items.len());
    let mut done = Vec::with_capacity(items.len());
    for item in items {
        let projected = conn.transaction(|c| project_with_times(c, &item.event, &item.body));
        if projected.is_ok() {
            done.push(item);
        }
        outputs.push(match projected {
            Ok(None) => {
                clean.push(item.event.id.as_str());
                Projected::Done
            }
            Ok(Some(problems)) => {
                webhooks::mark_event_processed(conn, &item.event.id, Some(&problems))?;
                Projected::Done
            }
            Err(JobError::Permanent(message)) => Projected::Permanent(message),
            Err(
                JobError::Retry { message, .. }
                | JobError::Defer {
                    reason: message, ..
                },
            ) => Projected::Retry(message),
        });
    }
    webhooks::mark_events_processed(conn, &clean)?;
    complete_jobs(conn, done.into_iter())?;
    Ok(outputs)
}

fn event_id(job: &IntegrationJob) -> Result<String, JobError> {
    if let Some(id) = &job.webhook_event_id {
        return Ok(id.clone());
    }
    serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|p| {
            p.get("webhookEventId")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .ok_or_else(|| {
            JobError::permanent("the job names no webhook event (payload.webhookEventId)")
        })
}

/// What went wrong with single items of an event; stored on the event as JSON.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    fn to_json(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| json!({ "problems": self.0 }).to_string())
    }
}

/// Projects one stored event inside the caller's transaction. Bad items are recorded on the
/// event and skipped; a database error fails the whole event (the caller rolls it back).
pub fn project_event(conn: &mut AnyConnection, event_id: &str) -> Result<(), JobError> {
    let event = webhooks::find_event(conn, event_id)?
        .ok_or_else(|| JobError::permanent(format!("webhook event {event_id} does not exist")))?;
    let body = parse_body(&event)?;
    let problems = project_with_times(conn, &event, &body)?;
    webhooks::mark_event_processed(conn, event_id, problems.as_deref())?;
    Ok(())
}

/// [`project`] of one event, writing its channels' last webhook times straight away.
fn project_with_times(
    conn: &mut AnyConnection,
    event: &WebhookEvent,
    body: &WebhookBody,
) -> Result<Option<String>, JobError> {
    let mut times = FieldTimes::default();
    let problems = project(conn, event, body, &mut times)?;
    times.write(conn)?;
    Ok(problems)
}

/// The newest webhook time of each (channel, field) a batch saw, written once at its end:
/// every event writing its channel's row would make concurrent projectors queue on that row
/// until each other's commit. Written in key order, so two batches never deadlock over them.
#[derive(Default)]
struct FieldTimes(std::collections::BTreeMap<(String, String), chrono::NaiveDateTime>);

impl FieldTimes {
    fn note(&mut self, channel_id: &str, field: &str, at: chrono::NaiveDateTime) {
        let newest = self
            .0
            .entry((channel_id.to_string(), field.to_string()))
            .or_insert(at);
        *newest = (*newest).max(at);
    }

    fn write(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        for ((channel_id, field), at) in self.0 {
            channels::touch_webhook_field(conn, &channel_id, &field, at)?;
        }
        Ok(())
    }
}

/// [`project_event`] without setting the event's status: what went wrong with single items,
/// as JSON, or None when nothing did. The channels' last webhook times go into `times`.
fn project(
    conn: &mut AnyConnection,
    event: &WebhookEvent,
    body: &WebhookBody,
    times: &mut FieldTimes,
) -> Result<Option<String>, JobError> {
    let mut problems = Problems::default();
    for entry in &body.entry {
        for change in &entry.changes {
            // No savepoint here: items get their own, and a change that fails outside them
            // fails before writing (bad data) or fails the job (database), never half-way.
            let projected = project_change(conn, event, entry, change, times, &mut problems);
            keep_going(projected, &mut problems, &change.field)?;
        }
    }
    if !problems.0.is_empty() {
        tracing::warn!(event = %event.id, problems = ?problems.0, "some items of a webhook could not be projected");
    }
    Ok(problems.to_json())
}

/// A bad item (data the projection cannot use) is recorded and the others go on; a database
/// failure is not the item's fault, so it fails the whole job, which is retried (idempotently).
/// Items need no savepoint of their own: the projection refuses bad data before writing
/// anything for the item, and a database error rolls back the whole event.
fn keep_going(
    result: Result<(), StoreError>,
    problems: &mut Problems,
    what: &str,
) -> Result<(), StoreError> {
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::Invalid(reason)) => {
            problems.push(format!("{what}: {reason}"));
            Ok(())
        }
        Err(StoreError::NotFound(thing)) => {
            problems.push(format!("{what}: {thing} not found"));
            Ok(())
        }
        // A rule refused something the item asked for (a marketing template to an opted-out
        // contact): the item is recorded as it is, the refusal noted.
        Err(StoreError::Refused { code, message }) => {
            problems.push(format!("{what}: {code}: {message}"));
            Ok(())
        }
        Err(other) => Err(other),
    }
}

fn project_change(
    conn: &mut AnyConnection,
    event: &WebhookEvent,
    entry: &Entry,
    change: &Change,
    times: &mut FieldTimes,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let Some(channel) = channel_for(conn, entry, change)? else {
        problems.push(format!(
            "{}: no channel for this number or WABA",
            change.field
        ));
        return Ok(());
    };
    if !change.field.is_empty() {
        times.note(&channel.id, &change.field, event.received_at);
    }
    let at = entry.time.map_or_else(now, meta_time);
    match change.field.as_str() {
        "messages" => match change.messages_value() {
            Some(value) => project_messages(conn, event, &channel, &value, problems),
            None => {
                problems.push("messages: the value is not a messages object");
                Ok(())
            }
        },
        "message_template_status_update" => {
            project_template_status(conn, &channel, change, at, problems)
        }
        webhook::FIELD_ECHOES => coexistence::project_echoes(conn, &channel, change, problems),
        webhook::FIELD_HISTORY => {
            coexistence::project_history(conn, &channel, change, at, problems)
        }
        webhook::FIELD_USER_PREFERENCES => {
            consent::project_preferences(conn, &channel, change, problems)
        }
        "account_update"
        | "phone_number_quality_update"
        | "phone_number_name_update"
        | "account_alerts"
        | "account_review_update"
        | "business_capability_update" => {
            channels::record_channel_update(conn, &channel.id, &change.field, &change.value, at)
        }
        other => {
            tracing::debug!(field = other, "webhook field stored but not projected");
            Ok(())
        }
    }
}

/// The channel a change is for: by its metadata's phone number id, else by the entry's WABA id.
fn channel_for(
    conn: &mut AnyConnection,
    entry: &Entry,
    change: &Change,
) -> Result<Option<Channel>, StoreError> {
    let phone_number_id = change
        .value
        .get("metadata")
        .and_then(|m| m.get("phone_number_id"))
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
        });
    if let Some(id) = phone_number_id {
        return channels::find_channel_by_phone_number_id(conn, &id);
    }
    let Some(waba) = &entry.id else {
        return Ok(None);
    };
    Ok(channels::list_all_channels(conn)?
        .into_iter()
        .find(|c| c.waba_id.as_deref() == Some(waba.as_str())))
}

fn project_messages(
    conn: &mut AnyConnection,
    event: &WebhookEvent,
    channel: &Channel,
    value: &MessagesValue,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let business_number = value
        .metadata
        .as_ref()
        .and_then(|m| m.display_phone_number.clone());
    let messages = value.messages();
    // Read once per change, and only when there are messages to project.
    let settings = if messages.is_empty() {
        OrgSettings::default()
    } else {
        organizations::settings_of(conn, &channel.organization_id)?
    };
    for (i, item) in messages.into_iter().enumerate() {
        match item {
            Ok(message) => {
                let saved = project_message(
                    conn,
                    channel,
                    &settings,
                    &value.contacts,
                    &message,
                    business_number.as_deref(),
                );
                keep_going(saved, problems, &format!("message {}", message.id))?;
            }
            Err(e) => problems.push(format!("message #{i}: {e}")),
        }
    }
    for (i, item) in value.statuses().into_iter().enumerate() {
        match item {
            Ok(status) => {
                let saved = project_status(conn, channel, event, &status);
                keep_going(saved, problems, &format!("status of {}", status.id))?;
            }
            Err(e) => problems.push(format!("status #{i}: {e}")),
        }
    }
    for error in &value.errors {
        problems.push(format!(
            "Meta reported error {}: {}",
            error.code,
            error.title.clone().unwrap_or_default()
        ));
    }
    Ok(())
}

/// The sender's identity: the message's `from`/`from_user_id`, completed by `value.contacts`
/// (absent for system messages; BSUID-only users have no phone at all).
struct Sender {
    wa_id: Option<String>,
    user_id: Option<String>,
    profile_name: Option<String>,
}

fn sender(message: &Message, contacts: &[Contact]) -> Sender {
    let matched = contacts
        .iter()
        .find(|c| {
            (c.wa_id.is_some() && c.wa_id == message.from)
                || (c.user_id.is_some() && c.user_id == message.from_user_id)
        })
        .or(if contacts.len() == 1 {
            contacts.first()
        } else {
            None
        });
    Sender {
        wa_id: message
            .from
            .clone()
            .or_else(|| matched.and_then(|c| c.wa_id.clone())),
        user_id: message
            .from_user_id
            .clone()
            .or_else(|| matched.and_then(|c| c.user_id.clone())),
        profile_name: matched.and_then(|c| c.profile_name.clone()),
    }
}

fn project_message(
    conn: &mut AnyConnection,
    channel: &Channel,
    settings: &OrgSettings,
    contacts: &[Contact],
    message: &Message,
    business_number: Option<&str>,
) -> Result<(), StoreError> {
    let org = channel.organization_id.as_str();
    let who = sender(message, contacts);
    let Some(key) = who.wa_id.clone().or_else(|| who.user_id.clone()) else {
        return Err(StoreError::Invalid(
            "the message names no sender (no from, wa_id or user id)".into(),
        ));
    };
    let contact = contacts::upsert_contact(
        conn,
        org,
        who.wa_id.as_deref(),
        who.user_id.as_deref(),
        who.profile_name.as_deref(),
    )?;
    if let (Some(change), Some(old)) = (message.system(), who.wa_id.as_deref())
        && let Some(new) = change.new_wa_id.as_deref()
    {
        contacts::set_contact_phone(conn, org, old, new)?;
    }
    let referral = message.referral.as_ref().map(|r| r.to_string());
    // In helpdesk-only mode a message becomes a ticket comment, not a lead and a note.
    let lead = if settings.mode.keeps_leads() {
        Some(leads::find_or_create_lead(
            conn,
            org,
            &LeadFromWhatsApp {
                phone: who.wa_id.as_deref(),
                wa_user_id: who.user_id.as_deref(),
                profile_name: who.profile_name.as_deref(),
                referral: referral.as_deref(),
            },
        )?)
    } else {
        None
    };
    let lead_id = lead.as_ref().map(|l| l.id.as_str());
    let conversation = conversations::upsert_conversation(
        conn,
        &ConversationKey {
            organization_id: org,
            channel_id: &channel.id,
            contact_phone: &key,
        },
        Some(&contact.id),
        lead_id,
    )?;
    let sent_at = meta_time(message.timestamp);
    let summary = message.summary();
    let media = message.media();
    let log = MessageLog {
        id: new_id(),
        organization_id: org.to_string(),
        channel_id: Some(channel.id.clone()),
        conversation_id: Some(conversation.id.clone()),
        lead_id: lead_id.map(str::to_string),
        provider: "WHATSAPP".into(),
        direction: "INBOUND".into(),
        message_type: message.kind.clone(),
        from_phone: Some(key.clone()),
        to_phone: business_number.map(str::to_string),
        text: message.text(),
        media_id: media.as_ref().map(|m| m.id.clone()),
        media_mime_type: media.as_ref().and_then(|m| m.mime_type.clone()),
        media_filename: media.as_ref().and_then(|m| m.filename.clone()),
        details: message.details().map(|d| d.to_string()),
        context_message_id: message
            .context
            .as_ref()
            .and_then(|c| c.id.clone())
            .or_else(|| message.reaction().map(|r| r.message_id)),
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: Some(message.id.clone()),
        status: messages::RECEIVED.into(),
        error_code: message.errors.first().map(|e| e.code.to_string()),
        error_message: message.errors.first().and_then(|e| e.title.clone()),
        status_updated_at: None,
        sent_at: Some(sent_at),
        created_at: sent_at,
        updated_at: now(),
        origin: None,
    };
    if !messages::insert_message_once(conn, &log)? {
        return Ok(()); // Already projected: a repeated delivery, or a replay.
    }
    // Its file (if any) is fetched by a DOWNLOAD_MEDIA job queued in this same transaction.
    switchboard_store::repo::media::queue_download_in(conn, &log, media.as_ref())?;
    // A reaction belongs to the message it reacts to: it is logged (context = that message)
    // but neither counts as unread nor replaces the conversation's preview.
    if message.reaction().is_none() {
        conversations::record_message(
            conn,
            &conversation.id,
            "INBOUND",
            &summary,
            sent_at,
            &message.id,
            true,
        )?;
    }
    if let Some(lead) = &lead {
        notes::insert_note_once(conn, org, &lead.id, &summary, "whatsapp", &message.id)?;
    }
    subscriptions::emit_in(
        conn,
        &Event {
            organization_id: org,
            kind: EventType::MessageReceived,
            key: &message.id,
            data: subscriptions::message_data(&log),
        },
    )?;
    // A stop or start keyword is about consent, not a request: no ticket, no menu answer.
    let keyword = consent::keyword_in(settings, &log);
    if let Some(keyword) = keyword {
        consent::on_keyword(conn, channel, settings, &conversation, &log, keyword)?;
    }
    // Reactions and system notices are not something a customer asks: no ticket work.
    if settings.mode.keeps_tickets()
        && keyword.is_none()
        && message.reaction().is_none()
        && message.system().is_none()
    {
        let reply_id = message.reply_id();
        helpdesk::on_inbound(
            conn,
            &Inbound {
                channel,
                conversation: &conversation,
                message: &log,
                reply_id: reply_id.as_deref(),
                settings: &settings.helpdesk,
            },
        )?;
    }
    Ok(())
}

fn project_status(
    conn: &mut AnyConnection,
    channel: &Channel,
    event: &WebhookEvent,
    status: &Status,
) -> Result<(), StoreError> {
    // Our message, when we know it already and no other transaction is writing it; otherwise
    // the status waits (applied when the send records its wamid, or by the runner's sweep).
    let known = messages::find_message_by_wamid(conn, &channel.organization_id, &status.id)?
        .filter(|m| m.direction == "OUTBOUND");
    let message = match known {
        Some(found) => messages::try_lock_message(conn, &found.id)?,
        None => None,
    };
    let error = status.errors.first();
    let record = MessageStatusEvent {
        id: new_id(),
        organization_id: channel.organization_id.clone(),
        external_message_id: status.id.clone(),
        status: MessageStatus::parse(&status.status).as_str().to_string(),
        occurred_at: meta_time(status.timestamp),
        recipient_id: status
            .recipient_id
            .clone()
            .or_else(|| status.recipient_user_id.clone()),
        error_code: error.map(|e| e.code.to_string()),
        error_title: error.and_then(|e| e.title.clone()),
        error_message: error.and_then(|e| e.details.clone().or_else(|| e.message.clone())),
        webhook_event_id: Some(event.id.clone()),
        created_at: now(),
        applied: message.is_some(),
    };
    messages::record_status_event(conn, &record)?;
    if let Some(message) = message {
        messages::fold_into(conn, &message)?;
    }
    // 131050: the recipient stopped marketing messages in WhatsApp.
    if let Some(phone) = &status.recipient_id {
        opt_outs::record_meta_refusal_in(
            conn,
            &channel.organization_id,
            record.error_code.as_deref(),
            phone,
            &status.id,
            record.error_title.as_deref(),
            record.occurred_at,
        )?;
    }
    Ok(())
}

fn project_template_status(
    conn: &mut AnyConnection,
    channel: &Channel,
    change: &Change,
    at: chrono::NaiveDateTime,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let Some(update) = change.template_status_update() else {
        problems.push("message_template_status_update: unreadable value");
        return Ok(());
    };
    templates::apply_template_status(
        conn,
        &channel.organization_id,
        &TemplateStatusChange {
            external_id: update.template_id.as_deref(),
            name: update.name.as_deref(),
            language: update.language.as_deref(),
            category: update.category.as_deref(),
            status: &update.event,
            reason: update.reason.as_deref(),
            at,
        },
    )
}
