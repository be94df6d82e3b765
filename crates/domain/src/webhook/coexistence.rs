//! Webhooks of a number shared by the WhatsApp Business app and the Cloud API
//! ("coexistence"): `smb_message_echoes` (what the business typed in the app), `history`
//! (the app's past chats, synced once after onboarding) and `user_preferences` (a customer
//! stopped or resumed marketing messages in WhatsApp itself).
//!
//! Echo and history items have the shape of inbound messages (`id`, `timestamp`, `type` and
//! the object named by the type), so they are read as [`Message`]s, one by one.

use serde_json::Value;

use super::json;
use super::{ApiError, ItemError, Message, Metadata};
use crate::opt_out::Consent;
use crate::status::MessageStatus;

/// The type of a history message whose media was left out (its media may follow later).
pub const MEDIA_PLACEHOLDER: &str = "media_placeholder";

/// Reads each item of `items` as a message, an `Err` in the slot of a bad one.
fn read_messages(items: &[Value]) -> Vec<Result<Message, ItemError>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| Message::from_value(item).map_err(|e| e.at(i)))
        .collect()
}

/// The value of a `smb_message_echoes` change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EchoesValue {
    pub metadata: Option<Metadata>,
    /// `message_echoes[]`, raw: `from` is the business number, `to` the customer.
    pub echoes: Vec<Value>,
}

impl EchoesValue {
    /// `None` when the value is not an object.
    pub fn from_value(value: &Value) -> Option<Self> {
        value.is_object().then(|| Self {
            metadata: json::object_at(value, "metadata").map(Metadata::from_value),
            echoes: json::items_at(value, "message_echoes").to_vec(),
        })
    }

    /// Each echo read on its own.
    pub fn echoes(&self) -> Vec<Result<Message, ItemError>> {
        read_messages(&self.echoes)
    }
}

/// The value of a `history` change: chunks of past threads, or (later) the media of
/// messages that came as placeholders, or the business's refusal to share.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryValue {
    pub metadata: Option<Metadata>,
    pub chunks: Vec<HistoryChunk>,
    /// A plain `messages` array: media for earlier placeholders, by the same wamid.
    pub messages: Vec<Value>,
    /// Errors about the whole change.
    pub errors: Vec<ApiError>,
}

/// One item of `value.history[]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryChunk {
    /// 0: day 0–1, 1: day 1–90, 2: day 90–180 before onboarding.
    pub phase: Option<i64>,
    pub chunk_order: Option<i64>,
    /// 0–100; 100 means the sync is complete.
    pub progress: Option<i64>,
    pub threads: Vec<HistoryThread>,
    /// e.g. 2593109: the business turned history sharing off.
    pub errors: Vec<ApiError>,
}

/// One chat of the history: the customer's id and its messages, raw.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryThread {
    /// The customer's WhatsApp id.
    pub id: Option<String>,
    pub messages: Vec<Value>,
}

impl HistoryValue {
    /// `None` when the value is not an object.
    pub fn from_value(value: &Value) -> Option<Self> {
        value.is_object().then(|| Self {
            metadata: json::object_at(value, "metadata").map(Metadata::from_value),
            chunks: json::items_at(value, "history")
                .iter()
                .filter(|c| c.is_object())
                .map(HistoryChunk::from_value)
                .collect(),
            messages: json::items_at(value, "messages").to_vec(),
            errors: ApiError::list(json::items_at(value, "errors")),
        })
    }

    /// The plain `messages` (placeholder media), each read on its own.
    pub fn media_messages(&self) -> Vec<Result<Message, ItemError>> {
        read_messages(&self.messages)
    }

    /// Every error of the change and of its chunks.
    pub fn all_errors(&self) -> Vec<&ApiError> {
        self.errors
            .iter()
            .chain(self.chunks.iter().flat_map(|c| c.errors.iter()))
            .collect()
    }
}

