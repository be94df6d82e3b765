//! `DELIVER_EVENT` `{"deliveryId"}`: POSTs one event to one subscriber's URL, signed with the
//! subscription's secret, and records how it went on the delivery.
//!
//! - 2xx: DELIVERED, and the subscription's failures in a row go back to 0.
//! - Anything else (3xx included: redirects are not followed, so a receiver cannot bounce a
//!   signed event to another host), a timeout (10 s) or no connection: FAILED with the status,
//!   the first KiB of the answer and the error, retried with the runner's backoff (a
//!   `Retry-After` in seconds on 429 and 503 is honoured). 4xx answers are retried too: a
//!   receiver refusing everything is usually misconfigured for a while (a rotated secret, a
//!   deploy), not forever, and redelivery by hand is the only other way back.
//! - The last attempt (`job.attempts >= job.max_attempts`: the runner dead-letters the job
//!   after it) makes the delivery DEAD; when nothing reached that URL since the event was first
//!   tried, the subscription is disabled (see `subscriptions::disable_if_down`).
//!
//! Idempotent: a delivery already DELIVERED, or taken over by a newer job (a redeliver), is
//! not sent again by this one. A receiver may still see an event twice (an answer lost to a
//! timeout): the event id in the body is the same every time, for it to drop repeats.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde::Deserialize;
use switchboard_graph::error_chain;
use switchboard_store::models::{IntegrationJob, WebhookDelivery, WebhookSubscription};
use switchboard_store::repo::subscriptions::{
    self, Attempt, DELIVERED, RESPONSE_BODY_BYTES, Recorded,
};
use switchboard_store::{SecretBox, StoreError};

use super::refusal::organization_of;
use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

/// Who is calling, for receivers' logs and firewalls.
pub const USER_AGENT: &str = concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION"));
pub const SIGNATURE_HEADER: &str = "X-Switchboard-Signature";
pub const EVENT_HEADER: &str = "X-Switchboard-Event";
pub const DELIVERY_HEADER: &str = "X-Switchboard-Delivery";

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Whole-request limit: a receiver should answer at once and do its work afterwards.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliverPayload {
    delivery_id: String,
}

/// The `DELIVER_EVENT` handler: the master key (to open signing secrets) and one HTTP client
/// for every receiver.
pub struct DeliverEvent {
    secrets: Arc<SecretBox>,
    http: reqwest::Client,
    timeout: Duration,
}

impl DeliverEvent {
    pub fn new(secrets: Arc<SecretBox>, config: DeliveryConfig) -> Result<Self, StoreError> {
        // reqwest is built without a crypto provider; ring is ours (as in the Graph client).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                StoreError::Internal(format!("the webhook HTTP client could not be built: {e}"))
            })?;
        Ok(Self {
            secrets,
            http,
            timeout: config.timeout,
        })
    }

    async fn deliver(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let DeliverPayload { delivery_id } = serde_json::from_str(&job.payload).map_err(|e| {
            JobError::permanent(format!("the DELIVER_EVENT payload is not valid: {e}"))
        })?;
        let org = organization_of(job)?;
        let Some((delivery, subscription)) = load(ctx, &org, &delivery_id).await? else {
            tracing::info!(delivery = %delivery_id, "the delivery or its subscription was deleted: nothing to send");
            return Ok(());
        };
        if delivery.job_id.as_deref() != Some(job.id.as_str()) || delivery.status == DELIVERED {
            tracing::debug!(delivery = %delivery.id, "delivered already, or redelivered by a newer job");
            return Ok(());
        }
        if !subscription.enabled {
            return Err(abandon(ctx, &delivery, job, &subscription).await);
        }
        let secret = subscription.open_secret(&self.secrets)?;
        let started = std::time::Instant::now();
        let answer = self.post(&subscription.url, &delivery, &secret).await;
        metrics::histogram!("switchboard_event_delivery_seconds")
            .record(started.elapsed().as_secs_f64());
        let last = job.attempts >= job.max_attempts || !answer.retryable;
        let recorded = record(ctx, &delivery, job, &answer, last).await?;
        report(&delivery, &subscription, &answer, &recorded);
        answer.into_outcome()
    }

    /// POSTs the delivery's body exactly as stored, signed now.
    async fn post(&self, url: &str, delivery: &WebhookDelivery, secret: &str) -> Answer {
        let timestamp = chrono::Utc::now().timestamp();
        let sent = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, &delivery.event_type)
            .header(DELIVERY_HEADER, &delivery.id)
            .header(
                SIGNATURE_HEADER,
                signature(secret, timestamp, delivery.body.as_bytes()),
            )
            .body(delivery.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => Answer::from_response(response).await,
            Err(e) => Answer::unreachable(e, self.timeout),
        }
    }
}

impl JobHandler for DeliverEvent {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.deliver(ctx, job))
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the whole secret
/// (`whsec_…` as shown). What docs/api.md tells receivers to recompute.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut mac = ring::hmac::Context::with_key(&key);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.sign().as_ref()))
}

/// The delivery and its subscription; None when either is gone.
async fn load(
    ctx: &JobContext,
    org: &str,
    delivery_id: &str,
) -> Result<Option<(WebhookDelivery, WebhookSubscription)>, JobError> {
    let (org, id) = (org.to_string(), delivery_id.to_string());
    Ok(ctx
        .db
        .run(move |c| {
            let Some(delivery) = subscriptions::find_delivery(c, &org, &id)? else {
                return Ok(None);
            };
            let subscription =
                subscriptions::find_subscription(c, &org, &delivery.subscription_id)?;
            Ok(subscription.map(|s| (delivery, s)))
        })
        .await?)
}

