//! What we send: the content of an outbound WhatsApp message, and Meta's limits on it.
//!
//! The types serialize to the inner objects of Meta's send body (`{"text":{"body":…}}`,
//! `{"image":{"link":…}}`…), externally tagged by the message type, so the same JSON is
//! accepted by the API, stored with the message, and sent to the Graph API. Limits are
//! checked here, before anything is queued: Meta would otherwise accept some bad messages
//! and fail them later by webhook.

use serde::{Deserialize, Serialize};

/// Characters in a text message body (Meta: "Maximum 4096 characters").
pub const MAX_TEXT_CHARS: usize = 4096;
/// Characters in a media caption.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Reply buttons in one interactive message.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
pub const MAX_BUTTON_ID_CHARS: usize = 256;
/// Rows across all sections of a list, and sections in it.
pub const MAX_LIST_ROWS: usize = 10;
pub const MAX_LIST_SECTIONS: usize = 10;
pub const MAX_LIST_BUTTON_CHARS: usize = 20;
pub const MAX_ROW_TITLE_CHARS: usize = 24;
pub const MAX_ROW_ID_CHARS: usize = 200;
pub const MAX_ROW_DESCRIPTION_CHARS: usize = 72;
pub const MAX_SECTION_TITLE_CHARS: usize = 24;
pub const MAX_HEADER_TEXT_CHARS: usize = 60;
pub const MAX_FOOTER_CHARS: usize = 60;
pub const MAX_BUTTONS_BODY_CHARS: usize = 1024;
pub const MAX_LIST_BODY_CHARS: usize = 4096;
pub const MAX_TEMPLATE_NAME_CHARS: usize = 512;

/// A message's content, one variant per Meta message type.
// One value per message in flight, never in bulk arrays: the size of the largest variant
// (interactive) costs nothing worth a Box on every construction.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboundContent {
    Text(Text),
    Image(Media),
    Video(Media),
    Audio(Media),
    Document(Media),
    Sticker(Media),
    Interactive(Interactive),
    Reaction(Reaction),
    Template(Template),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub body: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub preview_url: bool,
}

/// Media by the id of an upload or by a public link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Media {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Documents only: the name the recipient sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    pub message_id: String,
    /// An empty emoji removes the reaction.
    pub emoji: String,
}

/// Reply buttons (`type: button`) or a list (`type: list`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interactive {
    #[serde(rename = "type")]
    pub kind: InteractiveKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Header>,
    pub body: TextObject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextObject>,
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InteractiveKind {
    Button,
    List,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextObject {
    pub text: String,
}

/// A text header, or an image, video or document (buttons only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Media>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Media>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Reply buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Button>>,
    /// A list's button label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<Section>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    #[serde(rename = "type", default = "reply_kind")]
    pub kind: String,
    pub reply: ButtonReply,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// An approved template and the values for its placeholders, in Meta's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: Language,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TemplateComponent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Language {
    pub code: String,
}

/// `header`, `body` or `button` parameters. Parameters stay JSON: Meta has many kinds
/// (text, currency, date_time, image, document, video, payload, coupon_code…) and we
/// only check what every kind shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateComponent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(default)]
    pub parameters: Vec<serde_json::Value>,
}

/// Values for a template's body placeholders, in order (`{{1}}`, `{{2}}`…) or by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Variables {
    Positional(Vec<String>),
    Named(std::collections::BTreeMap<String, String>),
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn reply_kind() -> String {
    "reply".to_string()
}

/// Why a message cannot be sent, worded for the person who built it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContentError(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, ContentError> {
    Err(ContentError(message.into()))
}

fn check_length(field: &str, value: &str, min: usize, max: usize) -> Result<(), ContentError> {
    let chars = value.chars().count();
    if chars < min {
        return invalid(format!("{field} is empty"));
    }
    if chars > max {
        return invalid(format!(
            "{field} has {chars} characters; WhatsApp allows at most {max}"
        ));
    }
    Ok(())
}

