//! The organization's Jira connection, and the webhook Jira calls when someone comments on an
//! issue that came from a ticket: the comment goes to the customer on WhatsApp.
//!
//! The webhook carries no bearer token (Jira cannot send one); it names its connection by a
//! secret Switchboard generated, shown once when the connection is saved and stored only as a
//! hash. The secret decides the organization, so a webhook reaches only its own tickets.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_domain::outbound::MAX_TEXT_CHARS;
use switchboard_store::helpdesk::{self, AgentReply};
use switchboard_store::models::JiraConnection;
use switchboard_store::repo::jira::{self, JiraConnectionInput};
use switchboard_store::repo::tickets;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];

/// Where Jira posts its webhooks (`?secret=` or the header [`SECRET_HEADER`] names the connection).
pub const WEBHOOK_PATH: &str = "/api/integrations/jira/webhook";
pub const SECRET_HEADER: &str = "X-Switchboard-Jira-Secret";
/// The only webhook event acted on.
const COMMENT_CREATED: &str = "comment_created";
/// Jira's webhook bodies carry the whole issue; its text fields hold up to 32,767 characters.
pub const MAX_WEBHOOK_BYTES: usize = 2 * 1024 * 1024;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutJiraConnection {
    /// Your Jira site, e.g. https://your-company.atlassian.net
    #[schema(example = "https://your-company.atlassian.net", max_length = 2048)]
    pub base_url: String,
    /// The email of the Jira account issues and comments are created as.
    #[schema(example = "helpdesk-bot@your-company.com")]
    pub user_email: String,
    /// An API token of that account (stored encrypted, never shown again).
    #[schema(min_length = 1)]
    pub api_token: String,
}

/// Hand-written so the API token never reaches a log through `{:?}`.
impl std::fmt::Debug for PutJiraConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutJiraConnection")
            .field("base_url", &self.base_url)
            .field("user_email", &self.user_email)
            .field("api_token", &"[redacted]")
            .finish()
    }
}

