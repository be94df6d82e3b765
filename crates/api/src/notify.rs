//! `POST /api/whatsapp/notify`: one call for a company's servers to message someone and learn
//! what Meta said. The message is queued exactly like `/send` or `/templates/send` (same
//! checks, same job), then the call waits a while (`NOTIFY_WAIT_MS`) for the send job to
//! store Meta's answer, so a server gets the wamid in the same request most of the time.
//!
//! Answers use the seed's envelope: `{"success":true,"data":{…}}`, or `{"success":false,
//! "error":{"message","code"}}` plus the API's usual `errorCode` and `message`.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_domain::{MessageStatus, Role};
use switchboard_store::bootstrap::DEFAULT_ORG_SLUG;
use switchboard_store::crypto::constant_time_eq;
use switchboard_store::models::{MessageLog, Template};
use switchboard_store::repo::outbound::{self, NewOutbound, Queued};
use switchboard_store::repo::{api_keys, organizations, templates as template_repo};
use utoipa::ToSchema;

use crate::Api;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::{send, templates};

/// How long a notify call waits for Meta's answer unless `NOTIFY_WAIT_MS` says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// How often the message is looked at while waiting: the send job may run in another process,
/// so the database is what both sides share.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// How long a notify call waits for Meta's answer before answering 202 (`NOTIFY_WAIT_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyWait(pub Duration);

impl Default for NotifyWait {
    fn default() -> Self {
        Self(DEFAULT_WAIT)
    }
}

/// `INTERNAL_API_KEY`: the shared key that acts for the default organization. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct InternalKey(String);

impl InternalKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    fn matches(&self, given: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), given.as_bytes())
    }
}

impl std::fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalKey(***)")
    }
}

/// A notification: free text (`message`, inside the customer's 24-hour window) or an approved
/// template (`template` + `variables`, allowed any time).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotifyRequest {
    /// The recipient, as typed: "+57 310 305 5424", "310 305 5424" (the channel's country code
    /// is added), "0057…". Default: `WHATSAPP_DEFAULT_TO`.
    #[schema(value_type = Option<String>, example = "310 305 5424")]
    pub to: Option<Value>,
    /// Free text, up to 4,096 characters.
    #[schema(example = "Your order 1234 shipped")]
    pub message: Option<String>,
    /// An APPROVED template's name (or id).
    #[schema(example = "order_update")]
    pub template: Option<String>,
    /// The template's values: `["Ana", "1234"]` for {{1}}, {{2}}, or `{"first_name": "Ana"}`.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Value>,
    /// The template's language, when it exists in several (e.g. "es").
    pub language: Option<String>,
    /// The channel to send from (default: the organization's first active one).
    pub channel_id: Option<String>,
}

/// Meta accepted the message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifySent {
    /// Meta's id of the message (wamid).
    pub message_id: String,
    /// The recipient as sent: digits with country code.
    pub to: String,
    pub message_log_id: String,
    pub job_id: String,
    /// SENT, DELIVERED or READ.
    pub status: String,
}

/// Queued; Meta had not answered within the wait. Follow it by `messageLogId`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyQueued {
    pub job_id: String,
    pub message_log_id: String,
    pub to: String,
    /// QUEUED
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotifySentBody {
    pub success: bool,
    pub data: NotifySent,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotifyQueuedBody {
    pub success: bool,
    pub data: NotifyQueued,
}

/// What went wrong, for the seed's clients (`error`) and the API's (`errorCode`, `message`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyFailureBody {
    pub success: bool,
    pub error: NotifyErrorDetail,
    #[schema(example = "WINDOW_CLOSED")]
    pub error_code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifyErrorDetail {
    pub message: String,
    /// The same stable code as `errorCode`.
    pub code: String,
    /// Meta's error code, when Meta refused the message (e.g. "131047").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_code: Option<String>,
    /// The stored message, when it got as far as being queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_log_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

/// A failed notify call, answered in the notify envelope with the status it deserves.
#[derive(Debug)]
pub struct NotifyError {
    status: StatusCode,
    detail: Box<NotifyErrorDetail>,
}

impl std::fmt::Display for NotifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail.message)
    }
}