impl OutboundContent {
    /// Meta's name for the message type (`text`, `image`, `template`…).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Video(_) => "video",
            Self::Audio(_) => "audio",
            Self::Document(_) => "document",
            Self::Sticker(_) => "sticker",
            Self::Interactive(_) => "interactive",
            Self::Reaction(_) => "reaction",
            Self::Template(_) => "template",
        }
    }

    /// Only approved templates may be sent outside the 24-hour customer-service window.
    pub fn needs_open_window(&self) -> bool {
        !matches!(self, Self::Template(_))
    }

    /// The text an inbox shows for this message.
    pub fn preview_text(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text.body.clone()),
            Self::Image(m) | Self::Video(m) | Self::Document(m) => m.caption.clone(),
            Self::Audio(_) | Self::Sticker(_) => None,
            Self::Interactive(i) => Some(i.body.text.clone()),
            Self::Reaction(r) => Some(r.emoji.clone()).filter(|e| !e.is_empty()),
            Self::Template(t) => Some(format!("[template {}]", t.name)),
        }
    }

    /// Checks Meta's limits, so a message that cannot be sent is refused before it is queued.
    pub fn validate(&self) -> Result<(), ContentError> {
        match self {
            Self::Text(text) => check_length("text", &text.body, 1, MAX_TEXT_CHARS),
            Self::Image(m) | Self::Video(m) => validate_media(self.kind(), m, true, false),
            Self::Document(m) => validate_media("document", m, true, true),
            Self::Audio(m) | Self::Sticker(m) => validate_media(self.kind(), m, false, false),
            Self::Interactive(i) => i.validate(),
            Self::Reaction(r) => check_length("reaction.message_id", &r.message_id, 1, 512),
            Self::Template(t) => t.validate(),
        }
    }
}

fn validate_media(
    kind: &str,
    media: &Media,
    caption: bool,
    filename: bool,
) -> Result<(), ContentError> {
    match (&media.id, &media.link) {
        (Some(_), Some(_)) => return invalid(format!("{kind}: give either id or link, not both")),
        (None, None) => {
            return invalid(format!(
                "{kind}: give the id of an uploaded file or a public https link"
            ));
        }
        (Some(id), None) => check_length(&format!("{kind}.id"), id, 1, 256)?,
        (None, Some(link)) => {
            if !(link.starts_with("https://") || link.starts_with("http://")) {
                return invalid(format!("{kind}.link must be an http(s) URL"));
            }
        }
    }
    match &media.caption {
        Some(_) if !caption => return invalid(format!("{kind} messages cannot have a caption")),
        Some(text) => check_length(&format!("{kind}.caption"), text, 0, MAX_CAPTION_CHARS)?,
        None => {}
    }
    if media.filename.is_some() && !filename {
        return invalid(format!("only documents have a filename, not {kind}"));
    }
    Ok(())
}

impl Interactive {
    fn validate(&self) -> Result<(), ContentError> {
        if let Some(header) = &self.header {
            if header.kind == "text" {
                check_length(
                    "header.text",
                    header.text.as_deref().unwrap_or(""),
                    1,
                    MAX_HEADER_TEXT_CHARS,
                )?;
            } else if self.kind == InteractiveKind::List {
                return invalid("a list message's header can only be text");
            }
        }
        if let Some(footer) = &self.footer {
            check_length("footer.text", &footer.text, 1, MAX_FOOTER_CHARS)?;
        }
        match self.kind {
            InteractiveKind::Button => self.validate_buttons(),
            InteractiveKind::List => self.validate_list(),
        }
    }

