//! The checks Graph makes on a send or a mark-as-read before accepting it (reference §8).
//! A failure is a `(#100)` answer whose `details` say exactly what to fix.

use std::collections::HashSet;

use actix_web::HttpResponse;
use serde_json::{Map, Value};

use crate::errors;
use crate::ids;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub message: String,
    pub details: String,
}

impl Invalid {
    pub(crate) fn response(&self) -> HttpResponse {
        errors::invalid_parameter(&self.message, &self.details)
    }
}

fn missing(name: &str, details: impl Into<String>) -> Invalid {
    Invalid {
        message: format!("(#100) The parameter {name} is required."),
        details: details.into(),
    }
}

fn invalid(details: impl Into<String>) -> Invalid {
    Invalid {
        message: "(#100) Invalid parameter".into(),
        details: details.into(),
    }
}

/// A send the sandbox accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendRequest {
    /// `to` as given.
    pub to: String,
    /// Its digits (or the group id of a group send).
    pub wa_id: String,
    /// `type` (`text` when absent, as Graph defaults it).
    pub kind: String,
    pub biz_opaque_callback_data: Option<String>,
    pub template_name: Option<String>,
}

/// A mark-as-read (with or without a typing indicator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarkRead {
    pub message_id: String,
}

pub(crate) fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(missing(
            "messaging_product",
            "The request body is empty: send a JSON object such as {\"messaging_product\":\"whatsapp\",\"to\":\"+16505551234\",\"type\":\"text\",\"text\":{\"body\":\"hello\"}}.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(invalid(format!(
            "The request body must be a JSON object, not {}.",
            kind_of(&other)
        ))),
        Err(e) => Err(invalid(format!("The request body is not valid JSON: {e}."))),
    }
}

/// Whether a parsed body is a mark-as-read rather than a send.
pub(crate) fn is_mark_read(body: &Map<String, Value>) -> bool {
    body.contains_key("status") && !body.contains_key("to")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn messaging_product(body: &Map<String, Value>) -> Result<(), Invalid> {
    match body.get("messaging_product") {
        None => Err(missing(
            "messaging_product",
            "Add \"messaging_product\": \"whatsapp\" to the request body.",
        )),
        Some(Value::String(s)) if s == "whatsapp" => Ok(()),
        Some(other) => Err(Invalid {
            message: format!(
                "(#100) Param messaging_product must be one of {{WHATSAPP}} - got {other}."
            ),
            details: "messaging_product must be \"whatsapp\".".into(),
        }),
    }
}

/// A required non-empty string field of `object` (`path` names it in messages: `text.body`).
fn required_str<'a>(object: &'a Value, key: &str, path: &str) -> Result<&'a str, Invalid> {
    match object.get(key) {
        None | Some(Value::Null) => Err(missing(path, format!("{path} is missing."))),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(invalid(format!("{path} must not be empty.")))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(invalid(format!(
            "{path} must be a string, not {}.",
            kind_of(other)
        ))),
    }
}

fn at_most(value: &str, max: usize, path: &str) -> Result<(), Invalid> {
    let length = value.chars().count();
    if length > max {
        return Err(invalid(format!(
            "{path} is {length} characters long; the maximum is {max}."
        )));
    }
    Ok(())
}

pub(crate) fn mark_read(body: &Map<String, Value>) -> Result<MarkRead, Invalid> {
    messaging_product(body)?;
    match body.get("status") {
        Some(Value::String(s)) if s == "read" => {}
        other => {
            return Err(invalid(format!(
                "status must be \"read\" to mark a message as read, got {}.",
                other.map_or_else(|| "nothing".to_string(), Value::to_string)
            )));
        }
    }
    let message_id = match body.get("message_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(invalid("message_id must not be empty.")),
        Some(other) => {
            return Err(invalid(format!(
                "message_id must be a string (the wamid of the incoming message), not {}.",
                kind_of(other)
            )));
        }
        None => {
            return Err(missing(
                "message_id",
                "A mark-as-read needs the wamid of the incoming message in message_id.",
            ));
        }
    };
    if let Some(indicator) = body.get("typing_indicator")
        && indicator.get("type").and_then(Value::as_str) != Some("text")
    {
        return Err(invalid(
            "typing_indicator must be {\"type\":\"text\"} (the only indicator type).",
        ));
    }
    Ok(MarkRead { message_id })
}

const MEDIA_TYPES: &[&str] = &["image", "video", "document", "audio", "sticker"];
const TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "document",
    "audio",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
];

