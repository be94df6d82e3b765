//! `MARK_READ` against the sandbox standing in for Meta: the receipt arrives, refusals end the
//! job the way their class says.

use switchboard_domain::job_kind::MARK_READ;
use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_graph::ChannelAuth;
use switchboard_runner::jobs::MarkRead;
use switchboard_runner::{JobContext, JobError, JobHandler};
use switchboard_sandbox::{ErrorKind, Sandbox, SandboxConfig, SandboxHandle, ids};
use switchboard_store::models::{Channel, IntegrationJob, Organization};
use switchboard_store::repo::channels;
use switchboard_store::repo::conversations::ReadReceipt;
use switchboard_store::testing::TestDb;

use crate::support::{PHONE_NUMBER_ID, org_with_channel, outbound, queue_job};

async fn sandbox(errors: Vec<(ErrorKind, f64)>) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        error_rates: errors,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn receipt(t: &TestDb, org: &Organization, channel_id: &str, wamid: &str) -> IntegrationJob {
    let payload = serde_json::to_string(&ReadReceipt {
        channel_id: channel_id.into(),
        message_id: wamid.into(),
    })
    .unwrap();
    queue_job(t, MARK_READ, org, &payload)
}

async fn run(t: &TestDb, meta: &SandboxHandle, job: &IntegrationJob) -> Result<(), JobError> {
    let handler = MarkRead::new(outbound(&meta.api_url()));
    handler.run(&JobContext { db: t.db.clone() }, job).await
}

fn channel(t: &TestDb, org: &Organization, id: &str) -> Channel {
    channels::find_channel(&mut t.db.conn().unwrap(), &org.id, id)
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_read_receipt_reaches_meta_for_that_message_and_number() {
    let meta = sandbox(vec![]).await;
    for t in TestDb::all() {
        meta.reset();
        let (org, ch) = org_with_channel(&t);
        let wamid = ids::incoming_wamid("5511999990000");
        let job = receipt(&t, &org, &ch.id, &wamid);
        run(&t, &meta, &job).await.unwrap();
        let reads = meta.reads();
        assert_eq!(reads.len(), 1, "{reads:?}");
        assert_eq!(reads[0].message_id, wamid);
        assert_eq!(reads[0].phone_number_id, PHONE_NUMBER_ID);
        assert!(!reads[0].typing_indicator);
        assert_eq!(meta.stats().mark_reads, 1);
        // Running again (a crash before it was marked done) is harmless.
        run(&t, &meta, &job).await.unwrap();
        assert_eq!(meta.stats().mark_reads, 2);
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_message_meta_will_not_mark_read_ends_the_job_for_good() {
    let meta = sandbox(vec![]).await;
    for t in TestDb::all() {
        meta.reset();
        let (org, ch) = org_with_channel(&t);
        // Not a message id Meta knows.
        let job = receipt(&t, &org, &ch.id, "ABGGFlA5Fpa");
        let err = run(&t, &meta, &job).await.unwrap_err();
        let JobError::Permanent(message) = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("ABGGFlA5Fpa"), "{message}");
        assert!(
            message.contains("(#100) Invalid parameter"),
            "Meta's words: {message}"
        );
        // One of our own sends (outgoing): Meta refuses it the same way.
        let token = "EAAG";
        let sent = outbound(&meta.api_url())
            .graph
            .send(
                &ChannelAuth {
                    phone_number_id: PHONE_NUMBER_ID,
                    access_token: token,
                },
                "5511999990000",
                &OutboundContent::Text(Text {
                    body: "hi".into(),
                    preview_url: false,
                }),
                None,
            )
            .await
            .unwrap();
        let job = receipt(&t, &org, &ch.id, &sent.wamid);
        let err = run(&t, &meta, &job).await.unwrap_err();
        assert!(
            matches!(&err, JobError::Permanent(m) if m.contains("is outgoing")),
            "{err:?}"
        );
        assert!(meta.reads().is_empty());
        assert_eq!(
            channel(&t, &org, &ch.id).status,
            channels::ACTIVE,
            "a refused message does not pause the channel"
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn throttling_and_server_trouble_are_retried() {
    for kind in [
        ErrorKind::Meta(130429),
        ErrorKind::Meta(131000),
        ErrorKind::Http500,
    ] {
        let meta = sandbox(vec![(kind, 1.0)]).await;
        for t in TestDb::all() {
            let (org, ch) = org_with_channel(&t);
            let job = receipt(&t, &org, &ch.id, &ids::incoming_wamid("5511999990000"));
            let err = run(&t, &meta, &job).await.unwrap_err();
            assert!(matches!(err, JobError::Retry { .. }), "{kind}: {err:?}");
            assert_eq!(channel(&t, &org, &ch.id).status, channels::ACTIVE);
        }
        meta.stop().await;
    }
}

#[tokio::test]
async fn an_expired_token_pauses_the_channel_and_later_receipts_wait_without_calling_meta() {
    let meta = sandbox(vec![(ErrorKind::Meta(190), 1.0)]).await;
    for t in TestDb::all() {
        meta.reset();
        let (org, ch) = org_with_channel(&t);
        let job = receipt(&t, &org, &ch.id, &ids::incoming_wamid("5511999990000"));
        let err = run(&t, &meta, &job).await.unwrap_err();
        assert!(matches!(err, JobError::Defer { .. }), "{err:?}");
        let paused = channel(&t, &org, &ch.id);
        assert_eq!(paused.status, channels::PAUSED);
        assert!(paused.status_reason.unwrap().contains("190"));
        let calls = meta.stats().errors_injected.values().sum::<u64>();
        assert_eq!(calls, 1);
        let next = receipt(&t, &org, &ch.id, &ids::incoming_wamid("5511999990001"));
        assert!(matches!(
            run(&t, &meta, &next).await,
            Err(JobError::Defer { .. })
        ));
        assert_eq!(meta.stats().errors_injected.values().sum::<u64>(), calls);
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_receipt_for_a_missing_channel_or_without_organization_is_permanent() {
    let meta = sandbox(vec![]).await;
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let job = receipt(
            &t,
            &org,
            "no-such-channel",
            &ids::incoming_wamid("5511999990000"),
        );
        let err = run(&t, &meta, &job).await.unwrap_err();
        assert!(
            matches!(&err, JobError::Permanent(m) if m.contains("no-such-channel")),
            "{err:?}"
        );
        let mut orphan = job.clone();
        orphan.organization_id = None;
        assert!(matches!(
            run(&t, &meta, &orphan).await,
            Err(JobError::Permanent(_))
        ));
    }
    assert_eq!(meta.stats().mark_reads, 0);
    meta.stop().await;
}
