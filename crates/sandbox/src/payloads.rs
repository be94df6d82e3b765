//! Webhook bodies in Meta's exact shape (reference §4–6): inbound messages and status updates.
//! Each inbound builder gives the message a fresh wamid and the current time; serialize with
//! [`to_wire`] (Meta's ASCII wire style) and sign those bytes with [`crate::sign`].

use serde_json::{Value, json};

use crate::errors::{self, MetaCode};
use crate::ids;

pub use crate::wire::to_wire;

/// The business side of a webhook: the WABA (`entry[].id`) and the number (`metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Business {
    pub waba_id: String,
    pub phone_number_id: String,
    pub display_phone_number: String,
}

impl Default for Business {
    fn default() -> Self {
        Business {
            waba_id: crate::config::DEFAULT_WABA_ID.into(),
            phone_number_id: crate::config::DEFAULT_PHONE_NUMBER_ID.into(),
            display_phone_number: crate::config::DEFAULT_DISPLAY_PHONE_NUMBER.into(),
        }
    }
}

/// The user who writes to the business (`contacts[]` and `messages[].from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// Digits only, country code first (`5511999990000`).
    pub wa_id: String,
    /// `contacts[].profile.name`.
    pub name: String,
}

impl Sender {
    pub fn new(wa_id: impl Into<String>, name: impl Into<String>) -> Self {
        Sender {
            wa_id: wa_id.into(),
            name: name.into(),
        }
    }
}

/// A media object of an inbound message, as in the fixtures (`{mime_type, sha256, id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    pub id: String,
    pub mime_type: String,
    /// Base64 SHA-256 of the file, as inbound webhooks carry it.
    pub sha256: String,
    pub caption: Option<String>,
}

impl MediaRef {
    /// A made-up JPEG: fresh numeric id, random hash. Fine for code that does not download it.
    pub fn fake_jpeg() -> Self {
        use base64::Engine;
        let hash: Vec<u8> = (0..32).map(|_| fastrand::u8(..)).collect();
        MediaRef {
            id: ids::numeric_id(),
            mime_type: "image/jpeg".into(),
            sha256: base64::engine::general_purpose::STANDARD.encode(hash),
            caption: None,
        }
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn envelope(business: &Business, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": business.waba_id,
            "changes": [{ "value": value, "field": "messages" }],
        }],
    })
}

fn metadata(business: &Business) -> Value {
    json!({
        "display_phone_number": business.display_phone_number,
        "phone_number_id": business.phone_number_id,
    })
}

/// One inbound message webhook around `message` (its type-specific fields: `type`, `text`, …).
/// `from`, a fresh `id` and the current `timestamp` are filled in unless `message` has them.
pub fn inbound_message(business: &Business, sender: &Sender, message: Value) -> Value {
    let mut message = match message {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    message.entry("from").or_insert_with(|| json!(sender.wa_id));
    message
        .entry("id")
        .or_insert_with(|| json!(ids::incoming_wamid(&sender.wa_id)));
    message
        .entry("timestamp")
        .or_insert_with(|| json!(unix_now().to_string()));
    envelope(
        business,
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(business),
            "contacts": [{ "profile": { "name": sender.name }, "wa_id": sender.wa_id }],
            "messages": [message],
        }),
    )
}

/// A text message (`text-01.json`).
pub fn inbound_text(business: &Business, sender: &Sender, body: &str) -> Value {
    inbound_message(
        business,
        sender,
        json!({ "type": "text", "text": { "body": body } }),
    )
}

/// An image message (`image-01.json`): `{mime_type, sha256, id}` plus `caption` when given.
pub fn inbound_image(business: &Business, sender: &Sender, image: &MediaRef) -> Value {
    let mut object =
        json!({ "mime_type": image.mime_type, "sha256": image.sha256, "id": image.id });
    if let Some(caption) = &image.caption {
        object["caption"] = json!(caption);
    }
    inbound_message(
        business,
        sender,
        json!({ "type": "image", "image": object }),
    )
}

/// `context` of a reply to a business message: its wamid, or a made-up one.
fn reply_context(business: &Business, sender: &Sender, context: Option<&str>) -> Value {
    let id = context.map_or_else(|| ids::outgoing_wamid(&sender.wa_id), str::to_owned);
    json!({ "from": business.display_phone_number, "id": id })
}

