//! Message templates as an organization defines them (Meta's `message_templates` shape:
//! upper-case component types, `{{1}}` or `{{name}}` placeholders), and how a template plus
//! the caller's variables becomes the template message Meta sends.
//!
//! Variables are keyed the way a person reads the template: body placeholders by their
//! number or name (`"1"`, `"first_name"`), a text header's by `header.1` / `header.<name>`,
//! a media header's link by `header`, and a dynamic URL button's suffix by `button.<index>`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::outbound::{
    Language, Template, TemplateComponent, is_valid_language_code, is_valid_template_name,
};

pub const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];
const MAX_BODY_CHARS: usize = 1024;
const MAX_HEADER_TEXT_CHARS: usize = 60;
const MAX_FOOTER_CHARS: usize = 60;
const MAX_BUTTONS: usize = 10;
const MAX_BUTTON_TEXT_CHARS: usize = 25;
const MEDIA_HEADERS: [&str; 3] = ["IMAGE", "VIDEO", "DOCUMENT"];
const BUTTON_TYPES: [&str; 7] = [
    "QUICK_REPLY",
    "URL",
    "PHONE_NUMBER",
    "COPY_CODE",
    "FLOW",
    "OTP",
    "CATALOG",
];

/// How a template's placeholders are written: `{{1}}` (Meta's default) or `{{first_name}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterFormat {
    Positional,
    Named,
}

impl ParameterFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterFormat::Positional => "POSITIONAL",
            ParameterFormat::Named => "NAMED",
        }
    }
}

/// A definition that Meta would reject, worded for the person writing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DefinitionError(pub String);

fn reject<T>(message: impl Into<String>) -> Result<T, DefinitionError> {
    Err(DefinitionError(message.into()))
}

/// The placeholder names inside `{{…}}`, in the order they appear.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    found
}

fn is_named_placeholder(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks a template definition as Meta's review would at the door, and tells which
/// placeholder style it uses.
pub fn validate_definition(
    name: &str,
    language: &str,
    category: &str,
    components: &Value,
) -> Result<ParameterFormat, DefinitionError> {
    if !is_valid_template_name(name) {
        return reject(format!(
            "name '{name}' must be 1 to 512 lowercase letters, digits or underscores"
        ));
    }
    if !is_valid_language_code(language) {
        return reject(format!(
            "language '{language}' is not a language code like en, en_US or pt_BR"
        ));
    }
    if !CATEGORIES.contains(&category) {
        return reject(format!(
            "category '{category}' must be MARKETING, UTILITY or AUTHENTICATION"
        ));
    }
    let Some(list) = components.as_array() else {
        return reject("components must be a list of HEADER, BODY, FOOTER and BUTTONS objects");
    };
    let mut seen = Vec::new();
    let mut texts = Vec::new();
    for component in list {
        let kind = component_type(component)?;
        if seen.contains(&kind) {
            return reject(format!("a template has at most one {kind} component"));
        }
        seen.push(kind.clone());
        match kind.as_str() {
            "HEADER" => texts.extend(validate_header(component)?),
            "BODY" => texts.push(("BODY", validate_body(component)?)),
            "FOOTER" => validate_footer(component)?,
            "BUTTONS" => validate_buttons(component)?,
            other => {
                return reject(format!(
                    "component type '{other}' must be HEADER, BODY, FOOTER or BUTTONS"
                ));
            }
        }
    }
    if !seen.iter().any(|k| k == "BODY") {
        return reject("a template needs a BODY component with its text");
    }
    placeholder_format(&texts)
}

fn component_type(component: &Value) -> Result<String, DefinitionError> {
    match component.get("type").and_then(Value::as_str) {
        Some(kind) => Ok(kind.to_uppercase()),
        None => reject("every component needs a \"type\" (HEADER, BODY, FOOTER or BUTTONS)"),
    }
}

fn text_of<'a>(component: &'a Value, what: &str) -> Result<&'a str, DefinitionError> {
    match component.get("text").and_then(Value::as_str) {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => reject(format!("the {what} needs a non-empty \"text\"")),
    }
}

