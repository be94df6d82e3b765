//! `POST /api/integrations/whatsapp/send`: validate, then queue the message and its send job
//! in one transaction, and answer 202 with their ids. Meta is called by the job, not here.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::Value;
use switchboard_domain::outbound::{OutboundContent, Template, Text, Variables};
use switchboard_domain::{phone, window};
use switchboard_store::models::{Channel, now};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::outbound::{NewOutbound, Queued};
use switchboard_store::repo::{channels, leads};
use switchboard_store::{AnyConnection, StoreError};

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A queued send: the message's id to follow its status, and the job that sends it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendAccepted {
    pub job_id: String,
    pub message_log_id: String,
    /// QUEUED at first; then SENT, DELIVERED, READ or FAILED.
    pub status: String,
}

/// Sends a message: the seed's `{"toPhone","text","leadId"}`, or `{"toPhone","type":"image",
/// "image":{…}}` with the object named by `type` in Meta's shape (text, image, video, audio,
/// document, sticker, interactive, reaction, template). Free-form messages need the customer's
/// 24-hour window open. Answers 202 once the message and its job are stored.
#[utoipa::path(post, path = "/api/integrations/whatsapp/send", tag = "sending",
    request_body(content = Object, description = "The message", example = json!({"toPhone": "573103055424", "text": "Hola"})),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, 1–255 characters")),
    responses((status = 202, body = SendAccepted), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "WINDOW_CLOSED or NO_CHANNEL")),
    security(("bearer" = [])))]
pub async fn send(
    api: web::Data<Api>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let request = SendRequest::parse(&body)?;
    let idempotency_key = idempotency_key(&req)?;
    let (channel, to) = resolve_recipient(
        &api,
        &caller,
        request.channel_id.clone(),
        request.lead_id.clone(),
        request.to.clone(),
        request.content.needs_open_window(),
    )
    .await?;
    let new = NewOutbound {
        organization_id: caller.organization_id.clone(),
        channel,
        to,
        content: request.content,
        lead_id: request.lead_id,
        reply_to: request.reply_to,
        idempotency_key,
        origin: None,
    };
    let queued: Queued = api.queue(new).await?;
    Ok(accepted(queued))
}

/// 202 with the queued message; a replayed idempotency key says so in a header.
pub(crate) fn accepted(queued: Queued) -> HttpResponse {
    let mut response = HttpResponse::Accepted();
    if !queued.created {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(SendAccepted {
        job_id: queued.job.id,
        message_log_id: queued.message.id,
        status: queued.message.status,
    })
}

/// The channel to send from and the recipient's number, checked in one visit to the database.
pub(crate) async fn resolve_recipient(
    api: &Api,
    caller: &Caller,
    channel_id: Option<String>,
    lead_id: Option<String>,
    raw_to: String,
    free_form: bool,
) -> Result<(Channel, String), ApiError> {
    let org = caller.organization_id.clone();
    let default_cc = api.settings.default_country_code.clone();
    api.db
        .run(move |c| {
            recipient(
                c,
                &org,
                channel_id.as_deref(),
                lead_id.as_deref(),
                &raw_to,
                default_cc,
                free_form,
            )
        })
        .await?
}

/// The channel to send from and the recipient's E.164 number, once the lead (if named)
/// belongs to the organization and, for a free-form message, the customer's 24-hour window
/// is open. The outer error is the database's; the inner one is the caller's.
fn recipient(
    c: &mut AnyConnection,
    org: &str,
    channel_id: Option<&str>,
    lead_id: Option<&str>,
    raw_to: &str,
    default_country_code: Option<String>,
    free_form: bool,
) -> Result<Result<(Channel, String), ApiError>, StoreError> {
    let Some(channel) = pick_channel(c, org, channel_id)? else {
        return Ok(Err(no_channel()));
    };
    if let Some(id) = lead_id
        && leads::find_lead(c, org, id)?.is_none()
    {
        return Ok(Err(ApiError::NotFound("lead not found".into())));
    }
    let country = channel
        .default_country_code
        .clone()
        .or(default_country_code);
    let to = match phone::normalize(raw_to, country.as_deref()) {
        Ok(to) => to,
        Err(e) => return Ok(Err(ApiError::InvalidPhone(format!("toPhone: {e}")))),
    };
    if free_form {
        let key = ConversationKey {
            organization_id: org,
            channel_id: &channel.id,
            contact_phone: &to,
        };
        let last_inbound =
            conversations::find_conversation_by_key(c, &key)?.and_then(|c| c.last_inbound_at);
        if !window::is_window_open(last_inbound, now()) {
            return Ok(Err(window_closed(last_inbound)));
        }
    }
    Ok(Ok((channel, to)))
}

pub(crate) fn no_channel() -> ApiError {
    ApiError::NoChannel(
        "this organization has no WhatsApp channel to send from: add one with `switchboard channel add` (or set WHATSAPP_PHONE_NUMBER_ID)".into(),
    )
}

/// The channel named by the request, or the organization's first active one.
pub(crate) fn pick_channel(
    c: &mut AnyConnection,
    org: &str,
    id: Option<&str>,
) -> Result<Option<Channel>, StoreError> {
    if let Some(id) = id {
        return match channels::find_channel(c, org, id)? {
            Some(channel) => Ok(Some(channel)),
            None => Err(StoreError::NotFound("channel")),
        };
    }
    let all = channels::list_channels(c, org)?;
    let active = all.iter().find(|ch| ch.status == channels::ACTIVE).cloned();
    Ok(active.or_else(|| all.into_iter().next()))
}

fn window_closed(last_inbound: Option<chrono::NaiveDateTime>) -> ApiError {
    let why = match last_inbound {
        Some(at) => format!("the customer last wrote at {at} UTC, more than 24 hours ago"),
        None => "the customer has never written to this number".to_string(),
    };
    ApiError::WindowClosed(format!(
        "the 24-hour customer-service window is closed ({why}): send an approved template (\"type\":\"template\") instead"
    ))
}

pub(crate) fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::Validation("Idempotency-Key must be printable text".into()))?
        .trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::Validation(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
        )));
    }
    Ok(Some(key.to_string()))
}