pub(crate) fn send(body: &Map<String, Value>) -> Result<SendRequest, Invalid> {
    messaging_product(body)?;
    let group = match body.get("recipient_type") {
        None => false,
        Some(Value::String(s)) if s == "individual" => false,
        Some(Value::String(s)) if s == "group" => true,
        Some(other) => {
            return Err(invalid(format!(
                "recipient_type must be \"individual\" or \"group\", got {other}."
            )));
        }
    };
    let whole = Value::Object(body.clone());
    let to = required_str(&whole, "to", "to")?.to_string();
    let wa_id = if group {
        to.clone()
    } else {
        if let Some(c) = to
            .chars()
            .find(|c| !(c.is_ascii_digit() || " +-().".contains(*c)))
        {
            return Err(invalid(format!(
                "to `{to}` is not a phone number (unexpected `{c}`): use the country code and number, e.g. +16505551234."
            )));
        }
        let digits = ids::digits(&to);
        if !(5..=15).contains(&digits.len()) {
            return Err(invalid(format!(
                "to `{to}` has {} digits; a phone number with its country code has 5 to 15.",
                digits.len()
            )));
        }
        digits
    };
    let kind = match body.get("type") {
        None => "text".to_string(),
        Some(Value::String(s)) if TYPES.contains(&s.as_str()) => s.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "type {other} is not supported: use one of {}.",
                TYPES.join(", ")
            )));
        }
    };
    let object = match body.get(&kind) {
        Some(value @ Value::Object(_)) => value,
        Some(Value::Array(_)) if kind == "contacts" => &body[&kind],
        Some(other) => {
            return Err(invalid(format!(
                "{kind} must be an object, not {}.",
                kind_of(other)
            )));
        }
        None => {
            return Err(missing(
                &kind,
                format!("A message of type {kind} needs a \"{kind}\" object."),
            ));
        }
    };
    let mut template_name = None;
    match kind.as_str() {
        "text" => {
            let text = required_str(object, "body", "text['body']")?;
            at_most(text, 4096, "text.body")?;
        }
        k if MEDIA_TYPES.contains(&k) => media(object, k)?,
        "interactive" => interactive(object)?,
        "template" => {
            let name = required_str(object, "name", "template['name']")?;
            at_most(name, 512, "template.name")?;
            let language = object.get("language").ok_or_else(|| {
                missing(
                    "template['language']",
                    "template.language is missing: add {\"code\":\"en_US\"}.",
                )
            })?;
            required_str(language, "code", "template['language']['code']")?;
            if let Some(components) = object.get("components")
                && !components.is_array()
            {
                return Err(invalid("template.components must be an array."));
            }
            template_name = Some(name.to_string());
        }
        "reaction" => {
            required_str(object, "message_id", "reaction['message_id']")?;
            if !object.get("emoji").is_some_and(Value::is_string) {
                return Err(missing(
                    "reaction['emoji']",
                    "reaction.emoji is missing: give an emoji, or \"\" to remove the reaction.",
                ));
            }
        }
        "location" => {
            for (key, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
                let value = object.get(key).and_then(|v| match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                });
                match value {
                    Some(v) if (-limit..=limit).contains(&v) => {}
                    Some(v) => {
                        return Err(invalid(format!("location.{key} {v} is out of range.")));
                    }
                    None => {
                        return Err(missing(
                            &format!("location['{key}']"),
                            format!("location.{key} must be a number."),
                        ));
                    }
                }
            }
        }
        "contacts" => {
            let contacts = object.as_array().map(Vec::as_slice).unwrap_or_default();
            if contacts.is_empty() {
                return Err(invalid("contacts must be a non-empty array of contacts."));
            }
            for (i, contact) in contacts.iter().enumerate() {
                required_str(
                    &contact["name"],
                    "formatted_name",
                    &format!("contacts[{i}]['name']['formatted_name']"),
                )?;
            }
        }
        _ => {}
    }
    let biz_opaque_callback_data = match body.get("biz_opaque_callback_data") {
        None => None,
        Some(Value::String(s)) => {
            at_most(s, 512, "biz_opaque_callback_data")?;
            Some(s.clone())
        }
        Some(other) => {
            return Err(invalid(format!(
                "biz_opaque_callback_data must be a string, not {}.",
                kind_of(other)
            )));
        }
    };
    Ok(SendRequest {
        to,
        wa_id,
        kind,
        biz_opaque_callback_data,
        template_name,
    })
}

