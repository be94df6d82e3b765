//! `SYNC_TEMPLATES` and `SUBMIT_TEMPLATE`: an organization's message templates between
//! Switchboard and Meta (reference §11).
//!
//! A sync pulls every template of every WhatsApp Business Account (WABA) the organization's
//! channels name, page by page, and makes our copies match, in one transaction per WABA; run
//! again, it updates the same rows. A submission posts one template written here for review
//! and records Meta's id and status, or Meta's refusal as the template's REJECTED status with
//! the reason: that is the result people see, so a refusal finishes the job.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use switchboard_graph::{
    ErrorClass, GraphClient, GraphError, RemoteTemplate as MetaTemplate, TemplateSubmission,
};
use switchboard_store::StoreError;
use switchboard_store::models::{Channel, IntegrationJob, Template};
use switchboard_store::repo::channels;
use switchboard_store::repo::templates::{self, RemoteTemplate};

use super::Outbound;
use super::refusal::{self, organization_of, wait_if_paused};
use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

/// Meta's `error_subcode` for a name the WABA already has in that language.
const DUPLICATE_SUBCODE: i64 = 2388024;

/// What to do when no channel names a WABA (the templates live there, not on the number).
const NO_WABA: &str = "set the WhatsApp Business Account id of a channel: `switchboard channel add --waba-id <id>` \
for a new number, or WHATSAPP_WABA_ID (alias WHATSAPP_BUSINESS_ACCOUNT_ID) for the number configured by environment";

/// `SYNC_TEMPLATES`: payload `{}`, the job's organization names whose templates.
pub struct SyncTemplates {
    outbound: Outbound,
}

impl SyncTemplates {
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    async fn sync(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let org = organization_of(job)?;
        let listed = org.clone();
        let all = ctx
            .db
            .run(move |c| channels::list_channels(c, &listed))
            .await?;
        let wabas = by_waba(all);
        if wabas.is_empty() {
            return Err(JobError::permanent(format!(
                "no channel of this organization has a WhatsApp Business Account id, which template sync needs: {NO_WABA}"
            )));
        }
        let mut waiting = None;
        for (waba_id, in_waba) in wabas {
            // Any active number of the WABA can read its templates.
            let Some(channel) = in_waba.iter().find(|c| c.status != channels::PAUSED) else {
                waiting = in_waba.first().map(wait_if_paused).and_then(Result::err);
                continue;
            };
            let token = channel.open_secrets(&self.outbound.secrets)?.access_token;
            let remote = match self.outbound.graph.list_templates(&token, &waba_id).await {
                Ok(remote) => remote,
                Err(error) => {
                    let what = format!("listing the templates of WABA {waba_id}");
                    return Err(refusal::outcome(ctx, channel, &what, error).await);
                }
            };
            let count = remote.len();
            let (org, channel_id) = (org.clone(), channel.id.clone());
            ctx.db
                .run_write(move |c| {
                    for template in &remote {
                        let stored = Stored::from(template);
                        templates::upsert_remote_template(
                            c,
                            &org,
                            Some(&channel_id),
                            &stored.remote(template),
                        )?;
                    }
                    Ok::<_, StoreError>(())
                })
                .await?;
            tracing::info!(waba_id = %waba_id, templates = count, "synced templates");
        }
        waiting.map_or(Ok(()), Err)
    }
}

/// The channels that name a WABA, grouped by it, in the order of each WABA's first channel.
fn by_waba(all: Vec<Channel>) -> Vec<(String, Vec<Channel>)> {
    let mut groups: Vec<(String, Vec<Channel>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for channel in all {
        let Some(waba) = channel
            .waba_id
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
        else {
            continue;
        };
        match index.get(&waba) {
            Some(&i) => groups[i].1.push(channel),
            None => {
                index.insert(waba.clone(), groups.len());
                groups.push((waba, vec![channel]));
            }
        }
    }
    groups
}

/// The owned texts of a Meta template as our `templates` row holds them.
struct Stored {
    category: String,
    status: String,
    parameter_format: String,
    components: String,
}

impl From<&MetaTemplate> for Stored {
    fn from(t: &MetaTemplate) -> Self {
        let upper = |value: Option<&str>, default: &str| {
            value
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
                .to_ascii_uppercase()
        };
        let components = match &t.components {
            serde_json::Value::Null => "[]".to_string(),
            other => other.to_string(),
        };
        Self {
            category: upper(t.category.as_deref(), "UTILITY"),
            status: upper(Some(&t.status), "PENDING"),
            parameter_format: upper(t.parameter_format.as_deref(), "POSITIONAL"),
            components,
        }
    }
}

impl Stored {
    fn remote<'a>(&'a self, t: &'a MetaTemplate) -> RemoteTemplate<'a> {
        RemoteTemplate {
            external_id: &t.id,
            name: &t.name,
            language: &t.language,
            category: &self.category,
            status: &self.status,
            parameter_format: &self.parameter_format,
            components: &self.components,
            rejection_reason: t.rejected_reason.as_deref(),
        }
    }
}

impl JobHandler for SyncTemplates {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.sync(ctx, job))
    }
}

