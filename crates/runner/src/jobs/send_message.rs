//! `SEND_MESSAGE` and `SEND_MESSAGE_TEMPLATE`: one queued message through the Graph API.
//!
//! Paced per channel and per recipient (see [`crate::pacing`]), then sent; Meta's answer is
//! classified by its error code: retry later, fail the message, or pause the channel. A job
//! that runs again after its message was sent changes nothing. Between Meta's acceptance and
//! our record of it a crash can still send a message twice: the Cloud API takes no
//! idempotency key, so at-least-once is the honest guarantee.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::MessageStatus;
use switchboard_graph::{ChannelAuth, ErrorClass, GraphClient, GraphError};
use switchboard_store::crypto::SecretBox;
use switchboard_store::models::{Channel, IntegrationJob, MessageLog, now};
use switchboard_store::repo::outbound::{self, SendPayload, Sent};
use switchboard_store::repo::{channels, opt_outs};
use switchboard_store::writer::{Batch, GroupCommit};
use switchboard_store::{AnyConnection, Db, StoreError};

use super::refusal;
use crate::pacing::{Deferred, Pacer};
use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

/// What sending needs besides the database.
#[derive(Clone)]
pub struct Outbound {
    pub graph: GraphClient,
    pub secrets: Arc<SecretBox>,
    pub pacer: Arc<Pacer>,
    /// Where downloaded customer files are kept (`SWITCHBOARD_MEDIA_DIR`).
    pub media_dir: std::path::PathBuf,
}

pub struct SendMessage {
    outbound: Outbound,
    /// Accepted sends are recorded through a group-commit writer: one commit for many.
    recorder: GroupCommit<RecordSent>,
}

impl SendMessage {
    pub fn start(db: &Db, outbound: Outbound) -> Result<Self, StoreError> {
        let recorder = GroupCommit::start(db.clone(), "sends", 256, None)?;
        Ok(Self { outbound, recorder })
    }

    async fn send(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let Some((message, channel)) = load(ctx, job).await? else {
            return Ok(());
        };
        refusal::wait_if_paused(&channel)?;
        let content = outbound::content_of(&message)?;
        let to = message.to_phone.clone().unwrap_or_default();
        let pacer = &self.outbound.pacer;
        pacer.reserve_recipient(&channel.id, &to).map_err(defer)?;
        let limit = u32::try_from(channel.messages_per_second).unwrap_or(1);
        pacer.send_slot(&channel.id, limit).await.map_err(defer)?;
        let token = channel.open_secrets(&self.outbound.secrets)?.access_token;
        let auth = ChannelAuth {
            phone_number_id: &channel.phone_number_id,
            access_token: &token,
        };
        let reply_to = message.context_message_id.as_deref();
        match self
            .outbound
            .graph
            .send(&auth, &to, &content, reply_to)
            .await
        {
            Ok(accepted) => {
                let sent = Sent {
                    organization_id: message.organization_id.clone(),
                    message_id: message.id.clone(),
                    wamid: accepted.wamid,
                    at: now(),
                };
                metrics::counter!("switchboard_sends_total", "result" => "sent").increment(1);
                Ok(self.recorder.write(RecordSent(sent)).await?)
            }
            Err(error) => Err(self.refused(ctx, job, &message, &channel, error).await),
        }
    }

