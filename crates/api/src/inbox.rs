//! The inbox: conversations newest first, their messages, assignment and read state.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{Role, window};
use switchboard_store::models::{Media, MessageLog, now};
use switchboard_store::repo::conversations::{
    self, Assignee, ConversationFilter, InboxRow, MarkedRead,
};
use switchboard_store::repo::messages::{self, MessageFilter};
use switchboard_store::repo::{media, organizations};
use switchboard_store::{AnyConnection, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::page::{PageQuery, Paged};
use crate::{Api, utc};

const PROVIDER: &str = "WHATSAPP";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: String,
    pub provider: String,
    pub channel_id: String,
    /// The customer's number (E.164 digits), or their WhatsApp user id when Meta gave none.
    pub phone: String,
    pub lead_id: Option<String>,
    pub lead_name: Option<String>,
    /// The name on the customer's WhatsApp profile, when Meta sent one.
    pub contact_name: Option<String>,
    pub unread_count: i32,
    pub last_message_at: Option<DateTime<Utc>>,
    pub last_message_text: Option<String>,
    /// INBOUND or OUTBOUND
    pub last_message_direction: Option<String>,
    pub assigned_to_id: Option<String>,
    pub assigned_to_name: Option<String>,
    /// When the 24-hour customer-service window closes (null: the customer never wrote).
    pub window_open_until: Option<DateTime<Utc>>,
    /// Free-form messages can be sent now; otherwise only approved templates.
    pub window_open: bool,
    /// The conversation's newest ticket (helpdesk mode), open or not; `GET /api/tickets/{id}`
    /// has the rest.
    pub latest_ticket: Option<TicketSummaryView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketSummaryView {
    pub id: String,
    /// The number customers see ("Ticket #1001").
    pub number: i64,
    /// new, in_progress, waiting_customer, resolved, closed or cancelled
    pub status: String,
}

impl From<InboxRow> for ConversationView {
    fn from(row: InboxRow) -> Self {
        let c = row.conversation;
        let closes = window::window_open_until(c.last_inbound_at);
        ConversationView {
            window_open: window::is_window_open(c.last_inbound_at, now()),
            window_open_until: closes.map(utc),
            id: c.id,
            provider: PROVIDER.into(),
            channel_id: c.channel_id,
            phone: c.contact_phone,
            lead_id: c.lead_id,
            lead_name: row.lead_name,
            contact_name: row.contact_name,
            unread_count: c.unread_count,
            last_message_at: c.last_message_at.map(utc),
            last_message_text: c.last_message_text,
            last_message_direction: c.last_message_direction,
            assigned_to_id: c.assigned_to_id,
            assigned_to_name: row.assigned_to_name,
            latest_ticket: row.latest_ticket.map(|t| TicketSummaryView {
                id: t.id,
                number: t.number,
                status: t.status,
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    /// Meta's media id (download it through Meta with the channel's token).
    pub id: String,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    /// Our copy of a customer's file (null for files we sent, or none was queued).
    pub download: Option<DownloadView>,
}

/// A customer's file as the DOWNLOAD_MEDIA job fetches it from Meta.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownloadView {
    /// The file's id: `GET /api/media/{id}` serves it.
    pub id: String,
    /// PENDING (downloading; `error` tells why the last attempt failed, if one did),
    /// DOWNLOADED, or FAILED (`error` says why: too large, wrong type, Meta refused…).
    pub status: String,
    pub error: Option<String>,
    pub size_bytes: Option<i64>,
    /// Where to fetch it, once DOWNLOADED.
    pub url: Option<String>,
}

impl From<Media> for DownloadView {
    fn from(m: Media) -> Self {
        DownloadView {
            url: (m.status == media::DOWNLOADED).then(|| format!("/api/media/{}", m.id)),
            id: m.id,
            status: m.status,
            error: m.error,
            size_bytes: m.size_bytes,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub provider: String,
    pub conversation_id: Option<String>,
    pub lead_id: Option<String>,
    /// INBOUND or OUTBOUND
    pub direction: String,
    /// text, image, video, audio, document, sticker, location, contacts, interactive, button,
    /// reaction, template…
    #[serde(rename = "type")]
    pub kind: String,
    pub to: Option<String>,
    pub from: Option<String>,
    pub text: Option<String>,
    pub media: Option<MediaView>,
    /// RECEIVED for inbound; QUEUED, SENT, DELIVERED, READ or FAILED for outbound.
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Meta's message id (wamid), once known.
    pub external_message_id: Option<String>,
    /// The wamid this message replies to.
    pub reply_to: Option<String>,
    pub template_name: Option<String>,
    pub template_language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub status_updated_at: Option<DateTime<Utc>>,
}

impl From<MessageLog> for MessageView {
    fn from(m: MessageLog) -> Self {
        MessageView::with_download(m, None)
    }
}

impl MessageView {
    /// The message with the state of its file's download (`stored`: its media row).
    pub fn with_download(m: MessageLog, stored: Option<Media>) -> Self {
        let media = m.media_id.map(|id| MediaView {
            id,
            mime_type: m.media_mime_type,
            filename: m.media_filename,
            download: stored.map(DownloadView::from),
        });
        MessageView {
            id: m.id,
            provider: m.provider,
            conversation_id: m.conversation_id,
            lead_id: m.lead_id,
            direction: m.direction,
            kind: m.message_type,
            to: m.to_phone,
            from: m.from_phone,
            text: m.text,
            media,
            status: m.status,
            error_code: m.error_code,
            error_message: m.error_message,
            external_message_id: m.external_message_id,
            reply_to: m.context_message_id,
            template_name: m.template_name,
            template_language: m.template_language,
            created_at: utc(m.created_at),
            status_updated_at: m.status_updated_at.map(utc),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ConversationQuery {
    /// Only WHATSAPP conversations exist; any other provider lists none.
    pub provider: Option<String>,
    /// A user id, `me` (the caller) or `none` (unassigned).
    pub assigned_to: Option<String>,
    /// true: only conversations with unread messages; false: only read ones.
    pub unread: Option<bool>,
    /// Part of the customer's phone number, of the lead's name or of their WhatsApp name.
    pub search: Option<String>,
}

/// The inbox, newest message first.
#[utoipa::path(get, path = "/api/integrations/conversations", tag = "inbox",
    params(ConversationQuery, PageQuery),
    responses(
        (status = 200, body = Paged<ConversationView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_conversations(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<ConversationQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let query = query.into_inner();
    if query
        .provider
        .as_deref()
        .is_some_and(|p| !p.eq_ignore_ascii_case(PROVIDER))
    {
        return Ok(HttpResponse::Ok().json(Paged::<ConversationView>::new(
            Vec::<InboxRow>::new(),
            0,
            request,
            ConversationView::from,
        )));
    }
    let filter = ConversationFilter {
        assigned_to: query.assigned_to.map(|a| match a.to_lowercase().as_str() {
            "none" | "unassigned" => Assignee::Nobody,
            "me" => Assignee::User(caller.user_id.clone()),
            _ => Assignee::User(a),
        }),
        unread: query.unread,
        search: query.search,
    };
    let org = caller.organization_id;
    let (rows, total) = api
        .db
        .run(move |c| conversations::list_inbox(c, &org, &filter, request.store()))
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, ConversationView::from)))
}

/// One conversation of the inbox.
#[utoipa::path(get, path = "/api/integrations/conversations/{id}", tag = "inbox",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_conversation(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let id = id.into_inner();
    let row = api
        .db
        .run(move |c| conversations::find_inbox_row(c, &org, &id))
        .await?;
    Ok(HttpResponse::Ok().json(ConversationView::from(row)))
}

/// A conversation's messages, newest first.
#[utoipa::path(get, path = "/api/integrations/conversations/{id}/messages", tag = "inbox",
    params(("id" = String, Path, description = "Conversation id"), PageQuery),
    responses((status = 200, body = Paged<MessageView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn conversation_messages(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let (rows, total) = api
        .db
        .run(move |c| {
            conversations::find_conversation(c, &org, &id)?
                .ok_or(switchboard_store::StoreError::NotFound("conversation"))?;
            let filter = MessageFilter {
                conversation_id: Some(id),
                lead_id: None,
            };
            let (page, total) = messages::list_message_page(c, &org, &filter, request.store())?;
            Ok((with_downloads(c, &org, page)?, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, view)))
}

/// A page of messages with their files' downloads: one query for the whole page.
fn with_downloads(
    conn: &mut AnyConnection,
    org: &str,
    page: Vec<MessageLog>,
) -> Result<Vec<(MessageLog, Option<Media>)>, StoreError> {
    let ids: Vec<String> = page
        .iter()
        .filter(|m| m.media_id.is_some())
        .map(|m| m.id.clone())
        .collect();
    let mut stored = media::find_media_of_messages(conn, org, &ids)?;
    Ok(page
        .into_iter()
        .map(|m| {
            let found = stored
                .iter()
                .position(|f| f.message_log_id.as_deref() == Some(m.id.as_str()))
                .map(|i| stored.swap_remove(i));
            (m, found)
        })
        .collect())
}

fn view((message, stored): (MessageLog, Option<Media>)) -> MessageView {
    MessageView::with_download(message, stored)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct MessageQuery {
    pub lead_id: Option<String>,
    pub conversation_id: Option<String>,
}

/// Messages of the organization, newest first, by lead or conversation.
#[utoipa::path(get, path = "/api/integrations/messages", tag = "inbox",
    params(MessageQuery, PageQuery),
    responses((status = 200, body = Paged<MessageView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_messages(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<MessageQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let query = query.into_inner();
    let filter = MessageFilter {
        conversation_id: query.conversation_id,
        lead_id: query.lead_id,
    };
    let org = caller.organization_id;
    let (rows, total) = api
        .db
        .run(move |c| {
            let (page, total) = messages::list_message_page(c, &org, &filter, request.store())?;
            Ok((with_downloads(c, &org, page)?, total))
        })
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, view)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignRequest {
    /// A user of the organization, or null to unassign.
    pub assigned_to_id: Option<String>,
}

/// Assigns a conversation to a user (OWNER, ADMIN or MANAGER).
#[utoipa::path(patch, path = "/api/integrations/conversations/{id}/assign", tag = "inbox",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = AssignRequest,
    responses((status = 200, body = ConversationView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<AssignRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Owner, Role::Admin, Role::Manager])?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let user = body.into_inner().assigned_to_id;
    let row = api
        .db
        .run(move |c| conversations::assign_conversation(c, &org, &id, user.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(ConversationView::from(row)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkedReadView {
    pub conversation: ConversationView,
    /// The MARK_READ job sending Meta the read receipt (null when receipts are off or there is
    /// no inbound message).
    pub receipt_job_id: Option<String>,
}

/// Sets the unread count to 0 and sends Meta a read receipt for the last inbound message
/// (unless the organization turned receipts off).
#[utoipa::path(patch, path = "/api/integrations/conversations/{id}/mark-read", tag = "inbox",
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = MarkedReadView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn mark_read(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let id = id.into_inner();
    let marked: MarkedRead = api
        .db
        .run(move |c| {
            let receipts = organizations::settings_of(c, &org)?.read_receipts;
            conversations::mark_conversation_read(c, &org, &id, receipts)
        })
        .await?;
    if marked.receipt_job_id.is_some() {
        api.wake();
    }
    Ok(HttpResponse::Ok().json(MarkedReadView {
        conversation: marked.row.into(),
        receipt_job_id: marked.receipt_job_id,
    }))
}