/// A tap on a reply button (`interactive-button-reply-01.json`). `context` is the wamid of the
/// business message that carried the buttons (made up when `None`).
pub fn inbound_button_reply(
    business: &Business,
    sender: &Sender,
    context: Option<&str>,
    id: &str,
    title: &str,
) -> Value {
    inbound_message(
        business,
        sender,
        json!({
            "context": reply_context(business, sender, context),
            "type": "interactive",
            "interactive": { "type": "button_reply", "button_reply": { "id": id, "title": title } },
        }),
    )
}

/// A choice from a list message (`interactive-list-reply-01.json`).
pub fn inbound_list_reply(
    business: &Business,
    sender: &Sender,
    context: Option<&str>,
    id: &str,
    title: &str,
    description: Option<&str>,
) -> Value {
    let mut reply = json!({ "id": id, "title": title });
    if let Some(description) = description {
        reply["description"] = json!(description);
    }
    inbound_message(
        business,
        sender,
        json!({
            "context": reply_context(business, sender, context),
            "type": "interactive",
            "interactive": { "type": "list_reply", "list_reply": reply },
        }),
    )
}

/// Pricing of a service (free-form) message, as Meta reports it since July 2025 (PMP).
pub fn service_pricing() -> Value {
    json!({ "billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service" })
}

/// Pricing of a template message of `category` (`marketing`, `utility`, `authentication`).
pub fn template_pricing(category: &str) -> Value {
    json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": category })
}

/// One `statuses[]` element: `{id, status, timestamp, recipient_id}`; add `pricing`,
/// `biz_opaque_callback_data` or `errors` to the returned object as needed.
pub fn status(wamid: &str, status: &str, recipient_id: &str, timestamp: i64) -> Value {
    json!({
        "id": wamid,
        "status": status,
        "timestamp": timestamp.to_string(),
        "recipient_id": recipient_id,
    })
}

/// A `failed` status with `errors[{code,title,message,error_data:{details},href}]` for `code`
/// (any code of the sandbox's catalogue; others get a generic title).
pub fn failed_status(wamid: &str, recipient_id: &str, timestamp: i64, code: i64) -> Value {
    let error = errors::lookup(code).map_or_else(
        || {
            MetaCode {
                code,
                title: "Message failed to send",
                details: "Message failed to send.",
                error_subcode: None,
                http_status: 400,
            }
            .webhook_error()
        },
        MetaCode::webhook_error,
    );
    let mut object = status(wamid, "failed", recipient_id, timestamp);
    object["errors"] = json!([error]);
    object
}

/// A status webhook carrying `statuses` (one or a batch, as Meta batches them).
pub fn statuses(business: &Business, statuses: Vec<Value>) -> Value {
    envelope(
        business,
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(business),
            "statuses": statuses,
        }),
    )
}

/// The wamid of the first message of an inbound webhook.
pub fn message_id(payload: &Value) -> Option<&str> {
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_the_fixture_shape() {
        let business = Business::default();
        let sender = Sender::new("5511999990000", "Ana");
        let payload = inbound_text(&business, &sender, "hola");
        let value = &payload["entry"][0]["changes"][0]["value"];
        assert_eq!(payload["object"], "whatsapp_business_account");
        assert_eq!(payload["entry"][0]["id"], business.waba_id.as_str());
        assert_eq!(payload["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(value["metadata"]["phone_number_id"], "1122334455667");
        assert_eq!(value["contacts"][0]["profile"]["name"], "Ana");
        assert_eq!(value["messages"][0]["from"], "5511999990000");
        assert_eq!(value["messages"][0]["text"]["body"], "hola");
        assert!(value["messages"][0]["timestamp"].is_string());
        assert!(message_id(&payload).unwrap().starts_with("wamid."));
        assert_ne!(
            message_id(&payload),
            message_id(&inbound_text(&business, &sender, "hola"))
        );
    }

    #[test]
    fn failed_status_carries_the_error() {
        let failed = failed_status("wamid.x", "1555", 1, 131047);
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["errors"][0]["code"], 131047);
        assert_eq!(failed["errors"][0]["title"], "Re-engagement message");
        assert!(
            failed["errors"][0]["error_data"]["details"]
                .as_str()
                .unwrap()
                .contains("24 hours")
        );
    }
}