fn validate_header(component: &Value) -> Result<Option<(&'static str, &str)>, DefinitionError> {
    let format = component
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or("TEXT")
        .to_uppercase();
    match format.as_str() {
        "TEXT" => {
            let text = text_of(component, "TEXT header")?;
            if text.chars().count() > MAX_HEADER_TEXT_CHARS {
                return reject(format!(
                    "a TEXT header is at most {MAX_HEADER_TEXT_CHARS} characters"
                ));
            }
            if placeholders(text).len() > 1 {
                return reject("a TEXT header takes at most one placeholder");
            }
            Ok(Some(("HEADER", text)))
        }
        f if MEDIA_HEADERS.contains(&f) || f == "LOCATION" => Ok(None),
        other => reject(format!(
            "header format '{other}' must be TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION"
        )),
    }
}

fn validate_body(component: &Value) -> Result<&str, DefinitionError> {
    let text = text_of(component, "BODY")?;
    if text.chars().count() > MAX_BODY_CHARS {
        return reject(format!("the BODY is at most {MAX_BODY_CHARS} characters"));
    }
    if text.contains("}}{{") {
        return reject(
            "placeholders cannot touch ({{1}}{{2}}): Meta rejects that as INVALID_FORMAT; put text between them",
        );
    }
    Ok(text)
}

fn validate_footer(component: &Value) -> Result<(), DefinitionError> {
    let text = text_of(component, "FOOTER")?;
    if text.chars().count() > MAX_FOOTER_CHARS {
        return reject(format!(
            "the FOOTER is at most {MAX_FOOTER_CHARS} characters"
        ));
    }
    if !placeholders(text).is_empty() {
        return reject("the FOOTER cannot have placeholders");
    }
    Ok(())
}

fn validate_buttons(component: &Value) -> Result<(), DefinitionError> {
    let Some(buttons) = component.get("buttons").and_then(Value::as_array) else {
        return reject("a BUTTONS component needs a \"buttons\" list");
    };
    if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
        return reject(format!("a template has 1 to {MAX_BUTTONS} buttons"));
    }
    for button in buttons {
        let kind = button
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_uppercase();
        if !BUTTON_TYPES.contains(&kind.as_str()) {
            return reject(format!(
                "button type '{kind}' must be one of {}",
                BUTTON_TYPES.join(", ")
            ));
        }
        let text = button.get("text").and_then(Value::as_str).unwrap_or("");
        if text.trim().is_empty() || text.chars().count() > MAX_BUTTON_TEXT_CHARS {
            return reject(format!(
                "every button needs a \"text\" of 1 to {MAX_BUTTON_TEXT_CHARS} characters"
            ));
        }
        if kind == "URL" && button.get("url").and_then(Value::as_str).is_none() {
            return reject("a URL button needs a \"url\"");
        }
        if kind == "PHONE_NUMBER" && button.get("phone_number").and_then(Value::as_str).is_none() {
            return reject("a PHONE_NUMBER button needs a \"phone_number\"");
        }
    }
    Ok(())
}

/// All placeholders numbered (contiguous from 1 within each component) or all named.
fn placeholder_format(texts: &[(&str, &str)]) -> Result<ParameterFormat, DefinitionError> {
    let all: Vec<String> = texts.iter().flat_map(|(_, t)| placeholders(t)).collect();
    let numbered = all.iter().filter(|p| p.parse::<u32>().is_ok()).count();
    if numbered > 0 && numbered < all.len() {
        return reject(
            "placeholders are either all numbered ({{1}}) or all named ({{first_name}})",
        );
    }
    if numbered == 0 && !all.is_empty() {
        if let Some(bad) = all.iter().find(|p| !is_named_placeholder(p)) {
            return reject(format!(
                "placeholder '{{{{{bad}}}}}' must be a number or lowercase letters, digits and underscores"
            ));
        }
        return Ok(ParameterFormat::Named);
    }
    for (component, text) in texts {
        let mut numbers: Vec<u32> = placeholders(text)
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.iter().zip(1..).any(|(n, expected)| *n != expected) {
            return reject(format!(
                "the {component}'s placeholders must be numbered {{{{1}}}}, {{{{2}}}}… without gaps"
            ));
        }
    }
    Ok(ParameterFormat::Positional)
}

