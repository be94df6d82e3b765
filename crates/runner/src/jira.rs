//! A small Jira REST (v2) client: create an issue, add a comment. Basic auth with the account's
//! email and API token (what Jira Cloud takes from scripts), JSON both ways, bounded by timeouts.
//!
//! Like the Graph client it never retries by itself: a failed call is a [`JiraError`] that says
//! whether trying again can help (429, 5xx, timeouts, no connection) and, when Jira said how
//! long to wait (`Retry-After`), for how long. The job runner does the retrying.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use switchboard_graph::error_chain;

const USER_AGENT: &str = concat!("switchboard/", env!("CARGO_PKG_VERSION"));

/// Jira refuses a summary longer than this, or with a line break in it.
pub const MAX_SUMMARY_CHARS: usize = 255;
/// Jira's text fields hold 32,767 characters; longer ones are refused, not cut.
pub const MAX_TEXT_CHARS: usize = 32_000;
/// The issue type of created issues: every Jira Software and Service Management project template
/// has one called "Task".
pub const ISSUE_TYPE: &str = "Task";
/// How much of an unreadable error body an error quotes: enough to recognise a proxy's page.
const BODY_SNIPPET_CHARS: usize = 200;

#[derive(Debug, Clone)]
pub struct JiraConfig {
    /// Whole-call limit.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for JiraConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// One organization's Jira site and the account Switchboard acts as.
#[derive(Clone)]
pub struct JiraSite {
    /// `https://your-company.atlassian.net`, optionally with a path prefix (a sandbox).
    pub base_url: String,
    pub user_email: String,
    pub api_token: String,
}

/// Hand-written so the token never reaches a log through `{:?}`.
impl fmt::Debug for JiraSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraSite")
            .field("base_url", &self.base_url)
            .field("user_email", &self.user_email)
            .field("api_token", &"[redacted]")
            .finish()
    }
}

/// A failed Jira call. Never contains the API token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JiraError {
    /// True when the same call may succeed later.
    pub retryable: bool,
    /// `None` when no answer arrived (timeout, connection refused).
    pub http_status: Option<u16>,
    pub message: String,
    /// How long Jira asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl JiraError {
    fn local(retryable: bool, message: String) -> Self {
        Self {
            retryable,
            http_status: None,
            message,
            retry_after: None,
        }
    }

    fn transport(what: &str, error: reqwest::Error) -> Self {
        // A request that could not even be built will not build next time either.
        let retryable = !error.is_builder();
        let problem = if error.is_timeout() {
            "timed out".to_string()
        } else if error.is_connect() {
            format!("could not connect: {}", error_chain(&error.without_url()))
        } else {
            error_chain(&error.without_url())
        };
        Self::local(retryable, format!("{what}: {problem}"))
    }

    /// Jira's refusal: its `errorMessages` and field `errors` when the body has them.
    fn from_response(what: &str, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let code = status.as_u16();
        let retryable = matches!(code, 408 | 429) || status.is_server_error();
        let said = jira_messages(body);
        let hint = match code {
            401 => " (check the user email and API token of the Jira connection)",
            403 => " (the Jira account lacks a permission in this project)",
            404 => " (the project, issue or Jira address does not exist)",
            _ => "",
        };
        let message = if said.is_empty() {
            format!("{what}: Jira answered HTTP {code}{hint}")
        } else {
            format!("{what}: Jira answered HTTP {code}{hint}: {said}")
        };
        Self {
            retryable,
            http_status: Some(code),
            message,
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after),
        }
    }
}

/// `{"errorMessages":["…"],"errors":{"field":"…"}}` as one line; a body that is not Jira's
/// error JSON is quoted briefly instead.
fn jira_messages(body: &[u8]) -> String {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct ErrorCollection {
        error_messages: Vec<String>,
        errors: serde_json::Map<String, serde_json::Value>,
    }
    match serde_json::from_slice::<ErrorCollection>(body) {
        Ok(collection) => {
            let mut parts = collection.error_messages;
            let mut fields: Vec<_> = collection.errors.into_iter().collect();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            for (field, value) in fields {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                parts.push(format!("{field}: {text}"));
            }
            parts.join("; ")
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
            if snippet.len() < text.len() {
                format!("{snippet}…")
            } else {
                snippet
            }
        }
    }
}

/// `Retry-After` as seconds (Jira Cloud's form); an HTTP date gives no hint.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The Jira client. Cheap to clone: clones share one connection pool, whatever the site.
#[derive(Clone)]
pub struct JiraClient {
    http: reqwest::Client,
}

impl fmt::Debug for JiraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JiraClient")
    }
}

#[derive(Deserialize)]
struct CreatedIssue {
    key: String,
}

#[derive(Deserialize)]
struct CreatedComment {
    id: String,
}

