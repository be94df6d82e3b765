use std::time::{Duration, Instant};

use switchboard_store::SecretBox;
use switchboard_store::db::write_transaction;
use switchboard_store::models::{Channel, IntegrationJob, Organization, WebhookEvent, new_id, now};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::{jobs, organizations, webhooks};
use switchboard_store::testing::TestDb;

pub const PHONE_NUMBER_ID: &str = "1122334455667";
pub const WABA_ID: &str = "57438975935";

pub fn org_with_channel(t: &TestDb) -> (Organization, Channel) {
    let mut conn = t.db.conn().unwrap();
    let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
    let input = ChannelInput {
        organization_id: org.id.clone(),
        phone_number_id: PHONE_NUMBER_ID.into(),
        waba_id: Some(WABA_ID.into()),
        access_token: "EAAG".into(),
        ..Default::default()
    };
    let channel =
        channels::insert_channel(&mut conn, &SecretBox::from_key(&[3; 32]).unwrap(), &input)
            .unwrap();
    (org, channel)
}

/// Stores a webhook body as ingest does (event + PROCESS_WEBHOOK job); returns the event id.
pub fn store_event(t: &TestDb, org: &Organization, body: &[u8]) -> String {
    let event = WebhookEvent {
        id: new_id(),
        organization_id: Some(org.id.clone()),
        channel_id: None,
        provider: "WHATSAPP".into(),
        body: body.to_vec(),
        body_sha256: hex_sha(body),
        headers: "{}".into(),
        status: "PENDING".into(),
        error: None,
        received_at: now(),
        processed_at: None,
    };
    let mut conn = t.db.conn().unwrap();
    write_transaction(&mut conn, |c| {
        webhooks::insert_events_with_jobs(c, std::slice::from_ref(&event))
    })
    .unwrap();
    // A repeated delivery is stored once: hand back the event that holds this body.
    webhooks::find_event_by_sha256(&mut conn, &event.body_sha256)
        .unwrap()
        .unwrap()
        .id
}

fn hex_sha(body: &[u8]) -> String {
    use std::fmt::Write;
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    digest.as_ref().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Enqueues `count` jobs of `kind`.
pub fn enqueue(t: &TestDb, kind: &str, count: usize, max_attempts: i32) -> Vec<String> {
    let at = now();
    let batch: Vec<IntegrationJob> = (0..count)
        .map(|i| {
            let mut job = jobs::new_job(kind, None, format!("{{\"n\":{i}}}"), at);
            job.max_attempts = max_attempts;
            job
        })
        .collect();
    let mut conn = t.db.conn().unwrap();
    for chunk in batch.chunks(500) {
        write_transaction(&mut conn, |c| jobs::insert_jobs(c, chunk)).unwrap();
    }
    batch.into_iter().map(|j| j.id).collect()
}

pub fn job(t: &TestDb, id: &str) -> IntegrationJob {
    jobs::find_job(&mut t.db.conn().unwrap(), id)
        .unwrap()
        .unwrap()
}

pub fn count_status(t: &TestDb, status: &str) -> usize {
    jobs::count_jobs_by_status(&mut t.db.conn().unwrap())
        .unwrap()
        .into_iter()
        .find(|(s, _)| s == status)
        .map_or(0, |(_, n)| n as usize)
}

/// Waits until `done` holds, failing the test after `within`.
pub async fn eventually(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the Graph-calling jobs need, pointed at `api_url` (a sandbox), with the secret box
/// [`org_with_channel`] sealed the channel's token with.
pub fn outbound(api_url: &str) -> switchboard_runner::jobs::Outbound {
    use std::sync::Arc;
    let graph = switchboard_graph::GraphClient::new(switchboard_graph::GraphConfig {
        api_url: api_url.to_string(),
        timeout: Duration::from_millis(2000),
        ..switchboard_graph::GraphConfig::default()
    })
    .unwrap();
    switchboard_runner::jobs::Outbound {
        graph,
        secrets: Arc::new(SecretBox::from_key(&[3; 32]).unwrap()),
        pacer: Arc::new(switchboard_runner::pacing::Pacer::new(
            switchboard_runner::pacing::PacingSettings::default(),
        )),
        // Tests that download files give their own directory (`Outbound { media_dir, .. }`).
        media_dir: std::env::temp_dir().join("switchboard-test-media"),
    }
}

/// A job of `kind` for `org` with `payload`, stored as PENDING (as the API queues it).
pub fn queue_job(t: &TestDb, kind: &str, org: &Organization, payload: &str) -> IntegrationJob {
    let job = jobs::new_job(kind, Some(org.id.clone()), payload.to_string(), now());
    let mut conn = t.db.conn().unwrap();
    write_transaction(&mut conn, |c| {
        jobs::insert_jobs(c, std::slice::from_ref(&job))
    })
    .unwrap();
    job
}
