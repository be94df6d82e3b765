//! A typed but tolerant model of Meta's WhatsApp webhook bodies.
//!
//! Meta batches many messages and statuses into one POST and retries the
//! whole POST for days when it is not acknowledged, so a reader that fails on
//! one odd item loses (or endlessly replays) all the others. This model
//! therefore types only the envelope strictly; every change keeps its raw
//! `value`, and every message or status is read on its own, yielding a
//! `Result` per item.
//!
//! ```
//! use switchboard_domain::webhook;
//!
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
//!   {"field":"messages","value":{"metadata":{"phone_number_id":"42"},
//!    "messages":[{"from":"573103055424","id":"wamid.A","timestamp":"1697043223",
//!                 "type":"text","text":{"body":"hola"}}]}}]}]}"#;
//! let parsed = webhook::parse(body).unwrap();
//! let value = parsed.entry[0].changes[0].messages_value().unwrap();
//! let message = value.messages().remove(0).unwrap();
//! assert_eq!(message.summary(), "hola");
//! ```

mod coexistence;
mod json;
mod message;
mod status;
mod summary;
#[cfg(test)]
mod tests;

pub use coexistence::{
    EchoesValue, HistoryChunk, HistoryThread, HistoryValue, MARKETING_MESSAGES, MEDIA_PLACEHOLDER,
    UserPreference, history_status, user_preferences,
};
pub use message::{Context, MediaRef, Message, Reaction, SystemChange};
pub use status::Status;

use serde::Deserialize;
use serde_json::Value;

/// The field of changes that carry inbound messages and delivery statuses.
pub const FIELD_MESSAGES: &str = "messages";
/// The field of changes that report a template's review outcome.
pub const FIELD_TEMPLATE_STATUS: &str = "message_template_status_update";
/// Messages the business typed in the WhatsApp Business app (coexistence).
pub const FIELD_ECHOES: &str = "smb_message_echoes";
/// The Business app's past chats, synced after onboarding (coexistence).
pub const FIELD_HISTORY: &str = "history";
/// A customer stopped or resumed marketing messages in WhatsApp.
pub const FIELD_USER_PREFERENCES: &str = "user_preferences";
/// The `object` of every WhatsApp Business Account webhook.
pub const OBJECT_WHATSAPP: &str = "whatsapp_business_account";

/// Why a body could not be read at all (as opposed to one item in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("webhook body is JSON but not an object with `object` and `entry`")]
    NotAnObject,
    #[error("webhook body does not have Meta's envelope shape: {0}")]
    Shape(String),
}

/// Why one message or status of a batch could not be read; the rest of the
/// batch is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {index}{} could not be read: {reason}", id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default())]
pub struct ItemError {
    /// Position of the item in its array, to find it again in the stored body.
    pub index: usize,
    /// The item's `id` (wamid) when it had one, so the failure can be traced.
    pub id: Option<String>,
    pub reason: String,
}

impl ItemError {
    pub(crate) fn new(index: usize, item: &Value, reason: impl Into<String>) -> Self {
        Self {
            index,
            id: json::text_at(item, "id"),
            reason: reason.into(),
        }
    }

    /// The same error, placed at `index` of its batch.
    fn at(self, index: usize) -> Self {
        Self { index, ..self }
    }
}

/// A whole webhook POST body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WebhookBody {
    /// `whatsapp_business_account` for WhatsApp; kept verbatim so a caller
    /// can ignore other products' webhooks.
    #[serde(default, deserialize_with = "json::de_text_or_empty")]
    pub object: String,
    #[serde(default, deserialize_with = "de_vec_or_null")]
    pub entry: Vec<Entry>,
}

/// One entry: the changes of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Entry {
    /// The WABA id (a string in Meta's examples, a number in some fixtures).
    #[serde(default, deserialize_with = "json::de_opt_text")]
    pub id: Option<String>,
    /// Unix seconds; only non-`messages` fields carry it.
    #[serde(default, deserialize_with = "json::de_opt_int")]
    pub time: Option<i64>,
    #[serde(default, deserialize_with = "de_vec_or_null")]
    pub changes: Vec<Change>,
}

