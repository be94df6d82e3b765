//! `DOWNLOAD_MEDIA` against the sandbox standing in for Meta: an inbound file is queued by the
//! projection, downloaded, checked and stored; what is not what it claims to be fails with a
//! reason and leaves no file; a webhook seen twice downloads once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;
use switchboard_domain::job_kind::DOWNLOAD_MEDIA;
use switchboard_runner::jobs::process_webhook::project_event;
use switchboard_runner::jobs::{DownloadMedia, Outbound};
use switchboard_runner::replay::replay;
use switchboard_runner::{JobContext, JobError, JobHandler, Runner, RunnerSettings};
use switchboard_sandbox::payloads::{self, Business, MediaRef, Sender};
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::db::write_transaction;
use switchboard_store::models::{IntegrationJob, Media, Organization, new_id};
use switchboard_store::repo::media::{self, DownloadPayload};
use switchboard_store::repo::messages;
use switchboard_store::schema::integration_jobs;
use switchboard_store::testing::TestDb;

use crate::support::{
    PHONE_NUMBER_ID, WABA_ID, eventually, org_with_channel, outbound, store_event,
};

const CUSTOMER: &str = "5511999990000";

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// A media directory of the test's own, removed when it ends.
struct MediaDir(PathBuf);

impl MediaDir {
    fn new() -> Self {
        MediaDir(std::env::temp_dir().join(format!("switchboard-media-{}", new_id())))
    }

    /// Every file under it, hidden ones (temporary files) included.
    fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }
}

impl Drop for MediaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn outbound_to(api_url: &str, dir: &MediaDir) -> Outbound {
    Outbound {
        media_dir: dir.0.clone(),
        ..outbound(api_url)
    }
}

fn business() -> Business {
    Business {
        waba_id: WABA_ID.into(),
        phone_number_id: PHONE_NUMBER_ID.into(),
        display_phone_number: "15550001111".into(),
    }
}

fn sender() -> Sender {
    Sender::new(CUSTOMER, "Ana")
}

/// A customer's message carrying `file` as its `kind` part (`image`, `sticker`, …), stored
/// and projected as the webhook job does; returns the event id and the message's wamid.
fn receive(
    t: &TestDb,
    org: &Organization,
    kind: &str,
    part: serde_json::Value,
) -> (String, String) {
    let mut message = json!({ "type": kind });
    message[kind] = part;
    let body = payloads::inbound_message(&business(), &sender(), message);
    let wamid = payloads::message_id(&body).unwrap().to_string();
    let event = store_event(t, org, &payloads::to_wire(&body));
    project(t, &event);
    (event, wamid)
}

fn image_part(file: &MediaRef) -> serde_json::Value {
    json!({ "mime_type": file.mime_type, "sha256": file.sha256, "id": file.id })
}

fn project(t: &TestDb, event_id: &str) {
    let mut conn = t.db.conn().unwrap();
    write_transaction(&mut conn, |c| project_event(c, event_id)).unwrap();
}

fn download_jobs(t: &TestDb) -> Vec<IntegrationJob> {
    integration_jobs::table
        .filter(integration_jobs::kind.eq(DOWNLOAD_MEDIA))
        .load(&mut *t.db.conn().unwrap())
        .unwrap()
}

/// The one download job, as a runner holds it when it runs attempt `attempt`.
fn claimed(t: &TestDb, attempt: i32) -> IntegrationJob {
    let mut jobs = download_jobs(t);
    assert_eq!(jobs.len(), 1, "{} ({})", jobs.len(), t.backend);
    let mut job = jobs.remove(0);
    job.attempts = attempt;
    job
}

fn media_row(t: &TestDb, org: &Organization, job: &IntegrationJob) -> Media {
    let payload: DownloadPayload = serde_json::from_str(&job.payload).unwrap();
    media::find_media(&mut t.db.conn().unwrap(), &org.id, &payload.media_id)
        .unwrap()
        .unwrap()
}

