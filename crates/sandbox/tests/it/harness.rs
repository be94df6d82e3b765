//! A webhook receiver that records every POST (raw bytes and signature header) and answers
//! what the test asks for; helpers to call the sandbox.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use tokio::sync::Notify;

pub const TOKEN: &str = "test-token";
pub const SECRET: &str = "s3cret-app";

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Whether the signature header is the HMAC of the raw bytes under `secret` (ring verify).
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some(tag) = self
            .signature
            .as_deref()
            .and_then(|s| s.strip_prefix("sha256="))
            .and_then(|h| hex::decode(h).ok())
        else {
            return false;
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::verify(&key, &self.body, &tag).is_ok()
    }

    /// The `statuses[]` of this body.
    pub fn statuses(&self) -> Vec<Value> {
        self.json()["entry"][0]["changes"][0]["value"]["statuses"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    answers: Mutex<VecDeque<u16>>,
    arrived: Notify,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    server: actix_web::dev::ServerHandle,
}

async fn receive(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let signature = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answer = shared.answers.lock().unwrap().pop_front().unwrap_or(200);
    shared.hits.lock().unwrap().push(Hit {
        signature,
        body: body.to_vec(),
    });
    shared.arrived.notify_waiters();
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answer).unwrap())
        .json(json!({ "status": if answer == 200 { "stored" } else { "refused" } }))
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/webhooks/whatsapp", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            url: format!("http://{addr}/webhooks/whatsapp"),
            shared,
            server: handle,
        }
    }

    /// The next POSTs get these statuses (then 200 again).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .extend(statuses.iter().copied());
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits until `done(hits)` holds, or panics after `limit`.
    pub async fn wait_until(&self, limit: Duration, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.shared.arrived.notified();
            let hits = self.hits();
            if done(&hits) {
                return hits;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "gave up waiting after {limit:?}; got {} webhooks",
                hits.len()
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await;
        }
    }

    /// Waits for `n` statuses in all (counting duplicates' statuses too).
    pub async fn wait_for_statuses(&self, n: usize, limit: Duration) -> Vec<Hit> {
        self.wait_until(limit, |hits| {
            hits.iter().map(|h| h.statuses().len()).sum::<usize>() >= n
        })
        .await
    }

    pub async fn stop(self) {
        self.server.stop(false).await;
    }
}

/// A sandbox posting to `receiver`, signed with [`SECRET`], with `tweak` applied.
pub async fn sandbox_for(
    receiver: &Receiver,
    tweak: impl FnOnce(&mut SandboxConfig),
) -> SandboxHandle {
    let mut config = SandboxConfig {
        webhook_url: Some(receiver.url.clone()),
        app_secret: Some(SECRET.into()),
        ..SandboxConfig::default()
    };
    tweak(&mut config);
    Sandbox::start(config).await.unwrap()
}

pub async fn sandbox(tweak: impl FnOnce(&mut SandboxConfig)) -> SandboxHandle {
    let mut config = SandboxConfig::default();
    tweak(&mut config);
    Sandbox::start(config).await.unwrap()
}

pub fn client() -> reqwest::Client {
    install_tls();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `POST {api}/v25.0/{phone}/messages` with the test token.
pub async fn post_messages(
    client: &reqwest::Client,
    sandbox: &SandboxHandle,
    phone_number_id: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .post(format!(
            "{}/v25.0/{phone_number_id}/messages",
            sandbox.api_url()
        ))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn text_to(to: &str, body: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": { "body": body },
    })
}

/// Sends a text through the default number and returns the wamid (panics unless 200).
pub async fn send_text(client: &reqwest::Client, sandbox: &SandboxHandle, to: &str) -> String {
    let (status, body) = post_messages(client, sandbox, "1122334455667", &text_to(to, "hi")).await;
    assert_eq!(status, 200, "{body}");
    body["messages"][0]["id"].as_str().unwrap().to_string()
}

/// The shared fixtures folder (beside the repository, or `SWITCHBOARD_FIXTURES_DIR`).
pub fn fixture(relative: &str) -> Value {
    let dir = std::env::var("SWITCHBOARD_FIXTURES_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    let path = dir.join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The shape of a JSON value: every leaf replaced by its type name, arrays by the shape of
/// their first element.
pub fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => json!([items.first().map(shape).unwrap_or(Value::Null)]),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

/// Removes `key` from every object inside `value`.
pub fn strip(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| strip(v, key));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip(v, key)),
        _ => {}
    }
}

/// The counters once deliveries are over: nothing pending, and unchanged for 100 ms (a
/// receiver sees a POST before the sandbox has counted its answer).
pub async fn settled_stats(sandbox: &SandboxHandle) -> switchboard_sandbox::Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = sandbox.stats();
        if before.statuses_pending == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let after = sandbox.stats();
            if after == before {
                return after;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(Instant::now() < deadline, "the sandbox never settled");
    }
}

/// reqwest is built without a TLS crypto provider in this workspace: install ring first.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
