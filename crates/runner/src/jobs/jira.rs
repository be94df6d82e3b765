//! `JIRA_CREATE_ISSUE` and `JIRA_ADD_COMMENT`: the tickets of a service whose destination is
//! Jira, copied to the organization's Jira site.
//!
//! Both are idempotent through what they store: a ticket with an issue key gets no second
//! issue, a comment with an external id is not posted again. A comment queued before its
//! ticket's issue exists waits for it (deferred, not failed). The comments that went into the
//! issue's description are marked as being in Jira, so their own comment jobs post nothing.
//!
//! One gap remains, as with any create call without an idempotency key: when Jira created the
//! issue (or comment) but the answer was lost (a timeout), the retry creates a second one.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_store::models::{IntegrationJob, JiraConnection, Ticket, TicketComment, User};
use switchboard_store::repo::jira::{self, COMMENT_MARKER};
use switchboard_store::repo::services::DESTINATION_JIRA;
use switchboard_store::{SecretBox, StoreError};

use super::refusal::organization_of;
use crate::jira::{JiraClient, JiraError, JiraSite};
use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

/// How many of a ticket's first comments its issue's description quotes.
const DESCRIBED_COMMENTS: i64 = 5;
/// How often a comment waiting for its ticket's issue looks again.
const ISSUE_RECHECK: Duration = Duration::from_secs(30);
/// A comment whose ticket still has no issue after this long stops waiting: the create job
/// has most likely been dead-lettered, and someone must look.
const ISSUE_WAIT_LIMIT: chrono::TimeDelta = chrono::TimeDelta::days(7);

const NO_CONNECTION: &str = "this organization has no Jira connection: configure one with \
PUT /api/integrations/jira {\"baseUrl\",\"userEmail\",\"apiToken\"}, then retry this job";

/// Payload of `JIRA_CREATE_ISSUE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateIssuePayload {
    pub ticket_id: String,
}

/// Payload of `JIRA_ADD_COMMENT`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddCommentPayload {
    pub comment_id: String,
}

/// What both jobs share: the master key (to open each connection's API token) and one HTTP
/// client for every organization's Jira.
#[derive(Clone)]
pub struct Jira {
    secrets: Arc<SecretBox>,
    client: JiraClient,
}

impl Jira {
    pub fn new(secrets: Arc<SecretBox>, client: JiraClient) -> Self {
        Self { secrets, client }
    }

    fn site(&self, connection: Option<JiraConnection>) -> Result<JiraSite, JobError> {
        let connection = connection.ok_or_else(|| JobError::permanent(NO_CONNECTION))?;
        Ok(JiraSite {
            api_token: connection.open_api_token(&self.secrets)?,
            base_url: connection.base_url,
            user_email: connection.user_email,
        })
    }
}

fn payload<T: serde::de::DeserializeOwned>(job: &IntegrationJob) -> Result<T, JobError> {
    serde_json::from_str(&job.payload).map_err(|e| {
        JobError::permanent(format!("the {} job's payload is not valid: {e}", job.kind))
    })
}

/// Jira's refusal as the job's outcome: retried (when Jira said when, then) or given up.
fn outcome(error: JiraError) -> JobError {
    if error.retryable {
        JobError::Retry {
            message: error.message,
            after: error.retry_after,
        }
    } else {
        JobError::Permanent(error.message)
    }
}

/// The project key of a Jira-bound ticket's service, or why there is none.
fn project_key(
    ticket: &Ticket,
    service: Option<&switchboard_store::models::Service>,
) -> Result<Option<String>, JobError> {
    let Some(service) = service.filter(|s| s.destination == DESTINATION_JIRA) else {
        return Ok(None);
    };
    match service.jira_project_key.as_deref().map(str::trim) {
        Some(key) if !key.is_empty() => Ok(Some(key.to_string())),
        _ => Err(JobError::permanent(format!(
            "service '{}' of ticket #{} sends its tickets to Jira but has no Jira project key: set one, then retry this job",
            service.name, ticket.number
        ))),
    }
}

/// `JIRA_CREATE_ISSUE` `{"ticketId"}`.
pub struct CreateIssue {
    jira: Jira,
}

impl CreateIssue {
    pub fn new(jira: Jira) -> Self {
        Self { jira }
    }

    async fn create(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let CreateIssuePayload { ticket_id } = payload(job)?;
        let org = organization_of(job)?;
        let (found, connection) = {
            let (org, ticket_id) = (org.clone(), ticket_id.clone());
            ctx.db
                .run(move |c| {
                    Ok((
                        jira::find_issue_source(c, &org, &ticket_id, DESCRIBED_COMMENTS)?,
                        jira::find_connection(c, &org)?,
                    ))
                })
                .await?
        };
        let Some(source) = found else {
            tracing::info!(ticket = %ticket_id, "the ticket is gone: no Jira issue to create");
            return Ok(());
        };
        if let Some(key) = &source.ticket.jira_issue_key {
            tracing::debug!(ticket = %ticket_id, key = %key, "the ticket already has its Jira issue");
            return Ok(());
        }
        let Some(project) = project_key(&source.ticket, source.service.as_ref())? else {
            tracing::info!(ticket = %ticket_id, "the ticket's service no longer sends to Jira");
            return Ok(());
        };
        let site = self.jira.site(connection)?;
        let described: Vec<&TicketComment> = source
            .comments
            .iter()
            .filter(|c| c.external_id.is_none())
            .collect();
        let description = describe(&source.ticket, source.service.as_ref(), &described);
        let key = self
            .jira
            .client
            .create_issue(&site, &project, &source.ticket.subject, &description)
            .await
            .map_err(outcome)?;
        let comment_ids: Vec<String> = described.iter().map(|c| c.id.clone()).collect();
        let stored_key = key.clone();
        let stored = ctx
            .db
            .run_write(move |c| {
                if !jira::set_issue_key(c, &ticket_id, &stored_key)? {
                    return Ok::<_, StoreError>(false);
                }
                for id in &comment_ids {
                    jira::set_comment_external_id(c, id, &jira::description_external_id(id))?;
                }
                Ok(true)
            })
            .await?;
        if stored {
            tracing::info!(ticket = %source.ticket.id, key = %key, "created the ticket's Jira issue");
        } else {
            // Only two runs of the same job at once get here; the first key stays.
            tracing::warn!(ticket = %source.ticket.id, key = %key,
                "the ticket got a Jira issue meanwhile; this one is a duplicate and can be deleted in Jira");
        }
        Ok(())
    }
}