/// The subscription was disabled: the delivery is DEAD (redeliver it once it is enabled) and
/// so is the job.
async fn abandon(
    ctx: &JobContext,
    delivery: &WebhookDelivery,
    job: &IntegrationJob,
    subscription: &WebhookSubscription,
) -> JobError {
    let reason = format!(
        "not sent: webhook subscription {} is disabled ({}); enable it, then redeliver this delivery",
        subscription.id,
        subscription
            .disabled_reason
            .as_deref()
            .unwrap_or("no reason recorded"),
    );
    let (id, job_id, why) = (delivery.id.clone(), job.id.clone(), reason.clone());
    if let Err(e) = ctx
        .db
        .run_write(move |c| subscriptions::abandon_delivery(c, &id, &job_id, &why))
        .await
    {
        return JobError::from(e);
    }
    metrics::counter!("switchboard_event_deliveries_total", "result" => "abandoned").increment(1);
    JobError::permanent(reason)
}

async fn record(
    ctx: &JobContext,
    delivery: &WebhookDelivery,
    job: &IntegrationJob,
    answer: &Answer,
    last: bool,
) -> Result<Recorded, JobError> {
    let (delivery_id, job_id) = (delivery.id.clone(), job.id.clone());
    let (status, body, error) = (answer.status, answer.body.clone(), answer.error.clone());
    let delivered = answer.delivered();
    Ok(ctx
        .db
        .run_write(move |c| {
            subscriptions::record_attempt(
                c,
                &Attempt {
                    delivery_id: &delivery_id,
                    job_id: &job_id,
                    response_status: status.map(i32::from),
                    response_body: body,
                    error,
                    delivered,
                    last,
                },
            )
        })
        .await?)
}

/// Counts the attempt, and says loudly when a subscription was disabled.
fn report(
    delivery: &WebhookDelivery,
    subscription: &WebhookSubscription,
    answer: &Answer,
    recorded: &Recorded,
) {
    let result = match recorded {
        Recorded::Superseded => "superseded",
        Recorded::Status(status) => match *status {
            subscriptions::DELIVERED => "delivered",
            subscriptions::DEAD => "dead",
            _ => "failed",
        },
        Recorded::DeadAndDisabled(reason) => {
            tracing::warn!(subscription = %subscription.id, delivery = %delivery.id, reason = %reason,
                "webhook subscription disabled: its receiver kept failing");
            "dead"
        }
    };
    metrics::counter!("switchboard_event_deliveries_total", "result" => result).increment(1);
    if let Some(error) = &answer.error {
        tracing::info!(subscription = %subscription.id, delivery = %delivery.id, event = %delivery.event_type,
            http_status = ?answer.status, error = %error, "webhook delivery failed");
    }
}

/// What one POST got.
#[derive(Debug, Clone, Default)]
struct Answer {
    /// None: no answer (timeout, no connection).
    status: Option<u16>,
    /// The first KiB of the answer.
    body: Option<String>,
    /// Why it is not a success (None: delivered).
    error: Option<String>,
    retry_after: Option<Duration>,
    /// False when trying again cannot help (the URL cannot even be requested).
    retryable: bool,
}

impl Answer {
    fn delivered(&self) -> bool {
        self.error.is_none()
    }

    async fn from_response(response: reqwest::Response) -> Answer {
        let status = response.status();
        let retry_after = matches!(status.as_u16(), 429 | 503)
            .then(|| response.headers().get(RETRY_AFTER))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(crate::jira::parse_retry_after);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_prefix(response, RESPONSE_BODY_BYTES).await;
        let error = (!status.is_success()).then(|| refusal(status, location.as_deref()));
        Answer {
            status: Some(status.as_u16()),
            body: Some(body),
            error,
            retry_after,
            retryable: true,
        }
    }

    fn unreachable(error: reqwest::Error, timeout: Duration) -> Answer {
        // A request that could not even be built (a URL reqwest refuses) will not build next
        // time either.
        let retryable = !error.is_builder();
        let message = if error.is_timeout() {
            format!("no answer within {} s", timeout.as_secs_f32())
        } else if error.is_connect() {
            format!("could not connect: {}", error_chain(&error.without_url()))
        } else {
            // Without the URL: its query may hold the receiver's own token.
            error_chain(&error.without_url())
        };
        Answer {
            error: Some(message),
            retryable,
            ..Answer::default()
        }
    }

    fn into_outcome(self) -> Result<(), JobError> {
        match self.error {
            None => Ok(()),
            Some(message) if !self.retryable => Err(JobError::Permanent(message)),
            Some(message) => Err(JobError::Retry {
                message,
                after: self.retry_after,
            }),
        }
    }
}

fn refusal(status: reqwest::StatusCode, location: Option<&str>) -> String {
    let code = status.as_u16();
    match location.filter(|_| status.is_redirection()) {
        Some(to) => format!(
            "the receiver answered HTTP {code}, a redirect to {to}: redirects are not followed, point the subscription at the final URL"
        ),
        None => format!("the receiver answered HTTP {code}"),
    }
}

/// The first `limit` bytes of the answer (as text); the rest is not read.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(limit);
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_t_dot_body_in_hex() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let got = signature("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            got,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn redirects_say_where_they_pointed() {
        let text = refusal(
            reqwest::StatusCode::MOVED_PERMANENTLY,
            Some("https://elsewhere.example/x"),
        );
        assert!(
            text.contains("301") && text.contains("elsewhere.example"),
            "{text}"
        );
        assert_eq!(
            refusal(reqwest::StatusCode::INTERNAL_SERVER_ERROR, None),
            "the receiver answered HTTP 500"
        );
    }
}
