//! The helpdesk's tickets: list, read with comments and notifications, reply, change status,
//! assign. Replies and status changes notify the customer on WhatsApp (see
//! `switchboard_store::helpdesk`); a notification that cannot go is recorded, never blocking.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::Role;
use switchboard_domain::helpdesk::TicketStatus;
use switchboard_store::StoreError;
use switchboard_store::helpdesk::{self, AgentReply};
use switchboard_store::models::{Ticket, TicketComment, TicketNotification};
use switchboard_store::repo::conversations::Assignee;
use switchboard_store::repo::tickets::{self, TicketFilter};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::page::{PageQuery, Paged};
use crate::{Api, utc};

/// Longest agent reply: WhatsApp's text limit.
const MAX_REPLY_CHARS: usize = 4096;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    pub id: String,
    /// The number customers see ("Ticket #1001").
    pub number: i64,
    pub subject: String,
    /// new, in_progress, waiting_customer, resolved, closed or cancelled
    pub status: String,
    pub service_id: Option<String>,
    pub conversation_id: Option<String>,
    pub lead_id: Option<String>,
    pub contact_phone: String,
    pub assigned_to_id: Option<String>,
    /// The Jira issue, for tickets of a Jira-bound service.
    pub jira_issue_key: Option<String>,
    pub last_activity_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Ticket> for TicketView {
    fn from(t: Ticket) -> Self {
        TicketView {
            id: t.id,
            number: t.number,
            subject: t.subject,
            status: t.status,
            service_id: t.service_id,
            conversation_id: t.conversation_id,
            lead_id: t.lead_id,
            contact_phone: t.contact_phone,
            assigned_to_id: t.assigned_to_id,
            jira_issue_key: t.jira_issue_key,
            last_activity_at: utc(t.last_activity_at),
            closed_at: t.closed_at.map(utc),
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    pub id: String,
    /// customer or agent
    pub author_type: String,
    pub author_user_id: Option<String>,
    pub body: String,
    /// The WhatsApp message it came from (customer comments).
    pub message_log_id: Option<String>,
    /// Downloaded media, served at `/api/media/{mediaId}`.
    pub media_id: Option<String>,
    /// Its id in Jira, once it is there (or when it came from there).
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<TicketComment> for CommentView {
    fn from(c: TicketComment) -> Self {
        CommentView {
            id: c.id,
            author_type: c.author_type,
            author_user_id: c.author_user_id,
            body: c.body,
            message_log_id: c.message_log_id,
            media_id: c.media_id,
            external_id: c.external_id,
            created_at: utc(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    /// status_changed or agent_reply
    pub event: String,
    /// QUEUED (see its message for delivery) or SKIPPED (see reason)
    pub status: String,
    /// text (inside the 24-hour window) or template
    pub via: Option<String>,
    pub reason: Option<String>,
    pub message_log_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<TicketNotification> for NotificationView {
    fn from(n: TicketNotification) -> Self {
        NotificationView {
            id: n.id,
            event: n.event,
            status: n.status,
            via: n.via,
            reason: n.reason,
            message_log_id: n.message_log_id,
            created_at: utc(n.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketView,
    /// Oldest first.
    pub comments: Vec<CommentView>,
    /// What the customer was told (or why not), oldest first.
    pub notifications: Vec<NotificationView>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct TicketQuery {
    /// new, in_progress, waiting_customer, resolved, closed or cancelled
    #[param(pattern = "^(new|in_progress|waiting_customer|resolved|closed|cancelled)$")]
    pub status: Option<String>,
    pub service_id: Option<String>,
    /// A user id, `me`, or `none` for unassigned tickets.
    pub assigned_to: Option<String>,
}

fn parse_status(raw: &str) -> Result<TicketStatus, ApiError> {
    TicketStatus::parse(raw.trim()).ok_or_else(|| {
        ApiError::Validation(format!(
            "status '{raw}' must be one of new, in_progress, waiting_customer, resolved, closed, cancelled"
        ))
    })
}

/// The organization's tickets, newest first.
#[utoipa::path(get, path = "/api/tickets", tag = "tickets", operation_id = "listTickets",
    params(TicketQuery, PageQuery),
    responses((status = 200, body = Paged<TicketView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<TicketQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let query = query.into_inner();
    let filter = TicketFilter {
        status: query.status.as_deref().map(parse_status).transpose()?,
        service_id: query.service_id,
        assigned_to: query.assigned_to.map(|a| match a.as_str() {
            "me" => Assignee::User(caller.user_id.clone()),
            "none" => Assignee::Nobody,
            _ => Assignee::User(a),
        }),
    };
    let org = caller.organization_id;
    let (rows, total) = api
        .db
        .run(move |c| tickets::list_ticket_page(c, &org, &filter, request.store()))
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, TicketView::from)))
}

/// A ticket with its comments and notifications.
#[utoipa::path(get, path = "/api/tickets/{id}", tag = "tickets", operation_id = "getTicket",
    params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, body = TicketDetail), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let detail = detail(&api, caller.organization_id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(detail))
}

async fn detail(api: &Api, org: String, id: String) -> Result<TicketDetail, ApiError> {
    let (ticket, comments, notifications) = api
        .db
        .run(move |c| {
            let ticket =
                tickets::find_ticket(c, &org, &id)?.ok_or(StoreError::NotFound("ticket"))?;
            let comments = tickets::list_comments(c, &org, &id)?;
            let notifications = tickets::list_notifications(c, &org, &id)?;
            Ok::<_, StoreError>((ticket, comments, notifications))
        })
        .await?;
    Ok(TicketDetail {
        ticket: TicketView::from(ticket),
        comments: comments.into_iter().map(CommentView::from).collect(),
        notifications: notifications
            .into_iter()
            .map(NotificationView::from)
            .collect(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReply {
    #[schema(min_length = 1, max_length = 4096)]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyView {
    pub comment: CommentView,
    /// How the customer is told: a queued WhatsApp message, or why it was skipped.
    pub notification: Option<NotificationView>,
}

/// An agent's answer: a comment on the ticket and a WhatsApp message to the customer (text
/// inside the 24-hour window, the `agentReply` template outside it).
#[utoipa::path(post, path = "/api/tickets/{id}/replies", tag = "tickets", operation_id = "replyToTicket",
    params(("id" = String, Path, description = "Ticket id")),
    request_body = CreateReply,
    responses((status = 201, body = ReplyView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reply(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<CreateReply>,
) -> Result<HttpResponse, ApiError> {
    let text = body.into_inner().text.trim().to_string();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(ApiError::Validation(format!(
            "text must be 1 to {MAX_REPLY_CHARS} characters"
        )));
    }
    let (org, user) = (caller.organization_id, caller.user_id);
    let id = id.into_inner();
    let reply = api
        .db
        .run(move |c| {
            helpdesk::agent_reply(
                c,
                &AgentReply {
                    organization_id: &org,
                    ticket_id: &id,
                    author_user_id: Some(&user),
                    body: &text,
                    external_id: None,
                },
            )
        })
        .await?;
    api.wake();
    Ok(HttpResponse::Created().json(ReplyView {
        comment: CommentView::from(reply.comment),
        notification: reply.notification.map(NotificationView::from),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeStatus {
    #[schema(pattern = "^(new|in_progress|waiting_customer|resolved|closed|cancelled)$")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChanged {
    pub ticket: TicketView,
    /// None when the ticket had that status already (nothing changed, nobody told).
    pub notification: Option<NotificationView>,
}

/// Moves a ticket to a status and tells the customer.
#[utoipa::path(put, path = "/api/tickets/{id}/status", tag = "tickets", operation_id = "setTicketStatus",
    params(("id" = String, Path, description = "Ticket id")),
    request_body = ChangeStatus,
    responses((status = 200, body = StatusChanged), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_status(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ChangeStatus>,
) -> Result<HttpResponse, ApiError> {
    let status = parse_status(&body.status)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let (ticket, notification) = api
        .db
        .run(move |c| helpdesk::change_status(c, &org, &id, status))
        .await?;
    api.wake();
    Ok(HttpResponse::Ok().json(StatusChanged {
        ticket: TicketView::from(ticket),
        notification: notification.map(NotificationView::from),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignTicket {
    /// A user of the organization; null unassigns.
    pub assigned_to_id: Option<String>,
}

/// Assigns a ticket (OWNER, ADMIN or MANAGER).
#[utoipa::path(patch, path = "/api/tickets/{id}/assign", tag = "tickets", operation_id = "assignTicket",
    params(("id" = String, Path, description = "Ticket id")),
    request_body = AssignTicket,
    responses((status = 200, body = TicketView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<AssignTicket>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Owner, Role::Admin, Role::Manager])?;
    let user = body.into_inner().assigned_to_id;
    let org = caller.organization_id;
    let id = id.into_inner();
    let ticket = api
        .db
        .run(move |c| helpdesk::assign(c, &org, &id, user.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(TicketView::from(ticket)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_by_their_names_only() {
        for status in TicketStatus::ALL {
            assert_eq!(parse_status(status.as_str()).unwrap(), status);
        }
        assert!(parse_status("open").is_err());
    }
}