/// A connection as `GET` shows it: no API token, no webhook secret.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraConnectionView {
    pub id: String,
    pub base_url: String,
    pub user_email: String,
    /// Where to point Jira's webhook, with `?secret=<webhookSecret>`.
    #[schema(example = "/api/integrations/jira/webhook")]
    pub webhook_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<JiraConnection> for JiraConnectionView {
    fn from(c: JiraConnection) -> Self {
        JiraConnectionView {
            id: c.id,
            base_url: c.base_url,
            user_email: c.user_email,
            webhook_url: WEBHOOK_PATH.to_string(),
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A connection just saved, with the webhook secret: shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedJiraConnection {
    pub id: String,
    pub base_url: String,
    pub user_email: String,
    #[schema(example = "/api/integrations/jira/webhook")]
    pub webhook_url: String,
    /// Give it to Jira's webhook (`?secret=` or the X-Switchboard-Jira-Secret header). Shown
    /// only now; saving the connection again makes a new one and the old stops working.
    pub webhook_secret: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Connects the organization's Jira (OWNER or ADMIN), or replaces its settings. Answers a new
/// webhook secret every time.
#[utoipa::path(put, path = "/api/integrations/jira", tag = "jira", operation_id = "putJiraConnection",
    request_body = PutJiraConnection,
    responses((status = 200, body = SavedJiraConnection), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_connection(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<PutJiraConnection>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let secrets = api.secrets().ok_or_else(|| {
        tracing::error!(
            "the API was started without the master key, so it cannot store a Jira API token"
        );
        ApiError::Internal
    })?;
    let body = body.into_inner();
    let org = caller.organization_id;
    let saved = api
        .db
        .run(move |c| {
            jira::upsert_connection(
                c,
                &secrets,
                &JiraConnectionInput {
                    organization_id: &org,
                    base_url: &body.base_url,
                    user_email: &body.user_email,
                    api_token: &body.api_token,
                },
            )
        })
        .await?;
    let connection = saved.connection;
    tracing::info!(connection = %connection.id, base_url = %connection.base_url, "Jira connection saved");
    Ok(HttpResponse::Ok().json(SavedJiraConnection {
        id: connection.id,
        base_url: connection.base_url,
        user_email: connection.user_email,
        webhook_url: WEBHOOK_PATH.to_string(),
        webhook_secret: saved.webhook_secret,
        created_at: utc(connection.created_at),
        updated_at: utc(connection.updated_at),
    }))
}

/// The organization's Jira connection (OWNER or ADMIN), without its secrets.
#[utoipa::path(get, path = "/api/integrations/jira", tag = "jira", operation_id = "getJiraConnection",
    responses((status = 200, body = JiraConnectionView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_connection(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| jira::find_connection(c, &org))
        .await?
        .ok_or_else(not_connected)?;
    Ok(HttpResponse::Ok().json(JiraConnectionView::from(found)))
}

/// Disconnects Jira (OWNER or ADMIN): its webhook stops working; tickets keep their issue keys,
/// and their Jira jobs fail until a connection is saved again.
#[utoipa::path(delete, path = "/api/integrations/jira", tag = "jira", operation_id = "deleteJiraConnection",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_connection(
    api: web::Data<Api>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let deleted = api
        .db
        .run(move |c| jira::delete_connection(c, &org))
        .await?;
    if !deleted {
        return Err(not_connected());
    }
    Ok(HttpResponse::NoContent().finish())
}

fn not_connected() -> ApiError {
    ApiError::NotFound(
        "this organization has no Jira connection: PUT /api/integrations/jira creates one".into(),
    )
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookQuery {
    /// The connection's webhook secret (or send it in the X-Switchboard-Jira-Secret header).
    pub secret: Option<String>,
}

/// The parts of Jira's webhook body that are read; the rest is ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraWebhook {
    /// Only `comment_created` is acted on.
    #[schema(example = "comment_created")]
    pub webhook_event: Option<String>,
    pub issue: Option<JiraWebhookIssue>,
    pub comment: Option<JiraWebhookComment>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct JiraWebhookIssue {
    #[schema(example = "SUP-12")]
    pub key: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct JiraWebhookComment {
    /// Jira's comment id (a string of digits; a number is accepted too).
    #[schema(value_type = Option<String>, example = "10042")]
    pub id: Option<Value>,
    pub body: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub author: Option<Value>,
}

/// What the webhook did with an event Jira sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOutcome {
    /// The ticket comment created for it (and sent to the customer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
    /// Why nothing was done (another event, an issue of no ticket, a comment Switchboard wrote,
    /// a repeated delivery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

fn ignored(why: impl Into<String>) -> HttpResponse {
    HttpResponse::Ok().json(WebhookOutcome {
        comment_id: None,
        ignored: Some(why.into()),
    })
}

/// The webhook's refusal of an unknown secret: 401 with its own code, so Jira's delivery log
/// says what to fix.
fn secret_invalid(message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::UNAUTHORIZED).json(ErrorBody {
        error_code: "JIRA_SECRET_INVALID".into(),
        message: message.into(),
    })
}

fn secret_of(req: &HttpRequest, query: &WebhookQuery) -> Option<String> {
    req.headers()
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.secret.clone())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Jira's webhook: a comment on an issue of a ticket becomes the agent's reply to the customer.
/// No bearer token: the connection's secret (`?secret=` or the X-Switchboard-Jira-Secret
/// header) is the authentication. Events that are not `comment_created`, issues of no ticket,
/// comments Switchboard wrote and repeated deliveries answer 200 with `ignored`.
#[utoipa::path(post, path = "/api/integrations/jira/webhook", tag = "jira", operation_id = "jiraWebhook",
    params(WebhookQuery,
        ("X-Switchboard-Jira-Secret" = Option<String>, Header, description = "The connection's webhook secret, instead of ?secret=")),
    request_body = JiraWebhook,
    responses((status = 200, body = WebhookOutcome), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn webhook(
    api: web::Data<Api>,
    req: HttpRequest,
    query: web::Query<WebhookQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(secret) = secret_of(&req, &query) else {
        return Ok(secret_invalid(
            "no webhook secret: add ?secret=<webhookSecret> to the webhook URL in Jira (PUT /api/integrations/jira shows it)",
        ));
    };
    let connection = api
        .db
        .run(move |c| jira::find_connection_by_webhook_secret(c, &secret))
        .await?;
    let Some(connection) = connection else {
        return Ok(secret_invalid(
            "this webhook secret belongs to no Jira connection (saving the connection again replaces it): update the webhook URL in Jira",
        ));
    };
    let event: JiraWebhook = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Validation(format!("the body is not a Jira webhook's JSON: {e}")))?;
    let kind = event.webhook_event.as_deref().unwrap_or_default();
    if kind != COMMENT_CREATED {
        return Ok(ignored(format!(
            "event '{kind}' is not handled; only {COMMENT_CREATED}"
        )));
    }
    let key = event
        .issue
        .and_then(|i| i.key)
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::Validation("a comment_created event needs issue.key".into()))?;
    let comment = event.comment.unwrap_or_default();
    let comment_id = match &comment.id {
        Some(Value::String(id)) => id.trim().to_string(),
        Some(Value::Number(id)) => id.to_string(),
        _ => String::new(),
    };
    if comment_id.is_empty() {
        return Err(ApiError::Validation(
            "a comment_created event needs comment.id".into(),
        ));
    }
    let text = comment.body.unwrap_or_default().trim().to_string();
    if text.is_empty() {
        return Ok(ignored("the comment has no text"));
    }
    // Our own comment, echoed before its job stored its Jira id.
    if jira::is_switchboard_comment(&text) {
        return Ok(ignored("Switchboard wrote this comment"));
    }
    let text = fit_whatsapp(&text);
    let org = connection.organization_id;
    let outcome = api
        .db
        .run(move |c| {
            let Some(ticket) = tickets::find_ticket_by_jira_key(c, &org, &key)? else {
                return Ok(Err(format!("no ticket has Jira issue {key}")));
            };
            if let Some(known) = tickets::find_comment_by_external_id(c, &ticket.id, &comment_id)? {
                return Ok(Err(format!(
                    "Jira comment {comment_id} is ticket comment {} already (written by Switchboard, or delivered before)",
                    known.id
                )));
            }
            let reply = helpdesk::agent_reply(
                c,
                &AgentReply {
                    organization_id: &org,
                    ticket_id: &ticket.id,
                    author_user_id: None,
                    body: &text,
                    external_id: Some(&comment_id),
                },
            )?;
            if !reply.created {
                return Ok(Err(format!(
                    "Jira comment {comment_id} was delivered before"
                )));
            }
            Ok(Ok(reply.comment.id))
        })
        .await?;
    match outcome {
        Ok(comment_id) => {
            api.wake();
            Ok(HttpResponse::Ok().json(json!({ "commentId": comment_id })))
        }
        Err(why) => Ok(ignored(why)),
    }
}

/// WhatsApp takes at most 4,096 characters in a text; a longer Jira comment is cut with an
/// ellipsis rather than refused by Meta after the fact.
fn fit_whatsapp(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_TEXT_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_comments_are_cut_to_what_whatsapp_takes() {
        assert_eq!(fit_whatsapp("hola"), "hola");
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let cut = fit_whatsapp(&long);
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS);
        assert!(cut.ends_with('…'));
    }
}