async fn run(t: &TestDb, outbound: Outbound, job: &IntegrationJob) -> Result<(), JobError> {
    DownloadMedia::new(outbound)
        .run(&JobContext { db: t.db.clone() }, job)
        .await
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Bytes that start like a JPEG; their content does not matter to anyone but the hash.
fn photo(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe0];
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

fn assert_failed(row: &Media, reason: &str, backend: &str) {
    assert_eq!(row.status, media::FAILED, "{backend}: {row:?}");
    let error = row.error.as_deref().unwrap_or_default();
    assert!(error.contains(reason), "{backend}: {error}");
    assert_eq!(row.storage_path, None, "{backend}");
}

#[tokio::test]
async fn an_inbound_image_is_downloaded_checked_and_stored() {
    let meta = sandbox().await;
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let (org, _) = org_with_channel(&t);
        let bytes = photo(40_000);
        let file = meta.add_inbound_media(bytes.clone(), "image/jpeg");
        let (_, wamid) = receive(&t, &org, "image", image_part(&file));
        let job = claimed(&t, 1);
        assert_eq!(job.status, "PENDING");
        let pending = media_row(&t, &org, &job);
        assert_eq!(pending.status, media::PENDING);
        let message = messages::find_message_by_wamid(&mut t.db.conn().unwrap(), &org.id, &wamid)
            .unwrap()
            .unwrap();
        assert_eq!(pending.message_log_id.as_deref(), Some(message.id.as_str()));

        run(&t, outbound_to(&meta.api_url(), &dir), &job)
            .await
            .unwrap();
        let row = media_row(&t, &org, &job);
        assert_eq!(row.status, media::DOWNLOADED, "{}: {row:?}", t.backend);
        assert_eq!(row.error, None);
        assert_eq!(row.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
        assert_eq!(row.size_bytes, Some(bytes.len() as i64));
        assert_eq!(row.mime_type.as_deref(), Some("image/jpeg"));
        let expected_path = format!("{}/{}", org.id, row.id);
        assert_eq!(row.storage_path.as_deref(), Some(expected_path.as_str()));
        let stored = dir.0.join(&expected_path);
        assert_eq!(std::fs::read(&stored).unwrap(), bytes, "{}", t.backend);
        assert_eq!(dir.files(), vec![stored.clone()], "no temporary file left");

        // Running again (a crash before the job was marked done) changes nothing.
        run(&t, outbound_to(&meta.api_url(), &dir), &job)
            .await
            .unwrap();
        assert_eq!(media_row(&t, &org, &job), row);
        assert_eq!(dir.files(), vec![stored]);
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_webhook_seen_again_or_replayed_queues_no_second_download() {
    let meta = sandbox().await;
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let file = meta.add_inbound_media(photo(1000), "image/jpeg");
        let (event, wamid) = receive(&t, &org, "image", image_part(&file));
        // The same event projected again, and Meta delivering the message in another body.
        project(&t, &event);
        let body = payloads::inbound_message(
            &business(),
            &sender(),
            json!({ "id": wamid, "type": "image", "image": image_part(&file) }),
        );
        let other = store_event(&t, &org, &serde_json::to_vec(&body).unwrap());
        assert_ne!(other, event);
        project(&t, &other);
        assert_eq!(download_jobs(&t).len(), 1, "{}", t.backend);

        // Rebuilding the projections keeps the file, linked to the rebuilt message.
        let report = replay(&t.db, &org.id, None).unwrap();
        assert_eq!(report.failed, 0);
        assert_eq!(download_jobs(&t).len(), 1, "{}", t.backend);
        let job = claimed(&t, 1);
        let rebuilt = messages::find_message_by_wamid(&mut t.db.conn().unwrap(), &org.id, &wamid)
            .unwrap()
            .unwrap();
        assert_eq!(
            media_row(&t, &org, &job).message_log_id.as_deref(),
            Some(rebuilt.id.as_str()),
            "{}",
            t.backend
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_file_that_is_not_the_one_announced_fails_with_a_reason_and_no_file() {
    let meta = sandbox().await;
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let (org, _) = org_with_channel(&t);
        let mut file = meta.add_inbound_media(photo(2000), "image/jpeg");
        file.sha256 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
        receive(&t, &org, "image", image_part(&file));
        let job = claimed(&t, 1);
        let err = run(&t, outbound_to(&meta.api_url(), &dir), &job)
            .await
            .unwrap_err();
        assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
        assert_failed(&media_row(&t, &org, &job), "SHA-256", t.backend);
        assert!(dir.files().is_empty(), "{:?}", dir.files());
    }
    meta.stop().await;
}

#[tokio::test]
async fn files_beyond_metas_limits_fail_with_a_reason_and_no_file() {
    let meta = sandbox().await;
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let (org, _) = org_with_channel(&t);
        // A static sticker may have 100 KB.
        let big = meta.add_inbound_media(vec![7u8; 150 * 1024], "image/webp");
        receive(
            &t,
            &org,
            "sticker",
            json!({ "mime_type": "image/webp", "sha256": big.sha256, "id": big.id, "animated": false }),
        );
        let job = claimed(&t, 1);
        let err = run(&t, outbound_to(&meta.api_url(), &dir), &job)
            .await
            .unwrap_err();
        assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
        assert_failed(&media_row(&t, &org, &job), "at most 102400", t.backend);
        assert!(dir.files().is_empty());
    }
    meta.stop().await;
}

#[tokio::test]
async fn an_animated_sticker_has_the_larger_limit() {
    let meta = sandbox().await;
    let t = TestDb::sqlite();
    let dir = MediaDir::new();
    let (org, _) = org_with_channel(&t);
    let sticker = meta.add_inbound_media(vec![7u8; 150 * 1024], "image/webp");
    receive(
        &t,
        &org,
        "sticker",
        json!({ "mime_type": "image/webp", "sha256": sticker.sha256, "id": sticker.id, "animated": true }),
    );
    let job = claimed(&t, 1);
    run(&t, outbound_to(&meta.api_url(), &dir), &job)
        .await
        .unwrap();
    assert_eq!(media_row(&t, &org, &job).status, media::DOWNLOADED);
    meta.stop().await;
}

#[tokio::test]
async fn an_image_that_is_not_an_image_fails() {
    let meta = sandbox().await;
    let t = TestDb::sqlite();
    let dir = MediaDir::new();
    let (org, _) = org_with_channel(&t);
    let pdf = meta.add_inbound_media(b"%PDF-1.7".to_vec(), "application/pdf");
    let mut part = image_part(&pdf);
    part["mime_type"] = json!("image/jpeg"); // what the message claims
    receive(&t, &org, "image", part);
    let job = claimed(&t, 1);
    let err = run(&t, outbound_to(&meta.api_url(), &dir), &job)
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
    assert_failed(&media_row(&t, &org, &job), "application/pdf", t.backend);
    assert!(dir.files().is_empty());
    meta.stop().await;
}

#[tokio::test]
async fn a_media_id_meta_does_not_know_fails_the_file() {
    let meta = sandbox().await;
    let t = TestDb::sqlite();
    let dir = MediaDir::new();
    let (org, _) = org_with_channel(&t);
    receive(&t, &org, "image", image_part(&MediaRef::fake_jpeg()));
    let job = claimed(&t, 1);
    let err = run(&t, outbound_to(&meta.api_url(), &dir), &job)
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
    assert_failed(
        &media_row(&t, &org, &job),
        "Meta did not hand over the file",
        t.backend,
    );
    meta.stop().await;
}

#[tokio::test]
async fn a_download_that_keeps_failing_is_retried_then_failed_on_its_last_attempt() {
    // Nothing listens here: every call fails on the way, which is worth retrying.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let (org, _) = org_with_channel(&t);
        receive(&t, &org, "image", image_part(&MediaRef::fake_jpeg()));
        let mut job = claimed(&t, 1);
        job.max_attempts = 3;
        let err = run(&t, outbound_to(&unreachable, &dir), &job)
            .await
            .unwrap_err();
        assert!(matches!(err, JobError::Retry { .. }), "{err:?}");
        let retrying = media_row(&t, &org, &job);
        assert_eq!(retrying.status, media::PENDING, "{}", t.backend);
        assert!(
            retrying.error.is_some(),
            "the attempt's error shows meanwhile"
        );

        job.attempts = 3;
        let err = run(&t, outbound_to(&unreachable, &dir), &job)
            .await
            .unwrap_err();
        assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
        assert_failed(
            &media_row(&t, &org, &job),
            "gave up after 3 attempts",
            t.backend,
        );
        assert!(dir.files().is_empty());
    }
}

/// The whole way: the webhook's job projects the message, the download job it queued is
/// claimed and run by the same runner.
#[tokio::test]
async fn the_runner_downloads_what_a_webhook_brought() {
    let meta = sandbox().await;
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let (org, _) = org_with_channel(&t);
        let bytes = photo(5000);
        let file = meta.add_inbound_media(bytes.clone(), "image/jpeg");
        let body = payloads::inbound_image(&business(), &sender(), &file);
        let registry =
            switchboard_runner::jobs::registry(&t.db, Some(outbound_to(&meta.api_url(), &dir)))
                .unwrap();
        let settings = RunnerSettings {
            poll_interval: Duration::from_millis(50),
            ..RunnerSettings::default()
        };
        let runner = Runner::new(t.db.clone(), registry, settings)
            .spawn()
            .unwrap();
        store_event(&t, &org, &payloads::to_wire(&body));
        let id = media::media_id_for(&org.id, &file.id);
        eventually(Duration::from_secs(20), "the file is downloaded", || {
            media::find_media(&mut t.db.conn().unwrap(), &org.id, &id)
                .unwrap()
                .is_some_and(|m| m.status == media::DOWNLOADED)
        })
        .await;
        runner.shutdown().await;
        assert_eq!(
            std::fs::read(dir.0.join(&org.id).join(&id)).unwrap(),
            bytes,
            "{}",
            t.backend
        );
    }
    meta.stop().await;
}