impl From<ApiError> for NotifyError {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status_code(),
            detail: Box::new(NotifyErrorDetail {
                message: e.to_string(),
                code: e.code().to_string(),
                meta_code: None,
                message_log_id: None,
                job_id: None,
            }),
        }
    }
}

impl ResponseError for NotifyError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(NotifyFailureBody {
            success: false,
            error_code: self.detail.code.clone(),
            message: self.detail.message.clone(),
            error: (*self.detail).clone(),
        })
    }
}

/// Sends a notification and waits for Meta's answer (up to `NOTIFY_WAIT_MS`, 10 s by
/// default): 200 with the wamid, 202 when the wait ran out (the send goes on), 422 when Meta
/// refused the message for good (WINDOW_CLOSED for a closed 24-hour window, META_REFUSED
/// otherwise), 502 SEND_FAILED when it failed without Meta refusing it. Authenticated by
/// `x-api-key` (`INTERNAL_API_KEY`, for the default organization, or an organization's API
/// key) or a bearer token. The same `Idempotency-Key` answers about the same message.
#[utoipa::path(post, path = "/api/whatsapp/notify", tag = "sending",
    request_body(content = NotifyRequest, example = json!({"to": "310 305 5424", "message": "Your order 1234 shipped"})),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, 1–255 characters")),
    responses((status = 200, body = NotifySentBody), (status = 202, body = NotifyQueuedBody),
        (status = 400, body = NotifyFailureBody, description = "VALIDATION_ERROR or INVALID_PHONE"),
        (status = 401, body = NotifyFailureBody), (status = 404, body = NotifyFailureBody),
        (status = 422, body = NotifyFailureBody, description = "WINDOW_CLOSED, META_REFUSED, NO_CHANNEL, TEMPLATE_NOT_APPROVED or TEMPLATE_VARIABLES_MISSING"),
        (status = 502, body = NotifyFailureBody, description = "SEND_FAILED")),
    security(("apiKey" = []), ("bearer" = [])))]
pub async fn notify(
    api: web::Data<Api>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, NotifyError> {
    let caller = authenticate(&api, &req).await?;
    let request = parse(&body)?;
    let idempotency_key = send::idempotency_key(&req)?;
    let new = outbound_of(&api, &caller, request, idempotency_key).await?;
    // A paused channel (Meta refused its token or account) sends nothing until a person
    // resumes it: waiting would only delay the 202 the caller gets anyway.
    let paused = new.channel.status == switchboard_store::repo::channels::PAUSED;
    let queued = api.queue(new).await?;
    let seen = if paused {
        Seen::Waiting
    } else {
        wait_for_meta(&api, &queued, api.settings.notify_wait.0).await?
    };
    answer(queued, seen)
}

/// `x-api-key` when sent (the internal key, then the organizations' keys), else the bearer
/// token. A key that is wrong is refused even when a token comes with it.
async fn authenticate(api: &Api, req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(header) = req.headers().get("x-api-key") else {
        return Caller::extract(req).await;
    };
    let key = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the x-api-key header is not text".into()))?
        .trim()
        .to_string();
    if key.is_empty() {
        return Err(ApiError::Unauthorized(
            "the x-api-key header is empty: send INTERNAL_API_KEY or a key from `switchboard apikey create`".into(),
        ));
    }
    if let Some(internal) = &api.settings.internal_api_key
        && internal.matches(&key)
    {
        return default_organization(api).await;
    }
    organization_key(api, key).await
}

/// The caller `INTERNAL_API_KEY` stands for: the organization the `WHATSAPP_*` variables set up.
async fn default_organization(api: &Api) -> Result<Caller, ApiError> {
    let org = api
        .db
        .run(|c| organizations::find_organization_by_slug(c, DEFAULT_ORG_SLUG))
        .await?
        .ok_or_else(|| {
            ApiError::NoChannel(
                "INTERNAL_API_KEY acts for the default organization, which does not exist yet: set WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_ACCESS_TOKEN and restart, or use an organization's API key".into(),
            )
        })?;
    Ok(key_caller(org.id, "internal"))
}

async fn organization_key(api: &Api, key: String) -> Result<Caller, ApiError> {
    let looks_like_token = key.starts_with("sb_");
    let found = api
        .db
        .run(move |c| api_keys::find_active_api_key(c, &key))
        .await?;
    let Some(found) = found else {
        let hint = if looks_like_token {
            ": this looks like an API token; send it as `Authorization: Bearer <token>` instead"
        } else {
            ""
        };
        return Err(ApiError::Unauthorized(format!(
            "this API key is unknown or was revoked{hint}"
        )));
    };
    if api_keys::needs_use_mark(&found) {
        let id = found.id.clone();
        // Only bookkeeping: a failure here must not refuse the call.
        if let Err(e) = api
            .db
            .run_write(move |c| api_keys::mark_api_key_used(c, &id))
            .await
        {
            tracing::warn!(error = %e, "could not record an API key's last use");
        }
    }
    Ok(key_caller(found.organization_id, &found.id))
}

/// A key acts for its organization, not for a user: the sending code paths only use the
/// organization, and the least role keeps anything else from trusting it more.
fn key_caller(organization_id: String, key_id: &str) -> Caller {
    Caller {
        organization_id,
        user_id: format!("api-key:{key_id}"),
        role: Role::Seller,
    }
}

fn parse(body: &[u8]) -> Result<NotifyRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(
            "the body is empty: send {\"to\", \"message\"} or {\"to\", \"template\", \"variables\"}".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::Validation(format!(
            "the body is not valid JSON for this request: {e} (fields: to, message, template, variables, language, channelId)"
        ))
    })
}

