//! DELIVER_EVENT against a tiny local receiver that records what it is sent and answers what
//! each test scripts: signed deliveries (checked the way docs/api.md tells receivers to, and by
//! running the documented snippets themselves), retries, timeouts, dead letters, auto-disable,
//! disabled and deleted subscriptions, redelivery and redirects.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;
use switchboard_domain::backoff::Backoff;
use switchboard_domain::events::EventType;
use switchboard_domain::job_kind::DELIVER_EVENT;
use switchboard_runner::jobs::deliver_event::{DeliverEvent, DeliveryConfig};
use switchboard_runner::{JobContext, JobError, JobHandler, Registry, Runner, RunnerSettings};
use switchboard_store::db::write_transaction;
use switchboard_store::models::{Organization, WebhookDelivery, WebhookSubscription};
use switchboard_store::repo::organizations;
use switchboard_store::repo::subscriptions::{
    self, DEAD, DELIVERED, Event, FAILED, NewSubscription, SubscriptionChanges,
};
use switchboard_store::schema::{integration_jobs, webhook_deliveries, webhook_subscriptions};
use switchboard_store::testing::TestDb;
use switchboard_store::{AnyConnection, SecretBox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{eventually, job};

// ---------------------------------------------------------------------------------------------
// The receiver

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn status(status: u16) -> Reply {
        Reply {
            status,
            body: format!("answer {status}"),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

    fn body(mut self, body: impl Into<String>) -> Reply {
        self.body = body.into();
        self
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Debug, Clone)]
struct Received {
    path: String,
    /// Names lower-cased.
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

/// Answers each request with the next scripted reply, then with `then`.
struct Receiver {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: Vec<Reply>, then: Reply) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (shared_log, shared_script) = (Arc::clone(&log), Arc::clone(&script));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let reply = {
                    let mut script = shared_script.lock().unwrap();
                    script.pop_front().unwrap_or_else(|| then.clone())
                };
                tokio::spawn(answer(socket, reply, Arc::clone(&shared_log)));
            }
        });
        Receiver { addr, log, task }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request per connection (the answer says `Connection: close`).
async fn answer(mut socket: TcpStream, reply: Reply, log: Arc<Mutex<Vec<Received>>>) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    log.lock().unwrap().push(request);
    tokio::time::sleep(reply.delay).await;
    let mut head = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(reply.body.as_bytes()).await;
    let _ = socket.shutdown().await;
}

async fn read_request(socket: &mut TcpStream) -> Option<Received> {
    let mut bytes = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        path,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// Verifying as docs/api.md says

/// What the documented snippet does, step by step: split the header, recompute HMAC-SHA256
/// over `t + "." + raw body` keyed with the whole secret, compare in constant time, refuse a
/// `t` more than 300 s from now.
fn verify_like_the_docs(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: HashMap<&str, &str> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else {
        return false;
    };
    let Ok(sent_at) = t.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - sent_at).abs() > 300 {
        return false;
    }
    let Ok(given) = hex::decode(v1) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signed = [t.as_bytes(), b".", body].concat();
    ring::hmac::verify(&key, &signed, &given).is_ok()
}

