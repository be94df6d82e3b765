//! `GET` verification: Meta's handshake when the callback URL is saved in the App Dashboard.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use switchboard_store::crypto::constant_time_eq;

use crate::{Ingest, IngestError};

pub async fn verify(
    query: web::Query<HashMap<String, String>>,
    ingest: web::Data<Ingest>,
) -> Result<HttpResponse, IngestError> {
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query.get("hub.verify_token").map(String::as_str);
    let challenge = query.get("hub.challenge");
    let failure = |reason: String| {
        tracing::warn!(reason = %reason, "webhook verification refused");
        metrics::counter!("switchboard_webhook_verifications_total", "outcome" => "refused")
            .increment(1);
        IngestError::VerifyFailed(reason)
    };
    match mode {
        None => {
            return Err(failure(
                "hub.mode is missing: Meta sends hub.mode=subscribe".into(),
            ));
        }
        Some("subscribe") => {}
        Some(other) => {
            return Err(failure(format!(
                "hub.mode is '{other}', expected 'subscribe'"
            )));
        }
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(failure("hub.verify_token is missing".into()));
    };
    let Some(challenge) = challenge else {
        return Err(failure(
            "hub.challenge is missing: there is nothing to echo".into(),
        ));
    };
    let matches = |tokens: &[String]| {
        tokens
            .iter()
            .any(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
    };
    let mut snapshot = ingest.directory.snapshot();
    if !matches(snapshot.verify_tokens()) {
        // Perhaps the channel was added a moment ago by another process.
        snapshot = ingest
            .directory
            .refresh_after_miss(Duration::from_secs(1))
            .await;
    }
    if snapshot.verify_tokens().is_empty() {
        return Err(failure(
            "no channel has a verify token configured: set WHATSAPP_VERIFY_TOKEN or `switchboard channel add --verify-token`".into(),
        ));
    }
    if !matches(snapshot.verify_tokens()) {
        return Err(failure(
            "hub.verify_token matches no channel's verify token: type the same string in Meta's webhook settings".into(),
        ));
    }
    tracing::info!("webhook verification accepted");
    metrics::counter!("switchboard_webhook_verifications_total", "outcome" => "accepted")
        .increment(1);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(challenge.clone()))
}
