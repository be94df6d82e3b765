//! Posting one webhook the way Meta does: the body's exact bytes, signed with the app secret.

use serde_json::Value;

use crate::payloads;

/// The receiver's answer to an accepted webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("cannot post to {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Anything but 200 (Meta treats every other answer as a failure and retries).
    #[error("the webhook answered HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
}

/// Posts `payload` (serialized in Meta's wire style) to `url` with `X-Hub-Signature-256` when
/// `app_secret` is given. Succeeds only on HTTP 200.
pub async fn post_webhook(
    client: &reqwest::Client,
    url: &str,
    app_secret: Option<&str>,
    payload: &Value,
) -> Result<Delivered, InboundError> {
    let body = payloads::to_wire(payload);
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "facebookexternalua");
    if let Some(secret) = app_secret {
        request = request.header("X-Hub-Signature-256", crate::sign(secret.as_bytes(), &body));
    }
    let unreachable = |source| InboundError::Unreachable {
        url: url.to_string(),
        source,
    };
    let response = request.body(body).send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(unreachable)?;
    if status == 200 {
        Ok(Delivered { status, body })
    } else {
        Err(InboundError::Rejected { status, body })
    }
}
