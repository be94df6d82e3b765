//! Meta-shaped errors: the catalogue of codes the sandbox can inject (reference §9) and the
//! Graph error body `{"error":{"message","type","code","error_data","fbtrace_id"}}`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::ids;

/// Where Meta's error-code page lives; failed status webhooks link to it in `href`.
pub const ERROR_CODES_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// One Meta error code: what a Graph answer and a `failed` status webhook say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaCode {
    pub code: i64,
    /// The title, as in `"(#<code>) <title>"` and in webhook `errors[].title`.
    pub title: &'static str,
    /// `error_data.details`.
    pub details: &'static str,
    pub error_subcode: Option<i64>,
    /// The HTTP status of a synchronous answer: 401 for 190, 400 for the rest.
    pub http_status: u16,
}

macro_rules! code {
    ($code:expr, $title:expr, $details:expr) => {
        MetaCode {
            code: $code,
            title: $title,
            details: $details,
            error_subcode: None,
            http_status: 400,
        }
    };
}

/// Every code `--error-rate` and `--fail-async` accept.
pub const CATALOGUE: &[MetaCode] = &[
    MetaCode {
        code: 130429,
        title: "Rate limit hit",
        details: "Cloud API message throughput has been reached.",
        error_subcode: Some(2494055),
        http_status: 400,
    },
    code!(
        131056,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time."
    ),
    code!(
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
    ),
    code!(
        131026,
        "Message undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number; the recipient has not accepted WhatsApp's latest Terms of Service and Privacy Policy; the recipient is using an old WhatsApp version."
    ),
    MetaCode {
        code: 190,
        title: "Error validating access token: Session has expired",
        details: "The access token has expired; generate a new one.",
        error_subcode: Some(463),
        http_status: 401,
    },
    code!(
        131000,
        "Something went wrong",
        "Message failed to send due to an unknown error. Try again later."
    ),
    code!(
        131016,
        "Service unavailable",
        "A service is temporarily unavailable. Please check the status page and try again later."
    ),
    code!(
        131048,
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam."
    ),
    code!(
        131049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."
    ),
    code!(
        131050,
        "User has stopped marketing messages",
        "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."
    ),
    code!(
        131053,
        "Media upload error",
        "Unable to upload the media used in the message."
    ),
    code!(
        131057,
        "Account in maintenance mode",
        "Business Account is in maintenance mode. This may be because the account is undergoing a throughput upgrade."
    ),
    code!(
        130472,
        "User's number is part of an experiment",
        "Failed to send message because this user's phone number is part of an experiment"
    ),
    code!(
        132001,
        "Template name does not exist in the translation",
        "The template does not exist in the specified language or has not been approved."
    ),
    code!(
        132015,
        "Template is Paused",
        "The template is paused due to low quality, so it cannot be sent in a template message."
    ),
    code!(
        133010,
        "Account not registered",
        "The phone number is not registered on the WhatsApp Business Platform."
    ),
    code!(
        368,
        "Temporarily blocked for policies violations",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy."
    ),
    code!(
        131031,
        "Account has been locked",
        "The WhatsApp Business Account associated with the app has been restricted or disabled for violating a platform policy, or the data in the request could not be verified against the account."
    ),
    code!(
        4,
        "Application request limit reached",
        "Too many API calls for the app."
    ),
    code!(
        80007,
        "Rate limit issues",
        "The WhatsApp Business Account has reached its rate limit."
    ),
];

/// The catalogue entry of `code`, if the sandbox knows it.
pub fn lookup(code: i64) -> Option<&'static MetaCode> {
    CATALOGUE.iter().find(|c| c.code == code)
}

