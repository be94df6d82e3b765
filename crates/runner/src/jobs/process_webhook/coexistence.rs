//! A number shared by the WhatsApp Business app and the API: messages the business typed in
//! the app (`smb_message_echoes`) and the app's past chats (`history`) join the inbox as
//! quiet rows. They notify nobody: no unread count, no assistant, ticket or event, and they
//! never open the 24-hour window (only a customer's live message does).

use diesel::prelude::*;
use serde_json::json;
use switchboard_domain::MessageStatus;
use switchboard_domain::settings::OrgSettings;
use switchboard_domain::status::advance;
use switchboard_domain::webhook::{self, ApiError, Change, HistoryValue, Message};
use switchboard_store::models::{Channel, Conversation, MessageLog, new_id, now};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::messages::{self, meta_time};
use switchboard_store::repo::{channels, contacts, leads, notes, organizations};
use switchboard_store::schema::message_logs;
use switchboard_store::{AnyConnection, StoreError};

use super::{Problems, keep_going};

pub use switchboard_store::repo::messages::origin::{BUSINESS_APP, HISTORY};

/// Meta's error when the business declined to share its chat history.
const HISTORY_DECLINED: i64 = 2593109;

/// A customer id as Meta gives it: a phone (wa_id, digits) or a business-scoped user id.
fn party(id: &str) -> (Option<&str>, Option<&str>) {
    if id.chars().all(|c| c.is_ascii_digit()) {
        (Some(id), None)
    } else {
        (None, Some(id))
    }
}

/// The customer's contact and conversation (created when new), linked to their lead when one
/// exists. Neither an echo nor history creates a lead: a lead is someone who wrote to us, and
/// creating one would announce it (`lead.created`).
fn conversation_of(
    conn: &mut AnyConnection,
    channel: &Channel,
    customer: &str,
    keeps_leads: bool,
) -> Result<Conversation, StoreError> {
    let org = channel.organization_id.as_str();
    let (wa_id, user_id) = party(customer);
    let contact = contacts::upsert_contact(conn, org, wa_id, user_id, None)?;
    let lead = if keeps_leads {
        leads::find_lead_by_contact(conn, org, wa_id, user_id)?
    } else {
        None
    };
    conversations::upsert_conversation(
        conn,
        &ConversationKey {
            organization_id: org,
            channel_id: &channel.id,
            contact_phone: customer,
        },
        Some(&contact.id),
        lead.as_ref().map(|l| l.id.as_str()),
    )
}

/// A message log for an echo or history message; the caller sets direction, parties, status
/// and origin.
fn base_log(channel: &Channel, conversation: &Conversation, message: &Message) -> MessageLog {
    let sent_at = meta_time(message.timestamp);
    let media = message.media();
    MessageLog {
        id: new_id(),
        organization_id: channel.organization_id.clone(),
        channel_id: Some(channel.id.clone()),
        conversation_id: Some(conversation.id.clone()),
        lead_id: conversation.lead_id.clone(),
        provider: "WHATSAPP".into(),
        direction: "OUTBOUND".into(),
        message_type: message.kind.clone(),
        from_phone: None,
        to_phone: None,
        text: message.text(),
        media_id: media.as_ref().map(|m| m.id.clone()),
        media_mime_type: media.as_ref().and_then(|m| m.mime_type.clone()),
        media_filename: media.as_ref().and_then(|m| m.filename.clone()),
        details: message.details().map(|d| d.to_string()),
        context_message_id: message.context.as_ref().and_then(|c| c.id.clone()),
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: Some(message.id.clone()),
        status: MessageStatus::Sent.as_str().into(),
        error_code: None,
        error_message: None,
        status_updated_at: None,
        sent_at: Some(sent_at),
        created_at: sent_at,
        updated_at: now(),
        origin: None,
    }
}

/// The preview line of a message (a placeholder says what it stands for).
fn preview_of(message: &Message) -> String {
    if message.is_media_placeholder() {
        "[media]".into()
    } else {
        message.summary()
    }
}

pub(super) fn project_echoes(
    conn: &mut AnyConnection,
    channel: &Channel,
    change: &Change,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let Some(value) = change.echoes_value() else {
        problems.push("smb_message_echoes: the value is not an object");
        return Ok(());
    };
    if value.echoes.is_empty() {
        return Ok(());
    }
    let settings = organizations::settings_of(conn, &channel.organization_id)?;
    let business = value
        .metadata
        .as_ref()
        .and_then(|m| m.display_phone_number.clone())
        .or_else(|| channel.display_phone_number.clone());
    for (i, item) in value.echoes().into_iter().enumerate() {
        match item {
            Ok(echo) => {
                let saved = project_echo(conn, channel, &settings, &echo, business.as_deref());
                keep_going(saved, problems, &format!("echo {}", echo.id))?;
            }
            Err(e) => problems.push(format!("echo #{i}: {e}")),
        }
    }
    Ok(())
}

