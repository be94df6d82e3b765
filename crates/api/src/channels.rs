//! The organization's WhatsApp numbers and their health (a paused channel says why).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchboard_store::repo::channels;

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

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
