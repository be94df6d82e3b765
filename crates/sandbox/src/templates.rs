//! `GET /{version}/{waba_id}/message_templates`: a fixed catalogue (by default the seven
//! templates of a real recording, `template-list-01.json`) with Graph's cursor paging.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Graph's default page size.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

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

    #[test]
    fn filters_and_bad_input() {
        let all = builtin();
        let utility = page(&all, &params(&[("category", "UTILITY")]), URL).unwrap();
        assert_eq!(utility["data"].as_array().unwrap().len(), 4);
        assert!(page(&all, &params(&[("limit", "0")]), URL).is_err());
        assert!(page(&all, &params(&[("after", "garbage")]), URL).is_err());
    }
}