/// The recipient as typed: a string, or digits sent as a JSON number.
fn recipient_text(to: Option<Value>, default_to: Option<&str>) -> Result<(String, bool), ApiError> {
    match to {
        None | Some(Value::Null) => default_to.map(|d| (d.to_string(), true)).ok_or_else(|| {
            ApiError::Validation(
                "to is required (the recipient's number), or set WHATSAPP_DEFAULT_TO".into(),
            )
        }),
        Some(Value::String(s)) => Ok((s, false)),
        Some(Value::Number(n)) if n.is_u64() => Ok((n.to_string(), false)),
        Some(_) => Err(ApiError::Validation(
            "to must be a phone number as a string, e.g. \"+57 310 305 5424\"".into(),
        )),
    }
}

/// The message to queue: the content checked as `/send` and `/templates/send` check it, and
/// the recipient resolved by the same code (channel, country code, 24-hour window).
async fn outbound_of(
    api: &Api,
    caller: &Caller,
    request: NotifyRequest,
    idempotency_key: Option<String>,
) -> Result<NewOutbound, ApiError> {
    let (raw_to, from_default) = recipient_text(request.to, api.settings.default_to.as_deref())?;
    let (content, channel_id) = match (request.message, request.template) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Validation(
                "give either message (free text) or template, not both".into(),
            ));
        }
        (None, None) => {
            return Err(ApiError::Validation(
                "give message (free text, inside the customer's 24-hour window) or template with its variables (any time)".into(),
            ));
        }
        (Some(text), None) => {
            if request.variables.is_some() || request.language.is_some() {
                return Err(ApiError::Validation(
                    "variables and language go with a template, not with message".into(),
                ));
            }
            (text_content(text)?, request.channel_id)
        }
        (None, Some(wanted)) => {
            let variables = templates::variables(request.variables.as_ref())?;
            let template = find_template(api, caller, wanted, request.language).await?;
            let content = templates::filled(&template, &variables)?;
            (content, request.channel_id.or(template.channel_id))
        }
    };
    let free_form = content.needs_open_window();
    let (channel, to) = send::resolve_recipient(api, caller, channel_id, None, raw_to, free_form)
        .await
        .map_err(|e| phone_field(e, from_default))?;
    Ok(NewOutbound {
        organization_id: caller.organization_id.clone(),
        channel,
        to,
        content,
        lead_id: None,
        reply_to: None,
        idempotency_key,
        origin: None,
    })
}

fn text_content(body: String) -> Result<OutboundContent, ApiError> {
    let content = OutboundContent::Text(Text {
        body,
        preview_url: false,
    });
    content
        .validate()
        .map_err(|e| ApiError::Validation(format!("message: {e}")))?;
    Ok(content)
}