impl JobHandler for CreateIssue {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.create(ctx, job))
    }
}

/// The issue's description: where the ticket comes from, then its first comments.
fn describe(
    ticket: &Ticket,
    service: Option<&switchboard_store::models::Service>,
    comments: &[&TicketComment],
) -> String {
    let mut text = format!(
        "Ticket #{} from WhatsApp, opened in Switchboard.\nCustomer: {}\n",
        ticket.number,
        phone(&ticket.contact_phone)
    );
    if let Some(service) = service {
        text.push_str(&format!("Service: {}\n", service.name));
    }
    let mut first = true;
    for comment in comments {
        let body = body_of(comment);
        if body.is_empty() {
            continue;
        }
        if first {
            text.push_str("\nConversation:\n");
            first = false;
        }
        let who = author(comment, ticket, None);
        text.push_str(&format!(
            "\n{who} ({}):\n{body}\n",
            comment.created_at.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    text.push_str("\nComments added here are sent to the customer on WhatsApp.");
    text
}

fn phone(contact: &str) -> String {
    let contact = contact.trim();
    if contact.starts_with('+') || contact.is_empty() {
        contact.to_string()
    } else {
        format!("+{contact}")
    }
}

/// Who wrote a comment, for people reading Jira.
fn author(comment: &TicketComment, ticket: &Ticket, user: Option<&User>) -> String {
    match comment.author_type.to_ascii_uppercase().as_str() {
        "CUSTOMER" | "CONTACT" => format!("customer {}", phone(&ticket.contact_phone)),
        "AGENT" | "USER" => match user {
            Some(user) => format!("agent {}", user.name),
            None => "an agent".to_string(),
        },
        "SYSTEM" | "ASSISTANT" | "BOT" => "the assistant".to_string(),
        other => other.to_lowercase(),
    }
}

fn body_of(comment: &TicketComment) -> String {
    let body = comment.body.trim();
    match (&comment.media_id, body.is_empty()) {
        (Some(_), true) => "(an attachment, in Switchboard)".to_string(),
        (Some(_), false) => format!("{body}\n(with an attachment, in Switchboard)"),
        (None, _) => body.to_string(),
    }
}

/// `JIRA_ADD_COMMENT` `{"commentId"}`.
pub struct AddComment {
    jira: Jira,
}

impl AddComment {
    pub fn new(jira: Jira) -> Self {
        Self { jira }
    }

    async fn add(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let AddCommentPayload { comment_id } = payload(job)?;
        let org = organization_of(job)?;
        let (found, connection) = {
            let (org, comment_id) = (org.clone(), comment_id.clone());
            ctx.db
                .run(move |c| {
                    Ok((
                        jira::find_comment_source(c, &org, &comment_id)?,
                        jira::find_connection(c, &org)?,
                    ))
                })
                .await?
        };
        let Some(source) = found else {
            tracing::info!(comment = %comment_id, "the comment is gone: nothing to copy to Jira");
            return Ok(());
        };
        if source.comment.external_id.is_some() {
            // Posted by an earlier run, quoted in the issue's description, or written in Jira.
            return Ok(());
        }
        if project_key(&source.ticket, source.service.as_ref())?.is_none() {
            tracing::info!(ticket = %source.ticket.id, "the ticket's service does not send to Jira");
            return Ok(());
        }
        let site = self.jira.site(connection)?;
        let Some(key) = source.ticket.jira_issue_key.clone() else {
            let waited = switchboard_store::models::now() - source.comment.created_at;
            if waited > ISSUE_WAIT_LIMIT {
                return Err(JobError::permanent(format!(
                    "ticket #{} has had no Jira issue for {} days: look at its JIRA_CREATE_ISSUE job, then retry this one",
                    source.ticket.number,
                    waited.num_days()
                )));
            }
            return Err(JobError::Defer {
                reason: format!(
                    "waiting for ticket #{}'s Jira issue to be created",
                    source.ticket.number
                ),
                after: ISSUE_RECHECK,
            });
        };
        let who = author(&source.comment, &source.ticket, source.author.as_ref());
        let text = format!(
            "{COMMENT_MARKER}{who} wrote:\n\n{}",
            body_of(&source.comment)
        );
        let jira_id = self
            .jira
            .client
            .add_comment(&site, &key, &text)
            .await
            .map_err(outcome)?;
        let stored_id = jira_id.clone();
        ctx.db
            .run_write(move |c| jira::set_comment_external_id(c, &comment_id, &stored_id))
            .await?;
        tracing::info!(ticket = %source.ticket.id, key = %key, jira_comment = %jira_id, "copied a comment to Jira");
        Ok(())
    }
}

impl JobHandler for AddComment {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.add(ctx, job))
    }
}
