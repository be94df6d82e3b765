//! The job kinds this runner knows.

pub mod deliver_event;
pub mod download_media;
pub mod jira;
pub mod mark_read;
pub mod process_webhook;
mod refusal;
pub mod send_message;
pub mod templates;

use std::sync::Arc;

use switchboard_domain::job_kind;
use switchboard_store::{Db, StoreError};

use crate::registry::{Noop, Registry};
pub use download_media::DownloadMedia;
pub use mark_read::MarkRead;
pub use send_message::{Outbound, SendMessage};
pub use templates::{SubmitPayload, SubmitTemplate, SyncTemplates};

pub const NOOP: &str = "NOOP";

/// Every handler of this build (some start their own writer threads on `db`). Without
/// `outbound` (no Graph client: replay, tests of projections) the jobs that call Meta (sends,
/// read receipts, templates) or Jira (whose API tokens `outbound`'s secret box opens) wait in
/// the queue.
pub fn registry(db: &Db, outbound: Option<Outbound>) -> Result<Registry, StoreError> {
    let registry = Registry::new().register(NOOP, Noop).register(
        job_kind::PROCESS_WEBHOOK,
        process_webhook::ProcessWebhook::start(db)?,
    );
    let Some(outbound) = outbound else {
        return Ok(registry);
    };
    let send = Arc::new(SendMessage::start(db, outbound.clone())?);
    let jira = jira::Jira::new(
        outbound.secrets.clone(),
        crate::jira::JiraClient::new(crate::jira::JiraConfig::default())
            .map_err(|e| StoreError::Internal(e.to_string()))?,
    );
    Ok(registry
        .register(
            job_kind::JIRA_CREATE_ISSUE,
            jira::CreateIssue::new(jira.clone()),
        )
        .register(job_kind::JIRA_ADD_COMMENT, jira::AddComment::new(jira))
        .register(
            job_kind::DELIVER_EVENT,
            deliver_event::DeliverEvent::new(
                outbound.secrets.clone(),
                deliver_event::DeliveryConfig::default(),
            )?,
        )
        .register_shared(job_kind::SEND_MESSAGE, send.clone())
        .register_shared(job_kind::SEND_MESSAGE_TEMPLATE, send)
        .register(job_kind::MARK_READ, MarkRead::new(outbound.clone()))
        .register(
            job_kind::DOWNLOAD_MEDIA,
            DownloadMedia::new(outbound.clone()),
        )
        .register(
            job_kind::SYNC_TEMPLATES,
            SyncTemplates::new(outbound.clone()),
        )
        .register(job_kind::SUBMIT_TEMPLATE, SubmitTemplate::new(outbound)))
}
