//! One inbound message (`value.messages[]`) and its type-specific parts.
//!
//! Only what every message has (id, timestamp, type) is required; the rest
//! is read from the raw item on demand, so a new or half-formed type (Meta
//! sends `type:"interactive"` without an `interactive` object on error
//! 131000) still yields a message to store.

use super::json;
use super::{ApiError, ItemError};
use serde_json::{Map, Value};

/// Types whose part is a downloadable media object.
const MEDIA_KINDS: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

/// An inbound message, with its raw item kept whole for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The wamid: the key that makes processing idempotent.
    pub id: String,
    /// The sender's phone; absent for BSUID-only users.
    pub from: Option<String>,
    /// The sender's business-scoped user id (BSUID).
    pub from_user_id: Option<String>,
    /// Unix seconds.
    pub timestamp: i64,
    /// The `type` field verbatim (`text`, `image`, `unsupported`, …).
    pub kind: String,
    pub context: Option<Context>,
    /// Click-to-WhatsApp ad data, to store on the lead.
    pub referral: Option<Value>,
    /// Set when the message was sent in a group (Groups API).
    pub group_id: Option<String>,
    /// Per-message errors, e.g. 131051 "Message type unknown".
    pub errors: Vec<ApiError>,
    pub raw: Value,
}

/// What the message answers or how it was forwarded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// Who sent the message replied to (our number, for button taps).
    pub from: Option<String>,
    /// The wamid of the message replied to.
    pub id: Option<String>,
    pub forwarded: bool,
    pub frequently_forwarded: bool,
    /// The product asked about through a "Message business" button.
    pub referred_product: Option<Value>,
}

/// A media attachment to download later with the Graph API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    /// The media id (valid for download for about 7 days).
    pub id: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub filename: Option<String>,
    pub caption: Option<String>,
    /// Present in newer webhooks; still needs the access token to fetch.
    pub url: Option<String>,
    /// A recorded voice note rather than an audio file.
    pub voice: bool,
    pub animated: bool,
}

/// A reaction to one of the conversation's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The wamid reacted to.
    pub message_id: String,
    /// `None` when the reaction was removed (Meta sends `""` or nothing).
    pub emoji: Option<String>,
}

/// A system notice, e.g. the customer changed their number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemChange {
    /// `system.type` verbatim (`user_changed_number`, …); empty if absent.
    pub kind: String,
    pub body: Option<String>,
    /// The customer's new phone, for `user_changed_number`.
    pub new_wa_id: Option<String>,
    /// The customer's new BSUID, when Meta sends one.
    pub new_user_id: Option<String>,
}

impl Message {
    /// Reads one item of `value.messages[]`. Fails only without a usable
    /// `id`, `timestamp` or `type` (its `index` is 0: the caller knows where
    /// the item was).
    pub fn from_value(item: &Value) -> Result<Self, ItemError> {
        let fail = |reason: &str| ItemError::new(0, item, reason);
        if !item.is_object() {
            return Err(fail("a message must be a JSON object"));
        }
        Ok(Self {
            id: json::text_at(item, "id").ok_or_else(|| fail("message has no `id`"))?,
            timestamp: json::int_at(item, "timestamp")
                .ok_or_else(|| fail("message has no readable `timestamp`"))?,
            kind: json::text_at(item, "type").ok_or_else(|| fail("message has no `type`"))?,
            from: json::text_at(item, "from"),
            from_user_id: json::text_at(item, "from_user_id"),
            context: json::object_at(item, "context").map(Context::from_value),
            referral: json::object_at(item, "referral").cloned(),
            group_id: json::text_at(item, "group_id"),
            errors: ApiError::list(json::items_at(item, "errors")),
            raw: item.clone(),
        })
    }

    /// Who sent it: the phone when known, else the BSUID.
    pub fn sender(&self) -> Option<&str> {
        self.from.as_deref().or(self.from_user_id.as_deref())
    }

    /// The object named after the type (`raw.image` for an image, …).
    pub(crate) fn part(&self) -> Option<&Value> {
        json::object_at(&self.raw, &self.kind)
    }

    /// The words a person would read in this message, if it has any.
    pub fn text(&self) -> Option<String> {
        let part = self.part()?;
        match self.kind.as_str() {
            "text" => json::text_at(part, "body"),
            "image" | "video" | "document" => json::text_at(part, "caption"),
            "interactive" => interactive_title(part),
            "button" => json::text_at(part, "text"),
            "reaction" => json::text_at(part, "emoji"),
            "location" => location_label(part),
            "system" => json::text_at(part, "body"),
            _ => None,
        }
    }

    /// The id of the list row or reply button tapped (`interactive`), or a template quick
    /// reply's payload (`button`): what the business put there to recognise the answer.
    pub fn reply_id(&self) -> Option<String> {
        let part = self.part()?;
        match self.kind.as_str() {
            "interactive" => ["list_reply", "button_reply"]
                .iter()
                .find_map(|k| json::object_at(part, k))
                .and_then(|reply| json::text_at(reply, "id")),
            "button" => json::text_at(part, "payload"),
            _ => None,
        }
    }