/// The send code names its field `toPhone`; here it is `to`, or the setting it came from.
fn phone_field(error: ApiError, from_default: bool) -> ApiError {
    match error {
        ApiError::InvalidPhone(message) => {
            let field = if from_default {
                "WHATSAPP_DEFAULT_TO"
            } else {
                "to"
            };
            let reason = message.strip_prefix("toPhone: ").unwrap_or(&message);
            ApiError::InvalidPhone(format!("{field}: {reason}"))
        }
        other => other,
    }
}

/// The organization's template by id or name (and language, when it exists in several).
async fn find_template(
    api: &Api,
    caller: &Caller,
    wanted: String,
    language: Option<String>,
) -> Result<Template, ApiError> {
    let org = caller.organization_id.clone();
    let all = api
        .db
        .run(move |c| template_repo::list_templates(c, &org))
        .await?;
    pick_template(all, &wanted, language.as_deref())
}

fn pick_template(
    all: Vec<Template>,
    wanted: &str,
    language: Option<&str>,
) -> Result<Template, ApiError> {
    let wanted = wanted.trim();
    let mut found: Vec<Template> = all
        .into_iter()
        .filter(|t| t.deleted_at.is_none() && (t.id == wanted || t.name == wanted))
        .filter(|t| language.is_none_or(|l| t.language.eq_ignore_ascii_case(l.trim())))
        .collect();
    if found.len() > 1 {
        // Several languages: the approved one, when only one is.
        let approved: Vec<Template> = found
            .iter()
            .filter(|t| t.status == "APPROVED")
            .cloned()
            .collect();
        if approved.len() == 1 {
            found = approved;
        }
    }
    match found.len() {
        0 => Err(ApiError::NotFound(match language {
            Some(l) => format!(
                "no template '{wanted}' in language '{l}': see GET /api/integrations/whatsapp/templates"
            ),
            None => format!("no template '{wanted}': see GET /api/integrations/whatsapp/templates"),
        })),
        1 => Ok(found.remove(0)),
        _ => {
            let languages: Vec<&str> = found.iter().map(|t| t.language.as_str()).collect();
            Err(ApiError::Validation(format!(
                "template '{wanted}' exists in {}: say which with \"language\"",
                languages.join(", ")
            )))
        }
    }
}

/// What the message's row said when the wait ended.
enum Seen {
    /// Meta accepted it: it has its wamid.
    Sent(MessageLog),
    /// Meta refused it, or the send gave up.
    Failed(MessageLog),
    /// Still queued (or being retried) when the time ran out.
    Waiting,
}

/// Polls the message until Meta answered or `wait` ran out. The send job may run in this
/// process or another one: the row is what both see.
async fn wait_for_meta(api: &Api, queued: &Queued, wait: Duration) -> Result<Seen, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (org, id) = (
            queued.message.organization_id.clone(),
            queued.message.id.clone(),
        );
        let message = api
            .db
            .run(move |c| outbound::find_message(c, &org, &id))
            .await?
            .ok_or(ApiError::Internal)?;
        match MessageStatus::parse(&message.status) {
            MessageStatus::Failed => return Ok(Seen::Failed(message)),
            MessageStatus::Queued => {}
            _ if message.external_message_id.is_some() => return Ok(Seen::Sent(message)),
            _ => {}
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Seen::Waiting);
        }
        tokio::time::sleep(POLL_EVERY.min(deadline - now)).await;
    }
}