/// What a `SUBMIT_TEMPLATE` job finds in its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitPayload {
    pub template_id: String,
}

/// `SUBMIT_TEMPLATE`: one template written here, to Meta for review.
pub struct SubmitTemplate {
    outbound: Outbound,
}

impl SubmitTemplate {
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    async fn submit(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let payload: SubmitPayload = serde_json::from_str(&job.payload).map_err(|e| {
            JobError::permanent(format!(
                "the job's payload is not a template submission: {e}"
            ))
        })?;
        let org = organization_of(job)?;
        let (found_org, id) = (org.clone(), payload.template_id.clone());
        let (template, channel) = ctx
            .db
            .run(move |c| {
                let Some(template) = templates::find_template(c, &found_org, &id)? else {
                    return Err(StoreError::Invalid(format!("template {id} does not exist")));
                };
                let channel = channel_for(c, &found_org, &template)?;
                Ok((template, channel))
            })
            .await?;
        if template.deleted_at.is_some() {
            tracing::info!(template = %template.id, "the template was deleted before it was submitted; nothing to do");
            return Ok(());
        }
        if let Some(external_id) = &template.external_id {
            // Submitted before (this job ran already): Meta has it, its status comes by webhook.
            tracing::info!(template = %template.id, external_id = %external_id, "the template is at Meta already");
            return Ok(());
        }
        let channel = channel.ok_or_else(|| {
            JobError::permanent(format!(
                "template {} cannot be submitted: no channel of this organization has a WhatsApp Business Account id: {NO_WABA}",
                template.name
            ))
        })?;
        let Some(waba_id) = channel.waba_id.clone().filter(|w| !w.trim().is_empty()) else {
            return Err(JobError::permanent(format!(
                "template {} cannot be submitted: its channel {} has no WhatsApp Business Account id: {NO_WABA}",
                template.name, channel.name
            )));
        };
        wait_if_paused(&channel)?;
        let components: serde_json::Value =
            serde_json::from_str(&template.components).map_err(|e| {
                JobError::permanent(format!(
                    "template {} has components that are not JSON: {e}",
                    template.name
                ))
            })?;
        let submission = TemplateSubmission {
            name: &template.name,
            language: &template.language,
            category: &template.category,
            parameter_format: &template.parameter_format,
            components: &components,
        };
        let token = channel.open_secrets(&self.outbound.secrets)?.access_token;
        let graph = &self.outbound.graph;
        let error = match graph.create_template(&token, &waba_id, &submission).await {
            Ok(created) => {
                return record(ctx, &org, &template, &created.id, &created.status).await;
            }
            Err(error) => error,
        };
        let reason = error.reason();
        match error.class {
            ErrorClass::Message if error.http_status.is_some_and(|s| s < 300) => {
                // Meta probably took it; the next sync finds it by name and language.
                Err(JobError::permanent(format!(
                    "Meta's answer to template {} could not be read ({reason}); a template sync will fetch its status",
                    template.name
                )))
            }
            ErrorClass::Message => {
                if error.subcode == Some(DUPLICATE_SUBCODE) {
                    match already_ours(graph, &token, &waba_id, &template, &components).await {
                        // An earlier run was accepted before its answer was recorded.
                        Ok(Some(ours)) => {
                            return record(ctx, &org, &template, &ours.id, &ours.status).await;
                        }
                        Ok(None) => {}
                        Err(e) if e.class == ErrorClass::Message => {}
                        Err(e) => {
                            let what =
                                format!("checking the duplicate of template {}", template.name);
                            return Err(refusal::outcome(ctx, &channel, &what, e).await);
                        }
                    }
                }
                tracing::info!(template = %template.id, reason = %reason, "Meta refused the template");
                reject(ctx, &org, &template, reason).await
            }
            ErrorClass::RetryLater if job.attempts >= job.max_attempts => {
                let gave_up = format!(
                    "not submitted: gave up after {} attempts: {reason}",
                    job.attempts
                );
                reject(ctx, &org, &template, gave_up.clone()).await?;
                Err(JobError::Permanent(gave_up))
            }
            _ => {
                let what = format!("submitting template {}", template.name);
                Err(refusal::outcome(ctx, &channel, &what, error).await)
            }
        }
    }
}