/// A send request, read from the seed's `{"toPhone","text","leadId"}` or the richer
/// `{"toPhone","type":"image","image":{…}}` (the object named by `type` in Meta's shape).
#[derive(Debug)]
pub struct SendRequest {
    pub to: String,
    pub content: OutboundContent,
    pub lead_id: Option<String>,
    pub channel_id: Option<String>,
    pub reply_to: Option<String>,
}

impl SendRequest {
    pub fn parse(body: &Value) -> Result<Self, ApiError> {
        let object = body
            .as_object()
            .ok_or_else(|| invalid("the body must be a JSON object"))?;
        let to = string_field(body, "toPhone")?
            .or(string_field(body, "to")?)
            .ok_or_else(|| {
                invalid("toPhone is required: the recipient's number with its country code")
            })?;
        let kind = match string_field(body, "type")? {
            Some(kind) => kind,
            None if object.contains_key("text") => "text".to_string(),
            None if object.contains_key("template") => "template".to_string(),
            None => {
                return Err(invalid(
                    "give \"text\", or a \"type\" and the object it names",
                ));
            }
        };
        let content = content(body, &kind)?;
        content
            .validate()
            .map_err(|e| ApiError::Validation(e.to_string()))?;
        Ok(SendRequest {
            to,
            content,
            lead_id: string_field(body, "leadId")?,
            channel_id: string_field(body, "channelId")?,
            reply_to: string_field(body, "replyTo")?,
        })
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::Validation(message.to_string())
}

fn string_field(body: &Value, name: &str) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::Validation(format!("{name} must be a string"))),
    }
}

fn content(body: &Value, kind: &str) -> Result<OutboundContent, ApiError> {
    let inner = body.get(kind).cloned().unwrap_or(Value::Null);
    match (kind, inner) {
        // The seed's form: "text" is the message itself.
        ("text", Value::String(text)) => Ok(OutboundContent::Text(Text {
            body: text,
            preview_url: body.get("previewUrl").and_then(Value::as_bool).unwrap_or(false),
        })),
        ("template", Value::Object(template)) => template_content(&Value::Object(template)),
        (_, Value::Null) => Err(ApiError::Validation(format!(
            "\"type\":\"{kind}\" needs a \"{kind}\" object, as in Meta's send API"
        ))),
        (_, inner) => {
            serde_json::from_value(serde_json::json!({ kind: inner })).map_err(|e| {
                ApiError::Validation(format!(
                    "\"{kind}\" is not a valid message of that type (text, image, video, audio, document, sticker, interactive, reaction, template): {e}"
                ))
            })
        }
    }
}

