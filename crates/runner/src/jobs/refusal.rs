//! What the jobs that call Meta for a channel (read receipts, templates) share: waiting while
//! the channel is paused, and turning Meta's refusal into the job's outcome by its class.

use std::time::Duration;

use switchboard_graph::{ErrorClass, GraphError};
use switchboard_store::models::Channel;
use switchboard_store::repo::channels;

use crate::registry::{JobContext, JobError};

/// How long a paused channel's jobs wait before looking again.
pub(crate) const PAUSED_RECHECK: Duration = Duration::from_secs(60);

/// A paused channel's calls wait (without using up attempts) until it is resumed.
pub(crate) fn wait_if_paused(channel: &Channel) -> Result<(), JobError> {
    if channel.status != channels::PAUSED {
        return Ok(());
    }
    Err(JobError::Defer {
        reason: format!(
            "channel {} is paused: {}",
            channel.name,
            channel
                .status_reason
                .as_deref()
                .unwrap_or("needs attention")
        ),
        after: PAUSED_RECHECK,
    })
}

/// The outcome of a call Meta refused: `RetryLater` is retried (when Meta said when, then);
/// `Message` is permanent (`what` says which call, Meta's reason why); `Channel` pauses the
/// channel, as a send does, and the job waits for it to be resumed.
pub(crate) async fn outcome(
    ctx: &JobContext,
    channel: &Channel,
    what: &str,
    error: GraphError,
) -> JobError {
    let reason = error.reason();
    match error.class {
        ErrorClass::RetryLater => JobError::Retry {
            message: format!("{what}: {reason}"),
            after: error.retry_after,
        },
        ErrorClass::Message => JobError::Permanent(format!("{what}: {reason}")),
        ErrorClass::Channel => pause(ctx, channel, reason).await,
    }
}

/// Pauses the channel with Meta's reason and defers the job.
pub(crate) async fn pause(ctx: &JobContext, channel: &Channel, reason: String) -> JobError {
    let (id, why) = (channel.id.clone(), reason.clone());
    match ctx
        .db
        .run_write(move |c| channels::pause_channel(c, &id, &why))
        .await
    {
        Ok(true) => tracing::error!(channel = %channel.name, reason = %reason,
            "Meta refused the channel: its calls are paused until it is fixed (new token: `switchboard channel resume --access-token`)"),
        Ok(false) => {}
        Err(e) => return JobError::from(e),
    }
    JobError::Defer {
        reason: format!("channel paused: {reason}"),
        after: PAUSED_RECHECK,
    }
}

/// The organization a job belongs to (these jobs are always scoped to one).
pub(crate) fn organization_of(
    job: &switchboard_store::models::IntegrationJob,
) -> Result<String, JobError> {
    job.organization_id.clone().ok_or_else(|| {
        JobError::permanent(format!("a {} job must belong to an organization", job.kind))
    })
}
