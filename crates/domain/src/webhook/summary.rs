//! A one-line, human-readable rendering of any inbound message.
//!
//! CRM notes and inbox previews need *something* readable for every type,
//! including types we do not otherwise handle, so this never fails: the worst
//! case is `[<type>]`.

use super::json;
use super::message::{Message, location_label};
use serde_json::Value;

impl Message {
    /// The note text: the words for a text message, else `[type] detail`
    /// (e.g. `[image] caption`, `[voice]`, `[reaction removed]`).
    pub fn summary(&self) -> String {
        let part = self.part();
        match self.kind.as_str() {
            "text" => self.text().unwrap_or_else(|| "[text]".into()),
            "audio" if part.is_some_and(|p| json::flag_at(p, "voice")) => "[voice]".into(),
            "document" => tagged(&document_tag(part), self.text()),
            "location" => tagged("location", part.and_then(location_line)),
            "contacts" => tagged("contacts", contact_names(self.raw.get("contacts"))),
            "reaction" => match self.text() {
                Some(emoji) => tagged("reaction", Some(emoji)),
                None => "[reaction removed]".into(),
            },
            "order" => tagged("order", part.map(order_line)),
            "unsupported" => tagged("unsupported", part.and_then(|p| json::text_at(p, "type"))),
            "" => "[unknown]".into(),
            kind => tagged(kind, self.text()),
        }
    }
}

/// `[tag]`, or `[tag] detail` when there is a detail.
fn tagged(tag: &str, detail: Option<String>) -> String {
    match detail {
        Some(detail) => format!("[{tag}] {detail}"),
        None => format!("[{tag}]"),
    }
}

fn document_tag(part: Option<&Value>) -> String {
    match part.and_then(|p| json::text_at(p, "filename")) {
        Some(name) => format!("document {name}"),
        None => "document".into(),
    }
}

/// `name, address (lat,long)`, from whichever parts are present.
fn location_line(location: &Value) -> Option<String> {
    let coordinates = match (location.get("latitude"), location.get("longitude")) {
        (Some(lat), Some(long)) => json::text(lat).zip(json::text(long)),
        _ => None,
    }
    .map(|(lat, long)| format!("({lat},{long})"));
    let parts: Vec<String> = [location_label(location), coordinates]
        .into_iter()
        .flatten()
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The names on shared vCards, comma-separated.
fn contact_names(cards: Option<&Value>) -> Option<String> {
    let names: Vec<String> = cards
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(card_name)
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// A vCard's formatted name, else first + last name, else its first phone.
fn card_name(card: &Value) -> Option<String> {
    let name = json::object_at(card, "name");
    let formatted = name.and_then(|n| json::text_at(n, "formatted_name"));
    let first_last = name.and_then(|n| {
        let parts: Vec<String> = ["first_name", "last_name"]
            .iter()
            .filter_map(|k| json::text_at(n, k))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    let phone = || {
        json::items_at(card, "phones")
            .iter()
            .find_map(|p| json::text_at(p, "phone"))
    };
    formatted.or(first_last).or_else(phone)
}

/// `N items` (units ordered, a line without a readable quantity counting as
/// one), followed by the customer's note when there is one.
fn order_line(order: &Value) -> String {
    let units: i64 = json::items_at(order, "product_items")
        .iter()
        .map(|item| json::int_at(item, "quantity").unwrap_or(1))
        .fold(0, i64::saturating_add);
    let noun = if units == 1 { "item" } else { "items" };
    match json::text_at(order, "text") {
        Some(note) => format!("{units} {noun}: {note}"),
        None => format!("{units} {noun}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(kind: &str, part: Value) -> String {
        let item = json!({"id": "wamid.X", "timestamp": 1, "type": kind, kind: part});
        Message::from_value(&item).unwrap().summary()
    }

    #[test]
    fn summarizes_every_known_type() {
        let cases = [
            ("text", json!({"body": "hola"}), "hola"),
            ("text", json!({}), "[text]"),
            ("image", json!({"id": "1", "caption": "cap"}), "[image] cap"),
            ("image", json!({"id": "1"}), "[image]"),
            ("audio", json!({"id": "1", "voice": false}), "[audio]"),
            ("audio", json!({"id": "1", "voice": true}), "[voice]"),
            ("video", json!({"id": "1", "caption": "cap"}), "[video] cap"),
            (
                "document",
                json!({"id": "1", "filename": "a.pdf", "caption": "cap"}),
                "[document a.pdf] cap",
            ),
            ("document", json!({"id": "1"}), "[document]"),
            ("sticker", json!({"id": "1", "animated": true}), "[sticker]"),
            (
                "location",
                json!({"latitude": 4.6, "longitude": -74.08, "name": "Shop", "address": "Cra 7"}),
                "[location] Shop, Cra 7 (4.6,-74.08)",
            ),
            (
                "location",
                json!({"latitude": "LAT", "longitude": "LONG"}),
                "[location] (LAT,LONG)",
            ),
            ("location", json!({}), "[location]"),
            (
                "interactive",
                json!({"type": "button_reply", "button_reply": {"id": "b", "title": "Yes"}}),
                "[interactive] Yes",
            ),
            (
                "button",
                json!({"payload": "p", "text": "Stop"}),
                "[button] Stop",
            ),
            (
                "reaction",
                json!({"message_id": "wamid.Y", "emoji": "👍"}),
                "[reaction] 👍",
            ),
            (
                "reaction",
                json!({"message_id": "wamid.Y"}),
                "[reaction removed]",
            ),
            (
                "order",
                json!({"product_items": [{"quantity": "2"}, {"quantity": 1}]}),
                "[order] 3 items",
            ),
            (
                "order",
                json!({"product_items": [{}], "text": "fast please"}),
                "[order] 1 item: fast please",
            ),
            ("system", json!({"body": "changed"}), "[system] changed"),
            ("unsupported", json!({"type": "edit"}), "[unsupported] edit"),
            ("request_welcome", json!({}), "[request_welcome]"),
        ];
        for (kind, part, expected) in cases {
            assert_eq!(summary(kind, part.clone()), expected, "{kind} {part}");
        }
    }

    #[test]
    fn summarizes_parts_that_are_missing() {
        let bare = |kind: &str| {
            let item = json!({"id": "wamid.X", "timestamp": 1, "type": kind});
            Message::from_value(&item).unwrap().summary()
        };
        assert_eq!(bare("interactive"), "[interactive]");
        assert_eq!(bare("unsupported"), "[unsupported]");
        assert_eq!(bare("audio"), "[audio]");
        assert_eq!(bare("contacts"), "[contacts]");
        assert_eq!(bare("order"), "[order]");
    }

    #[test]
    fn names_shared_contacts_by_best_available_name() {
        let cards = json!([
            {"name": {"formatted_name": "Ana Ruiz", "first_name": "Ana"}},
            {"name": {"first_name": "Luis", "last_name": "Gil"}},
            {"phones": [{"phone": "+57 310"}]},
            {"org": {}}
        ]);
        assert_eq!(
            summary("contacts", cards),
            "[contacts] Ana Ruiz, Luis Gil, +57 310"
        );
    }
}