impl HistoryChunk {
    fn from_value(value: &Value) -> Self {
        let metadata = json::object_at(value, "metadata");
        let number = |key: &str| metadata.and_then(|m| json::int_at(m, key));
        Self {
            phase: number("phase"),
            chunk_order: number("chunk_order"),
            progress: number("progress"),
            threads: json::items_at(value, "threads")
                .iter()
                .filter(|t| t.is_object())
                .map(|t| HistoryThread {
                    id: json::text_at(t, "id"),
                    messages: json::items_at(t, "messages").to_vec(),
                })
                .collect(),
            errors: ApiError::list(json::items_at(value, "errors")),
        }
    }
}

impl HistoryThread {
    /// Each message of the thread read on its own.
    pub fn messages(&self) -> Vec<Result<Message, ItemError>> {
        read_messages(&self.messages)
    }
}

impl Message {
    /// The recipient of an echo or a business history message (`to`, else `to_user_id`).
    pub fn recipient(&self) -> Option<String> {
        json::text_at(&self.raw, "to").or_else(|| json::text_at(&self.raw, "to_user_id"))
    }

    /// `history_context.status` of a history message, verbatim (READ, PLAYED, …).
    pub fn history_status(&self) -> Option<String> {
        json::object_at(&self.raw, "history_context").and_then(|c| json::text_at(c, "status"))
    }

    /// A history message whose media was left out.
    pub fn is_media_placeholder(&self) -> bool {
        self.kind == MEDIA_PLACEHOLDER
    }
}

/// Our status for a message the business sent, from its history status. History is the past:
/// PENDING (the app had not heard back) is shown as SENT, never as QUEUED, since nothing of
/// ours will send it; ERROR is FAILED; unknown values are SENT.
pub fn history_status(meta: Option<&str>) -> MessageStatus {
    match meta.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        Some("DELIVERED") => MessageStatus::Delivered,
        Some("READ") => MessageStatus::Read,
        Some("PLAYED") => MessageStatus::Played,
        Some("ERROR") => MessageStatus::Failed,
        _ => MessageStatus::Sent,
    }
}

/// One item of a `user_preferences` change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPreference {
    pub wa_id: Option<String>,
    /// `marketing_messages` is the only category Meta sends so far.
    pub category: String,
    /// `stop` or `resume`.
    pub value: String,
    pub detail: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
}

/// The category of marketing consent preferences.
pub const MARKETING_MESSAGES: &str = "marketing_messages";

impl UserPreference {
    /// Reads one item; fails without `category`, `value` or a readable `timestamp`.
    pub fn from_value(index: usize, item: &Value) -> Result<Self, ItemError> {
        let fail = |reason: &str| ItemError::new(index, item, reason);
        if !item.is_object() {
            return Err(fail("a user preference must be a JSON object"));
        }
        Ok(Self {
            wa_id: json::text_at(item, "wa_id"),
            category: json::text_at(item, "category")
                .ok_or_else(|| fail("user preference has no `category`"))?,
            value: json::text_at(item, "value")
                .ok_or_else(|| fail("user preference has no `value`"))?,
            detail: json::text_at(item, "detail"),
            timestamp: json::int_at(item, "timestamp")
                .ok_or_else(|| fail("user preference has no readable `timestamp`"))?,
        })
    }

    /// What it says about marketing messages; `None` for other categories or values.
    pub fn marketing_consent(&self) -> Option<Consent> {
        if self.category != MARKETING_MESSAGES {
            return None;
        }
        match self.value.trim().to_ascii_lowercase().as_str() {
            "stop" => Some(Consent::OptOut),
            "resume" => Some(Consent::OptIn),
            _ => None,
        }
    }
}

