//! `GET /api/whatsapp/status`: for each of the organization's numbers, whether it is set up,
//! when Meta last reached it (per webhook field) and when it last sent, and whether its token
//! is known to work; the organization's open jobs; and the server's settings (no secrets).
//!
//! It never calls Meta: a status page is read often, and Meta's answer is already known from
//! what happened last. The token counts as invalid while the channel is paused by Meta's 190;
//! otherwise the newest of the last connection check (`POST /api/integrations/whatsapp/test`)
//! and the last message Meta accepted decides; with neither, nothing is known (null).

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use switchboard_store::models::Channel;
use switchboard_store::repo::{channels, stats};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::checks::CheckRecord;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    pub channels: Vec<ChannelStatus>,
    pub jobs: JobCounts,
    pub env: EnvView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStatus {
    pub id: String,
    pub name: String,
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    /// It has an access token and a phone number id: enough to send.
    pub configured: bool,
    /// ACTIVE, or PAUSED when Meta refused the channel (statusReason says what to do).
    pub status: String,
    pub status_reason: Option<String>,
    pub quality_rating: Option<String>,
    /// Webhook signatures can be checked (an app secret is stored).
    pub app_secret_set: bool,
    /// The newest of `lastWebhookByField`.
    pub last_webhook_at: Option<DateTime<Utc>>,
    /// When each webhook field (messages, statuses, account_update…) last reached this number.
    #[schema(example = json!({"messages": "2026-11-23T10:00:00Z"}))]
    pub last_webhook_by_field: BTreeMap<String, DateTime<Utc>>,
    /// When Meta last accepted a message Switchboard sent from this number.
    pub last_send_at: Option<DateTime<Utc>>,
    pub health: ChannelHealth,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelHealth {
    /// true or false when known (see the route's description), null when not.
    pub token_valid: Option<bool>,
    /// When what `tokenValid` says was learned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
    /// What was wrong, when the token is not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The organization's jobs not finished.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobCounts {
    pub pending: i64,
    pub running: i64,
    /// Gave up: see `GET /api/integrations/jobs?status=DEAD`, retry with `…/retry`.
    pub dead: i64,
}

/// How this server is set up (never a secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvView {
    pub version: String,
    /// Where Meta is called (`WHATSAPP_API_URL`; the sandbox in tests), null when this
    /// process has no Graph client.
    pub graph_api_url: Option<String>,
    pub graph_api_version: Option<String>,
    /// `DEFAULT_COUNTRY_CODE`, for numbers typed without one.
    pub default_country_code: Option<String>,
    /// A job runner shares this process (`switchboard start`); false with `serve`.
    pub runner_in_process: bool,
    /// The master key is loaded (needed to open channels' tokens).
    pub master_key_loaded: bool,
}

/// Everything read from the database in one visit.
struct Found {
    channels: Vec<(Channel, Vec<(String, NaiveDateTime)>)>,
    last_sends: HashMap<String, NaiveDateTime>,
    jobs: HashMap<String, i64>,
}

/// Each number's setup, webhooks, sends and token health; open jobs; the server's settings
/// (any role). Meta is not called: see the connection check for that.
#[utoipa::path(get, path = "/api/whatsapp/status", tag = "checks",
    operation_id = "whatsappStatus",
    responses((status = 200, body = StatusView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn status(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| {
            let list = channels::list_channels(c, &org)?;
            let mut with_fields = Vec::with_capacity(list.len());
            for channel in list {
                let fields = channels::list_webhook_fields(c, &channel.id)?;
                with_fields.push((channel, fields));
            }
            Ok(Found {
                channels: with_fields,
                last_sends: stats::last_sends(c, &org)?,
                jobs: stats::count_open_jobs(c, &org)?,
            })
        })
        .await?;
    let count = |status: &str| found.jobs.get(status).copied().unwrap_or(0);
    let view = StatusView {
        jobs: JobCounts {
            pending: count("PENDING"),
            running: count("RUNNING"),
            dead: count("DEAD"),
        },
        channels: found
            .channels
            .into_iter()
            .map(|(channel, fields)| {
                let last_send = found.last_sends.get(&channel.id).copied();
                channel_status(channel, fields, last_send)
            })
            .collect(),
        env: env(&api),
    };
    Ok(HttpResponse::Ok().json(view))
}

fn channel_status(
    channel: Channel,
    fields: Vec<(String, NaiveDateTime)>,
    last_send: Option<NaiveDateTime>,
) -> ChannelStatus {
    let last_webhook_at = fields.iter().map(|(_, at)| *at).max().map(utc);
    let health = health(&channel, last_send);
    ChannelStatus {
        configured: !channel.access_token_sealed.is_empty()
            && !channel.phone_number_id.trim().is_empty(),
        app_secret_set: channel.app_secret_sealed.is_some(),
        last_webhook_at,
        last_webhook_by_field: fields.into_iter().map(|(f, at)| (f, utc(at))).collect(),
        last_send_at: last_send.map(utc),
        health,
        id: channel.id,
        name: channel.name,
        phone_number_id: channel.phone_number_id,
        display_phone_number: channel.display_phone_number,
        status: channel.status,
        status_reason: channel.status_reason,
        quality_rating: channel.quality_rating,
    }
}

/// What is known of the token without asking Meta (see the module's description).
fn health(channel: &Channel, last_send: Option<NaiveDateTime>) -> ChannelHealth {
    let check = CheckRecord::of(channel);
    let known_check = check
        .as_ref()
        .and_then(|c| c.token_valid.map(|valid| (c.at, valid, c.error.clone())));
    if channel.status == channels::PAUSED
        && let Some(reason) = channel
            .status_reason
            .as_deref()
            .filter(|r| r.contains("(#190)"))
    {
        return ChannelHealth {
            token_valid: Some(false),
            checked_at: known_check
                .filter(|(_, valid, _)| !valid)
                .map(|(at, _, _)| utc(at)),
            error: Some(reason.to_string()),
        };
    }
    let sent = last_send.map(|at| (at, true, None));
    match [known_check, sent]
        .into_iter()
        .flatten()
        .max_by_key(|(at, _, _)| *at)
    {
        Some((at, valid, error)) => ChannelHealth {
            token_valid: Some(valid),
            checked_at: Some(utc(at)),
            error: if valid { None } else { error },
        },
        None => ChannelHealth {
            token_valid: None,
            checked_at: None,
            error: None,
        },
    }
}

fn env(api: &Api) -> EnvView {
    EnvView {
        version: env!("CARGO_PKG_VERSION").to_string(),
        graph_api_url: api.graph().map(|g| g.api_url()),
        graph_api_version: api.graph().map(|g| g.api_version().to_string()),
        default_country_code: api.settings.default_country_code.clone(),
        runner_in_process: api.runs_jobs(),
        master_key_loaded: api.secrets().is_some(),
    }
}
