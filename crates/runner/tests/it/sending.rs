//! Send jobs against the sandbox standing in for Meta: each error class, pacing, idempotence.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_graph::{GraphClient, GraphConfig};
use switchboard_runner::jobs::{Outbound, SendMessage};
use switchboard_runner::pacing::{Pacer, PacingSettings};
use switchboard_runner::{JobContext, JobError, JobHandler};
use switchboard_sandbox::{ErrorKind, Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::SecretBox;
use switchboard_store::models::{Channel, IntegrationJob, MessageLog, Organization};
use switchboard_store::repo::outbound::{self, NewOutbound};
use switchboard_store::repo::{channels, jobs};
use switchboard_store::testing::TestDb;

use crate::support::org_with_channel;

const TO: &str = "5511999990000";

async fn sandbox(errors: Vec<(ErrorKind, f64)>) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        error_rates: errors,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn handler(t: &TestDb, sandbox: &SandboxHandle) -> SendMessage {
    let graph = GraphClient::new(GraphConfig {
        api_url: sandbox.api_url(),
        timeout: Duration::from_millis(500),
        ..GraphConfig::default()
    })
    .unwrap();
    let outbound = Outbound {
        graph,
        secrets: Arc::new(SecretBox::from_key(&[3; 32]).unwrap()),
        pacer: Arc::new(Pacer::new(PacingSettings::default())),
        media_dir: std::env::temp_dir().join("switchboard-test-media"),
    };
    SendMessage::start(&t.db, outbound).unwrap()
}

fn queue(
    t: &TestDb,
    org: &Organization,
    channel: &Channel,
    body: &str,
) -> (IntegrationJob, MessageLog) {
    queue_text(t, org, channel, TO, body)
}

fn queue_text(
    t: &TestDb,
    org: &Organization,
    channel: &Channel,
    to: &str,
    body: &str,
) -> (IntegrationJob, MessageLog) {
    let new = NewOutbound {
        organization_id: org.id.clone(),
        channel: channel.clone(),
        to: to.into(),
        content: OutboundContent::Text(Text {
            body: body.into(),
            preview_url: false,
        }),
        lead_id: None,
        reply_to: None,
        idempotency_key: None,
        origin: None,
    };
    let queued = outbound::queue_message(&mut t.db.conn().unwrap(), &new).unwrap();
    (queued.job, queued.message)
}

async fn run(t: &TestDb, send: &SendMessage, job: &IntegrationJob) -> Result<(), JobError> {
    let ctx = JobContext { db: t.db.clone() };
    send.run(&ctx, job).await
}

fn message(t: &TestDb, org: &Organization, id: &str) -> MessageLog {
    outbound::find_message(&mut t.db.conn().unwrap(), &org.id, id)
        .unwrap()
        .unwrap()
}

fn channel(t: &TestDb, org: &Organization, id: &str) -> Channel {
    channels::find_channel(&mut t.db.conn().unwrap(), &org.id, id)
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn an_accepted_send_stores_the_wamid_and_moves_to_sent_once() {
    let meta = sandbox(vec![]).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let send = handler(&t, &meta);
        let (job, queued) = queue(&t, &org, &ch, "hola");
        run(&t, &send, &job).await.unwrap();
        let sent = message(&t, &org, &queued.id);
        assert_eq!(sent.status, "SENT");
        let wamid = sent.external_message_id.clone().unwrap();
        assert!(wamid.starts_with("wamid."), "{wamid}");
        let at_meta = meta.messages(Some(&format!("+{TO}")));
        let at_meta: Vec<_> = at_meta.into_iter().filter(|m| m.wamid == wamid).collect();
        assert_eq!(at_meta.len(), 1, "Meta got exactly this message");
        assert_eq!(at_meta[0].body["text"]["body"], "hola");
        // The job running again (a crash before it was marked done) sends nothing more.
        let accepted = meta.stats().accepted_messages;
        run(&t, &send, &job).await.unwrap();
        assert_eq!(meta.stats().accepted_messages, accepted);
        assert_eq!(
            message(&t, &org, &queued.id).external_message_id,
            Some(wamid)
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_closed_window_fails_the_message_with_a_reason_to_act_on() {
    let meta = sandbox(vec![(ErrorKind::Meta(131047), 1.0)]).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let send = handler(&t, &meta);
        let (job, queued) = queue(&t, &org, &ch, "late");
        let err = run(&t, &send, &job).await.unwrap_err();
        assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
        let failed = message(&t, &org, &queued.id);
        assert_eq!(failed.status, "FAILED");
        assert_eq!(failed.error_code.as_deref(), Some("131047"));
        assert_eq!(
            failed.error_message.as_deref(),
            Some("the 24-hour window is closed: send an approved template")
        );
        // A job that runs again for a failed message does not call Meta again.
        let rejected = meta.stats().rejected_messages;
        run(&t, &send, &job).await.unwrap();
        assert_eq!(meta.stats().rejected_messages, rejected);
    }
    meta.stop().await;
}

#[tokio::test]
async fn an_undeliverable_number_fails_the_message() {
    let meta = sandbox(vec![(ErrorKind::Meta(131026), 1.0)]).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let send = handler(&t, &meta);
        let (job, queued) = queue(&t, &org, &ch, "hi");
        assert!(matches!(
            run(&t, &send, &job).await,
            Err(JobError::Permanent(_))
        ));
        let failed = message(&t, &org, &queued.id);
        assert_eq!(
            (failed.status.as_str(), failed.error_code.as_deref()),
            ("FAILED", Some("131026"))
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn throttling_server_errors_and_timeouts_are_retried_and_the_message_waits() {
    for kind in [
        ErrorKind::Meta(130429),
        ErrorKind::Meta(131000),
        ErrorKind::Http500,
        ErrorKind::Timeout,
    ] {
        let meta = sandbox(vec![(kind, 1.0)]).await;
        for t in TestDb::all() {
            let (org, ch) = org_with_channel(&t);
            let send = handler(&t, &meta);
            let (job, queued) = queue(&t, &org, &ch, "again");
            let err = run(&t, &send, &job).await.unwrap_err();
            assert!(matches!(err, JobError::Retry { .. }), "{kind}: {err:?}");
            assert_eq!(message(&t, &org, &queued.id).status, "QUEUED", "{kind}");
        }
        meta.stop().await;
    }
}

#[tokio::test]
async fn a_retryable_error_on_the_last_attempt_fails_the_message() {
    let meta = sandbox(vec![(ErrorKind::Meta(131000), 1.0)]).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let send = handler(&t, &meta);
        let (mut job, queued) = queue(&t, &org, &ch, "never");
        job.attempts = job.max_attempts;
        assert!(matches!(
            run(&t, &send, &job).await,
            Err(JobError::Permanent(_))
        ));
        let failed = message(&t, &org, &queued.id);
        assert_eq!(failed.status, "FAILED");
        assert!(
            failed.error_message.unwrap().starts_with("gave up after"),
            "says why"
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn an_expired_token_pauses_the_channel_and_its_sends_wait_without_calling_meta() {
    let meta = sandbox(vec![(ErrorKind::Meta(190), 1.0)]).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let send = handler(&t, &meta);
        let (job, queued) = queue(&t, &org, &ch, "paused");
        let err = run(&t, &send, &job).await.unwrap_err();
        assert!(matches!(err, JobError::Defer { .. }), "{err:?}");
        let paused = channel(&t, &org, &ch.id);
        assert_eq!(paused.status, channels::PAUSED);
        assert!(paused.status_reason.unwrap().contains("190"));
        assert_eq!(
            message(&t, &org, &queued.id).status,
            "QUEUED",
            "not failed: it waits"
        );
        // Another send on the paused channel waits without a call to Meta.
        let calls = meta.stats().rejected_messages + meta.stats().accepted_messages;
        let (second, _) = queue(&t, &org, &ch, "also paused");
        assert!(matches!(
            run(&t, &send, &second).await,
            Err(JobError::Defer { .. })
        ));
        assert_eq!(
            meta.stats().rejected_messages + meta.stats().accepted_messages,
            calls
        );
        // Resumed (a new token), it sends.
        channels::resume_channel(&mut t.db.conn().unwrap(), &org.id, &ch.id).unwrap();
        meta.reset();
        let ok = sandbox(vec![]).await;
        let send_ok = handler(&t, &ok);
        run(&t, &send_ok, &second).await.unwrap();
        ok.stop().await;
        let job = jobs::find_job(&mut t.db.conn().unwrap(), &second.id)
            .unwrap()
            .unwrap();
        assert_eq!(
            job.attempts, second.attempts,
            "waiting did not use up attempts"
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn the_pair_limit_holds_back_only_that_recipient() {
    let meta = sandbox(vec![(ErrorKind::Meta(131056), 1.0)]).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let send = handler(&t, &meta);
        let (job, _) = queue(&t, &org, &ch, "too many");
        let err = run(&t, &send, &job).await.unwrap_err();
        let JobError::Retry {
            after: Some(after), ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert!(after >= Duration::from_secs(4), "{after:?}");
        // The next send to the same person is deferred before reaching Meta.
        let calls = meta.stats().rejected_messages;
        let (next, _) = queue(&t, &org, &ch, "and another");
        assert!(matches!(
            run(&t, &send, &next).await,
            Err(JobError::Defer { .. })
        ));
        assert_eq!(meta.stats().rejected_messages, calls);
    }
    meta.stop().await;
}

#[tokio::test]
async fn concurrent_sends_never_exceed_the_channel_limit_at_meta() {
    let meta = sandbox(vec![]).await;
    let t = TestDb::sqlite();
    let (org, ch) = org_with_channel(&t);
    diesel::RunQueryDsl::execute(
        diesel::update(switchboard_store::schema::channels::table).set(
            diesel::ExpressionMethods::eq(
                switchboard_store::schema::channels::messages_per_second,
                50,
            ),
        ),
        &mut *t.db.conn().unwrap(),
    )
    .unwrap();
    let send = Arc::new(handler(&t, &meta));
    let mut tasks = Vec::new();
    for i in 0..120 {
        let (job, _) = queue_text(&t, &org, &ch, &format!("55119{i:08}"), "bulk");
        let (send, db) = (send.clone(), t.db.clone());
        tasks.push(tokio::spawn(async move {
            let ctx = JobContext { db };
            send.run(&ctx, &job).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = meta.stats();
    assert_eq!(stats.accepted_messages, 120);
    assert!(
        stats.max_per_second <= 50,
        "{} sends reached Meta within one second",
        stats.max_per_second
    );
    assert!(
        stats.max_per_second >= 45,
        "paced well under the limit: {}",
        stats.max_per_second
    );
    meta.stop().await;
}