/// The fenced block of `language` in docs/api.md's "Outgoing event webhooks" section.
fn documented_snippet(language: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc.find("## Outgoing event webhooks").unwrap();
    let section = &doc[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let fence = format!("```{language}\n");
    let from = section.find(&fence).unwrap() + fence.len();
    section[from..][..section[from..].find("```").unwrap()].to_string()
}

/// Runs the documented Python and Node snippets (when those interpreters are installed) on a
/// real delivery: they accept it, and refuse it with one byte of the body changed.
fn run_documented_snippets(secret: &str, header: &str, body: &[u8]) {
    let dir = tempfile_dir();
    let genuine = dir.join("body.json");
    let tampered = dir.join("tampered.json");
    std::fs::write(&genuine, body).unwrap();
    let mut changed = body.to_vec();
    changed[0] = b' ';
    std::fs::write(&tampered, &changed).unwrap();
    let python = format!(
        "{}\nimport sys\nprint(verify(sys.argv[1], sys.argv[2], open(sys.argv[3], 'rb').read()), \
         verify(sys.argv[1], sys.argv[2], open(sys.argv[4], 'rb').read()))",
        documented_snippet("python")
    );
    let node = format!(
        "{}\nconst fs = require('fs'); const [s, h, a, b] = process.argv.slice(1);\n\
         console.log(verify(s, h, fs.readFileSync(a)) ? 'True' : 'False', verify(s, h, fs.readFileSync(b)) ? 'True' : 'False');",
        documented_snippet("js")
    );
    for (program, flag, code) in [("python3", "-c", python), ("node", "-e", node)] {
        let ran = std::process::Command::new(program)
            .args([flag, &code, secret, header])
            .arg(&genuine)
            .arg(&tampered)
            .output();
        let Ok(out) = ran else {
            eprintln!("{program} is not installed: its documented snippet was not run");
            continue;
        };
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{program}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(said.trim(), "True False", "{program} snippet");
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-hooks-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// Set-up

fn secrets() -> Arc<SecretBox> {
    Arc::new(SecretBox::from_key(&[3; 32]).unwrap())
}

/// An organization subscribed to ticket.created at `url`; the subscription's secret.
fn subscribed(t: &TestDb, url: &str) -> (Organization, String, String) {
    let mut conn = t.db.conn().unwrap();
    let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
    let created = subscriptions::insert_subscription(
        &mut conn,
        &secrets(),
        &NewSubscription {
            organization_id: &org.id,
            url,
            events: &["ticket.created".to_string()],
            description: None,
            enabled: true,
            require_https: false,
        },
    )
    .unwrap();
    (org, created.subscription.id, created.secret)
}

/// A ticket.created event for `key`; its (only) delivery.
fn emit(t: &TestDb, org: &Organization, key: &str) -> WebhookDelivery {
    let mut conn = t.db.conn().unwrap();
    let event = Event {
        organization_id: &org.id,
        kind: EventType::TicketCreated,
        key,
        data: json!({"id": key, "number": 1001, "subject": "Caixa amassada — ñ"}),
    };
    let queued = write_transaction(&mut conn, |c| subscriptions::emit_in(c, &event)).unwrap();
    assert_eq!(queued, 1);
    latest_delivery(&mut conn, &org.id)
}

fn latest_delivery(conn: &mut AnyConnection, org: &str) -> WebhookDelivery {
    webhook_deliveries::table
        .filter(webhook_deliveries::organization_id.eq(org))
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .select(WebhookDelivery::as_select())
        .first(conn)
        .unwrap()
}

fn delivery(t: &TestDb, id: &str) -> WebhookDelivery {
    webhook_deliveries::table
        .find(id)
        .select(WebhookDelivery::as_select())
        .first(&mut t.db.conn().unwrap())
        .unwrap()
}

fn subscription(t: &TestDb, id: &str) -> WebhookSubscription {
    webhook_subscriptions::table
        .find(id)
        .select(WebhookSubscription::as_select())
        .first(&mut t.db.conn().unwrap())
        .unwrap()
}

fn handler(timeout: Duration) -> DeliverEvent {
    DeliverEvent::new(
        secrets(),
        DeliveryConfig {
            timeout,
            ..DeliveryConfig::default()
        },
    )
    .unwrap()
}

/// Runs the delivery's job once, as attempt `attempt` (the runner counts attempts on claim).
async fn attempt(
    t: &TestDb,
    handler: &DeliverEvent,
    job_id: &str,
    attempt: i32,
) -> Result<(), JobError> {
    let mut claimed = job(t, job_id);
    claimed.attempts = attempt;
    handler
        .run(&JobContext { db: t.db.clone() }, &claimed)
        .await
}

fn fast_settings() -> RunnerSettings {
    RunnerSettings {
        poll_interval: Duration::from_millis(20),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(40)),
        ..RunnerSettings::default()
    }
}

fn runner(t: &TestDb) -> switchboard_runner::RunnerHandle {
    let registry = Registry::new().register(DELIVER_EVENT, handler(Duration::from_secs(5)));
    Runner::new(t.db.clone(), registry, fast_settings())
        .spawn()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_posted_signed_as_documented_and_marked_delivered() {
    for t in TestDb::all() {
        let receiver = Receiver::start(vec![], Reply::status(200).body("thanks")).await;
        let (org, _, secret) = subscribed(&t, &receiver.url());
        let sent = emit(&t, &org, "ticket-1");
        let job_id = sent.job_id.clone().unwrap();
        attempt(&t, &handler(Duration::from_secs(5)), &job_id, 1)
            .await
            .unwrap();

        let got = receiver.received();
        assert_eq!(got.len(), 1, "{}", t.backend);
        let request = &got[0];
        assert_eq!(request.path, "/hooks");
        assert_eq!(request.body, sent.body.as_bytes(), "the body as stored");
        assert_eq!(request.header("Content-Type"), "application/json");
        assert!(
            request
                .header("User-Agent")
                .starts_with("Switchboard-Webhooks/"),
            "{request:?}"
        );
        assert_eq!(request.header("X-Switchboard-Event"), "ticket.created");
        assert_eq!(request.header("X-Switchboard-Delivery"), sent.id);
        let signature = request.header("X-Switchboard-Signature");
        assert!(verify_like_the_docs(&secret, signature, &request.body));
        assert!(!verify_like_the_docs(
            "whsec_other",
            signature,
            &request.body
        ));
        assert!(!verify_like_the_docs(&secret, signature, b"{}"));
        run_documented_snippets(&secret, signature, &request.body);
        let envelope: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(envelope["id"], sent.event_id);
        assert_eq!(envelope["type"], "ticket.created");
        assert_eq!(envelope["data"]["subject"], "Caixa amassada — ñ");

        let done = delivery(&t, &sent.id);
        assert_eq!(done.status, DELIVERED);
        assert_eq!(done.attempts, 1);
        assert_eq!(done.response_status, Some(200));
        assert_eq!(done.response_body.as_deref(), Some("thanks"));
        assert!(done.error.is_none() && done.delivered_at.is_some());

        // The same job run again (a crash before it was marked done) sends nothing.
        attempt(&t, &handler(Duration::from_secs(5)), &job_id, 2)
            .await
            .unwrap();
        assert_eq!(receiver.received().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_by_the_runner_until_the_receiver_takes_the_event() {
    for t in TestDb::all() {
        let receiver = Receiver::start(
            vec![Reply::status(500), Reply::status(404)],
            Reply::status(204),
        )
        .await;
        let (org, subscription_id, secret) = subscribed(&t, &receiver.url());
        let sent = emit(&t, &org, "ticket-1");
        let runner = runner(&t);
        eventually(Duration::from_secs(20), "the delivery is delivered", || {
            delivery(&t, &sent.id).status == DELIVERED
        })
        .await;
        runner.shutdown().await;

        let got = receiver.received();
        assert_eq!(got.len(), 3, "{}", t.backend);
        for request in &got {
            assert_eq!(request.body, sent.body.as_bytes(), "same event, same body");
            assert_eq!(request.header("X-Switchboard-Delivery"), sent.id);
            let signature = request.header("X-Switchboard-Signature");
            assert!(verify_like_the_docs(&secret, signature, &request.body));
        }
        let done = delivery(&t, &sent.id);
        assert_eq!((done.attempts, done.response_status), (3, Some(204)));
        assert!(done.error.is_none());
        assert_eq!(job(&t, sent.job_id.as_deref().unwrap()).status, "DONE");
        assert_eq!(subscription(&t, &subscription_id).consecutive_failures, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_and_a_429_says_when_to_come_back() {
    for t in TestDb::all() {
        let long = "x".repeat(5000);
        let receiver = Receiver::start(
            vec![
                Reply::status(200).after(Duration::from_secs(3)),
                Reply::status(429)
                    .body(long.clone())
                    .header("Retry-After", "7"),
            ],
            Reply::status(200),
        )
        .await;
        let (org, subscription_id, _) = subscribed(&t, &receiver.url());
        let sent = emit(&t, &org, "ticket-1");
        let job_id = sent.job_id.clone().unwrap();
        let quick = handler(Duration::from_millis(300));

        let slow = attempt(&t, &quick, &job_id, 1).await;
        let Err(JobError::Retry { message, .. }) = slow else {
            panic!("{}: {slow:?}", t.backend);
        };
        assert!(message.contains("no answer within"), "{message}");
        let failed = delivery(&t, &sent.id);
        assert_eq!(failed.status, FAILED);
        assert_eq!(failed.response_status, None);
        assert_eq!(failed.error.as_deref(), Some(message.as_str()));

        let limited = attempt(&t, &quick, &job_id, 2).await;
        let Err(JobError::Retry { after, .. }) = limited else {
            panic!("{}: {limited:?}", t.backend);
        };
        assert_eq!(after, Some(Duration::from_secs(7)));
        let failed = delivery(&t, &sent.id);
        assert_eq!((failed.status.as_str(), failed.attempts), (FAILED, 2));
        assert_eq!(failed.response_status, Some(429));
        assert_eq!(
            failed.response_body.as_deref(),
            Some(&long[..1024]),
            "the first KiB"
        );
        assert_eq!(subscription(&t, &subscription_id).consecutive_failures, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_attempt_makes_the_delivery_dead_and_disables_a_receiver_that_is_down() {
    for t in TestDb::all() {
        let receiver = Receiver::start(vec![], Reply::status(503)).await;
        let (org, subscription_id, _) = subscribed(&t, &receiver.url());
        let sent = emit(&t, &org, "ticket-1");
        let job_id = sent.job_id.clone().unwrap();
        // Three attempts instead of thirty, so the schedule runs out in a test's time.
        diesel::update(integration_jobs::table.find(&job_id))
            .set(integration_jobs::max_attempts.eq(3))
            .execute(&mut t.db.conn().unwrap())
            .unwrap();
        let runner = runner(&t);
        eventually(Duration::from_secs(20), "the job is dead-lettered", || {
            job(&t, &job_id).status == "DEAD"
        })
        .await;
        runner.shutdown().await;

        assert_eq!(receiver.received().len(), 3, "{}", t.backend);
        let dead = delivery(&t, &sent.id);
        assert_eq!((dead.status.as_str(), dead.attempts), (DEAD, 3));
        assert_eq!(dead.response_status, Some(503));
        let disabled = subscription(&t, &subscription_id);
        assert!(!disabled.enabled);
        assert_eq!(disabled.consecutive_failures, 3);
        let reason = disabled.disabled_reason.unwrap();
        assert!(
            reason.contains(&sent.id) && reason.contains("\"enabled\": true"),
            "{reason}"
        );
        // Disabled: the next event queues nothing for it.
        let mut conn = t.db.conn().unwrap();
        let next = Event {
            organization_id: &org.id,
            kind: EventType::TicketCreated,
            key: "ticket-2",
            data: json!({}),
        };
        let queued = write_transaction(&mut conn, |c| subscriptions::emit_in(c, &next)).unwrap();
        assert_eq!(queued, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_and_deleted_subscriptions_are_not_called_and_a_redelivery_sends_once() {
    for t in TestDb::all() {
        let receiver = Receiver::start(vec![], Reply::status(200)).await;
        let (org, subscription_id, _) = subscribed(&t, &receiver.url());
        let first = emit(&t, &org, "ticket-1");
        let h = handler(Duration::from_secs(5));
        let set_enabled = |enabled: bool| {
            subscriptions::update_subscription(
                &mut t.db.conn().unwrap(),
                &org.id,
                &subscription_id,
                &SubscriptionChanges {
                    enabled: Some(enabled),
                    ..Default::default()
                },
            )
            .unwrap()
        };

        set_enabled(false);
        let refused = attempt(&t, &h, first.job_id.as_deref().unwrap(), 1).await;
        let Err(JobError::Permanent(reason)) = refused else {
            panic!("{}: {refused:?}", t.backend);
        };
        assert!(reason.contains("disabled"), "{reason}");
        assert!(receiver.received().is_empty());
        let abandoned = delivery(&t, &first.id);
        assert_eq!(abandoned.status, DEAD);
        assert_eq!(abandoned.error.as_deref(), Some(reason.as_str()));

        // Enabled again and redelivered: the old job sends nothing, the new one sends it.
        set_enabled(true);
        let again = subscriptions::redeliver(
            &mut t.db.conn().unwrap(),
            &org.id,
            &subscription_id,
            &first.id,
        )
        .unwrap();
        attempt(&t, &h, first.job_id.as_deref().unwrap(), 1)
            .await
            .unwrap();
        assert!(
            receiver.received().is_empty(),
            "the replaced job is a no-op"
        );
        attempt(&t, &h, again.job_id.as_deref().unwrap(), 1)
            .await
            .unwrap();
        let got = receiver.received();
        assert_eq!(got.len(), 1, "{}", t.backend);
        assert_eq!(got[0].body, first.body.as_bytes(), "the same event");
        assert_eq!(delivery(&t, &first.id).status, DELIVERED);

        // Deleted with a delivery still queued: its job ends without a call.
        let queued = emit(&t, &org, "ticket-2");
        assert!(
            subscriptions::delete_subscription(
                &mut t.db.conn().unwrap(),
                &org.id,
                &subscription_id
            )
            .unwrap()
        );
        attempt(&t, &h, queued.job_id.as_deref().unwrap(), 1)
            .await
            .unwrap();
        assert_eq!(receiver.received().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    for t in TestDb::all() {
        let receiver = Receiver::start(vec![], Reply::status(200)).await;
        let elsewhere = format!("http://{}/elsewhere", receiver.addr);
        let bouncer =
            Receiver::start(vec![], Reply::status(307).header("Location", &elsewhere)).await;
        let (org, _, _) = subscribed(&t, &bouncer.url());
        let sent = emit(&t, &org, "ticket-1");
        let result = attempt(
            &t,
            &handler(Duration::from_secs(5)),
            sent.job_id.as_deref().unwrap(),
            1,
        )
        .await;
        assert!(matches!(result, Err(JobError::Retry { .. })), "{result:?}");
        assert_eq!(bouncer.received().len(), 1, "{}", t.backend);
        assert!(
            receiver.received().is_empty(),
            "the redirect was not followed"
        );
        let failed = delivery(&t, &sent.id);
        assert_eq!(failed.response_status, Some(307));
        assert!(
            failed.error.as_deref().unwrap().contains(&elsewhere),
            "{failed:?}"
        );
    }
}

/// The production registry knows the job: deliveries do not wait forever in a real runner.
#[tokio::test]
async fn the_runner_registry_delivers_events() {
    let t = TestDb::sqlite();
    let outbound = crate::support::outbound("http://127.0.0.1:9");
    let registry = switchboard_runner::jobs::registry(&t.db, Some(outbound)).unwrap();
    assert!(registry.kinds().contains(&DELIVER_EVENT));
}
