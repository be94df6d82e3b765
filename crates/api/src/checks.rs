//! `POST /api/integrations/whatsapp/test`: checks a channel against Meta, step by step, and
//! optionally sends a test message.
//!
//! 1. `token`: Meta authenticates the channel's access token (any answer but 190 or 0).
//! 2. `phoneNumber`: the token reads the channel's number (`GET /<PHONE_NUMBER_ID>`): display
//!    number, verified name, quality.
//! 3. `sendTest` (with `to`): a text queued like any send (window, pacing, retries), reported
//!    with Meta's wamid when Meta accepts it within a few seconds, else with its ids.
//!
//! What the check learned about the token is kept on the channel (`account_info`, key
//! [`CONNECTION_CHECK`]) for `GET /api/whatsapp/status`.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_domain::{MessageStatus, Role, phone};
use switchboard_graph::{ChannelAuth, ErrorClass, GraphError, PhoneNumberInfo};
use switchboard_store::models::{Channel, MessageLog, now};
use switchboard_store::repo::channels;
use switchboard_store::repo::outbound::{self, NewOutbound};
use utoipa::ToSchema;

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::send;

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];

/// How long the check waits by default for Meta to accept its test message.
pub const TEST_SEND_WAIT: Duration = Duration::from_secs(5);
/// How often the waiting check looks at the test message.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// The `account_info` key the last check's verdict on the token is kept under.
pub const CONNECTION_CHECK: &str = "connection_check";
const DEFAULT_TEXT: &str = "Switchboard test message: this WhatsApp number is connected.";

/// What to check. Everything is optional: `{}` checks the organization's first active number.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionTestRequest {
    /// The channel to check (default: the organization's first active one).
    pub channel_id: Option<String>,
    /// Also send a test text to this number (its 24-hour window must be open).
    pub to: Option<String>,
    /// The test text (default: a line saying the number is connected).
    pub text: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTestReport {
    /// Every step passed.
    pub ok: bool,
    pub channel_id: String,
    pub steps: Vec<CheckStep>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckStep {
    /// `token`, `phoneNumber` or `sendTest`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what went wrong and what to do.
    pub detail: String,
    /// sendTest: the queued send's job and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_log_id: Option<String>,
    /// sendTest: Meta's id of the test message, once accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wamid: Option<String>,
}

impl CheckStep {
    fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        CheckStep {
            name: name.to_string(),
            ok,
            detail: detail.into(),
            job_id: None,
            message_log_id: None,
            wamid: None,
        }
    }
}

/// The last check's verdict on a channel's token, as kept in `account_info`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRecord {
    pub at: NaiveDateTime,
    pub token_valid: Option<bool>,
    pub error: Option<String>,
}

impl CheckRecord {
    pub fn of(channel: &Channel) -> Option<Self> {
        let info: serde_json::Value =
            serde_json::from_str(channel.account_info.as_deref()?).ok()?;
        let entry = info.get(CONNECTION_CHECK)?;
        let at =
            NaiveDateTime::parse_from_str(entry.get("at")?.as_str()?, "%Y-%m-%dT%H:%M:%S").ok()?;
        let value = entry.get("value")?;
        Some(CheckRecord {
            at,
            token_valid: value.get("tokenValid").and_then(|v| v.as_bool()),
            error: value
                .get("error")
                .and_then(|v| v.as_str())
                .map(str::to_string),
        })
    }
}

/// Checks a channel against Meta: its token, its phone number, and (with `to`) a test message
/// (OWNER or ADMIN). Answers 200 with each step's result, failed steps included.
#[utoipa::path(post, path = "/api/integrations/whatsapp/test", tag = "checks",
    operation_id = "testConnection",
    request_body(content = ConnectionTestRequest, description = "All optional", example = json!({"to": "573103055424"})),
    responses((status = 200, body = ConnectionTestReport), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "NO_CHANNEL")),
    security(("bearer" = [])))]