    /// Meta said no: decide by the error's class what becomes of the message and the channel.
    async fn refused(
        &self,
        ctx: &JobContext,
        job: &IntegrationJob,
        message: &MessageLog,
        channel: &Channel,
        error: GraphError,
    ) -> JobError {
        let reason = error.reason();
        let code = error.code.map(|c| c.to_string());
        let result = match error.class {
            ErrorClass::RetryLater => "retry_later",
            ErrorClass::Message => "refused_message",
            ErrorClass::Channel => "refused_channel",
        };
        metrics::counter!("switchboard_sends_total", "result" => result).increment(1);
        match error.class {
            ErrorClass::RetryLater => {
                let to = message.to_phone.as_deref().unwrap_or_default();
                if error.is_throughput_limit() {
                    self.outbound.pacer.slow_down(&channel.id);
                }
                let mut after = error.retry_after;
                if error.is_pair_limit() {
                    // Meta: "retry after 4^X seconds", X the number of refusals in a row.
                    let hold = error
                        .retry_after
                        .unwrap_or_else(|| pair_backoff(job.attempts));
                    self.outbound.pacer.hold_recipient(&channel.id, to, hold);
                    after = Some(hold);
                }
                if job.attempts >= job.max_attempts {
                    let gave_up = format!("gave up after {} attempts: {reason}", job.attempts);
                    return self.fail_message(ctx, message, code, gave_up).await;
                }
                JobError::Retry {
                    message: reason,
                    after,
                }
            }
            ErrorClass::Message => self.fail_message(ctx, message, code, reason).await,
            ErrorClass::Channel => refusal::pause(ctx, channel, reason).await,
        }
    }

    async fn fail_message(
        &self,
        ctx: &JobContext,
        message: &MessageLog,
        code: Option<String>,
        reason: String,
    ) -> JobError {
        let (org, id, why) = (
            message.organization_id.clone(),
            message.id.clone(),
            reason.clone(),
        );
        let to = message.to_phone.clone().unwrap_or_default();
        match ctx
            .db
            .run_write(move |c| {
                // 131050: the recipient stopped marketing messages; later ones are refused.
                opt_outs::record_meta_refusal_in(
                    c,
                    &org,
                    code.as_deref(),
                    &to,
                    &id,
                    Some(&why),
                    now(),
                )?;
                outbound::mark_failed(c, &org, &id, code, &why)
            })
            .await
        {
            Ok(()) => JobError::Permanent(reason),
            Err(e) => JobError::from(e),
        }
    }
}

/// The message and its channel, or `None` when there is nothing left to do (already sent or
/// failed: the job ran before).
async fn load(
    ctx: &JobContext,
    job: &IntegrationJob,
) -> Result<Option<(MessageLog, Channel)>, JobError> {
    let payload: SendPayload = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::permanent(format!("the job's payload is not a send: {e}")))?;
    let org = job
        .organization_id
        .clone()
        .ok_or_else(|| JobError::permanent("a send job must belong to an organization"))?;
    let found = ctx
        .db
        .run(move |c| {
            let Some(message) = outbound::find_message(c, &org, &payload.message_log_id)? else {
                return Err(StoreError::Invalid(format!(
                    "message {} does not exist",
                    payload.message_log_id
                )));
            };
            let channel_id = message.channel_id.clone().unwrap_or_default();
            let channel = channels::find_channel(c, &org, &channel_id)?.ok_or_else(|| {
                StoreError::Invalid(format!("the channel of message {} is gone", message.id))
            })?;
            Ok((message, channel))
        })
        .await?;
    let (message, _) = &found;
    let done = message.external_message_id.is_some()
        || MessageStatus::parse(&message.status) == MessageStatus::Failed;
    Ok((!done).then_some(found))
}

fn defer(deferred: Deferred) -> JobError {
    JobError::Defer {
        reason: deferred.reason,
        after: deferred.after,
    }
}

/// 4^attempt seconds, capped at an hour.
fn pair_backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 6)).unwrap_or(1);
    Duration::from_secs(4u64.pow(exponent)).min(Duration::from_secs(3600))
}

impl JobHandler for SendMessage {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.send(ctx, job))
    }
}

/// One accepted send, as an item of the recorder's batches.
pub struct RecordSent(Sent);

impl Batch for RecordSent {
    type Output = ();

    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<()>, StoreError> {
        for item in items {
            outbound::mark_sent(conn, &item.0)?;
        }
        Ok(vec![(); items.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_backoff_grows_by_four_and_is_capped() {
        assert_eq!(pair_backoff(1), Duration::from_secs(4));
        assert_eq!(pair_backoff(2), Duration::from_secs(16));
        assert_eq!(pair_backoff(3), Duration::from_secs(64));
        assert_eq!(pair_backoff(40), Duration::from_secs(3600));
    }
}