/// One message the business typed in the app: an OUTBOUND, SENT row (its delivery statuses
/// follow as usual), in the customer's conversation, noted on their lead.
fn project_echo(
    conn: &mut AnyConnection,
    channel: &Channel,
    settings: &OrgSettings,
    echo: &Message,
    business: Option<&str>,
) -> Result<(), StoreError> {
    let customer = echo
        .recipient()
        .ok_or_else(|| StoreError::Invalid("the echo names no recipient (`to`)".into()))?;
    let org = channel.organization_id.as_str();
    let conversation = conversation_of(conn, channel, &customer, settings.mode.keeps_leads())?;
    let sent_at = meta_time(echo.timestamp);
    let log = MessageLog {
        from_phone: echo.from.clone().or(business.map(str::to_string)),
        to_phone: Some(customer.clone()),
        status_updated_at: Some(sent_at),
        origin: Some(BUSINESS_APP.into()),
        ..base_log(channel, &conversation, echo)
    };
    if messages::insert_message_once(conn, &log)? {
        // Its statuses may have come first: they wait for the row and apply now.
        messages::apply_status_events(conn, org, &echo.id)?;
    }
    // Idempotent by (time, wamid), so a replay that kept the row rebuilds the preview.
    conversations::record_quiet_message(
        conn,
        &conversation.id,
        "OUTBOUND",
        &preview_of(echo),
        sent_at,
        &echo.id,
    )?;
    if let Some(lead) = &conversation.lead_id {
        let note = format!(
            "WhatsApp message sent from the Business app: {}",
            preview_of(echo)
        );
        notes::insert_note_once(conn, org, lead, &note, "WHATSAPP", &echo.id)?;
    }
    Ok(())
}

pub(super) fn project_history(
    conn: &mut AnyConnection,
    channel: &Channel,
    change: &Change,
    at: chrono::NaiveDateTime,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let Some(value) = change.history_value() else {
        problems.push("history: the value is not an object");
        return Ok(());
    };
    record_history_errors(conn, channel, &value, at, problems)?;
    let business = value
        .metadata
        .as_ref()
        .and_then(|m| m.display_phone_number.clone())
        .or_else(|| channel.display_phone_number.clone());
    let mut settings = None;
    let threads = value.chunks.iter().flat_map(|c| c.threads.iter());
    let items = threads
        .flat_map(|t| t.messages().into_iter().map(move |m| (t.id.as_deref(), m)))
        .chain(value.media_messages().into_iter().map(|m| (None, m)));
    for (i, (thread, item)) in items.enumerate() {
        match item {
            Ok(message) => {
                let settings = match &settings {
                    Some(s) => s,
                    None => {
                        settings.insert(organizations::settings_of(conn, &channel.organization_id)?)
                    }
                };
                let imported = HistoryItem {
                    channel,
                    business: business.as_deref(),
                    thread,
                    keeps_leads: settings.mode.keeps_leads(),
                };
                let saved = imported.project(conn, &message);
                keep_going(saved, problems, &format!("history message {}", message.id))?;
            }
            Err(e) => problems.push(format!("history message #{i}: {e}")),
        }
    }
    Ok(())
}

/// Sharing declined (2593109) or another error: on the event's problems and on the channel,
/// where `GET /api/whatsapp/status` shows it.
fn record_history_errors(
    conn: &mut AnyConnection,
    channel: &Channel,
    value: &HistoryValue,
    at: chrono::NaiveDateTime,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    let errors = value.all_errors();
    if errors.is_empty() {
        return Ok(());
    }
    for error in &errors {
        problems.push(history_problem(error));
    }
    let declined = errors.iter().any(|e| e.code == HISTORY_DECLINED);
    let summary = json!({
        "status": if declined { "DECLINED" } else { "ERROR" },
        "errors": errors.iter().map(|e| json!({
            "code": e.code,
            "title": e.title,
            "details": e.details.clone().or(e.message.clone()),
        })).collect::<Vec<_>>(),
    });
    channels::record_channel_update(conn, &channel.id, "history", &summary, at)
}

fn history_problem(error: &ApiError) -> String {
    let what = error
        .details
        .clone()
        .or(error.title.clone())
        .unwrap_or_default();
    if error.code == HISTORY_DECLINED {
        format!(
            "history: the business declined to share its chat history (Meta error {}): {what}. Past chats stay out of the inbox; the business can turn sharing on in the WhatsApp Business app",
            error.code
        )
    } else {
        format!("history: Meta reported error {}: {what}", error.code)
    }
}

