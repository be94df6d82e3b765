//! `MARK_READ`: tells Meta a customer's message was read (blue ticks, and every earlier message
//! of the chat with it), queued when an agent opens a conversation.
//!
//! Marking a message read twice changes nothing at Meta, so a job that runs again is harmless.
//! A message Meta will not mark (unknown, outgoing, too old) fails the job for good: retrying
//! the same receipt would be refused the same way.

use switchboard_graph::ChannelAuth;
use switchboard_store::StoreError;
use switchboard_store::models::IntegrationJob;
use switchboard_store::repo::channels;
use switchboard_store::repo::conversations::ReadReceipt;

use super::Outbound;
use super::refusal::{self, organization_of, wait_if_paused};
use crate::registry::{BoxFuture, JobContext, JobError, JobHandler};

pub struct MarkRead {
    outbound: Outbound,
}

impl MarkRead {
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    async fn mark(&self, ctx: &JobContext, job: &IntegrationJob) -> Result<(), JobError> {
        let receipt: ReadReceipt = serde_json::from_str(&job.payload).map_err(|e| {
            JobError::permanent(format!("the job's payload is not a read receipt: {e}"))
        })?;
        let org = organization_of(job)?;
        let channel_id = receipt.channel_id.clone();
        let channel = ctx
            .db
            .run(move |c| {
                channels::find_channel(c, &org, &channel_id)?.ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "the channel {channel_id} of this read receipt is gone"
                    ))
                })
            })
            .await?;
        wait_if_paused(&channel)?;
        let token = channel.open_secrets(&self.outbound.secrets)?.access_token;
        let auth = ChannelAuth {
            phone_number_id: &channel.phone_number_id,
            access_token: &token,
        };
        match self
            .outbound
            .graph
            .mark_read(&auth, &receipt.message_id, false)
            .await
        {
            Ok(()) => Ok(()),
            Err(error) => {
                let what = format!("Meta did not mark message {} read", receipt.message_id);
                Err(refusal::outcome(ctx, &channel, &what, error).await)
            }
        }
    }
}

impl JobHandler for MarkRead {
    fn run<'a>(
        &'a self,
        ctx: &'a JobContext,
        job: &'a IntegrationJob,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.mark(ctx, job))
    }
}
