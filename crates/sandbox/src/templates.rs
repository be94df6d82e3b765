//! `GET /{version}/{waba_id}/message_templates`: a catalogue (by default the seven templates
//! of a real recording, `template-list-01.json`) with Graph's cursor paging; and
//! `POST /{version}/{waba_id}/message_templates`, which checks a new template the way Meta
//! does before review and adds it to that WABA's list as `PENDING`.

use std::collections::HashMap;

use actix_web::HttpResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::{errors, ids};

/// Graph's default page size.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

/// Meta's `error_subcode` for a template name the WABA already has in that language.
pub(crate) const DUPLICATE_SUBCODE: i64 = 2388024;

const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];
const COMPONENT_TYPES: [&str; 4] = ["HEADER", "BODY", "FOOTER", "BUTTONS"];

/// The templates a sandbox lists: the configured catalogue, which every WABA sees, and the
/// templates created through the API, which only their own WABA sees.
#[derive(Debug)]
pub(crate) struct Catalogue {
    shared: Vec<Value>,
    created: Vec<(String, Value)>,
}

impl Catalogue {
    pub(crate) fn new(shared: Vec<Value>) -> Self {
        Self {
            shared,
            created: Vec::new(),
        }
    }

    /// What `waba_id` lists: the shared catalogue, then its own templates, oldest first.
    pub(crate) fn list(&self, waba_id: &str) -> Vec<Value> {
        let own = self
            .created
            .iter()
            .filter(|(waba, _)| waba == waba_id)
            .map(|(_, template)| template.clone());
        self.shared.iter().cloned().chain(own).collect()
    }

    /// The category of the template `name`, wherever it is (see [`category_of`]).
    pub(crate) fn category_of(&self, name: &str) -> Option<String> {
        category_of(&self.shared, name).or_else(|| {
            self.created
                .iter()
                .find(|(_, t)| t["name"] == name)
                .and_then(|(_, t)| t["category"].as_str())
                .map(str::to_ascii_lowercase)
        })
    }

    /// Checks `body` as Meta does and adds the template to `waba_id`'s list in review
    /// (`PENDING`); the answer is Meta's `{"id","status","category"}`.
    pub(crate) fn create(&mut self, waba_id: &str, body: &[u8]) -> Result<Value, Refusal> {
        let new = check(body)?;
        let taken = self.list(waba_id).iter().any(|t| {
            t["name"].as_str() == Some(new.name.as_str())
                && t["language"].as_str() == Some(new.language.as_str())
        });
        if taken {
            return Err(Refusal {
                subcode: Some(DUPLICATE_SUBCODE),
                title: "Message template already exists",
                message: "Content in this language already exists".into(),
            });
        }
        let id = ids::numeric_id();
        self.created.push((
            waba_id.to_string(),
            json!({
                "name": new.name,
                "parameter_format": new.parameter_format,
                "components": new.components,
                "language": new.language,
                "status": "PENDING",
                "category": new.category,
                "id": id,
            }),
        ));
        Ok(json!({ "id": id, "status": "PENDING", "category": new.category }))
    }

    /// Forgets the created templates (the configured catalogue stays).
    pub(crate) fn reset(&mut self) {
        self.created.clear();
    }
}

/// Why Meta refuses a template: a `(#100) Invalid parameter` whose `error_user_msg` says what
/// to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub subcode: Option<i64>,
    pub title: &'static str,
    pub message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            subcode: None,
            title: "Invalid template",
            message: message.into(),
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut error = json!({
            "message": "Invalid parameter",
            "type": "OAuthException",
            "code": 100,
            "is_transient": false,
            "error_user_title": self.title,
            "error_user_msg": self.message,
            "fbtrace_id": ids::fbtrace_id(),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        json!({ "error": error })
    }

    pub(crate) fn response(&self) -> HttpResponse {
        errors::graph_response(400, self.body())
    }
}

/// A template that passed the checks, in the case Meta lists it.
struct NewTemplate {
    name: String,
    language: String,
    category: String,
    parameter_format: String,
    components: Value,
}

fn required<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a Value, Refusal> {
    body.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| Refusal::invalid(format!("The parameter {key} is required.")))
}

fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, Refusal> {
    required(body, key)?
        .as_str()
        .ok_or_else(|| Refusal::invalid(format!("The parameter {key} must be a string.")))
}

