//! The Graph endpoints a WhatsApp client calls: sends and mark-as-read, listing and creating
//! templates, and what they share (latency, version segment, bearer token).

use std::collections::HashMap;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::config::ErrorKind;
use crate::delivery::{self, Accepted};
use crate::errors;
use crate::ids;
use crate::server::State;
use crate::stats::{AcceptedMessage, MarkedRead};
use crate::templates;
use crate::validate::{self, Invalid};
use crate::wire::json_response;

/// `v25.0`, `v19.0`, `v26` …
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let mut pieces = rest.splitn(2, '.');
    let major = pieces.next().unwrap_or_default();
    let minor = pieces.next().unwrap_or("0");
    !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && !minor.is_empty()
        && minor.bytes().all(|b| b.is_ascii_digit())
}

/// The token of `Authorization: Bearer …` (or `OAuth …`), else an `access_token` query parameter.
fn access_token(req: &HttpRequest) -> Option<String> {
    let from_header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")
        })
        .map(|(_, token)| token.trim().to_string())
        .filter(|t| !t.is_empty());
    from_header.or_else(|| {
        web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("access_token").cloned())
            .filter(|t| !t.is_empty())
    })
}

/// The refusal of a request without a bearer token, or with another one than `--access-token`.
pub(crate) fn refuse_token(state: &State, req: &HttpRequest) -> Option<HttpResponse> {
    match (access_token(req), &state.config.access_token) {
        (None, _) => Some(errors::unauthorized(
            "An access token is required to request this resource.",
        )),
        (Some(given), Some(expected)) if given != *expected => Some(errors::unauthorized(
            "Invalid OAuth access token - Cannot parse access token",
        )),
        _ => None,
    }
}

/// Graph's answer to a path it does not know.
pub(crate) fn unknown_path_response(path: &str) -> HttpResponse {
    errors::graph_response(
        400,
        errors::graph_error(
            2500,
            "OAuthException",
            &format!("Unknown path components: {path}"),
            None,
            None,
        ),
    )
}

pub(crate) async fn unknown_path(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    latency(&state).await;
    unknown_path_response(req.path())
}

async fn latency(state: &State) {
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
}

/// What every Graph call goes through: the injected latency, then the version segment and
/// the token are checked. `Some` is the refusal to answer with.
pub(crate) async fn prelude(
    state: &State,
    req: &HttpRequest,
    version: Option<&str>,
) -> Option<HttpResponse> {
    latency(state).await;
    if version.is_some_and(|v| !is_version(v)) {
        return Some(unknown_path_response(req.path()));
    }
    refuse_token(state, req)
}

/// Picks at most one entry of `table` (fractions adding up to 1 at most).
fn draw<T: Copy>(table: &[(T, f64)]) -> Option<T> {
    if table.is_empty() {
        return None;
    }
    let roll = fastrand::f64();
    let mut total = 0.0;
    for (item, rate) in table {
        total += rate;
        if roll < total {
            return Some(*item);
        }
    }
    None
}

async fn injected(state: &State, kind: ErrorKind) -> HttpResponse {
    match kind {
        ErrorKind::Meta(code) => match errors::lookup(code) {
            Some(meta) => meta.response(),
            None => HttpResponse::InternalServerError().finish(),
        },
        ErrorKind::Http500 => HttpResponse::InternalServerError()
            .content_type("text/html; charset=utf-8")
            .body(
                "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>\
                 <body><h1>Sorry, something went wrong.</h1><p>The sandbox injected this error.</p></body></html>",
            ),
        ErrorKind::Timeout => {
            let mut shutdown = state.shutdown.clone();
            let stopping = async move {
                if shutdown.wait_for(|stop| *stop).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(state.config.timeout_hold) => {}
                () = stopping => {}
            }
            HttpResponse::GatewayTimeout()
                .content_type("text/plain; charset=utf-8")
                .body("sandbox: injected timeout, request released")
        }
    }
}