/// The template's own channel, else the organization's first channel with a WABA id.
fn channel_for(
    conn: &mut switchboard_store::AnyConnection,
    org: &str,
    template: &Template,
) -> Result<Option<Channel>, StoreError> {
    if let Some(id) = &template.channel_id
        && let Some(channel) = channels::find_channel(conn, org, id)?
    {
        return Ok(Some(channel));
    }
    Ok(channels::list_channels(conn, org)?
        .into_iter()
        .find(|c| c.waba_id.as_deref().is_some_and(|w| !w.trim().is_empty())))
}

/// Meta's template of the same name and language, when it holds exactly our components.
async fn already_ours(
    graph: &GraphClient,
    token: &str,
    waba_id: &str,
    template: &Template,
    components: &serde_json::Value,
) -> Result<Option<MetaTemplate>, GraphError> {
    Ok(graph
        .list_templates(token, waba_id)
        .await?
        .into_iter()
        .find(|t| {
            t.name == template.name
                && t.language == template.language
                && t.components == *components
        }))
}

async fn record(
    ctx: &JobContext,
    org: &str,
    template: &Template,
    external_id: &str,
    status: &str,
) -> Result<(), JobError> {
    let (org, id) = (org.to_string(), template.id.clone());
    let (external_id, status) = (external_id.to_string(), status.trim().to_ascii_uppercase());
    tracing::info!(template = %id, external_id = %external_id, status = %status, "template submitted");
    Ok(ctx
        .db
        .run_write(move |c| templates::record_submission(c, &org, &id, &external_id, &status))
        .await?)
}

async fn reject(
    ctx: &JobContext,
    org: &str,
    template: &Template,
    reason: String,
) -> Result<(), JobError> {
    let (org, id) = (org.to_string(), template.id.clone());
    Ok(ctx
        .db
        .run_write(move |c| templates::record_rejection(c, &org, &id, &reason))
        .await?)
}

impl JobHandler for SubmitTemplate {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.submit(ctx, job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: &str, waba: Option<&str>) -> Channel {
        let at = switchboard_store::models::now();
        Channel {
            id: id.into(),
            organization_id: "org".into(),
            name: id.into(),
            phone_number_id: "1".into(),
            display_phone_number: None,
            waba_id: waba.map(str::to_string),
            access_token_sealed: String::new(),
            app_secret_sealed: None,
            verify_token_sealed: None,
            messages_per_second: 80,
            default_country_code: None,
            status: channels::ACTIVE.into(),
            status_reason: None,
            quality_rating: None,
            account_info: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn channels_are_grouped_by_waba_once_each() {
        let groups = by_waba(vec![
            channel("a", Some("1")),
            channel("b", None),
            channel("c", Some("2")),
            channel("d", Some(" 1 ")),
            channel("e", Some("")),
        ]);
        let summary: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|(waba, chs)| (waba.as_str(), chs.iter().map(|c| c.id.as_str()).collect()))
            .collect();
        assert_eq!(summary, vec![("1", vec!["a", "d"]), ("2", vec!["c"])]);
    }

    #[test]
    fn metas_fields_are_stored_upper_case_with_defaults() {
        let meta = MetaTemplate {
            id: "9".into(),
            name: "n".into(),
            language: "en".into(),
            status: "approved".into(),
            category: None,
            previous_category: None,
            parameter_format: Some("named".into()),
            quality: None,
            rejected_reason: None,
            components: serde_json::json!([{"type": "BODY", "text": "Hi {{name}}"}]),
        };
        let stored = Stored::from(&meta);
        assert_eq!(stored.status, "APPROVED");
        assert_eq!(stored.category, "UTILITY");
        assert_eq!(stored.parameter_format, "NAMED");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&stored.components).unwrap(),
            meta.components
        );
        let bare = MetaTemplate {
            parameter_format: None,
            components: serde_json::Value::Null,
            ..meta
        };
        let stored = Stored::from(&bare);
        assert_eq!(stored.parameter_format, "POSITIONAL");
        assert_eq!(stored.components, "[]");
    }
}
