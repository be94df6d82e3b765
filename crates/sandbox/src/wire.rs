//! Webhook bodies as Meta puts them on the wire: ASCII only (every other character as a
//! lower-case `\uXXXX` escape, surrogate pairs for emoji), `/` escaped as `\/`, and keys in
//! Meta's order (`object` before `entry`, `from`/`id`/`timestamp`/`type` …) rather than
//! alphabetical. A receiver that hashes a re-serialization instead of the raw bytes fails
//! against these bodies, as it would against Meta's.

use std::fmt::Write as _;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::Value;

/// Keys in the order Meta writes them; keys not listed follow in alphabetical order.
const KEY_ORDER: &[&str] = &[
    "object",
    "entry",
    "context",
    "from",
    "id",
    "status",
    "timestamp",
    "recipient_id",
    "type",
    "biz_opaque_callback_data",
    "changes",
    "value",
    "field",
    "messaging_product",
    "metadata",
    "display_phone_number",
    "phone_number_id",
    "contacts",
    "profile",
    "name",
    "input",
    "wa_id",
    "messages",
    "statuses",
    "conversation",
    "pricing",
    "billable",
    "pricing_model",
    "category",
    "code",
    "title",
    "message",
    "error_data",
    "details",
    "href",
    "errors",
];

fn rank(key: &str) -> usize {
    KEY_ORDER
        .iter()
        .position(|k| *k == key)
        .unwrap_or(KEY_ORDER.len())
}

/// The bytes of `value` in Meta's wire style.
pub fn to_wire(value: &Value) -> Vec<u8> {
    let mut out = String::with_capacity(512);
    write_value(&mut out, value);
    out.into_bytes()
}

/// A JSON answer in the same style (Graph escapes `/` in its answers too).
pub(crate) fn json_response(status: StatusCode, value: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json; charset=UTF-8")
        .body(to_wire(value))
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_like_meta_and_round_trips() {
        let value = json!({
            "text": { "body": "J'ai mangé 😮 https://x.y/z \"q\"\n" },
            "object": "whatsapp_business_account",
            "n": 1.5,
            "list": [1, null, true],
        });
        let wire = String::from_utf8(to_wire(&value)).unwrap();
        assert!(wire.is_ascii());
        assert!(wire.starts_with("{\"object\":"), "{wire}");
        assert!(
            wire.contains(r#"mang\u00e9 \ud83d\ude2e https:\/\/x.y\/z \"q\"\n"#),
            "{wire}"
        );
        let back: Value = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn message_keys_follow_meta_order() {
        let value = json!({"type": "text", "timestamp": "1", "id": "wamid.x", "from": "1", "text": {"body": "b"}});
        let wire = String::from_utf8(to_wire(&value)).unwrap();
        assert_eq!(
            wire,
            r#"{"from":"1","id":"wamid.x","timestamp":"1","type":"text","text":{"body":"b"}}"#
        );
    }
}