/// Templates in Meta's shape (`language: {"code"}`, `components`), or the short form
/// `{"name","language":"en_US","variables":[…] or {…}}`.
fn template_content(template: &Value) -> Result<OutboundContent, ApiError> {
    let short_language = template.get("language").and_then(Value::as_str);
    let variables = template.get("variables");
    if short_language.is_none() && variables.is_none() {
        return serde_json::from_value(serde_json::json!({ "template": template }))
            .map_err(|e| ApiError::Validation(format!("template: {e}")));
    }
    let name = template
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("template.name is required"))?;
    let language = short_language
        .or_else(|| template.pointer("/language/code").and_then(Value::as_str))
        .ok_or_else(|| invalid("template.language is required, e.g. \"en_US\""))?;
    let variables: Option<Variables> = variables
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|_| {
            invalid("template.variables must be a list of strings or an object of name → string")
        })?;
    Ok(OutboundContent::Template(Template::with_variables(
        name,
        language,
        variables.as_ref(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<SendRequest, String> {
        SendRequest::parse(&body).map_err(|e| format!("{}: {e}", e.code()))
    }

    #[test]
    fn the_seed_body_is_a_text_message() {
        let request =
            parse(json!({"toPhone": "+57 310 305 5424", "text": "hola", "leadId": "l1"})).unwrap();
        assert_eq!(
            request.content,
            OutboundContent::Text(Text {
                body: "hola".into(),
                preview_url: false
            })
        );
        assert_eq!(request.lead_id.as_deref(), Some("l1"));
    }

    #[test]
    fn richer_bodies_use_metas_objects() {
        let image = parse(
            json!({"toPhone": "5511", "type": "image", "image": {"link": "https://x.test/a.png"}}),
        )
        .unwrap();
        assert_eq!(image.content.kind(), "image");
        let text = parse(
            json!({"toPhone": "5511", "type": "text", "text": {"body": "hi", "preview_url": true}}),
        )
        .unwrap();
        assert_eq!(
            text.content,
            OutboundContent::Text(Text {
                body: "hi".into(),
                preview_url: true
            })
        );
    }

    #[test]
    fn templates_take_the_short_form_too() {
        let short = parse(json!({"toPhone": "5511", "template": {"name": "order_update", "language": "en_US", "variables": ["Ana"]}})).unwrap();
        let OutboundContent::Template(t) = short.content else {
            panic!("not a template")
        };
        assert_eq!(t.language.code, "en_US");
        assert_eq!(t.variables(), vec!["Ana"]);
        let meta = parse(json!({"toPhone": "5511", "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}})).unwrap();
        assert_eq!(meta.content.kind(), "template");
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert!(parse(json!([])).unwrap_err().contains("JSON object"));
        assert!(
            parse(json!({"text": "hi"}))
                .unwrap_err()
                .contains("toPhone is required")
        );
        assert!(
            parse(json!({"toPhone": 5511, "text": "hi"}))
                .unwrap_err()
                .contains("must be a string")
        );
        assert!(
            parse(json!({"toPhone": "5511"}))
                .unwrap_err()
                .contains("give \"text\"")
        );
        assert!(
            parse(json!({"toPhone": "5511", "type": "image"}))
                .unwrap_err()
                .contains("needs a \"image\" object")
        );
        assert!(
            parse(json!({"toPhone": "5511", "type": "fax", "fax": {}}))
                .unwrap_err()
                .contains("not a valid message")
        );
        assert!(
            parse(json!({"toPhone": "5511", "text": "a".repeat(4097)}))
                .unwrap_err()
                .starts_with("VALIDATION_ERROR")
        );
        assert!(parse(json!({"toPhone": "5511", "template": {"name": "x", "language": "en", "variables": 3}})).unwrap_err().contains("variables"));
    }
}
