//! Meta's errors, read and sorted into what the caller should do next.
//!
//! Meta's own advice is to "build your app's error handling around `code` values and `details`":
//! the HTTP status of the same error differs between sources (130429 is documented both as 400 and
//! as 429), so [`classify`] looks at the code first and falls back to the status only for codes it
//! does not know. The client never retries on its own (apart from refreshing an expired media URL);
//! it reports the class, and the job runner decides when to try again.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

/// Meta's usage header on throttled WhatsApp Business calls; its
/// `estimated_time_to_regain_access` is in minutes.
const BUSINESS_USE_CASE_USAGE: &str = "x-business-use-case-usage";

/// How much of an unreadable body an error quotes: enough to recognise a proxy's error page.
const BODY_SNIPPET_CHARS: usize = 200;

/// The text people see for 131047 and 470, so the inbox tells them what to do instead.
pub const WINDOW_CLOSED_REASON: &str = "the 24-hour window is closed: send an approved template";

/// What a failed call means for the work that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient: try the same call again later (honour [`GraphError::retry_after`] when set).
    RetryLater,
    /// Permanent for this message: retrying the same payload will fail the same way.
    Message,
    /// Permanent for the whole channel (token, permissions, account): pause its queue and alert.
    Channel,
}

/// A failed Graph API call. Never contains the access token.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.reason())]
pub struct GraphError {
    pub class: ErrorClass,
    /// Meta's `code`, when the answer was a Graph error.
    pub code: Option<i64>,
    /// Meta's `error_subcode` (deprecated since v16.0 but still sent for some errors).
    pub subcode: Option<i64>,
    /// `None` when no answer arrived (timeout, connection refused).
    pub http_status: Option<u16>,
    /// Meta's `message`, or our description when Meta's was not available.
    pub message: String,
    /// Meta's `error_data.details`, which usually says what exactly was wrong.
    pub details: Option<String>,
    /// Quote this to Meta support.
    pub fbtrace_id: Option<String>,
    /// How long Meta asked us to wait, from `Retry-After` or `X-Business-Use-Case-Usage`.
    pub retry_after: Option<Duration>,
}

/// Sorts an error by Meta's `code`, falling back to the HTTP status for codes we do not know.
///
/// Unknown codes on a 4xx are taken as a problem with the message (retrying would repeat it);
/// 5xx, 429 and 408 without a known permanent code, and no answer at all, are worth retrying.
pub fn classify(code: Option<i64>, http_status: Option<u16>) -> ErrorClass {
    if let Some(class) = code.and_then(classify_code) {
        return class;
    }
    match http_status {
        None | Some(408 | 429) | Some(500..=599) => ErrorClass::RetryLater,
        Some(_) => ErrorClass::Message,
    }
}

/// The class of each code in Meta's error table (reference §9), `None` for codes not in it.
fn classify_code(code: i64) -> Option<ErrorClass> {
    use ErrorClass::{Channel, Message, RetryLater};
    let class = match code {
        // Throughput, pair and app/WABA rate limits; Meta-side trouble and maintenance.
        130429 | 131056 | 4 | 80007 | 131000 | 131016 | 2 | 1 | 133004 | 131057 => RetryLater,
        // Authentication, permissions, account-level blocks, unregistered number.
        190 | 0 | 131005 | 10 | 3 | 200..=299 | 368 | 131031 | 130497 | 133010 => Channel,
        // The window, the recipient, the payload or the template.
        131047
        | 470
        | 131026
        | 131051
        | 131053
        | 131048
        | 131049
        | 131050
        | 132000..=132999
        | 100
        | 131008
        | 131009
        | 33
        | 130472
        | 131021
        | 131042 => Message,
        _ => return None,
    };
    Some(class)
}

impl GraphError {
    /// One line for people (inbox, logs): what went wrong, in Meta's words when we have them.
    pub fn reason(&self) -> String {
        if matches!(self.code, Some(131047 | 470)) {
            return WINDOW_CLOSED_REASON.to_string();
        }
        // Meta's messages already start with "(#code)"; ours do not.
        let mut text = match self.code {
            Some(code) if !self.message.starts_with("(#") => format!("(#{code}) {}", self.message),
            _ => self.message.clone(),
        };
        let details = self.details.as_deref();
        if let Some(details) = details.filter(|d| !d.is_empty() && *d != self.message) {
            text.push_str(": ");
            text.push_str(details);
        }
        text
    }

