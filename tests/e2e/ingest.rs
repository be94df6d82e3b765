//! The webhook target through the real binary: Meta's handshake, signed posts, and a crash.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_e2e::Workdir;
use switchboard_e2e::load::{SignedBody, fixture_mix};
use switchboard_e2e::server::Server;
use switchboard_store::repo::{jobs, webhooks};
use switchboard_store::testing::{TestDb, webhook_fixtures};

const PHONE_NUMBER_ID: &str = "1122334455667";
const WABA_ID: &str = "57438975935";
const APP_SECRET: &str = "e2e-app-secret";

fn start(work: &Workdir, t: &TestDb) -> Server {
    let mut cmd = work.command(&t.url(), &["start"]);
    cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG-e2e")
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_VERIFY_TOKEN", "e2e-verify")
        .env("WHATSAPP_WABA_ID", WABA_ID);
    Server::start(cmd)
}

fn post(
    client: &reqwest::blocking::Client,
    server: &Server,
    body: &SignedBody,
) -> reqwest::Result<reqwest::StatusCode> {
    client
        .post(server.url("/api/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", &body.signature)
        .body(body.body.clone())
        .send()
        .map(|r| r.status())
}

#[test]
fn meta_can_verify_and_deliver_every_fixture_to_the_real_binary() {
    for t in TestDb::all() {
        let work = Workdir::new();
        let server = start(&work, &t);
        let client = switchboard_e2e::blocking_client().build().unwrap();
        let challenge = client
            .get(server.url("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=e2e-verify&hub.challenge=1158201444"))
            .send()
            .unwrap();
        assert_eq!(challenge.status(), 200);
        assert_eq!(challenge.text().unwrap(), "1158201444");

        let fixtures = webhook_fixtures();
        for (name, body) in &fixtures {
            let signature = switchboard_ingest::signature::sign(APP_SECRET, body);
            let status = post(
                &client,
                &server,
                &SignedBody {
                    body: body.clone(),
                    signature,
                },
            )
            .unwrap();
            assert_eq!(status, 200, "{name} ({})", t.backend);
        }
        let mut conn = t.db.conn().unwrap();
        assert_eq!(
            webhooks::count_events(&mut conn).unwrap(),
            fixtures.len() as i64,
            "{}",
            t.backend
        );
        // One PROCESS_WEBHOOK job per event (processing may have queued media downloads too).
        let processing = jobs::list_jobs(
            &mut conn,
            &jobs::JobFilter {
                kind: Some(switchboard_domain::job_kind::PROCESS_WEBHOOK.into()),
                limit: 1000,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(processing.len(), fixtures.len());
        let metrics = client
            .get(server.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(
            metrics.contains("switchboard_webhooks_accepted_total"),
            "{metrics}"
        );
        assert_eq!(
            client.get(server.url("/readyz")).send().unwrap().status(),
            200
        );
    }
}

#[test]
fn production_refuses_to_start_without_an_app_secret() {
    let work = Workdir::new();
    let out = work
        .command(&work.sqlite_url(), &["serve"])
        .env("SWITCHBOARD_ENV", "production")
        .env("SWITCHBOARD_BIND", "127.0.0.1:0")
        .env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("app secret"), "{stderr}");
}

/// kill -9 while webhooks are arriving: every 200 must be in the database afterwards, and
/// every stored event must have its job.
#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed_under_load() {
    for t in TestDb::all() {
        let work = Workdir::new();
        let mut server = start(&work, &t);
        let bodies = fixture_mix(4000, APP_SECRET, PHONE_NUMBER_ID, WABA_ID, "crash");
        let acknowledged = Arc::new(Mutex::new(Vec::<usize>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let bodies = Arc::new(bodies);
        let threads: Vec<_> = (0..8)
            .map(|worker| {
                let (bodies, acknowledged, stop) = (
                    Arc::clone(&bodies),
                    Arc::clone(&acknowledged),
                    Arc::clone(&stop),
                );
                let url = server.url("/api/webhooks/whatsapp");
                std::thread::spawn(move || {
                    let client = switchboard_e2e::blocking_client()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .unwrap();
                    for i in (worker..bodies.len()).step_by(8) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let body = &bodies[i];
                        let answer = client
                            .post(&url)
                            .header("x-hub-signature-256", &body.signature)
                            .body(body.body.clone())
                            .send();
                        if matches!(answer, Ok(ref r) if r.status() == 200) {
                            acknowledged.lock().unwrap().push(i);
                        }
                    }
                })
            })
            .collect();
        // Let load build up, then pull the plug mid-stream.
        while acknowledged.lock().unwrap().len() < 300 {
            std::thread::sleep(Duration::from_millis(5));
        }
        server.kill_9();
        stop.store(true, Ordering::Relaxed);
        for thread in threads {
            thread.join().unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(acknowledged.len() >= 300);

        let mut conn = t.db.conn().unwrap();
        let events = webhooks::list_events(&mut conn).unwrap();
        let stored: HashSet<&[u8]> = events.iter().map(|e| e.body.as_slice()).collect();
        for i in &acknowledged {
            assert!(
                stored.contains(bodies[*i].body.as_slice()),
                "acknowledged body {i} lost ({})",
                t.backend
            );
        }
        for event in &events {
            let jobs = jobs::list_jobs_for_event(&mut conn, &event.id).unwrap();
            assert_eq!(
                jobs.len(),
                1,
                "event {} stored without its job ({})",
                event.id,
                t.backend
            );
        }
        eprintln!(
            "{}: {} acknowledged, {} stored before kill -9",
            t.backend,
            acknowledged.len(),
            events.len()
        );
    }
}