pub async fn test_connection(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let request = parse(&body)?;
    let channel = pick_channel(&api, &caller, request.channel_id.clone()).await?;
    let test_send = planned_send(&api, &channel, &request)?;
    let meta = ask_meta(&api, &channel).await;
    if meta.token_valid.is_some() {
        record(&api, &channel, &meta).await?;
    }
    let passed = meta.token.ok && meta.phone.ok;
    let mut steps = vec![meta.token, meta.phone];
    if let Some((to, content)) = test_send {
        steps.push(if passed {
            send_test(&api, &caller, &channel, to, content).await?
        } else {
            CheckStep::new(
                "sendTest",
                false,
                "not sent: fix the steps above first (a send Meta refuses for the token would pause the channel)",
            )
        });
    }
    Ok(HttpResponse::Ok().json(ConnectionTestReport {
        ok: steps.iter().all(|s| s.ok),
        channel_id: channel.id,
        steps,
    }))
}

fn parse(body: &[u8]) -> Result<ConnectionTestRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ConnectionTestRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::Validation(format!(
            "the body is not valid JSON for this request: {e} (fields: channelId, to, text)"
        ))
    })
}

/// The channel named, or the organization's first active one.
async fn pick_channel(api: &Api, caller: &Caller, id: Option<String>) -> Result<Channel, ApiError> {
    let org = caller.organization_id.clone();
    let named = id.is_some();
    let found = api
        .db
        .run(move |c| match id {
            Some(id) => channels::find_channel(c, &org, &id),
            None => {
                let all = channels::list_channels(c, &org)?;
                let active = all.iter().find(|ch| ch.status == channels::ACTIVE).cloned();
                Ok(active.or_else(|| all.into_iter().next()))
            }
        })
        .await?;
    match (found, named) {
        (Some(channel), _) => Ok(channel),
        (None, true) => Err(ApiError::NotFound("channel not found".into())),
        (None, false) => Err(ApiError::NoChannel(
            "this organization has no WhatsApp channel to check: add one with `switchboard channel add`".into(),
        )),
    }
}

/// The test message to send, checked before anything is asked of Meta: a bad number or text
/// is the caller's mistake (400), and nothing is done.
fn planned_send(
    api: &Api,
    channel: &Channel,
    request: &ConnectionTestRequest,
) -> Result<Option<(String, OutboundContent)>, ApiError> {
    let Some(raw_to) = request.to.as_deref() else {
        if request.text.is_some() {
            return Err(ApiError::Validation(
                "text is the test message: give `to`, the number to send it to, as well".into(),
            ));
        }
        return Ok(None);
    };
    let country = channel
        .default_country_code
        .clone()
        .or(api.settings.default_country_code.clone());
    let to = phone::normalize(raw_to, country.as_deref())
        .map_err(|e| ApiError::InvalidPhone(format!("to: {e}")))?;
    let content = OutboundContent::Text(Text {
        body: request.text.clone().unwrap_or_else(|| DEFAULT_TEXT.into()),
        preview_url: false,
    });
    content
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    Ok(Some((to, content)))
}

/// The first two steps, and what they say about the token (None: nothing learned).
struct MetaCheck {
    token: CheckStep,
    phone: CheckStep,
    token_valid: Option<bool>,
    /// The number as Meta displays it, when the phone step read it.
    display_number: Option<String>,
}

impl MetaCheck {
    /// Meta could not be asked, so nothing is known.
    fn unasked(why: impl Into<String>) -> Self {
        MetaCheck {
            token: CheckStep::new("token", false, why),
            phone: CheckStep::new("phoneNumber", false, "not checked: the token step failed"),
            token_valid: None,
            display_number: None,
        }
    }
}