fn media(object: &Value, kind: &str) -> Result<(), Invalid> {
    let id = object.get("id").and_then(Value::as_str);
    let link = object.get("link").and_then(Value::as_str);
    match (id, link) {
        (Some(_), Some(_)) => Err(invalid(format!(
            "{kind} has both id and link: give exactly one."
        ))),
        (None, None) => Err(missing(
            &format!("{kind}['id']"),
            format!("{kind} needs an id (from a media upload) or a link (an https URL)."),
        )),
        (Some(id), None) if id.trim().is_empty() => {
            Err(invalid(format!("{kind}.id must not be empty.")))
        }
        (None, Some(link)) if !(link.starts_with("https://") || link.starts_with("http://")) => {
            Err(invalid(format!(
                "{kind}.link `{link}` is not an http(s) URL."
            )))
        }
        _ => match object.get("caption").and_then(Value::as_str) {
            Some(caption) => at_most(caption, 1024, &format!("{kind}.caption")),
            None => Ok(()),
        },
    }
}

fn interactive(object: &Value) -> Result<(), Invalid> {
    let kind = required_str(object, "type", "interactive['type']")?;
    let body_text = |required: bool| -> Result<(), Invalid> {
        match object.get("body") {
            None if !required => Ok(()),
            None => Err(missing(
                "interactive['body']",
                "interactive.body is missing: add {\"text\":\"…\"}.",
            )),
            Some(body) => {
                let text = required_str(body, "text", "interactive['body']['text']")?;
                at_most(text, 1024, "interactive.body.text")
            }
        }
    };
    if let Some(footer) = object.get("footer") {
        at_most(
            required_str(footer, "text", "interactive['footer']['text']")?,
            60,
            "interactive.footer.text",
        )?;
    }
    let action = &object["action"];
    match kind {
        "button" => {
            body_text(true)?;
            let buttons = action
                .get("buttons")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    missing(
                        "interactive['action']['buttons']",
                        "interactive.action.buttons is missing: add 1 to 3 reply buttons.",
                    )
                })?;
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(invalid(format!(
                    "interactive.action.buttons has {} buttons; reply buttons messages have 1 to 3.",
                    buttons.len()
                )));
            }
            let mut ids = HashSet::new();
            let mut titles = HashSet::new();
            for (i, button) in buttons.iter().enumerate() {
                let path = format!("interactive['action']['buttons'][{i}]['reply']");
                if button.get("type").and_then(Value::as_str) != Some("reply") {
                    return Err(invalid(format!(
                        "interactive.action.buttons[{i}].type must be \"reply\"."
                    )));
                }
                let reply = &button["reply"];
                let id = required_str(reply, "id", &format!("{path}['id']"))?;
                at_most(
                    id,
                    256,
                    &format!("interactive.action.buttons[{i}].reply.id"),
                )?;
                let title = required_str(reply, "title", &format!("{path}['title']"))?;
                at_most(
                    title,
                    20,
                    &format!("interactive.action.buttons[{i}].reply.title"),
                )?;
                if !ids.insert(id) || !titles.insert(title) {
                    return Err(invalid(format!(
                        "interactive.action.buttons[{i}] repeats an id or title: each button needs its own."
                    )));
                }
            }
            Ok(())
        }
        "list" => {
            body_text(true)?;
            let button = required_str(action, "button", "interactive['action']['button']")?;
            at_most(button, 20, "interactive.action.button")?;
            let sections = action
                .get("sections")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    missing(
                        "interactive['action']['sections']",
                        "interactive.action.sections is missing: add 1 to 10 sections.",
                    )
                })?;
            if sections.is_empty() || sections.len() > 10 {
                return Err(invalid(format!(
                    "interactive.action.sections has {} sections; a list has 1 to 10.",
                    sections.len()
                )));
            }
            let mut total = 0;
            for (s, section) in sections.iter().enumerate() {
                if sections.len() > 1 {
                    at_most(
                        required_str(
                            section,
                            "title",
                            &format!("interactive['action']['sections'][{s}]['title']"),
                        )?,
                        24,
                        &format!("interactive.action.sections[{s}].title"),
                    )?;
                }
                let rows = section
                    .get("rows")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if rows.is_empty() {
                    return Err(invalid(format!(
                        "interactive.action.sections[{s}].rows is empty."
                    )));
                }
                for (r, row) in rows.iter().enumerate() {
                    let path = format!("interactive.action.sections[{s}].rows[{r}]");
                    let id = required_str(row, "id", &format!("{path}.id"))?;
                    at_most(id, 200, &format!("{path}.id"))?;
                    let title = required_str(row, "title", &format!("{path}.title"))?;
                    at_most(title, 24, &format!("{path}.title"))?;
                    if let Some(description) = row.get("description").and_then(Value::as_str) {
                        at_most(description, 72, &format!("{path}.description"))?;
                    }
                }
                total += rows.len();
            }
            if total > 10 {
                return Err(invalid(format!(
                    "the list has {total} rows in all; the maximum is 10 across all sections."
                )));
            }
            Ok(())
        }
        "cta_url" => {
            body_text(true)?;
            let parameters = &action["parameters"];
            required_str(
                parameters,
                "display_text",
                "interactive['action']['parameters']['display_text']",
            )?;
            required_str(
                parameters,
                "url",
                "interactive['action']['parameters']['url']",
            )?;
            Ok(())
        }
        "flow"
        | "product"
        | "product_list"
        | "catalog_message"
        | "location_request_message"
        | "address_message"
        | "call_permission_request"
        | "voice_call" => body_text(false),
        other => Err(invalid(format!(
            "interactive.type `{other}` is not supported: use button, list, cta_url, flow, product, product_list, catalog_message or location_request_message."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn accepts_the_documented_shapes() {
        let text = send(&body(json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"+1 650-555-1234","type":"text","text":{"preview_url":false,"body":"hi"}}))).unwrap();
        assert_eq!(text.wa_id, "16505551234");
        assert_eq!(text.to, "+1 650-555-1234");
        let implicit = send(&body(
            json!({"messaging_product":"whatsapp","to":"16505551234","text":{"body":"hi"}}),
        ))
        .unwrap();
        assert_eq!(implicit.kind, "text");
        let buttons = json!({"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"b","title":"B"}}]}}});
        send(&body(buttons)).unwrap();
        let list = json!({"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"list","body":{"text":"Pick"},"action":{"button":"Options","sections":[{"title":"S","rows":[{"id":"1","title":"One","description":"d"}]}]}}});
        send(&body(list)).unwrap();
        let template = send(&body(json!({"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}},"biz_opaque_callback_data":"job-7"}))).unwrap();
        assert_eq!(template.template_name.as_deref(), Some("hello_world"));
        assert_eq!(template.biz_opaque_callback_data.as_deref(), Some("job-7"));
        send(&body(json!({"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{"link":"https://x.y/a.png","caption":"c"}}))).unwrap();
        send(&body(json!({"messaging_product":"whatsapp","to":"16505551234","type":"reaction","reaction":{"message_id":"wamid.x","emoji":""}}))).unwrap();
    }

    #[test]
    fn explains_what_is_wrong() {
        let no_product = send(&body(json!({"to":"1650555","text":{"body":"x"}}))).unwrap_err();
        assert_eq!(
            no_product.message,
            "(#100) The parameter messaging_product is required."
        );
        let no_body = send(&body(
            json!({"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{}}),
        ))
        .unwrap_err();
        assert!(no_body.message.contains("text['body']"), "{no_body:?}");
        let long = "x".repeat(4097);
        let too_long = send(&body(json!({"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":long}}))).unwrap_err();
        assert!(too_long.details.contains("4096"));
        let four = json!({"messaging_product":"whatsapp","to":"16505551234","type":"interactive","interactive":{"type":"button","body":{"text":"Pick"},"action":{"buttons":[
            {"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"b","title":"B"}},
            {"type":"reply","reply":{"id":"c","title":"C"}},{"type":"reply","reply":{"id":"d","title":"D"}}]}}});
        assert!(send(&body(four)).unwrap_err().details.contains("1 to 3"));
        let bad_to = send(&body(
            json!({"messaging_product":"whatsapp","to":"call me","text":{"body":"x"}}),
        ))
        .unwrap_err();
        assert!(bad_to.details.contains("not a phone number"));
        let both = send(&body(json!({"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{"id":"1","link":"https://x"}}))).unwrap_err();
        assert!(both.details.contains("exactly one"));
        assert!(
            parse_body(b"{not json")
                .unwrap_err()
                .details
                .contains("not valid JSON")
        );
        assert!(
            parse_body(b"[]")
                .unwrap_err()
                .details
                .contains("JSON object")
        );
    }

    #[test]
    fn mark_read_forms() {
        let ok = body(
            json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.in","typing_indicator":{"type":"text"}}),
        );
        assert!(is_mark_read(&ok));
        assert_eq!(mark_read(&ok).unwrap().message_id, "wamid.in");
        let no_id = body(json!({"messaging_product":"whatsapp","status":"read"}));
        assert!(
            mark_read(&no_id)
                .unwrap_err()
                .message
                .contains("message_id")
        );
        let bad_indicator = body(
            json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.in","typing_indicator":{"type":"audio"}}),
        );
        assert!(mark_read(&bad_indicator).is_err());
    }
}