fn answer(queued: Queued, seen: Seen) -> Result<HttpResponse, NotifyError> {
    let job_id = queued.job.id;
    let to = queued.message.to_phone.clone().unwrap_or_default();
    let mut response = match &seen {
        Seen::Sent(_) => HttpResponse::Ok(),
        Seen::Waiting => HttpResponse::Accepted(),
        Seen::Failed(message) => return Err(refused(message, job_id)),
    };
    if !queued.created {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(match seen {
        Seen::Sent(message) => response.json(NotifySentBody {
            success: true,
            data: NotifySent {
                message_id: message.external_message_id.unwrap_or_default(),
                to,
                message_log_id: message.id,
                job_id,
                status: message.status,
            },
        }),
        _ => response.json(NotifyQueuedBody {
            success: true,
            data: NotifyQueued {
                job_id,
                message_log_id: queued.message.id,
                to,
                status: queued.message.status,
            },
        }),
    })
}

/// A message that failed while we waited. Meta refusing this message (its code is stored) is
/// permanent and the caller's to fix: 422, WINDOW_CLOSED for the 24-hour window (131047, 470)
/// so a template can be sent instead, META_REFUSED otherwise. A failure without Meta's code
/// (the send gave up on something else) is 502 SEND_FAILED.
fn refused(message: &MessageLog, job_id: String) -> NotifyError {
    let meta_code = message.error_code.clone();
    let (status, code) = match meta_code.as_deref() {
        Some("131047" | "470") => (StatusCode::UNPROCESSABLE_ENTITY, "WINDOW_CLOSED"),
        Some(_) => (StatusCode::UNPROCESSABLE_ENTITY, "META_REFUSED"),
        None => (StatusCode::BAD_GATEWAY, "SEND_FAILED"),
    };
    let reason = message
        .error_message
        .clone()
        .unwrap_or_else(|| "the message could not be sent".into());
    NotifyError {
        status,
        detail: Box::new(NotifyErrorDetail {
            message: format!("WhatsApp did not take the message: {reason}"),
            code: code.into(),
            meta_code,
            message_log_id: Some(message.id.clone()),
            job_id: Some(job_id),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(id: &str, name: &str, language: &str, status: &str) -> Template {
        let at = switchboard_store::models::now();
        Template {
            id: id.into(),
            organization_id: "o".into(),
            channel_id: None,
            name: name.into(),
            language: language.into(),
            category: "UTILITY".into(),
            status: status.into(),
            parameter_format: "POSITIONAL".into(),
            components: "[]".into(),
            rejection_reason: None,
            external_id: None,
            deleted_at: None,
            created_at: at,
            updated_at: at,
            status_changed_at: None,
        }
    }

    #[test]
    fn templates_are_found_by_name_id_and_language() {
        let all = || {
            vec![
                template("t1", "order_update", "en_US", "APPROVED"),
                template("t2", "order_update", "es", "APPROVED"),
                template("t3", "promo", "es", "APPROVED"),
                template("t4", "promo", "en_US", "PENDING"),
            ]
        };
        assert_eq!(pick_template(all(), "t2", None).unwrap().id, "t2");
        assert_eq!(
            pick_template(all(), "order_update", Some("es")).unwrap().id,
            "t2"
        );
        // Only one language approved: that one.
        assert_eq!(pick_template(all(), "promo", None).unwrap().id, "t3");
        let both = pick_template(all(), "order_update", None).unwrap_err();
        assert_eq!(both.code(), "VALIDATION_ERROR");
        assert!(both.to_string().contains("en_US, es"), "{both}");
        let missing = pick_template(all(), "order_update", Some("pt_BR")).unwrap_err();
        assert_eq!(missing.code(), "NOT_FOUND");
        assert!(missing.to_string().contains("pt_BR"));
    }

    #[test]
    fn the_recipient_comes_from_the_body_or_the_setting() {
        assert_eq!(
            recipient_text(Some(json!("310 305 5424")), Some("1")).unwrap(),
            ("310 305 5424".to_string(), false)
        );
        assert_eq!(
            recipient_text(Some(json!(573103055424u64)), None).unwrap(),
            ("573103055424".to_string(), false)
        );
        assert_eq!(
            recipient_text(None, Some("+57 310")).unwrap(),
            ("+57 310".to_string(), true)
        );
        assert!(recipient_text(None, None).is_err());
        assert!(recipient_text(Some(json!(-5)), None).is_err());
        assert!(recipient_text(Some(json!(["1"])), None).is_err());
    }

    #[test]
    fn the_internal_key_never_shows_in_logs() {
        let key = InternalKey::new("s3cret");
        assert_eq!(format!("{key:?}"), "InternalKey(***)");
        assert!(key.matches("s3cret"));
        assert!(!key.matches("s3cre"));
        assert!(!key.matches(""));
    }
}