    fn validate_buttons(&self) -> Result<(), ContentError> {
        check_length("body.text", &self.body.text, 1, MAX_BUTTONS_BODY_CHARS)?;
        let buttons = self.action.buttons.as_deref().unwrap_or_default();
        if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
            return invalid(format!(
                "a reply-button message has 1 to {MAX_BUTTONS} buttons, not {}",
                buttons.len()
            ));
        }
        for (i, button) in buttons.iter().enumerate() {
            check_length(
                &format!("buttons[{i}].title"),
                &button.reply.title,
                1,
                MAX_BUTTON_TITLE_CHARS,
            )?;
            check_length(
                &format!("buttons[{i}].id"),
                &button.reply.id,
                1,
                MAX_BUTTON_ID_CHARS,
            )?;
        }
        unique(
            "button titles",
            buttons.iter().map(|b| b.reply.title.as_str()),
        )?;
        unique("button ids", buttons.iter().map(|b| b.reply.id.as_str()))
    }

    fn validate_list(&self) -> Result<(), ContentError> {
        check_length("body.text", &self.body.text, 1, MAX_LIST_BODY_CHARS)?;
        check_length(
            "action.button",
            self.action.button.as_deref().unwrap_or(""),
            1,
            MAX_LIST_BUTTON_CHARS,
        )?;
        let sections = self.action.sections.as_deref().unwrap_or_default();
        if sections.is_empty() || sections.len() > MAX_LIST_SECTIONS {
            return invalid(format!(
                "a list message has 1 to {MAX_LIST_SECTIONS} sections, not {}",
                sections.len()
            ));
        }
        let rows: Vec<&Row> = sections.iter().flat_map(|s| &s.rows).collect();
        if rows.is_empty() || rows.len() > MAX_LIST_ROWS {
            return invalid(format!(
                "a list message has 1 to {MAX_LIST_ROWS} rows across all sections, not {}",
                rows.len()
            ));
        }
        for (i, section) in sections.iter().enumerate() {
            match &section.title {
                Some(title) => check_length(
                    &format!("sections[{i}].title"),
                    title,
                    1,
                    MAX_SECTION_TITLE_CHARS,
                )?,
                None if sections.len() > 1 => {
                    return invalid("every section needs a title when a list has more than one");
                }
                None => {}
            }
        }
        for (i, row) in rows.iter().enumerate() {
            check_length(
                &format!("rows[{i}].title"),
                &row.title,
                1,
                MAX_ROW_TITLE_CHARS,
            )?;
            check_length(&format!("rows[{i}].id"), &row.id, 1, MAX_ROW_ID_CHARS)?;
            if let Some(description) = &row.description {
                check_length(
                    &format!("rows[{i}].description"),
                    description,
                    0,
                    MAX_ROW_DESCRIPTION_CHARS,
                )?;
            }
        }
        unique("row ids", rows.iter().map(|r| r.id.as_str()))
    }
}

fn unique<'a>(what: &str, values: impl Iterator<Item = &'a str>) -> Result<(), ContentError> {
    let mut seen = std::collections::HashSet::new();
    for value in values {
        if !seen.insert(value) {
            return invalid(format!("{what} must be unique; '{value}' appears twice"));
        }
    }
    Ok(())
}

/// Template names: lowercase letters, digits and underscores (Meta's rule).
pub fn is_valid_template_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TEMPLATE_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Language codes as Meta writes them: `en`, `en_US`, `pt_BR`, `es_419`.
pub fn is_valid_language_code(code: &str) -> bool {
    let (language, region) = match code.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (code, None),
    };
    let language_ok =
        (2..=3).contains(&language.len()) && language.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region.is_none_or(|r| {
        (2..=3).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    });
    language_ok && region_ok
}

impl Template {
    /// A template whose body placeholders take `variables`.
    pub fn with_variables(name: &str, language: &str, variables: Option<&Variables>) -> Self {
        let parameters: Vec<serde_json::Value> = match variables {
            None => Vec::new(),
            Some(Variables::Positional(values)) => values
                .iter()
                .map(|v| serde_json::json!({"type": "text", "text": v}))
                .collect(),
            Some(Variables::Named(values)) => values
                .iter()
                .map(|(name, v)| serde_json::json!({"type": "text", "parameter_name": name, "text": v}))
                .collect(),
        };
        let components = if parameters.is_empty() {
            Vec::new()
        } else {
            vec![TemplateComponent {
                kind: "body".to_string(),
                sub_type: None,
                index: None,
                parameters,
            }]
        };
        Template {
            name: name.to_string(),
            language: Language {
                code: language.to_string(),
            },
            components,
        }
    }