/// One change. `value` stays raw so a malformed part of it cannot hide the
/// well-formed rest; the accessors below type it on demand.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Change {
    #[serde(default, deserialize_with = "json::de_text_or_empty")]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

fn de_vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Reads a webhook body from the exact bytes Meta sent.
///
/// Fails only when the envelope itself is unreadable; odd items inside are
/// reported later, one by one, by [`MessagesValue::messages`] and
/// [`MessagesValue::statuses`].
pub fn parse(body: &[u8]) -> Result<WebhookBody, WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
    if !value.is_object() {
        return Err(WebhookError::NotAnObject);
    }
    serde_json::from_value(value).map_err(|e| WebhookError::Shape(e.to_string()))
}

impl WebhookBody {
    /// True for WhatsApp Business Account webhooks (the only kind we act on).
    pub fn is_whatsapp(&self) -> bool {
        self.object == OBJECT_WHATSAPP
    }

    /// Every change of every entry, in order, with its entry: batches hold
    /// many, and reading only the first is a classic way to lose messages.
    pub fn changes(&self) -> impl Iterator<Item = (&Entry, &Change)> {
        self.entry
            .iter()
            .flat_map(|e| e.changes.iter().map(move |c| (e, c)))
    }
}

impl Change {
    /// The typed `value` of a `messages` change; `None` for other fields or
    /// when `value` is not an object.
    pub fn messages_value(&self) -> Option<MessagesValue> {
        if self.field != FIELD_MESSAGES {
            return None;
        }
        MessagesValue::from_value(&self.value)
    }

    /// The typed `value` of a `smb_message_echoes` change.
    pub fn echoes_value(&self) -> Option<EchoesValue> {
        if self.field != FIELD_ECHOES {
            return None;
        }
        EchoesValue::from_value(&self.value)
    }

    /// The typed `value` of a `history` change.
    pub fn history_value(&self) -> Option<HistoryValue> {
        if self.field != FIELD_HISTORY {
            return None;
        }
        HistoryValue::from_value(&self.value)
    }

    /// The items of a `user_preferences` change, each read on its own (empty for other
    /// fields).
    pub fn user_preferences(&self) -> Vec<Result<UserPreference, ItemError>> {
        if self.field != FIELD_USER_PREFERENCES {
            return Vec::new();
        }
        user_preferences(&self.value)
    }

    /// The typed `value` of a `message_template_status_update` change.
    pub fn template_status_update(&self) -> Option<TemplateStatusUpdate> {
        if self.field != FIELD_TEMPLATE_STATUS {
            return None;
        }
        TemplateStatusUpdate::from_value(&self.value)
    }
}

/// The `value` of a `messages` change. `smb_message_echoes` and `history` carry messages of
/// the same shape but under other keys (`message_echoes`, `history[].threads[].messages`):
/// read them with [`Change::echoes_value`] and [`Change::history_value`].
///
/// Items stay raw; [`Self::messages`] and [`Self::statuses`] read each one
/// independently.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessagesValue {
    pub metadata: Option<Metadata>,
    /// The senders (not shared vCards, which live inside a message).
    pub contacts: Vec<Contact>,
    pub messages: Vec<Value>,
    pub statuses: Vec<Value>,
    /// Errors about the whole change (e.g. 130429, 131000), not one item.
    pub errors: Vec<ApiError>,
}

/// Which of our numbers the change is about: the key to route it by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    pub display_phone_number: Option<String>,
    pub phone_number_id: Option<String>,
}

/// A sender as Meta describes it. Both ids are optional: system messages
/// have no contact, and users with a username may come with a BSUID only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID), e.g. `US.13491208655302741918`.
    pub user_id: Option<String>,
    pub profile_name: Option<String>,
}

/// An error object as Meta sends it in webhooks and Graph responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What retry decisions are based on (Meta: "build your error handling
    /// around `code`").
    pub code: i64,
    pub title: Option<String>,
    pub message: Option<String>,
    /// `error_data.details`: the human explanation of this occurrence.
    pub details: Option<String>,
}