    /// The attachment of an image, video, audio, document or sticker.
    pub fn media(&self) -> Option<MediaRef> {
        if !MEDIA_KINDS.contains(&self.kind.as_str()) {
            return None;
        }
        let part = self.part()?;
        Some(MediaRef {
            id: json::text_at(part, "id")?,
            mime_type: json::text_at(part, "mime_type"),
            sha256: json::text_at(part, "sha256"),
            filename: json::text_at(part, "filename"),
            caption: json::text_at(part, "caption"),
            url: json::text_at(part, "url"),
            voice: json::flag_at(part, "voice"),
            animated: json::flag_at(part, "animated"),
        })
    }

    /// The reaction carried by a `reaction` message; a removal has no emoji.
    pub fn reaction(&self) -> Option<Reaction> {
        if self.kind != "reaction" {
            return None;
        }
        let part = self.part()?;
        Some(Reaction {
            message_id: json::text_at(part, "message_id")?,
            emoji: json::text_at(part, "emoji"),
        })
    }

    /// The notice carried by a `system` message.
    pub fn system(&self) -> Option<SystemChange> {
        if self.kind != "system" {
            return None;
        }
        let part = self.part()?;
        Some(SystemChange {
            kind: json::text_at(part, "type").unwrap_or_default(),
            body: json::text_at(part, "body"),
            new_wa_id: json::text_at(part, "wa_id"),
            new_user_id: json::text_at(part, "user_id"),
        })
    }