    /// 130429: the phone number's messages-per-second limit; slow the whole channel down.
    pub fn is_throughput_limit(&self) -> bool {
        self.code == Some(130429)
    }

    /// 131056: too many messages to one recipient; back off for that recipient only.
    pub fn is_pair_limit(&self) -> bool {
        self.code == Some(131056)
    }

    /// An error of ours, not Meta's (bad configuration, a payload we could not build).
    pub(crate) fn local(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            code: None,
            subcode: None,
            http_status: None,
            message: message.into(),
            details: None,
            fbtrace_id: None,
            retry_after: None,
        }
    }

    /// No usable answer: timeout, refused connection, a body cut off mid-way.
    ///
    /// The URL is dropped from reqwest's text: a `paging.next` URL can carry a token.
    pub(crate) fn transport(what: &str, error: reqwest::Error) -> Self {
        let class = if error.is_builder() {
            ErrorClass::Message
        } else {
            ErrorClass::RetryLater
        };
        let problem = if error.is_timeout() {
            "timed out".to_string()
        } else if error.is_connect() {
            format!("could not connect: {}", error_chain(&error.without_url()))
        } else {
            error_chain(&error.without_url())
        };
        Self::local(class, format!("{what}: {problem}"))
    }

    /// A 2xx answer whose body is not what Meta documents.
    ///
    /// Not retried: for a send, Meta has probably accepted the message, and sending it again
    /// could reach the customer twice.
    pub(crate) fn unreadable_success(what: &str, status: u16, problem: &str) -> Self {
        let mut error = Self::local(
            ErrorClass::Message,
            format!(
                "{what}: Graph API answered HTTP {status} but the body could not be read ({problem})"
            ),
        );
        error.http_status = Some(status);
        error
    }

    /// Builds the error for a non-2xx answer from its status, headers and body.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        let http_status = Some(status.as_u16());
        let retry_after = retry_hint(headers);
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => Self {
                class: classify(error.code, http_status),
                code: error.code,
                subcode: error.error_subcode,
                http_status,
                message: error
                    .message
                    .unwrap_or_else(|| format!("Graph API error (HTTP {})", status.as_u16())),
                details: error.error_data.as_ref().and_then(details_of).or(error
                    .error_user_msg
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty())),
                fbtrace_id: error.fbtrace_id,
                retry_after,
            },
            Err(_) => Self {
                class: classify(None, http_status),
                code: None,
                subcode: None,
                http_status,
                message: format!(
                    "Graph API answered HTTP {} with a body that is not a Graph error: {}",
                    status.as_u16(),
                    snippet(body)
                ),
                details: None,
                fbtrace_id: None,
                retry_after,
            },
        }
    }

    /// Removes `secret` from every text field, in case an answer echoes the token back.
    pub(crate) fn redact(mut self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        self.message = self.message.replace(secret, "[redacted]");
        self.details = self.details.map(|d| d.replace(secret, "[redacted]"));
        self
    }
}

/// `{"error":{…}}` as Meta sends it.
#[derive(Deserialize)]
struct ErrorBody {
    error: MetaError,
}

#[derive(Deserialize)]
struct MetaError {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    /// An object with `details` for WhatsApp errors, but a plain string on some Graph errors.
    error_data: Option<serde_json::Value>,
    /// Meta's sentence for people: the only explanation some refusals (templates) carry.
    error_user_msg: Option<String>,
    fbtrace_id: Option<String>,
}

fn details_of(error_data: &serde_json::Value) -> Option<String> {
    match error_data {
        serde_json::Value::Object(map) => map.get("details")?.as_str().map(str::to_string),
        serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => None,
    }
}

/// The start of a body on one line, so an HTML error page stays readable in a log.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        return "(empty body)".to_string();
    }
    if let Some((cut, _)) = words.char_indices().nth(BODY_SNIPPET_CHARS) {
        words.truncate(cut);
        words.push('…');
    }
    words
}

