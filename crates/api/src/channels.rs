//! The organization's WhatsApp numbers and their health (a paused channel says why), and what
//! to paste into Meta's webhook settings for each.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchboard_domain::Role;
use switchboard_store::StoreError;
use switchboard_store::repo::channels;

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Where Meta delivers webhooks: the first of the ingest crate's `WEBHOOK_PATHS` (the API does
/// not depend on ingest; the e2e web test proves Meta's verification works at this path).
pub const WEBHOOK_CALLBACK_PATH: &str = "/api/webhooks/whatsapp";

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    id: String,
    name: String,
    phone_number_id: String,
    display_phone_number: Option<String>,
    waba_id: Option<String>,
    messages_per_second: i32,
    /// ACTIVE, or PAUSED when Meta refused the channel (see statusReason for what to do).
    status: String,
    status_reason: Option<String>,
    quality_rating: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    pub data: Vec<ChannelView>,
    pub total: usize,
}

/// The organization's WhatsApp numbers and their health.
#[utoipa::path(get, path = "/api/integrations/whatsapp/channels", tag = "sending", operation_id = "listChannels",
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id.clone();
    let found = api
        .db
        .run(move |c| channels::list_channels(c, &org))
        .await?;
    let data: Vec<ChannelView> = found
        .into_iter()
        .map(|c| ChannelView {
            id: c.id,
            name: c.name,
            phone_number_id: c.phone_number_id,
            display_phone_number: c.display_phone_number,
            waba_id: c.waba_id,
            messages_per_second: c.messages_per_second,
            status: c.status,
            status_reason: c.status_reason,
            quality_rating: c.quality_rating,
        })
        .collect();
    Ok(HttpResponse::Ok().json(ChannelList {
        total: data.len(),
        data,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSetupView {
    pub channel_id: String,
    /// Append to this server's public origin for Meta's "Callback URL".
    pub callback_path: String,
    /// What to type in Meta's "Verify token" (null: the channel has none; set one with
    /// `switchboard channel add --verify-token` or `WHATSAPP_VERIFY_TOKEN`).
    pub verify_token: Option<String>,
    /// Whether webhook signatures can be checked (the channel has its app secret).
    pub app_secret_configured: bool,
}

/// What to paste into Meta's webhook settings for this number (OWNER or ADMIN: it shows the
/// verify token).
#[utoipa::path(get, path = "/api/integrations/whatsapp/channels/{id}/webhook-setup", tag = "sending",
    operation_id = "getChannelWebhookSetup",
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = WebhookSetupView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn webhook_setup(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Owner, Role::Admin])?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let channel = api
        .db
        .run(move |c| channels::find_channel(c, &org, &id)?.ok_or(StoreError::NotFound("channel")))
        .await?;
    let verify_token = match &channel.verify_token_sealed {
        None => None,
        Some(sealed) => {
            let secrets = api.secrets().ok_or_else(|| {
                tracing::error!(
                    "the API was started without the master key, so it cannot open a verify token"
                );
                ApiError::Internal
            })?;
            let opened = secrets.open(channels::VERIFY_TOKEN, sealed).map_err(|e| {
                tracing::error!(channel = %channel.id, error = %e, "cannot open the channel's verify token");
                ApiError::Internal
            })?;
            Some(opened)
        }
    };
    Ok(HttpResponse::Ok().json(WebhookSetupView {
        channel_id: channel.id,
        callback_path: WEBHOOK_CALLBACK_PATH.to_string(),
        verify_token,
        app_secret_configured: channel.app_secret_sealed.is_some(),
    }))
}