/// One history message and where it belongs.
struct HistoryItem<'a> {
    channel: &'a Channel,
    /// Our number: a message from it was sent by the business.
    business: Option<&'a str>,
    /// The thread's customer (absent for the plain `messages` carrying placeholder media).
    thread: Option<&'a str>,
    keeps_leads: bool,
}

impl HistoryItem<'_> {
    fn outbound(&self, message: &Message) -> bool {
        self.business.is_some() && message.from.as_deref() == self.business
    }

    fn customer(&self, message: &Message) -> Option<String> {
        if self.outbound(message) {
            message.recipient().or(self.thread.map(str::to_string))
        } else {
            message
                .sender()
                .map(str::to_string)
                .or(self.thread.map(str::to_string))
        }
    }

    /// Recorded once per wamid; a wamid seen before is completed instead (a placeholder gets
    /// its media, a status moves forward), so chunks in any order end the same.
    fn project(&self, conn: &mut AnyConnection, message: &Message) -> Result<(), StoreError> {
        let org = self.channel.organization_id.as_str();
        let customer = self.customer(message);
        // The contact and conversation first, even for a known wamid: a replay wipes contacts.
        let conversation = match &customer {
            Some(customer) => Some(conversation_of(
                conn,
                self.channel,
                customer,
                self.keeps_leads,
            )?),
            None => None,
        };
        if let Some(existing) = messages::find_message_by_wamid(conn, org, &message.id)? {
            return self.complete(conn, &existing, message);
        }
        let (Some(customer), Some(conversation)) = (customer, conversation) else {
            return Err(StoreError::Invalid(
                "the history message names no customer (no thread, `from` or `to`), and no earlier item has its wamid".into(),
            ));
        };
        let outbound = self.outbound(message);
        let log = MessageLog {
            direction: if outbound { "OUTBOUND" } else { "INBOUND" }.into(),
            from_phone: message.sender().map(str::to_string),
            to_phone: if outbound {
                Some(customer.clone())
            } else {
                self.business.map(str::to_string)
            },
            status: if outbound {
                webhook::history_status(message.history_status().as_deref())
                    .as_str()
                    .to_string()
            } else {
                messages::RECEIVED.into()
            },
            origin: Some(HISTORY.into()),
            ..base_log(self.channel, &conversation, message)
        };
        if !messages::insert_message_once(conn, &log)? {
            // Another projection stored it a moment ago: complete that row instead.
            if let Some(existing) = messages::find_message_by_wamid(conn, org, &message.id)? {
                return self.complete(conn, &existing, message);
            }
            return Ok(());
        }
        // No media download: a sync can hold thousands of files, and Meta keeps history media
        // ids for recent messages only; the id stays on the row.
        conversations::record_quiet_message(
            conn,
            &conversation.id,
            &log.direction,
            &preview_of(message),
            meta_time(message.timestamp),
            &message.id,
        )
    }

    /// Completes a history row with what a later item says about the same wamid. Rows that did
    /// not come from history (a live message) are left as they are.
    fn complete(
        &self,
        conn: &mut AnyConnection,
        existing: &MessageLog,
        message: &Message,
    ) -> Result<(), StoreError> {
        if existing.origin.as_deref() != Some(HISTORY) {
            return Ok(());
        }
        let row = message_logs::table.filter(message_logs::id.eq(&existing.id));
        if existing.message_type == webhook::MEDIA_PLACEHOLDER && !message.is_media_placeholder() {
            let media = message.media();
            diesel::update(row)
                .set((
                    message_logs::message_type.eq(&message.kind),
                    message_logs::text.eq(message.text()),
                    message_logs::media_id.eq(media.as_ref().map(|m| m.id.clone())),
                    message_logs::media_mime_type
                        .eq(media.as_ref().and_then(|m| m.mime_type.clone())),
                    message_logs::media_filename
                        .eq(media.as_ref().and_then(|m| m.filename.clone())),
                    message_logs::details.eq(message.details().map(|d| d.to_string())),
                    message_logs::updated_at.eq(now()),
                ))
                .execute(conn)?;
        }
        let current = MessageStatus::parse(&existing.status);
        let reported = webhook::history_status(message.history_status().as_deref());
        if existing.direction == "OUTBOUND"
            && message.history_status().is_some()
            && advance(&current, &reported)
        {
            diesel::update(row)
                .set((
                    message_logs::status.eq(reported.as_str()),
                    message_logs::updated_at.eq(now()),
                ))
                .execute(conn)?;
        }
        // A replay keeps the row but wipes the preview: put it back (idempotent otherwise).
        if let Some(conversation) = &existing.conversation_id {
            conversations::record_quiet_message(
                conn,
                conversation,
                &existing.direction,
                &preview_of(message),
                existing.sent_at.unwrap_or(existing.created_at),
                &message.id,
            )?;
        }
        Ok(())
    }
}