/// An error with its causes, each said once (reqwest's own text hides the reason, e.g. DNS).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The longest wait Meta asked for, from either header.
pub(crate) fn retry_hint(headers: &HeaderMap) -> Option<Duration> {
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let usage = headers
        .get(BUSINESS_USE_CASE_USAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_business_use_case_usage);
    retry_after.max(usage)
}

/// `Retry-After` in seconds (Meta does not send the HTTP-date form).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `X-Business-Use-Case-Usage`: `{"<business id>":[{"type":…,"estimated_time_to_regain_access":<minutes>},…]}`.
/// The largest estimate wins; 0 means "not throttled", so it gives no hint.
pub(crate) fn parse_business_use_case_usage(value: &str) -> Option<Duration> {
    let usage: serde_json::Value = serde_json::from_str(value).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_f64())
        .fold(0.0_f64, f64::max);
    (minutes > 0.0).then(|| Duration::from_secs_f64(minutes * 60.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::{Channel, Message, RetryLater};
    use reqwest::header::HeaderValue;

    #[test]
    fn codes_are_classified_by_metas_table() {
        let table: &[(i64, ErrorClass)] = &[
            (130429, RetryLater),
            (131056, RetryLater),
            (4, RetryLater),
            (80007, RetryLater),
            (131000, RetryLater),
            (131016, RetryLater),
            (2, RetryLater),
            (1, RetryLater),
            (133004, RetryLater),
            (131057, RetryLater),
            (131047, Message),
            (470, Message),
            (131026, Message),
            (131051, Message),
            (131053, Message),
            (131048, Message),
            (131049, Message),
            (131050, Message),
            (132000, Message),
            (132001, Message),
            (132005, Message),
            (132007, Message),
            (132012, Message),
            (132015, Message),
            (132016, Message),
            (132999, Message),
            (100, Message),
            (131008, Message),
            (131009, Message),
            (33, Message),
            (130472, Message),
            (131021, Message),
            (131042, Message),
            (190, Channel),
            (0, Channel),
            (131005, Channel),
            (10, Channel),
            (3, Channel),
            (200, Channel),
            (250, Channel),
            (299, Channel),
            (368, Channel),
            (131031, Channel),
            (130497, Channel),
            (133010, Channel),
        ];
        for &(code, expected) in table {
            // The status must not matter for a known code: try the ones sources disagree on.
            for status in [None, Some(400), Some(403), Some(429), Some(500)] {
                assert_eq!(
                    classify(Some(code), status),
                    expected,
                    "code {code} with status {status:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_the_status() {
        assert_eq!(classify(Some(999_999), Some(400)), Message);
        assert_eq!(classify(Some(999_999), Some(404)), Message);
        assert_eq!(classify(Some(999_999), Some(500)), RetryLater);
        assert_eq!(classify(Some(999_999), Some(503)), RetryLater);
        assert_eq!(classify(None, Some(502)), RetryLater);
        assert_eq!(classify(None, Some(429)), RetryLater);
        assert_eq!(classify(None, Some(400)), Message);
        assert_eq!(classify(None, None), RetryLater);
        // The neighbours of the ranges are not swept in.
        assert_eq!(classify(Some(131999), Some(400)), Message);
        assert_eq!(classify(Some(133000), Some(500)), RetryLater);
        assert_eq!(classify(Some(300), Some(500)), RetryLater);
        assert_eq!(classify(Some(199), Some(500)), RetryLater);
    }

    fn error(code: i64, message: &str, details: Option<&str>) -> GraphError {
        let mut error = GraphError::local(classify(Some(code), Some(400)), message);
        error.code = Some(code);
        error.details = details.map(str::to_string);
        error
    }

    #[test]
    fn a_closed_window_is_explained_as_such() {
        let meta = error(
            131047,
            "(#131047) Re-engagement message",
            Some("Message failed to send because more than 24 hours have passed"),
        );
        assert_eq!(meta.reason(), WINDOW_CLOSED_REASON);
        assert_eq!(
            error(470, "legacy", None).reason(),
            "the 24-hour window is closed: send an approved template"
        );
        assert_eq!(meta.to_string(), WINDOW_CLOSED_REASON);
    }

    #[test]
    fn a_refusal_without_details_is_explained_by_metas_sentence_for_people() {
        let body = br#"{"error":{"message":"Invalid parameter","code":100,"error_subcode":2388024,
            "error_user_title":"Duplicate","error_user_msg":"Content in this language already exists"}}"#;
        let error = GraphError::from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), body);
        assert_eq!(
            error.details.as_deref(),
            Some("Content in this language already exists")
        );
        let with_details = br#"{"error":{"message":"x","code":131009,"error_user_msg":"y",
            "error_data":{"details":"Parameter value is not valid"}}}"#;
        let error =
            GraphError::from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), with_details);
        assert_eq!(
            error.details.as_deref(),
            Some("Parameter value is not valid")
        );
    }

    #[test]
    fn other_reasons_quote_code_message_and_details() {
        let meta = error(
            130429,
            "(#130429) Rate limit hit",
            Some("Cloud API message throughput has been reached."),
        );
        assert_eq!(
            meta.reason(),
            "(#130429) Rate limit hit: Cloud API message throughput has been reached."
        );
        assert_eq!(
            error(131026, "Message undeliverable", None).reason(),
            "(#131026) Message undeliverable"
        );
        let ours = GraphError::local(RetryLater, "send: timed out");
        assert_eq!(ours.reason(), "send: timed out");
        assert!(meta.is_throughput_limit() && !meta.is_pair_limit());
        assert!(error(131056, "(#131056) Pair rate limit", None).is_pair_limit());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 5 "), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn business_use_case_usage_is_read_in_minutes() {
        let header = r#"{"102290129340398":[{"type":"whatsapp_business_management","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3},{"type":"messaging","call_count":5,"estimated_time_to_regain_access":0}]}"#;
        assert_eq!(
            parse_business_use_case_usage(header),
            Some(Duration::from_secs(180))
        );
        let not_throttled =
            r#"{"1":[{"type":"messaging","call_count":5,"estimated_time_to_regain_access":0}]}"#;
        assert_eq!(parse_business_use_case_usage(not_throttled), None);
        assert_eq!(parse_business_use_case_usage("not json"), None);
    }

    #[test]
    fn the_longest_hint_from_either_header_wins() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_hint(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("20"));
        assert_eq!(retry_hint(&headers), Some(Duration::from_secs(20)));
        headers.insert(
            BUSINESS_USE_CASE_USAGE,
            HeaderValue::from_static(r#"{"1":[{"estimated_time_to_regain_access":1}]}"#),
        );
        assert_eq!(retry_hint(&headers), Some(Duration::from_secs(60)));
    }

    #[test]
    fn metas_error_body_is_read() {
        let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
            "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},
            "error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let error = GraphError::from_response(StatusCode::BAD_REQUEST, &headers, body);
        assert_eq!(error.class, RetryLater);
        assert_eq!(error.code, Some(130429));
        assert_eq!(error.subcode, Some(2494055));
        assert_eq!(error.http_status, Some(400));
        assert_eq!(
            error.details.as_deref(),
            Some("Cloud API message throughput has been reached.")
        );
        assert_eq!(error.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn a_body_that_is_not_a_graph_error_still_explains_itself() {
        let html = b"<html>\n  <body>Bad   Gateway</body>\n</html>";
        let error = GraphError::from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), html);
        assert_eq!(error.class, RetryLater);
        assert_eq!(error.http_status, Some(502));
        assert_eq!(error.code, None);
        assert!(error.message.contains("HTTP 502"), "{}", error.message);
        assert!(
            error.message.contains("<body>Bad Gateway</body>"),
            "{}",
            error.message
        );
        let forbidden = GraphError::from_response(StatusCode::FORBIDDEN, &HeaderMap::new(), b"");
        assert_eq!(forbidden.class, Message);
        assert!(forbidden.message.contains("(empty body)"));
        let long = "x".repeat(1000);
        let cut = GraphError::from_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            long.as_bytes(),
        );
        assert!(cut.message.len() < 400 && cut.message.ends_with('…'));
    }

    #[test]
    fn redaction_removes_the_token() {
        let body = br#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token EAAB-secret","code":190}}"#;
        let error = GraphError::from_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), body)
            .redact("EAAB-secret");
        assert_eq!(error.class, Channel);
        assert!(
            !error.reason().contains("EAAB-secret"),
            "{}",
            error.reason()
        );
        assert!(error.reason().contains("[redacted]"));
    }
}