/// `^[a-z0-9_]{1,512}$`.
fn is_template_name(name: &str) -> bool {
    (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `en`, `en_US`, `fil`, `pt_BR`: two or three lower-case letters, optionally `_` and a
/// two-letter upper-case region.
fn is_language(code: &str) -> bool {
    let (lang, region) = match code.split_once('_') {
        Some((lang, region)) => (lang, Some(region)),
        None => (code, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

fn check(raw: &[u8]) -> Result<NewTemplate, Refusal> {
    let body = match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(body)) => body,
        Ok(_) => return Err(Refusal::invalid("The request body must be a JSON object.")),
        Err(e) => {
            return Err(Refusal::invalid(format!(
                "The request body is not valid JSON: {e}."
            )));
        }
    };
    let name = text(&body, "name")?;
    if !is_template_name(name) {
        return Err(Refusal::invalid(format!(
            "The template name \"{name}\" is not valid: use 1 to 512 lower-case letters, digits and underscores."
        )));
    }
    let language = text(&body, "language")?;
    if !is_language(language) {
        return Err(Refusal::invalid(format!(
            "The language \"{language}\" is not a language code such as en_US."
        )));
    }
    let category = text(&body, "category")?.to_ascii_uppercase();
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(Refusal::invalid(format!(
            "The category \"{category}\" is not valid: use MARKETING, UTILITY or AUTHENTICATION."
        )));
    }
    let parameter_format = match body.get("parameter_format") {
        None | Some(Value::Null) => "POSITIONAL".to_string(),
        Some(Value::String(format))
            if ["positional", "named"].contains(&format.to_ascii_lowercase().as_str()) =>
        {
            format.to_ascii_uppercase()
        }
        Some(other) => {
            return Err(Refusal::invalid(format!(
                "parameter_format must be \"positional\" or \"named\", not {other}."
            )));
        }
    };
    let components = required(&body, "components")?;
    let Some(list) = components.as_array() else {
        return Err(Refusal::invalid(
            "components must be a list of HEADER, BODY, FOOTER and BUTTONS components.",
        ));
    };
    let mut has_body = false;
    for (index, component) in list.iter().enumerate() {
        let kind = component
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .filter(|kind| COMPONENT_TYPES.contains(&kind.as_str()));
        let Some(kind) = kind else {
            return Err(Refusal::invalid(format!(
                "Component {index} needs a type: HEADER, BODY, FOOTER or BUTTONS."
            )));
        };
        if kind == "BODY" {
            has_body = true;
            let body_text = component.get("text");
            // Authentication templates take Meta's fixed text; the others must bring theirs.
            let text_ok = match body_text {
                None => category == "AUTHENTICATION",
                Some(Value::String(t)) => !t.trim().is_empty(),
                Some(_) => false,
            };
            if !text_ok {
                return Err(Refusal::invalid("The BODY component needs a text."));
            }
        }
    }
    if !has_body {
        return Err(Refusal::invalid("A template needs a BODY component."));
    }
    Ok(NewTemplate {
        name: name.to_string(),
        language: language.to_string(),
        category,
        parameter_format,
        components: components.clone(),
    })
}

/// The built-in catalogue.
pub(crate) fn builtin() -> Vec<Value> {
    serde_json::from_str::<Value>(include_str!("templates.json"))
        .ok()
        .and_then(|v| v.get("data").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// The category of the template `name` (lower case, as status `pricing.category` has it).
pub(crate) fn category_of(templates: &[Value], name: &str) -> Option<String> {
    templates
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["category"].as_str())
        .map(str::to_ascii_lowercase)
}

fn cursor(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sandbox:{index}"))
}

fn decode_cursor(raw: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("sandbox:")?
        .parse()
        .ok()
}

/// One page of `templates` for the query `params`; `self_url` (the request URL without its
/// query) is the base of `paging.next`/`paging.previous`. `Err` is a `(#100)` details text.
pub(crate) fn page(
    templates: &[Value],
    params: &HashMap<String, String>,
    self_url: &str,
) -> Result<Value, String> {
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => return Err(format!("limit must be a positive integer, got `{raw}`")),
        },
    };
    let field = |key: &str| params.get(key).map(String::as_str);
    let matching: Vec<&Value> = templates
        .iter()
        .filter(|t| {
            let equal = |key: &str| {
                field(key).is_none_or(|want| {
                    t[key]
                        .as_str()
                        .is_some_and(|have| have.eq_ignore_ascii_case(want))
                })
            };
            let name_ok = field("name")
                .is_none_or(|want| t["name"].as_str().is_some_and(|have| have.contains(want)));
            name_ok && equal("status") && equal("category") && equal("language")
        })
        .collect();
    let (start, end) = match (field("after"), field("before")) {
        (Some(after), _) => {
            let index = decode_cursor(after)
                .ok_or_else(|| format!("the after cursor `{after}` is not valid"))?;
            let start = (index + 1).min(matching.len());
            (start, (start + limit).min(matching.len()))
        }
        (None, Some(before)) => {
            let index = decode_cursor(before)
                .ok_or_else(|| format!("the before cursor `{before}` is not valid"))?;
            let end = index.min(matching.len());
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, limit.min(matching.len())),
    };
    let data: Vec<Value> = matching[start..end].iter().map(|t| (*t).clone()).collect();
    if data.is_empty() {
        return Ok(json!({ "data": [] }));
    }
    let mut paging = json!({
        "cursors": { "before": cursor(start), "after": cursor(end - 1) },
    });
    let link = |cursor_key: &str, cursor_value: String| -> Option<String> {
        let mut url = reqwest::Url::parse(self_url).ok()?;
        {
            let mut query = url.query_pairs_mut();
            for key in ["name", "status", "category", "language", "fields"] {
                if let Some(value) = field(key) {
                    query.append_pair(key, value);
                }
            }
            query.append_pair("limit", &limit.to_string());
            query.append_pair(cursor_key, &cursor_value);
        }
        Some(url.to_string())
    };
    if end < matching.len()
        && let Some(next) = link("after", cursor(end - 1))
    {
        paging["next"] = json!(next);
    }
    if start > 0
        && let Some(previous) = link("before", cursor(start))
    {
        paging["previous"] = json!(previous);
    }
    Ok(json!({ "data": data, "paging": paging }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const URL: &str = "http://127.0.0.1:1/v25.0/57438975935/message_templates";

    #[test]
    fn builtin_catalogue_is_the_recording() {
        let all = builtin();
        assert_eq!(all.len(), 7);
        assert_eq!(
            category_of(&all, "hello_world").as_deref(),
            Some("marketing")
        );
        assert_eq!(
            category_of(&all, "sample_issue_resolution").as_deref(),
            Some("utility")
        );
    }

    #[test]
    fn walks_forward_and_back() {
        let all = builtin();
        let first = page(&all, &params(&[("limit", "3")]), URL).unwrap();
        assert_eq!(first["data"].as_array().unwrap().len(), 3);
        assert!(first["paging"].get("previous").is_none());
        let after = first["paging"]["cursors"]["after"].as_str().unwrap();
        let second = page(&all, &params(&[("limit", "3"), ("after", after)]), URL).unwrap();
        assert_eq!(second["data"][0]["name"], all[3]["name"]);
        assert!(
            second["paging"]["next"]
                .as_str()
                .unwrap()
                .contains("after=")
        );
        let back = second["paging"]["cursors"]["before"].as_str().unwrap();
        let again = page(&all, &params(&[("limit", "3"), ("before", back)]), URL).unwrap();
        assert_eq!(again["data"], first["data"]);
        let third_cursor = second["paging"]["cursors"]["after"].as_str().unwrap();
        let last = page(
            &all,
            &params(&[("limit", "3"), ("after", third_cursor)]),
            URL,
        )
        .unwrap();
        assert_eq!(last["data"].as_array().unwrap().len(), 1);
        assert!(last["paging"].get("next").is_none());
    }

    fn order_ready() -> Value {
        json!({
            "name": "order_ready", "language": "en_US", "category": "utility",
            "parameter_format": "named",
            "components": [{"type": "BODY", "text": "Hi {{first_name}}, your order is ready."}],
        })
    }

    fn create(catalogue: &mut Catalogue, waba: &str, body: &Value) -> Result<Value, Refusal> {
        catalogue.create(waba, &serde_json::to_vec(body).unwrap())
    }

    #[test]
    fn a_created_template_is_listed_pending_for_its_waba_only() {
        let mut catalogue = Catalogue::new(builtin());
        let answer = create(&mut catalogue, "1", &order_ready()).unwrap();
        let id = answer["id"].as_str().unwrap().to_string();
        assert!(
            id.len() > 10 && id.bytes().all(|b| b.is_ascii_digit()),
            "{id}"
        );
        assert_eq!(
            answer,
            json!({"id": id, "status": "PENDING", "category": "UTILITY"})
        );
        let listed = catalogue.list("1");
        assert_eq!(listed.len(), 8);
        let created = &listed[7];
        assert_eq!(created["id"], id.as_str());
        assert_eq!(created["status"], "PENDING");
        assert_eq!(created["parameter_format"], "NAMED");
        assert_eq!(created["components"], order_ready()["components"]);
        assert_eq!(catalogue.list("2").len(), 7, "another WABA does not see it");
        assert_eq!(
            catalogue.category_of("order_ready").as_deref(),
            Some("utility")
        );
        catalogue.reset();
        assert_eq!(catalogue.list("1").len(), 7);
    }

    #[test]
    fn a_name_and_language_taken_is_refused_like_meta() {
        let mut catalogue = Catalogue::new(builtin());
        create(&mut catalogue, "1", &order_ready()).unwrap();
        let refusal = create(&mut catalogue, "1", &order_ready()).unwrap_err();
        assert_eq!(refusal.subcode, Some(DUPLICATE_SUBCODE));
        let body = refusal.body();
        assert_eq!(body["error"]["message"], "Invalid parameter");
        assert_eq!(body["error"]["code"], 100);
        assert_eq!(body["error"]["error_subcode"], 2388024);
        assert_eq!(
            body["error"]["error_user_msg"],
            "Content in this language already exists"
        );
        // The built-in catalogue counts too; another language or WABA is free.
        let mut hello = order_ready();
        hello["name"] = json!("hello_world");
        assert!(create(&mut catalogue, "1", &hello).is_err());
        let mut spanish = order_ready();
        spanish["language"] = json!("es");
        assert!(create(&mut catalogue, "1", &spanish).is_ok());
        assert!(create(&mut catalogue, "2", &order_ready()).is_ok());
    }

    #[test]
    fn invalid_templates_say_what_is_wrong() {
        let mut catalogue = Catalogue::new(Vec::new());
        let cases: &[(&str, Value, &str)] = &[
            ("name", json!("Order Ready"), "template name"),
            ("name", json!(""), "template name"),
            ("name", json!("a".repeat(513)), "template name"),
            ("name", Value::Null, "name is required"),
            ("language", json!("english"), "language"),
            ("category", json!("TRANSACTIONAL"), "category"),
            ("parameter_format", json!("numbered"), "parameter_format"),
            ("components", json!({"type": "BODY"}), "list"),
            (
                "components",
                json!([{"type": "FOOTER", "text": "x"}]),
                "BODY component",
            ),
            (
                "components",
                json!([{"type": "BODY", "text": " "}]),
                "needs a text",
            ),
            ("components", json!([{"text": "x"}]), "needs a type"),
        ];
        for (key, value, expected) in cases {
            let mut body = order_ready();
            body[*key] = value.clone();
            let refusal = create(&mut catalogue, "1", &body).unwrap_err();
            assert!(
                refusal.message.contains(expected),
                "{key}={value}: {}",
                refusal.message
            );
            assert_eq!(refusal.body()["error"]["code"], 100);
        }
        assert!(catalogue.create("1", b"not json").is_err());
        assert!(catalogue.list("1").is_empty(), "nothing refused was stored");
        // Authentication templates may leave the body text to Meta.
        let auth = json!({"name": "login_code", "language": "en", "category": "AUTHENTICATION",
            "components": [{"type": "BODY", "add_security_recommendation": true}]});
        assert!(create(&mut catalogue, "1", &auth).is_ok());
    }

    #[test]
    fn names_and_languages() {
        assert!(is_template_name("order_ready_2"));
        assert!(is_template_name(&"a".repeat(512)));
        assert!(!is_template_name("order-ready"));
        for good in ["en", "en_US", "pt_BR", "fil"] {
            assert!(is_language(good), "{good}");
        }
        for bad in ["", "e", "EN", "en_us", "en-US", "en_USA"] {
            assert!(!is_language(bad), "{bad}");
        }
    }

    #[test]
    fn filters_and_bad_input() {
        let all = builtin();
        let utility = page(&all, &params(&[("category", "UTILITY")]), URL).unwrap();
        assert_eq!(utility["data"].as_array().unwrap().len(), 4);
        assert!(page(&all, &params(&[("limit", "0")]), URL).is_err());
        assert!(page(&all, &params(&[("after", "garbage")]), URL).is_err());
    }
}