impl JiraClient {
    pub fn new(config: JiraConfig) -> Result<Self, JiraError> {
        // reqwest is built without a crypto provider; ring is ours (as in the Graph client).
        // Another part of the process may have installed it already: that error is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                JiraError::local(false, format!("the HTTP client could not be built: {e}"))
            })?;
        Ok(Self { http })
    }

    /// Creates an issue in `project_key`; answers its key (`SUP-12`).
    pub async fn create_issue(
        &self,
        site: &JiraSite,
        project_key: &str,
        summary: &str,
        description: &str,
    ) -> Result<String, JiraError> {
        let url = url(site, &["rest", "api", "2", "issue"])?;
        let body = json!({
            "fields": {
                "project": { "key": project_key },
                "summary": one_line(summary, MAX_SUMMARY_CHARS),
                "description": cut(description, MAX_TEXT_CHARS),
                "issuetype": { "name": ISSUE_TYPE },
            }
        });
        let created: CreatedIssue = self
            .post(site, "creating the Jira issue", url, &body)
            .await?;
        Ok(created.key)
    }

    /// Adds a comment to issue `key`; answers the comment's id.
    pub async fn add_comment(
        &self,
        site: &JiraSite,
        key: &str,
        body: &str,
    ) -> Result<String, JiraError> {
        let url = url(site, &["rest", "api", "2", "issue", key, "comment"])?;
        let what = format!("adding a comment to Jira issue {key}");
        let created: CreatedComment = self
            .post(
                site,
                &what,
                url,
                &json!({ "body": cut(body, MAX_TEXT_CHARS) }),
            )
            .await?;
        Ok(created.id)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        site: &JiraSite,
        what: &str,
        url: Url,
        body: &serde_json::Value,
    ) -> Result<T, JiraError> {
        let started = std::time::Instant::now();
        let sent = self
            .http
            .post(url)
            .basic_auth(&site.user_email, Some(&site.api_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .send()
            .await;
        let outcome = match &sent {
            Ok(r) if r.status().is_success() => "ok",
            Ok(_) => "refused",
            Err(_) => "unreachable",
        };
        metrics::histogram!("switchboard_jira_request_seconds", "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        let response = sent.map_err(|e| JiraError::transport(what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| JiraError::transport(what, e))?;
        if !status.is_success() {
            let error = JiraError::from_response(what, status, &headers, &bytes);
            tracing::debug!(
                what,
                http_status = status.as_u16(),
                retryable = error.retryable,
                "Jira call failed"
            );
            return Err(error);
        }
        // Not retried: Jira has probably done the work, and doing it again would duplicate it.
        serde_json::from_slice(&bytes).map_err(|e| {
            JiraError::local(
                false,
                format!(
                    "{what}: Jira answered HTTP {} but the body could not be read ({e})",
                    status.as_u16()
                ),
            )
        })
    }
}

/// `<base_url>/<segments…>`, each segment percent-encoded so a key cannot reach another path.
fn url(site: &JiraSite, segments: &[&str]) -> Result<Url, JiraError> {
    let bad = |why: String| {
        JiraError::local(
            false,
            format!(
                "the Jira address '{}' of the connection {why}",
                site.base_url
            ),
        )
    };
    let mut url =
        Url::parse(site.base_url.trim()).map_err(|e| bad(format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not http(s)".into()));
    }
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| bad("cannot take a path".into()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Jira refuses summaries with line breaks or over its limit: one line, cut with an ellipsis.
fn one_line(text: &str, max_chars: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&joined, max_chars)
}

fn cut(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(base: &str) -> JiraSite {
        JiraSite {
            base_url: base.into(),
            user_email: "bot@acme.com".into(),
            api_token: "secret-token".into(),
        }
    }

    #[test]
    fn paths_go_under_the_base_url_with_keys_encoded() {
        let url = url(
            &site("http://127.0.0.1:9/jira/"),
            &["rest", "api", "2", "issue", "SUP-1/../x", "comment"],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/jira/rest/api/2/issue/SUP-1%2F..%2Fx/comment"
        );
        assert!(super::url(&site("ftp://x"), &["a"]).is_err());
        assert!(super::url(&site("not a url"), &["a"]).is_err());
    }

    #[test]
    fn statuses_are_sorted_into_retry_or_give_up() {
        let headers = HeaderMap::new();
        for code in [429, 500, 502, 503, 504, 408] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(
                JiraError::from_response("x", status, &headers, b"").retryable,
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(
                !JiraError::from_response("x", status, &headers, b"").retryable,
                "{code}"
            );
        }
    }

    #[test]
    fn jira_s_own_words_are_kept_and_retry_after_honoured() {
        let body = br#"{"errorMessages":["Issue does not exist"],"errors":{"summary":"You must specify a summary","project":"project is required"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        let error = JiraError::from_response("creating", StatusCode::BAD_REQUEST, &headers, body);
        assert_eq!(
            error.message,
            "creating: Jira answered HTTP 400: Issue does not exist; project: project is required; summary: You must specify a summary"
        );
        assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
        let unauthorized =
            JiraError::from_response("x", StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"");
        assert!(
            unauthorized.message.contains("API token"),
            "{}",
            unauthorized.message
        );
        let page = "<html>".repeat(100);
        let proxy = JiraError::from_response(
            "x",
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            page.as_bytes(),
        );
        assert!(proxy.message.len() < 300, "{}", proxy.message);
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn summaries_are_one_line_and_bounded() {
        assert_eq!(one_line("  broken\norder \t#12 ", 255), "broken order #12");
        let long = "x".repeat(300);
        let cut = one_line(&long, MAX_SUMMARY_CHARS);
        assert_eq!(cut.chars().count(), MAX_SUMMARY_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let text = format!("{:?}", site("https://acme.atlassian.net"));
        assert!(!text.contains("secret-token"), "{text}");
    }
}