    /// What the text and media columns cannot hold, as JSON for storage:
    /// `{"<type>": <type-specific part>, "errors": [...]}` with whichever of
    /// the two is present. Text and media parts are left out: [`Self::text`]
    /// and [`Self::media`] already carry them.
    pub fn details(&self) -> Option<Value> {
        let mut out = Map::new();
        let typed_elsewhere = self.kind == "text" || MEDIA_KINDS.contains(&self.kind.as_str());
        let part = self.raw.get(&self.kind).filter(|p| !p.is_null());
        if let Some(part) = part.filter(|_| !typed_elsewhere) {
            out.insert(self.kind.clone(), part.clone());
        }
        if !json::items_at(&self.raw, "errors").is_empty() {
            out.insert("errors".into(), self.raw["errors"].clone());
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

impl Context {
    fn from_value(value: &Value) -> Self {
        Self {
            from: json::text_at(value, "from"),
            id: json::text_at(value, "id"),
            forwarded: json::flag_at(value, "forwarded"),
            frequently_forwarded: json::flag_at(value, "frequently_forwarded"),
            referred_product: json::object_at(value, "referred_product").cloned(),
        }
    }
}

/// The title of the option tapped, or a flow's body/name (`nfm_reply`).
fn interactive_title(interactive: &Value) -> Option<String> {
    const REPLIES: [&str; 3] = ["button_reply", "list_reply", "nfm_reply"];
    let declared = json::text_at(interactive, "type");
    let reply = declared
        .as_deref()
        .and_then(|k| json::object_at(interactive, k))
        .or_else(|| REPLIES.iter().find_map(|k| json::object_at(interactive, k)))?;
    ["title", "body", "name"]
        .iter()
        .find_map(|k| json::text_at(reply, k))
}

/// `name, address` of a shared place, whichever of the two it has.
pub(crate) fn location_label(location: &Value) -> Option<String> {
    let parts: Vec<String> = ["name", "address"]
        .iter()
        .filter_map(|k| json::text_at(location, k))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(item: Value) -> Message {
        Message::from_value(&item).unwrap()
    }

    fn base(kind: &str, part: Value) -> Value {
        json!({"from": "573103055424", "id": "wamid.X", "timestamp": "1700000000",
               "type": kind, kind: part})
    }

    #[test]
    fn requires_id_timestamp_and_type() {
        let no_id = json!({"timestamp": "1", "type": "text"});
        let no_ts = json!({"id": "wamid.A", "type": "text"});
        let bad_ts = json!({"id": "wamid.A", "timestamp": "yesterday", "type": "text"});
        let no_type = json!({"id": "wamid.A", "timestamp": 1});
        assert!(
            Message::from_value(&no_id)
                .unwrap_err()
                .reason
                .contains("`id`")
        );
        let err = Message::from_value(&no_ts).unwrap_err();
        assert_eq!(err.id.as_deref(), Some("wamid.A"));
        assert!(err.reason.contains("timestamp"));
        assert!(Message::from_value(&bad_ts).is_err());
        assert!(Message::from_value(&no_type).is_err());
        assert!(Message::from_value(&json!("text")).is_err());
    }

    #[test]
    fn reads_context_flags_and_referred_product() {
        let mut item = base("text", json!({"body": "hi"}));
        item["context"] = json!({"from": "15550001111", "id": "wamid.Q",
            "frequently_forwarded": true,
            "referred_product": {"catalog_id": "C", "product_retailer_id": "P"}});
        let ctx = message(item).context.unwrap();
        assert_eq!(ctx.id.as_deref(), Some("wamid.Q"));
        assert!(ctx.frequently_forwarded && !ctx.forwarded);
        assert_eq!(ctx.referred_product.unwrap()["product_retailer_id"], "P");
    }

    #[test]
    fn text_covers_every_readable_type() {
        let cases = [
            base("text", json!({"body": "hola"})),
            base("image", json!({"id": "1", "caption": "hola"})),
            base("document", json!({"id": "1", "caption": "hola"})),
            base("button", json!({"payload": "p", "text": "hola"})),
            base(
                "reaction",
                json!({"message_id": "wamid.Y", "emoji": "hola"}),
            ),
            base("system", json!({"body": "hola"})),
            base(
                "location",
                json!({"latitude": 1, "longitude": 2, "name": "hola"}),
            ),
            base(
                "interactive",
                json!({"type": "list_reply", "list_reply": {"id": "a", "title": "hola"}}),
            ),
            base(
                "interactive",
                json!({"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "hola", "response_json": "{}"}}),
            ),
        ];
        for item in cases {
            assert_eq!(
                message(item.clone()).text().as_deref(),
                Some("hola"),
                "{item}"
            );
        }
        let nfm_without_body = base(
            "interactive",
            json!({"type": "nfm_reply", "nfm_reply": {"name": "flow", "response_json": "{}"}}),
        );
        assert_eq!(message(nfm_without_body).text().as_deref(), Some("flow"));
        assert_eq!(message(base("sticker", json!({"id": "1"}))).text(), None);
    }

    #[test]
    fn location_text_joins_name_and_address() {
        let item = base(
            "location",
            json!({"latitude": 1, "longitude": 2, "name": "Shop", "address": "Main St 1"}),
        );
        assert_eq!(message(item).text().as_deref(), Some("Shop, Main St 1"));
        let bare = base("location", json!({"latitude": 1, "longitude": 2}));
        assert_eq!(message(bare).text(), None);
    }

    #[test]
    fn media_reads_flags_and_requires_an_id() {
        let voice = message(base(
            "audio",
            json!({"id": "9", "mime_type": "audio/ogg", "voice": true}),
        ));
        let media = voice.media().unwrap();
        assert!(media.voice && !media.animated);
        assert_eq!(media.id, "9");
        let sticker = message(base("sticker", json!({"id": "7", "animated": true})));
        assert!(sticker.media().unwrap().animated);
        assert!(
            message(base("image", json!({"caption": "no id"})))
                .media()
                .is_none()
        );
        assert!(
            message(base("text", json!({"body": "x"})))
                .media()
                .is_none()
        );
    }

    #[test]
    fn reaction_removal_has_no_emoji() {
        let absent = message(base("reaction", json!({"message_id": "wamid.Y"})));
        let empty = message(base(
            "reaction",
            json!({"message_id": "wamid.Y", "emoji": ""}),
        ));
        for m in [absent, empty] {
            let r = m.reaction().unwrap();
            assert_eq!(r.message_id, "wamid.Y");
            assert_eq!(r.emoji, None);
        }
        assert!(
            message(base("text", json!({"body": "x"})))
                .reaction()
                .is_none()
        );
    }

    #[test]
    fn system_reads_type_and_new_ids() {
        let m = message(base(
            "system",
            json!({"body": "changed", "type": "user_changed_user_id", "user_id": "US.2"}),
        ));
        let s = m.system().unwrap();
        assert_eq!(s.kind, "user_changed_user_id");
        assert_eq!(s.new_user_id.as_deref(), Some("US.2"));
        assert_eq!(s.new_wa_id, None);
    }

    #[test]
    fn details_keep_the_type_part_and_errors_only() {
        let loc = message(base("location", json!({"latitude": 1, "longitude": 2})));
        assert_eq!(
            loc.details().unwrap(),
            json!({"location": {"latitude": 1, "longitude": 2}})
        );
        assert_eq!(message(base("text", json!({"body": "x"}))).details(), None);
        assert_eq!(message(base("image", json!({"id": "1"}))).details(), None);
        let unsupported = message(
            json!({"id": "wamid.U", "timestamp": 1, "type": "unsupported",
            "unsupported": {"type": "edit"}, "errors": [{"code": 131051}]}),
        );
        let details = unsupported.details().unwrap();
        assert_eq!(details["unsupported"]["type"], "edit");
        assert_eq!(details["errors"][0]["code"], 131051);
    }

    #[test]
    fn sender_falls_back_to_the_bsuid() {
        let item = json!({"from_user_id": "US.1", "id": "wamid.B", "timestamp": 1, "type": "text", "text": {"body": "x"}});
        assert_eq!(message(item).sender(), Some("US.1"));
    }
}