/// `POST /{version}/{phone_number_id}/messages`: a send, or a mark-as-read.
pub(crate) async fn messages(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let arrival = Instant::now();
    let arrived_at = chrono::Utc::now();
    let (version, phone_number_id) = path.into_inner();
    let parsed = validate::parse_body(&body);
    let is_read = parsed.as_ref().is_ok_and(validate::is_mark_read);
    let refuse = |response: HttpResponse| {
        if !is_read {
            state.book().reject();
        }
        response
    };
    if let Some(response) = prelude(&state, &req, Some(&version)).await {
        return refuse(response);
    }
    if phone_number_id.is_empty() || !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
        return refuse(errors::unknown_object("post", &phone_number_id));
    }
    if let Some(kind) = draw(&state.config.error_rates) {
        {
            // Counted on arrival: a held `timeout` shows up in the stats at once.
            let mut book = state.book();
            book.injected(kind.to_string());
            if !is_read {
                book.reject();
            }
        }
        tracing::debug!(error = %kind, "injected error");
        return injected(&state, kind).await;
    }
    let body = match parsed {
        Ok(body) => body,
        Err(invalid) => return refuse(invalid.response()),
    };
    if is_read {
        return mark_read(&state, &phone_number_id, &body);
    }
    let send = match validate::send(&body) {
        Ok(send) => send,
        Err(invalid) => return refuse(invalid.response()),
    };
    let wamid = ids::outgoing_wamid(&send.wa_id);
    let async_failure = draw(&state.config.async_failures);
    let template_category = send.template_name.as_deref().map(|name| {
        state
            .catalogue()
            .category_of(name)
            .unwrap_or_else(|| "utility".into())
    });
    {
        let mut book = state.book();
        book.accept(
            arrival,
            AcceptedMessage {
                wamid: wamid.clone(),
                to: send.to.clone(),
                wa_id: send.wa_id.clone(),
                phone_number_id: phone_number_id.clone(),
                kind: send.kind.clone(),
                body: Value::Object(body),
                accepted_at: arrived_at,
            },
        );
        if let Some(code) = async_failure {
            book.async_failure(code);
        }
    }
    if let Some(scheduler) = &state.scheduler {
        scheduler.submit(delivery::plan(
            &state.config,
            &Accepted {
                wamid: &wamid,
                recipient_id: &send.wa_id,
                phone_number_id: &phone_number_id,
                kind: &send.kind,
                biz_opaque_callback_data: send.biz_opaque_callback_data.as_deref(),
                template_category: template_category.as_deref(),
                async_failure,
                at: Instant::now(),
                unix_ms: chrono::Utc::now().timestamp_millis(),
            },
        ));
    }
    let mut message = json!({ "id": wamid });
    if send.kind == "template" {
        message["message_status"] = json!("accepted");
    }
    json_response(
        StatusCode::OK,
        &json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": send.to, "wa_id": send.wa_id }],
            "messages": [message],
        }),
    )
}

fn mark_read(
    state: &State,
    phone_number_id: &str,
    body: &serde_json::Map<String, Value>,
) -> HttpResponse {
    let read = match validate::mark_read(body) {
        Ok(read) => read,
        Err(invalid) => return invalid.response(),
    };
    if !is_wamid(&read.message_id) {
        return Invalid {
            message: "(#100) Invalid parameter".into(),
            details: format!(
                "Message ID {} is not a WhatsApp message ID. Please use the ID (wamid.…) of a message the customer sent.",
                read.message_id
            ),
        }
        .response();
    }
    let mut book = state.book();
    if book.is_outgoing(&read.message_id) {
        return Invalid {
            message: "(#100) Invalid parameter".into(),
            details: format!(
                "Message supplied to mark message as read API with message ID: {} is outgoing. Please use an incoming message ID.",
                read.message_id
            ),
        }
        .response();
    }
    book.mark_read(MarkedRead {
        message_id: read.message_id,
        phone_number_id: phone_number_id.to_string(),
        typing_indicator: body.contains_key("typing_indicator"),
        read_at: chrono::Utc::now(),
    });
    json_response(StatusCode::OK, &json!({ "success": true }))
}

/// `wamid.` and then base64 (standard or URL-safe): every Cloud API message id has this form.
fn is_wamid(id: &str) -> bool {
    id.strip_prefix("wamid.").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
    })
}

/// `GET /{version}/{waba_id}/message_templates`.
pub(crate) async fn templates(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (version, waba_id) = path.into_inner();
    if let Some(response) = prelude(&state, &req, Some(&version)).await {
        return response;
    }
    if waba_id.is_empty() || !waba_id.bytes().all(|b| b.is_ascii_digit()) {
        return errors::unknown_object("get", &waba_id);
    }
    let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let info = req.connection_info();
    let self_url = format!("{}://{}{}", info.scheme(), info.host(), req.path());
    let listed = state.catalogue().list(&waba_id);
    match templates::page(&listed, &params, &self_url) {
        Ok(page) => json_response(StatusCode::OK, &page),
        Err(details) => errors::invalid_parameter("(#100) Invalid parameter", &details),
    }
}