async fn ask_meta(api: &Api, channel: &Channel) -> MetaCheck {
    let Some(graph) = api.graph() else {
        return MetaCheck::unasked(
            "this server cannot call Meta: it was started without a Graph API client",
        );
    };
    let Some(secrets) = api.secrets() else {
        return MetaCheck::unasked(
            "this server has no master key loaded, so the channel's access token cannot be opened: set SWITCHBOARD_MASTER_KEY",
        );
    };
    let token = match channel.open_secrets(&secrets) {
        Ok(opened) => opened.access_token,
        Err(e) => {
            return MetaCheck::unasked(format!(
                "the channel's access token cannot be opened with this server's master key ({e}): use the key it was stored with, or store a new token with {}",
                resume_command(channel)
            ));
        }
    };
    let auth = ChannelAuth {
        phone_number_id: &channel.phone_number_id,
        access_token: &token,
    };
    match graph.phone_number(&auth).await {
        Ok(info) => MetaCheck {
            token: CheckStep::new("token", true, "Meta accepted the channel's access token"),
            phone: CheckStep::new("phoneNumber", true, describe(&info)),
            token_valid: Some(true),
            display_number: info.display_phone_number.clone(),
        },
        Err(error) => refused(channel, &error),
    }
}

/// Sorts Meta's refusal into the step it fails.
fn refused(channel: &Channel, error: &GraphError) -> MetaCheck {
    let reason = error.reason();
    match error.code {
        // No Graph error at all (no answer, a proxy's page): nothing is known of the token.
        None => MetaCheck::unasked(format!(
            "Meta could not be asked: {reason}; try again in a moment"
        )),
        Some(190 | 0) => MetaCheck {
            token: CheckStep::new(
                "token",
                false,
                format!(
                    "the access token is invalid or expired: create a new system-user token in Meta Business settings and run {} (Meta said: {reason})",
                    resume_command(channel)
                ),
            ),
            phone: CheckStep::new("phoneNumber", false, "not checked: the token step failed"),
            token_valid: Some(false),
            display_number: None,
        },
        Some(_) if error.class == ErrorClass::RetryLater => MetaCheck::unasked(format!(
            "Meta is busy or limiting calls: {reason}; try again in a moment"
        )),
        Some(code) => MetaCheck {
            token: CheckStep::new("token", true, "Meta accepted the channel's access token"),
            phone: CheckStep::new("phoneNumber", false, phone_advice(channel, code, &reason)),
            token_valid: Some(true),
            display_number: None,
        },
    }
}

/// What to do when the token works but does not read the number.
fn phone_advice(channel: &Channel, code: i64, reason: &str) -> String {
    let id = &channel.phone_number_id;
    match code {
        100 | 33 => format!(
            "Meta does not show phone number id {id} to this token ({reason}): check the id under WhatsApp > API Setup, and that the token's system user is assigned this WhatsApp Business Account"
        ),
        3 | 10 | 200..=299 => format!(
            "the token lacks a permission for phone number {id} ({reason}): give its system user whatsapp_business_management and whatsapp_business_messaging on this WhatsApp Business Account"
        ),
        _ => format!("Meta refused to read phone number {id}: {reason}"),
    }
}

fn describe(info: &PhoneNumberInfo) -> String {
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    format!(
        "{}, verified name {}, quality {}, code verification {}",
        info.display_phone_number
            .clone()
            .unwrap_or_else(|| info.id.clone()),
        info.verified_name
            .as_deref()
            .map(|n| format!("\"{n}\""))
            .unwrap_or_else(|| "none yet".into()),
        or_unknown(&info.quality_rating),
        or_unknown(&info.code_verification_status),
    )
}

fn resume_command(channel: &Channel) -> String {
    format!(
        "`switchboard channel resume --org {} {} --access-token <new token>`",
        channel.organization_id, channel.id
    )
}

