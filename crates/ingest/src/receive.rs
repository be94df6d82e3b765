//! `POST`: the ack path. Verify, parse minimally, route, store event + job, answer.
//! Nothing here waits on anything but the one group commit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::{Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use serde_json::json;
use switchboard_domain::EventStatus;
use switchboard_store::models::{WebhookEvent, new_id, now};
use switchboard_store::repo::webhooks::EventInsert;

use crate::directory::{ChannelRoute, Snapshot};
use crate::envelope::{self, Routing};
use crate::signature::{self, Signature};
use crate::{Ingest, IngestError};

/// How long after a reload a miss (unknown number, unmatched signature) may reload again.
const MISS_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

enum Accepted {
    Stored,
    Duplicate,
    Ignored,
}

pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    ingest: web::Data<Ingest>,
) -> HttpResponse {
    let started = Instant::now();
    metrics::counter!("switchboard_webhooks_received_total").increment(1);
    let response = match accept(&req, payload, &ingest).await {
        Ok(accepted) => {
            let status = match accepted {
                Accepted::Stored => "stored",
                Accepted::Duplicate => "duplicate",
                Accepted::Ignored => "ignored",
            };
            metrics::counter!("switchboard_webhooks_accepted_total", "outcome" => status)
                .increment(1);
            HttpResponse::Ok().json(json!({ "status": status }))
        }
        Err(e) => {
            metrics::counter!("switchboard_webhooks_rejected_total", "reason" => e.code())
                .increment(1);
            e.error_response()
        }
    };
    metrics::histogram!("switchboard_webhook_ack_seconds").record(started.elapsed().as_secs_f64());
    response
}

async fn accept(
    req: &HttpRequest,
    payload: web::Payload,
    ingest: &Ingest,
) -> Result<Accepted, IngestError> {
    let body = read_body(req, payload, ingest.settings.max_body_bytes).await?;
    let signature = Signature::parse(req.headers().get(signature::HEADER).map(|v| v.as_bytes()));
    // Bodies are only parsed once a signature matched one of the app secrets.
    let mut checked = check(
        &ingest.directory.snapshot(),
        &ingest.settings,
        &signature,
        &body,
    );
    if checked.as_ref().is_err_and(Miss::may_be_stale)
        || checked
            .as_ref()
            .is_ok_and(|c| !c.routing.unrouted.is_empty())
    {
        let fresh = ingest
            .directory
            .refresh_after_miss(MISS_RELOAD_INTERVAL)
            .await;
        checked = check(&fresh, &ingest.settings, &signature, &body);
    }
    let Checked { routing } = checked.map_err(|miss| miss.error)?;

    let route = routing.channels.first();
    if !routing.unrouted.is_empty() {
        tracing::warn!(
            unknown = ?routing.unrouted,
            "webhook for a number no channel has: stored for the record; add it with `switchboard channel add`"
        );
    }
    let event = new_event(req, body, route);
    let ignored = route.is_none();
    match ingest.writer.write(event).await {
        Ok(EventInsert::Duplicate) => Ok(Accepted::Duplicate),
        Ok(EventInsert::Stored) if ignored => Ok(Accepted::Ignored),
        Ok(EventInsert::Stored) => Ok(Accepted::Stored),
        Err(e) => {
            tracing::error!(error = %e, "could not store a webhook; answering 503 so Meta retries");
            Err(IngestError::StorageUnavailable)
        }
    }
}

struct Checked {
    routing: Routing,
}

struct Miss {
    error: IngestError,
    /// A reload of the channels could change the verdict.
    stale: bool,
}

impl Miss {
    fn may_be_stale(&self) -> bool {
        self.stale
    }
}

/// Signature first (fail closed), then the minimal parse, routing, and the rule that a body
/// must be signed with the secret of the channel it is addressed to.
fn check(
    snapshot: &Arc<Snapshot>,
    settings: &crate::IngestSettings,
    signature: &Signature,
    body: &[u8],
) -> Result<Checked, Miss> {
    let enforce = settings.production || !snapshot.app_secrets().is_empty();
    let matched = if enforce {
        match signature {
            Signature::Missing => {
                return Err(Miss {
                    error: IngestError::SignatureMissing,
                    stale: false,
                });
            }
            Signature::Malformed => {
                return Err(Miss {
                    error: IngestError::SignatureInvalid(
                        "any app secret (it is not sha256=<64 hex digits>)",
                    ),
                    stale: false,
                });
            }
            Signature::Present(tag) => {
                let matched = snapshot.matching_secrets(body, tag);
                if matched.is_empty() {
                    return Err(Miss {
                        error: IngestError::SignatureInvalid("any configured app secret"),
                        stale: true,
                    });
                }
                matched
            }
        }
    } else {
        Vec::new()
    };
    let addresses = envelope::parse(body).map_err(|e| Miss {
        error: IngestError::PayloadInvalid(e.to_string()),
        stale: false,
    })?;
    let routing = envelope::route(&addresses, snapshot);
    if enforce {
        for channel in &routing.channels {
            signed_for(channel, &matched)?;
        }
    }
    Ok(Checked { routing })
}

fn signed_for(channel: &ChannelRoute, matched: &[usize]) -> Result<(), Miss> {
    match channel.app_secret {
        Some(index) if matched.contains(&index) => Ok(()),
        Some(_) => Err(Miss {
            error: IngestError::SignatureInvalid(
                "the app secret of the channel it is addressed to",
            ),
            stale: true,
        }),
        None => {
            tracing::warn!(phone_number_id = %channel.phone_number_id, "channel has no app secret, so its webhooks cannot be verified");
            Err(Miss {
                error: IngestError::SignatureInvalid(
                    "its channel's app secret, which is not configured",
                ),
                stale: true,
            })
        }
    }
}

fn new_event(req: &HttpRequest, body: Bytes, route: Option<&ChannelRoute>) -> WebhookEvent {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let headers = json!({
        "content-type": header("content-type"),
        "user-agent": header("user-agent"),
        "x-hub-signature-256": header(signature::HEADER),
    });
    let status = if route.is_some() {
        EventStatus::Pending
    } else {
        EventStatus::Ignored
    };
    WebhookEvent {
        id: new_id(),
        organization_id: route.map(|r| r.organization_id.clone()),
        channel_id: route.map(|r| r.channel_id.clone()),
        provider: "WHATSAPP".into(),
        body_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &body)),
        body: body.to_vec(),
        headers: headers.to_string(),
        status: status.as_str().into(),
        error: None,
        received_at: now(),
        processed_at: None,
    }
}

/// Reads the raw bytes, refusing anything over `limit` (by Content-Length before reading).
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, IngestError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(IngestError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| IngestError::PayloadInvalid(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