/// `POST /{version}/{waba_id}/message_templates`: a new template, in review at once.
pub(crate) async fn create_template(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (version, waba_id) = path.into_inner();
    if let Some(response) = prelude(&state, &req, Some(&version)).await {
        return response;
    }
    if waba_id.is_empty() || !waba_id.bytes().all(|b| b.is_ascii_digit()) {
        return errors::unknown_object("post", &waba_id);
    }
    let created = state.catalogue().create(&waba_id, &body);
    match created {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(refusal) => refusal.response(),
    }
}

/// The fields of Meta's phone number node the sandbox answers, and the ones a `GET` without
/// `fields` returns.
const PHONE_NUMBER_FIELDS: &[&str] = &[
    "id",
    "display_phone_number",
    "verified_name",
    "quality_rating",
    "code_verification_status",
    "platform_type",
    "throughput",
    "name_status",
];
const PHONE_NUMBER_DEFAULT_FIELDS: &[&str] = &[
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "id",
];

/// `GET /{version}/{phone_number_id}` for the sandbox's own number (the token was checked by
/// the caller): its display number, name and quality, limited to `fields` like Graph does.
/// `None` for any other id (it may be a media id).
pub(crate) fn phone_number(state: &State, req: &HttpRequest, id: &str) -> Option<HttpResponse> {
    if id != state.config.phone_number_id {
        return None;
    }
    let params = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let asked: Vec<&str> = match params.get("fields") {
        Some(fields) => fields
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect(),
        None => PHONE_NUMBER_DEFAULT_FIELDS.to_vec(),
    };
    if let Some(unknown) = asked.iter().find(|f| !PHONE_NUMBER_FIELDS.contains(f)) {
        return Some(errors::invalid_parameter(
            &format!(
                "(#100) Tried accessing nonexisting field ({unknown}) on node type (WhatsAppBusinessPhoneNumber)"
            ),
            &format!("{unknown} is not a field of a phone number"),
        ));
    }
    let config = &state.config;
    let all = json!({
        "id": config.phone_number_id,
        "display_phone_number": display_format(&config.display_phone_number),
        "verified_name": "Switchboard Sandbox",
        "quality_rating": "GREEN",
        "code_verification_status": "VERIFIED",
        "platform_type": "CLOUD_API",
        "throughput": { "level": "STANDARD" },
        "name_status": "APPROVED",
    });
    let mut answer = serde_json::Map::new();
    for field in asked.iter().chain(std::iter::once(&"id")) {
        answer.insert((*field).to_string(), all[*field].clone());
    }
    Some(json_response(StatusCode::OK, &Value::Object(answer)))
}

/// A number as Meta displays it: `+1 555-000-1111` for North America, `+<digits>` otherwise.
fn display_format(digits: &str) -> String {
    match digits.strip_prefix('1') {
        Some(rest) if rest.len() == 10 => {
            format!("+1 {}-{}-{}", &rest[..3], &rest[3..6], &rest[6..])
        }
        _ => format!("+{digits}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_must_look_like_wamids() {
        assert!(is_wamid(
            "wamid.HBgNNTUxMTk5OTk5MDAwMBUCABIYFDNBMEIwQzBEMEUwRjAwMDAwMDAwAA=="
        ));
        assert!(is_wamid("wamid.ID"));
        for bad in ["", "wamid.", "ABGGFlA5Fpa", "wamid.a b", "msg.HBg"] {
            assert!(!is_wamid(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_display_like_meta() {
        assert_eq!(display_format("15550001111"), "+1 555-000-1111");
        assert_eq!(display_format("573103055424"), "+573103055424");
    }

    #[test]
    fn versions() {
        for good in ["v25.0", "v19.0", "v26", "v3.10"] {
            assert!(is_version(good), "{good}");
        }
        for bad in ["25.0", "v", "v25.", "vX.0", "sandbox", "v25.0a"] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn draw_respects_the_fractions() {
        assert_eq!(draw::<u8>(&[]), None);
        assert_eq!(draw(&[(1, 1.0)]), Some(1));
        assert_eq!(draw(&[(1, 0.0)]), None);
        let hits = (0..10_000)
            .filter(|_| draw(&[(1, 0.25), (2, 0.25)]) == Some(2))
            .count();
        assert!((2000..3000).contains(&hits), "{hits}");
    }
}