    fn validate(&self) -> Result<(), ContentError> {
        if !is_valid_template_name(&self.name) {
            return invalid(format!(
                "template name '{}' must be 1 to 512 lowercase letters, digits or underscores",
                self.name
            ));
        }
        if !is_valid_language_code(&self.language.code) {
            return invalid(format!(
                "template language '{}' is not a language code like en, en_US or pt_BR",
                self.language.code
            ));
        }
        for component in &self.components {
            if !matches!(component.kind.as_str(), "header" | "body" | "button") {
                return invalid(format!(
                    "template component type '{}' must be header, body or button",
                    component.kind
                ));
            }
            if component.kind == "button"
                && (component.sub_type.is_none() || component.index.is_none())
            {
                return invalid("a template button component needs sub_type and index");
            }
            for parameter in &component.parameters {
                validate_parameter(&component.kind, parameter)?;
            }
        }
        Ok(())
    }

    /// The placeholder values, as stored with the message for the inbox.
    pub fn variables(&self) -> Vec<String> {
        self.components
            .iter()
            .flat_map(|c| &c.parameters)
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()).map(str::to_string))
            .collect()
    }
}

fn validate_parameter(component: &str, parameter: &serde_json::Value) -> Result<(), ContentError> {
    let Some(kind) = parameter.get("type").and_then(|t| t.as_str()) else {
        return invalid(format!(
            "every {component} parameter needs a \"type\" (text, currency, date_time, image…)"
        ));
    };
    if kind == "text" {
        let text = parameter.get("text").and_then(|t| t.as_str()).unwrap_or("");
        if text.trim().is_empty() {
            return invalid(format!("a {component} text parameter is empty"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(value: serde_json::Value) -> OutboundContent {
        serde_json::from_value(value).unwrap()
    }

    fn error(value: serde_json::Value) -> String {
        content(value).validate().unwrap_err().0
    }

    #[test]
    fn text_serializes_in_metas_shape() {
        let text = OutboundContent::Text(Text {
            body: "hola".into(),
            preview_url: true,
        });
        assert_eq!(
            serde_json::to_value(&text).unwrap(),
            json!({"text": {"body": "hola", "preview_url": true}})
        );
        assert_eq!(text.kind(), "text");
        assert!(text.needs_open_window());
    }

    #[test]
    fn text_length_is_counted_in_characters() {
        let at_limit = "é".repeat(MAX_TEXT_CHARS);
        assert!(
            content(json!({"text": {"body": at_limit}}))
                .validate()
                .is_ok()
        );
        let over = "a".repeat(MAX_TEXT_CHARS + 1);
        assert!(error(json!({"text": {"body": over}})).contains("at most 4096"));
        assert!(error(json!({"text": {"body": ""}})).contains("empty"));
    }

    #[test]
    fn media_needs_exactly_one_source_and_the_right_fields() {
        assert!(
            content(json!({"image": {"link": "https://x.test/a.png", "caption": "hi"}}))
                .validate()
                .is_ok()
        );
        assert!(
            content(json!({"document": {"id": "123", "filename": "a.pdf"}}))
                .validate()
                .is_ok()
        );
        assert!(error(json!({"image": {}})).contains("give the id"));
        assert!(
            error(json!({"image": {"id": "1", "link": "https://x.test"}})).contains("not both")
        );
        assert!(
            error(json!({"audio": {"id": "1", "caption": "no"}})).contains("cannot have a caption")
        );
        assert!(
            error(json!({"image": {"id": "1", "filename": "a.png"}})).contains("only documents")
        );
        assert!(error(json!({"video": {"link": "ftp://x"}})).contains("http(s)"));
    }

    fn buttons(n: usize) -> serde_json::Value {
        let buttons: Vec<_> = (0..n)
            .map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("Option {i}")}}))
            .collect();
        json!({"interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": buttons}}})
    }

    #[test]
    fn reply_buttons_are_limited_to_three_unique_short_titles() {
        assert!(content(buttons(3)).validate().is_ok());
        assert!(error(buttons(4)).contains("1 to 3 buttons"));
        assert!(error(buttons(0)).contains("1 to 3 buttons"));
        let long = json!({"interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "This title is far too long"}}]}}});
        assert!(error(long).contains("at most 20"));
        let twice = json!({"interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "Yes"}}, {"type": "reply", "reply": {"id": "b", "title": "Yes"}}]}}});
        assert!(error(twice).contains("unique"));
    }

    fn list(rows_per_section: &[usize]) -> serde_json::Value {
        let sections: Vec<_> = rows_per_section
            .iter()
            .enumerate()
            .map(|(s, n)| {
                let rows: Vec<_> = (0..*n)
                    .map(|r| json!({"id": format!("s{s}r{r}"), "title": format!("Row {r}")}))
                    .collect();
                json!({"title": format!("Section {s}"), "rows": rows})
            })
            .collect();
        json!({"interactive": {"type": "list", "body": {"text": "Choose"}, "action": {"button": "Menu", "sections": sections}}})
    }

    #[test]
    fn lists_hold_at_most_ten_rows_across_sections() {
        assert!(content(list(&[5, 5])).validate().is_ok());
        assert!(error(list(&[6, 5])).contains("1 to 10 rows"));
        assert!(error(list(&[])).contains("1 to 10 sections"));
        let untitled = json!({"interactive": {"type": "list", "body": {"text": "Choose"}, "action": {"button": "Menu",
            "sections": [{"rows": [{"id": "a", "title": "A"}]}, {"rows": [{"id": "b", "title": "B"}]}]}}});
        assert!(error(untitled).contains("needs a title"));
        let no_button = json!({"interactive": {"type": "list", "body": {"text": "Choose"}, "action": {
            "sections": [{"rows": [{"id": "a", "title": "A"}]}]}}});
        assert!(error(no_button).contains("action.button"));
    }

    #[test]
    fn templates_need_a_valid_name_language_and_parameters() {
        let ok = Template::with_variables(
            "order_update",
            "pt_BR",
            Some(&Variables::Positional(vec!["Ana".into(), "42".into()])),
        );
        assert!(OutboundContent::Template(ok.clone()).validate().is_ok());
        assert_eq!(ok.variables(), vec!["Ana", "42"]);
        assert!(!OutboundContent::Template(ok).needs_open_window());
        let bad_name = Template::with_variables("Order Update", "en", None);
        assert!(
            OutboundContent::Template(bad_name)
                .validate()
                .unwrap_err()
                .0
                .contains("lowercase")
        );
        let bad_language = Template::with_variables("a", "english", None);
        assert!(
            OutboundContent::Template(bad_language)
                .validate()
                .unwrap_err()
                .0
                .contains("language")
        );
        let empty =
            Template::with_variables("a", "en", Some(&Variables::Positional(vec![" ".into()])));
        assert!(
            OutboundContent::Template(empty)
                .validate()
                .unwrap_err()
                .0
                .contains("empty")
        );
    }

    #[test]
    fn named_variables_carry_their_names() {
        let mut named = std::collections::BTreeMap::new();
        named.insert("first_name".to_string(), "Jessica".to_string());
        let template = Template::with_variables("welcome", "en_US", Some(&Variables::Named(named)));
        assert_eq!(
            serde_json::to_value(&template).unwrap()["components"][0]["parameters"][0],
            json!({"type": "text", "parameter_name": "first_name", "text": "Jessica"})
        );
    }

    #[test]
    fn language_codes() {
        for ok in ["en", "en_US", "pt_BR", "es_419", "fil"] {
            assert!(is_valid_language_code(ok), "{ok}");
        }
        for bad in ["", "EN", "en-US", "en_us", "english", "en_"] {
            assert!(!is_valid_language_code(bad), "{bad}");
        }
    }
}
