//! Marketing consent from webhooks: a customer's stop or start keyword, Meta's
//! `user_preferences`, and a delivery that failed with 131050. Each becomes one opt-out event,
//! recorded once per source item, so a repeated or reordered webhook changes nothing.

use switchboard_domain::opt_out::Consent;
use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_domain::settings::OrgSettings;
use switchboard_domain::webhook::{Change, UserPreference};
use switchboard_domain::window::is_window_open;
use switchboard_store::models::{Channel, Conversation, MessageLog, now};
use switchboard_store::repo::jobs;
use switchboard_store::repo::messages::meta_time;
use switchboard_store::repo::opt_outs::{self, NewOptOut};
use switchboard_store::repo::outbound::{self, NewOutbound};
use switchboard_store::{AnyConnection, StoreError};

use super::{Problems, keep_going};

/// Message types whose words a customer chose (typed, or a quick-reply button's label).
const WORDED: [&str; 2] = ["text", "button"];

/// The keyword an inbound message is, if it is exactly one.
pub(super) fn keyword_in(settings: &OrgSettings, log: &MessageLog) -> Option<Consent> {
    if !WORDED.contains(&log.message_type.as_str()) {
        return None;
    }
    settings.opt_out.consent_in(log.text.as_deref()?)
}

/// A customer wrote a stop or start keyword: the change is recorded (KEYWORD, keyed by the
/// wamid) and, inside the 24-hour window, confirmed with a text queued like the assistant's
/// answers (keyed `optout:<wamid>`, so a replay queues nothing twice).
pub(super) fn on_keyword(
    conn: &mut AnyConnection,
    channel: &Channel,
    settings: &OrgSettings,
    conversation: &Conversation,
    log: &MessageLog,
    consent: Consent,
) -> Result<(), StoreError> {
    let wamid = log.external_message_id.as_deref().unwrap_or(&log.id);
    let phone = conversation.contact_phone.as_str();
    if !phone.chars().all(|c| c.is_ascii_digit()) {
        // Known by a business-scoped id only: there is no phone to refuse marketing to.
        tracing::info!(message = %wamid, "a keyword from a contact without a phone number is not recorded");
        return Ok(());
    }
    let at = log.sent_at.unwrap_or(log.created_at);
    let said = log.text.clone().unwrap_or_default();
    opt_outs::record_in(
        conn,
        &NewOptOut {
            organization_id: &channel.organization_id,
            phone,
            opted_out: consent.opted_out(),
            source: opt_outs::KEYWORD,
            detail: Some(&format!("wrote \"{}\"", said.trim())),
            external_ref: wamid,
            occurred_at: at,
        },
    )?;
    if !settings.opt_out.acknowledge || !is_window_open(Some(at), now()) {
        return Ok(());
    }
    let body = settings
        .opt_out
        .acknowledgement(consent, settings.helpdesk.language);
    outbound::queue_message_in(
        conn,
        &NewOutbound {
            organization_id: channel.organization_id.clone(),
            channel: channel.clone(),
            to: phone.to_string(),
            content: OutboundContent::Text(Text {
                body,
                preview_url: false,
            }),
            lead_id: conversation.lead_id.clone(),
            reply_to: None,
            idempotency_key: Some(format!("optout:{wamid}")),
            origin: Some(switchboard_store::repo::messages::origin::ASSISTANT),
        },
    )?;
    jobs::announce_jobs(conn)
}

/// `user_preferences`: the customer stopped or resumed marketing messages in WhatsApp.
pub(super) fn project_preferences(
    conn: &mut AnyConnection,
    channel: &Channel,
    change: &Change,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    for (i, item) in change.user_preferences().into_iter().enumerate() {
        match item {
            Ok(preference) => {
                let saved = record_preference(conn, channel, &preference);
                keep_going(saved, problems, &format!("user preference #{i}"))?;
            }
            Err(e) => problems.push(format!("user preference #{i}: {e}")),
        }
    }
    Ok(())
}

fn record_preference(
    conn: &mut AnyConnection,
    channel: &Channel,
    preference: &UserPreference,
) -> Result<(), StoreError> {
    let Some(consent) = preference.marketing_consent() else {
        if preference.category == switchboard_domain::webhook::MARKETING_MESSAGES {
            return Err(StoreError::Invalid(format!(
                "unknown marketing preference '{}' (expected stop or resume)",
                preference.value
            )));
        }
        tracing::debug!(category = %preference.category, "user preference of another category: nothing to record");
        return Ok(());
    };
    let wa_id = preference
        .wa_id
        .as_deref()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| StoreError::Invalid("the preference names no phone (wa_id)".into()))?;
    opt_outs::record_in(
        conn,
        &NewOptOut {
            organization_id: &channel.organization_id,
            phone: wa_id,
            opted_out: consent.opted_out(),
            source: opt_outs::WEBHOOK,
            detail: preference.detail.as_deref(),
            external_ref: &format!(
                "up:{wa_id}:{}:{}",
                preference.timestamp,
                preference.value.trim().to_ascii_lowercase()
            ),
            occurred_at: meta_time(preference.timestamp),
        },
    )?;
    Ok(())
}