/// Each item of a `user_preferences` change's `user_preferences[]`, read on its own.
pub fn user_preferences(value: &Value) -> Vec<Result<UserPreference, ItemError>> {
    json::items_at(value, "user_preferences")
        .iter()
        .enumerate()
        .map(|(i, item)| UserPreference::from_value(i, item))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn echoes_are_messages_with_a_recipient() {
        let value = json!({"metadata": {"display_phone_number": "15550783881", "phone_number_id": "1"},
        "message_echoes": [
            {"from": "15550783881", "to": "16505551234", "id": "wamid.E1", "timestamp": "1739321024",
             "type": "text", "text": {"body": "Here's the info"}},
            {"from": "15550783881", "id": "wamid.E2", "type": "text"}
        ]});
        let echoes = EchoesValue::from_value(&value).unwrap().echoes();
        let first = echoes[0].as_ref().unwrap();
        assert_eq!(first.recipient().as_deref(), Some("16505551234"));
        assert_eq!(first.text().as_deref(), Some("Here's the info"));
        let bad = echoes[1].as_ref().unwrap_err();
        assert_eq!((bad.index, bad.id.as_deref()), (1, Some("wamid.E2")));
        assert!(EchoesValue::from_value(&json!([1])).is_none());
    }

    #[test]
    fn history_reads_chunks_threads_placeholders_and_errors() {
        let value = json!({"history": [
            {"metadata": {"phase": 0, "chunk_order": 1, "progress": 55},
             "threads": [{"id": "16505551234", "messages": [
                {"from": "15550783881", "to": "16505551234", "id": "wamid.H1", "timestamp": "1739230955",
                 "type": "text", "text": {"body": "Hi"}, "history_context": {"status": "READ"}},
                {"from": "15550783881", "id": "wamid.H2", "timestamp": "1739230970",
                 "type": "media_placeholder", "history_context": {"status": "PLAYED"}}]}]},
            {"errors": [{"code": 2593109, "title": "History sync is turned off",
                "error_data": {"details": "History sharing is turned off by the business"}}]}
        ]});
        let history = HistoryValue::from_value(&value).unwrap();
        assert_eq!(history.chunks[0].progress, Some(55));
        let thread = &history.chunks[0].threads[0];
        assert_eq!(thread.id.as_deref(), Some("16505551234"));
        let messages = thread.messages();
        let placeholder = messages[1].as_ref().unwrap();
        assert!(placeholder.is_media_placeholder());
        assert_eq!(placeholder.history_status().as_deref(), Some("PLAYED"));
        let errors = history.all_errors();
        assert_eq!(errors[0].code, 2593109);
        assert!(errors[0].details.as_deref().unwrap().contains("turned off"));
    }

    #[test]
    fn history_statuses_map_to_ours() {
        for (meta, ours) in [
            (Some("DELIVERED"), MessageStatus::Delivered),
            (Some("read"), MessageStatus::Read),
            (Some("PLAYED"), MessageStatus::Played),
            (Some("ERROR"), MessageStatus::Failed),
            (Some("SENT"), MessageStatus::Sent),
            (Some("PENDING"), MessageStatus::Sent),
            (Some("SOMETHING"), MessageStatus::Sent),
            (None, MessageStatus::Sent),
        ] {
            assert_eq!(history_status(meta), ours, "{meta:?}");
        }
    }

    #[test]
    fn user_preferences_say_stop_or_resume_for_marketing_only() {
        let value = json!({"user_preferences": [
            {"wa_id": "16505551234", "detail": "User requested to stop marketing messages",
             "category": "marketing_messages", "value": "stop", "timestamp": 1731705721},
            {"wa_id": "16505551234", "category": "marketing_messages", "value": "resume", "timestamp": "1731705800"},
            {"wa_id": "16505551234", "category": "something_else", "value": "stop", "timestamp": 1},
            {"wa_id": "16505551234", "category": "marketing_messages", "value": "stop"}
        ]});
        let items = user_preferences(&value);
        assert_eq!(
            items[0].as_ref().unwrap().marketing_consent(),
            Some(Consent::OptOut)
        );
        assert_eq!(items[1].as_ref().unwrap().timestamp, 1731705800);
        assert_eq!(
            items[1].as_ref().unwrap().marketing_consent(),
            Some(Consent::OptIn)
        );
        assert_eq!(items[2].as_ref().unwrap().marketing_consent(), None);
        assert!(items[3].as_ref().unwrap_err().reason.contains("timestamp"));
    }
}