/// The outcome of a template review (`message_template_status_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatusUpdate {
    /// APPROVED, REJECTED, PAUSED, … verbatim.
    pub event: String,
    pub template_id: Option<String>,
    pub name: Option<String>,
    pub language: Option<String>,
    /// `null` in Meta's payload when there is no reason.
    pub reason: Option<String>,
    pub category: Option<String>,
}

impl MessagesValue {
    /// Reads the shape of a `messages` value from any change's raw value;
    /// `None` when it is not an object.
    pub fn from_value(value: &Value) -> Option<Self> {
        value.is_object().then(|| Self {
            metadata: json::object_at(value, "metadata").map(Metadata::from_value),
            contacts: json::items_at(value, "contacts")
                .iter()
                .filter(|c| c.is_object())
                .map(Contact::from_value)
                .collect(),
            messages: json::items_at(value, "messages").to_vec(),
            statuses: json::items_at(value, "statuses").to_vec(),
            errors: ApiError::list(json::items_at(value, "errors")),
        })
    }

    /// The `phone_number_id` of our number this change belongs to.
    pub fn phone_number_id(&self) -> Option<&str> {
        self.metadata.as_ref()?.phone_number_id.as_deref()
    }

    /// Each message read on its own: a bad item yields an `Err` in its slot
    /// and the others still come through.
    pub fn messages(&self) -> Vec<Result<Message, ItemError>> {
        let read = |(i, item)| Message::from_value(item).map_err(|e| e.at(i));
        self.messages.iter().enumerate().map(read).collect()
    }

    /// Each delivery status read on its own, like [`Self::messages`].
    pub fn statuses(&self) -> Vec<Result<Status, ItemError>> {
        let read = |(i, item)| Status::from_value(item).map_err(|e| e.at(i));
        self.statuses.iter().enumerate().map(read).collect()
    }

    /// The sender of `message` among `contacts`: matched by phone or BSUID,
    /// else the only contact (Meta warns that `wa_id` and `from` "may not
    /// always match", e.g. Brazilian and Mexican numbers). `None` for system
    /// messages, which carry no contacts.
    pub fn contact_for(&self, message: &Message) -> Option<&Contact> {
        let by_id = self.contacts.iter().find(|c| {
            let same_phone = c.wa_id.is_some() && c.wa_id == message.from;
            let same_user = c.user_id.is_some() && c.user_id == message.from_user_id;
            same_phone || same_user
        });
        by_id.or(match self.contacts.as_slice() {
            [only] => Some(only),
            _ => None,
        })
    }
}

impl Metadata {
    fn from_value(value: &Value) -> Self {
        Self {
            display_phone_number: json::text_at(value, "display_phone_number"),
            phone_number_id: json::text_at(value, "phone_number_id"),
        }
    }
}

impl Contact {
    fn from_value(value: &Value) -> Self {
        Self {
            wa_id: json::text_at(value, "wa_id"),
            user_id: json::text_at(value, "user_id"),
            profile_name: json::object_at(value, "profile").and_then(|p| json::text_at(p, "name")),
        }
    }
}

impl ApiError {
    /// Reads one error; `None` without a usable `code`, since a made-up code
    /// would drive a wrong retry decision (the raw item keeps the original).
    pub fn from_value(value: &Value) -> Option<Self> {
        Some(Self {
            code: json::int_at(value, "code")?,
            title: json::text_at(value, "title"),
            message: json::text_at(value, "message"),
            details: json::object_at(value, "error_data").and_then(|d| json::text_at(d, "details")),
        })
    }

    pub(crate) fn list(items: &[Value]) -> Vec<Self> {
        items.iter().filter_map(Self::from_value).collect()
    }
}

impl TemplateStatusUpdate {
    /// Reads the value of a template status change; `None` without `event`.
    pub fn from_value(value: &Value) -> Option<Self> {
        Some(Self {
            event: json::text_at(value, "event")?,
            template_id: json::text_at(value, "message_template_id"),
            name: json::text_at(value, "message_template_name"),
            language: json::text_at(value, "message_template_language"),
            reason: json::text_at(value, "reason"),
            category: json::text_at(value, "message_template_category"),
        })
    }
}