/// Keeps what the check learned about the token, for the status page.
async fn record(api: &Api, channel: &Channel, meta: &MetaCheck) -> Result<(), ApiError> {
    let value = json!({
        "tokenValid": meta.token_valid,
        "error": (!meta.token.ok).then(|| meta.token.detail.clone()),
    });
    let id = channel.id.clone();
    // A channel set up from the environment has no display number until Meta tells it (the
    // QR route and the status page need it).
    let number = meta.display_number.clone();
    api.db
        .run(move |c| {
            channels::record_channel_update(c, &id, CONNECTION_CHECK, &value, now())?;
            match number {
                Some(number) => channels::fill_display_number(c, &id, &number),
                None => Ok(()),
            }
        })
        .await?;
    Ok(())
}

/// Queues the test text like any send, then waits a little for Meta's answer.
async fn send_test(
    api: &Api,
    caller: &Caller,
    channel: &Channel,
    to: String,
    content: OutboundContent,
) -> Result<CheckStep, ApiError> {
    let resolved = send::resolve_recipient(
        api,
        caller,
        Some(channel.id.clone()),
        None,
        to.clone(),
        true,
    )
    .await;
    let (channel, to) = match resolved {
        Ok(found) => found,
        Err(ApiError::WindowClosed(why)) => {
            return Ok(CheckStep::new(
                "sendTest",
                false,
                format!(
                    "not sent to {to}: {why}. For a test, write to this number from that phone first, then check again"
                ),
            ));
        }
        Err(e) => return Err(e),
    };
    let queued = api
        .queue(NewOutbound {
            organization_id: caller.organization_id.clone(),
            channel,
            to: to.clone(),
            content,
            lead_id: None,
            reply_to: None,
            idempotency_key: None,
            origin: None,
        })
        .await?;
    let message = wait_for_meta(api, &caller.organization_id, queued.message.clone()).await?;
    let mut step = sent_step(&to, &message, api.test_send_wait());
    step.job_id = Some(queued.job.id);
    step.message_log_id = Some(message.id);
    Ok(step)
}

/// The message once it left QUEUED, or as it is when the wait is over.
async fn wait_for_meta(
    api: &Api,
    org: &str,
    mut message: MessageLog,
) -> Result<MessageLog, ApiError> {
    let deadline = tokio::time::Instant::now() + api.test_send_wait();
    while message.status == MessageStatus::Queued.as_str() && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(POLL_EVERY).await;
        let (org, id) = (org.to_string(), message.id.clone());
        if let Some(found) = api
            .db
            .run(move |c| outbound::find_message(c, &org, &id))
            .await?
        {
            message = found;
        }
    }
    Ok(message)
}

fn sent_step(to: &str, message: &MessageLog, waited: Duration) -> CheckStep {
    let status = MessageStatus::parse(&message.status);
    match status {
        MessageStatus::Queued => CheckStep::new(
            "sendTest",
            true,
            format!(
                "queued for {to}, but Meta had not answered within {} s; the job runner sends it (follow message {} in the inbox)",
                waited.as_secs(),
                message.id
            ),
        ),
        MessageStatus::Failed => CheckStep::new(
            "sendTest",
            false,
            format!(
                "Meta refused the test message to {to}: {} (code {})",
                message
                    .error_message
                    .as_deref()
                    .unwrap_or("no reason given"),
                message.error_code.as_deref().unwrap_or("none")
            ),
        ),
        _ => {
            let wamid = message.external_message_id.clone();
            let mut step = CheckStep::new(
                "sendTest",
                true,
                format!(
                    "Meta accepted the test message to {to}: {}",
                    wamid.as_deref().unwrap_or("(no id)")
                ),
            );
            step.wamid = wamid;
            step
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_body_checks_everything_by_default_and_typos_are_refused() {
        let request = parse(b"").unwrap();
        assert!(request.channel_id.is_none() && request.to.is_none());
        parse(b" {} ").unwrap();
        let error = parse(br#"{"phone": "1"}"#).unwrap_err();
        assert!(error.to_string().contains("phone"), "{error}");
        assert!(parse(b"[1]").is_err());
    }
}