/// The codes of the catalogue, comma-separated (for help texts and error messages).
pub fn known_codes() -> String {
    CATALOGUE
        .iter()
        .map(|c| c.code.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl MetaCode {
    /// `"(#130429) Rate limit hit"`, or for 190 Graph's own wording with the expiry time.
    pub fn message(&self) -> String {
        if self.code == 190 {
            let now = chrono::Utc::now();
            let expired = now - chrono::Duration::hours(1);
            format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                expired.format("%A, %d-%b-%y %H:%M:%S UTC"),
                now.format("%A, %d-%b-%y %H:%M:%S UTC"),
            )
        } else {
            format!("(#{}) {}", self.code, self.title)
        }
    }

    /// The synchronous Graph answer for this code.
    pub fn body(&self) -> Value {
        let mut error = json!({
            "message": self.message(),
            "type": "OAuthException",
            "code": self.code,
            "fbtrace_id": ids::fbtrace_id(),
        });
        if self.code != 190 {
            error["error_data"] = json!({
                "messaging_product": "whatsapp",
                "details": self.details,
            });
        }
        if let Some(subcode) = self.error_subcode {
            error["error_subcode"] = json!(subcode);
        }
        json!({ "error": error })
    }

    /// One element of a `failed` status's `errors[]`.
    pub fn webhook_error(&self) -> Value {
        json!({
            "code": self.code,
            "title": self.title,
            "message": self.title,
            "error_data": { "details": self.details },
            "href": ERROR_CODES_HREF,
        })
    }

    pub fn response(&self) -> HttpResponse {
        graph_response(self.http_status, self.body())
    }
}

/// A Graph error body with any code and message (`details` goes to `error_data`).
pub fn graph_error(
    code: i64,
    error_type: &str,
    message: &str,
    details: Option<&str>,
    error_subcode: Option<i64>,
) -> Value {
    let mut error = json!({
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": ids::fbtrace_id(),
    });
    if let Some(details) = details {
        error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
    }
    if let Some(subcode) = error_subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({ "error": error })
}

/// A Graph error answer: the JSON body plus the `WWW-Authenticate` header Graph adds to errors.
pub fn graph_response(status: u16, body: Value) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let kind = if status == StatusCode::UNAUTHORIZED {
        "invalid_token"
    } else {
        "invalid_request"
    };
    // Header values must be visible ASCII; every message here is.
    let challenge = format!(
        "OAuth \"Facebook Platform\" \"{kind}\" \"{}\"",
        message.replace('"', "'")
    );
    let mut response = crate::wire::json_response(status, &body);
    if challenge.bytes().all(|b| (0x20..0x7f).contains(&b))
        && let Ok(value) = actix_web::http::header::HeaderValue::from_str(&challenge)
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `(#100)`: a malformed request. `message` is Graph's headline, `details` says what is wrong.
pub fn invalid_parameter(message: &str, details: &str) -> HttpResponse {
    graph_response(
        400,
        graph_error(100, "OAuthException", message, Some(details), None),
    )
}

/// `(#100) The parameter <name> is required.`
pub fn missing_parameter(name: &str, details: &str) -> HttpResponse {
    invalid_parameter(
        &format!("(#100) The parameter {name} is required."),
        details,
    )
}

/// An id the sandbox does not know (Graph's "Unsupported get request" with subcode 33).
pub fn unknown_object(method: &str, id: &str) -> HttpResponse {
    let message = format!(
        "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    );
    graph_response(
        400,
        graph_error(100, "GraphMethodException", &message, None, Some(33)),
    )
}

/// A 190 for a missing or refused access token.
pub fn unauthorized(message: &str) -> HttpResponse {
    graph_response(401, graph_error(190, "OAuthException", message, None, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_the_brief_ones_are_there() {
        for code in [130429, 131056, 131047, 131026, 190, 131000] {
            assert!(lookup(code).is_some(), "{code}");
        }
        let mut codes: Vec<_> = CATALOGUE.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), CATALOGUE.len());
    }

    #[test]
    fn rate_limit_body_matches_the_documented_example() {
        let body = lookup(130429).unwrap().body();
        assert_eq!(body["error"]["message"], "(#130429) Rate limit hit");
        assert_eq!(body["error"]["type"], "OAuthException");
        assert_eq!(body["error"]["code"], 130429);
        assert_eq!(body["error"]["error_subcode"], 2494055);
        assert_eq!(body["error"]["error_data"]["messaging_product"], "whatsapp");
        assert_eq!(
            body["error"]["error_data"]["details"],
            "Cloud API message throughput has been reached."
        );
        assert!(body["error"]["fbtrace_id"].as_str().unwrap().len() > 10);
    }

    #[test]
    fn expired_token_reads_like_graph() {
        let code = lookup(190).unwrap();
        assert_eq!(code.http_status, 401);
        let body = code.body();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("Error validating access token: Session has expired on "));
        assert_eq!(body["error"]["error_subcode"], 463);
        assert!(body["error"].get("error_data").is_none());
    }
}