/// The variable keys a send of this template must give (see the module's docs).
pub fn required_variables(components: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    for component in components.as_array().into_iter().flatten() {
        let kind = component_type(component).unwrap_or_default();
        let text = component.get("text").and_then(Value::as_str).unwrap_or("");
        match kind.as_str() {
            "HEADER" if is_media_header(component) => keys.push("header".to_string()),
            "HEADER" => keys.extend(unique(placeholders(text)).map(|p| format!("header.{p}"))),
            "BODY" => keys.extend(unique(placeholders(text))),
            "BUTTONS" => keys.extend(dynamic_url_buttons(component).map(|i| format!("button.{i}"))),
            _ => {}
        }
    }
    keys
}

fn unique(names: Vec<String>) -> impl Iterator<Item = String> {
    let mut seen = Vec::new();
    names.into_iter().filter(move |n| {
        let fresh = !seen.contains(n);
        if fresh {
            seen.push(n.clone());
        }
        fresh
    })
}

fn is_media_header(component: &Value) -> bool {
    component
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| MEDIA_HEADERS.contains(&f.to_uppercase().as_str()))
}

/// Indexes of URL buttons whose URL ends in a placeholder (the suffix is sent per message).
fn dynamic_url_buttons(component: &Value) -> impl Iterator<Item = usize> + '_ {
    component
        .get("buttons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, b)| {
            b.get("type").and_then(Value::as_str) == Some("URL")
                && b.get("url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.contains("{{"))
        })
        .map(|(i, _)| i)
}

/// The template message for Meta, its placeholders filled from `variables`; or the keys
/// that are missing, in the template's order.
pub fn fill(
    name: &str,
    language: &str,
    format: ParameterFormat,
    components: &Value,
    variables: &BTreeMap<String, String>,
) -> Result<Template, Vec<String>> {
    let missing: Vec<String> = required_variables(components)
        .into_iter()
        .filter(|k| variables.get(k).is_none_or(|v| v.trim().is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    // Every required key was checked above; reading by `get` keeps this panic-free anyway.
    let value = |key: &str| variables.get(key).map_or("", String::as_str);
    let mut filled = Vec::new();
    for component in components.as_array().into_iter().flatten() {
        let kind = component_type(component).unwrap_or_default();
        let text = component.get("text").and_then(Value::as_str).unwrap_or("");
        match kind.as_str() {
            "HEADER" if is_media_header(component) => {
                let media = component
                    .get("format")
                    .and_then(Value::as_str)
                    .unwrap_or("IMAGE")
                    .to_lowercase();
                let link = value("header");
                filled.push(section(
                    "header",
                    vec![json!({"type": media, media.clone(): {"link": link}})],
                ));
            }
            "HEADER" | "BODY" => {
                let prefix = if kind == "HEADER" { "header." } else { "" };
                let parameters: Vec<Value> = unique(placeholders(text))
                    .map(|p| text_parameter(format, &p, value(&format!("{prefix}{p}"))))
                    .collect();
                if !parameters.is_empty() {
                    filled.push(section(&kind.to_lowercase(), parameters));
                }
            }
            "BUTTONS" => {
                for index in dynamic_url_buttons(component) {
                    filled.push(TemplateComponent {
                        kind: "button".into(),
                        sub_type: Some("url".into()),
                        index: Some(index.to_string()),
                        parameters: vec![
                            json!({"type": "text", "text": value(&format!("button.{index}"))}),
                        ],
                    });
                }
            }
            _ => {}
        }
    }
    Ok(Template {
        name: name.to_string(),
        language: Language {
            code: language.to_string(),
        },
        components: filled,
    })
}

fn section(kind: &str, parameters: Vec<Value>) -> TemplateComponent {
    TemplateComponent {
        kind: kind.to_string(),
        sub_type: None,
        index: None,
        parameters,
    }
}

fn text_parameter(format: ParameterFormat, name: &str, value: &str) -> Value {
    match format {
        ParameterFormat::Positional => json!({"type": "text", "text": value}),
        ParameterFormat::Named => json!({"type": "text", "parameter_name": name, "text": value}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Value {
        json!([{"type": "BODY", "text": text}])
    }

    fn check(components: Value) -> Result<ParameterFormat, String> {
        validate_definition("order_update", "en_US", "UTILITY", &components).map_err(|e| e.0)
    }

    #[test]
    fn placeholders_are_read_in_order() {
        assert_eq!(
            placeholders("Hi {{1}}, order {{ 2 }} {{1}}"),
            ["1", "2", "1"]
        );
        assert_eq!(placeholders("no {{ end"), Vec::<String>::new());
    }

    #[test]
    fn good_definitions_say_their_format() {
        assert_eq!(
            check(body("Hi {{1}}, your order {{2}} shipped")),
            Ok(ParameterFormat::Positional)
        );
        assert_eq!(
            check(body("Hi {{first_name}}!")),
            Ok(ParameterFormat::Named)
        );
        assert_eq!(check(body("Hello")), Ok(ParameterFormat::Positional));
        let full = json!([
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}"},
            {"type": "FOOTER", "text": "Thanks"},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"}]}
        ]);
        assert_eq!(check(full), Ok(ParameterFormat::Positional));
    }

    #[test]
    fn bad_definitions_say_what_to_fix() {
        let cases = [
            (body("Hi {{1}} and {{3}}"), "without gaps"),
            (body("Hi {{1}} {{name}}"), "either all numbered"),
            (body("Hi {{First}}"), "must be a number or lowercase"),
            (body("{{1}}{{2}}"), "cannot touch"),
            (json!([{"type": "FOOTER", "text": "x"}]), "needs a BODY"),
            (json!([{"type": "BODY", "text": ""}]), "non-empty"),
            (
                json!([{"type": "BODY", "text": "a"}, {"type": "BODY", "text": "b"}]),
                "at most one BODY",
            ),
            (
                json!([{"type": "BODY", "text": "a"}, {"type": "CAROUSEL"}]),
                "must be HEADER",
            ),
            (json!({"type": "BODY"}), "must be a list"),
            (
                json!([{"type": "BODY", "text": "a"}, {"type": "BUTTONS", "buttons": []}]),
                "1 to 10 buttons",
            ),
            (
                json!([{"type": "BODY", "text": "a"}, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Go"}]}]),
                "needs a \"url\"",
            ),
            (
                json!([{"type": "HEADER", "format": "TEXT", "text": "{{1}} {{2}}"}, {"type": "BODY", "text": "a"}]),
                "at most one placeholder",
            ),
            (
                json!([{"type": "BODY", "text": "a"}, {"type": "FOOTER", "text": "{{1}}"}]),
                "cannot have placeholders",
            ),
            (body(&"a".repeat(1025)), "at most 1024"),
        ];
        for (components, expected) in cases {
            let error = check(components.clone()).unwrap_err();
            assert!(error.contains(expected), "{components}: {error}");
        }
        assert!(validate_definition("Bad Name", "en", "UTILITY", &body("a")).is_err());
        assert!(validate_definition("ok", "english", "UTILITY", &body("a")).is_err());
        assert!(validate_definition("ok", "en", "PROMO", &body("a")).is_err());
    }

    #[test]
    fn fill_names_every_missing_variable() {
        let components = json!([
            {"type": "HEADER", "format": "IMAGE"},
            {"type": "BODY", "text": "Hi {{1}}, order {{2}}"},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"}]}
        ]);
        let only_one = BTreeMap::from([("1".to_string(), "Ana".to_string())]);
        let missing = fill(
            "t",
            "en",
            ParameterFormat::Positional,
            &components,
            &only_one,
        )
        .unwrap_err();
        assert_eq!(missing, ["header", "2", "button.0"]);
    }

    #[test]
    fn fill_builds_metas_components() {
        let components = json!([
            {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
            {"type": "BODY", "text": "Hi {{1}}, see {{2}} ({{1}})"},
        ]);
        let variables = BTreeMap::from([
            ("1".to_string(), "Ana".to_string()),
            ("2".to_string(), "#42".to_string()),
            ("header.1".to_string(), "42".to_string()),
        ]);
        let template = fill(
            "order",
            "en_US",
            ParameterFormat::Positional,
            &components,
            &variables,
        )
        .unwrap();
        let wire = serde_json::to_value(&template).unwrap();
        assert_eq!(
            wire,
            json!({"name": "order", "language": {"code": "en_US"}, "components": [
                {"type": "header", "parameters": [{"type": "text", "text": "42"}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#42"}]}
            ]})
        );
        let named = fill(
            "hi",
            "en",
            ParameterFormat::Named,
            &body("Hi {{first_name}}"),
            &BTreeMap::from([("first_name".to_string(), "Ana".to_string())]),
        )
        .unwrap();
        assert_eq!(
            named.components[0].parameters[0],
            json!({"type": "text", "parameter_name": "first_name", "text": "Ana"})
        );
    }
}
