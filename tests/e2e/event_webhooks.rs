//! Outgoing event webhooks with the real binary: a customer writes through the sandbox, and a
//! receiver subscribed through the API gets `lead.created`, `ticket.created` and
//! `ticket.updated`, each signed with the subscription's secret; an agent's status change
//! follows; the delivery log shows them delivered.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_e2e::api::ApiClient;
use switchboard_e2e::server::Server;
use switchboard_e2e::{TestNumber, Workdir, free_port, wait_for};
use switchboard_sandbox::payloads::{self, Business, Sender};
use switchboard_sandbox::{Sandbox, SandboxConfig};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455669";
const WABA_ID: &str = "57438975937";
const APP_SECRET: &str = "e2e-events-secret";
const NUMBER: TestNumber = TestNumber {
    phone_number_id: PHONE_NUMBER_ID,
    waba_id: WABA_ID,
    app_secret: APP_SECRET,
};
const CUSTOMER: &str = "5511977770001";
const WAIT: Duration = Duration::from_secs(20);

/// One POST the receiver got: its headers (names lower-cased) and raw body.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on a thread: answers every request 200 and keeps it.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&log);
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            if let Some(request) = read_request(&socket) {
                kept.lock().unwrap().push(request);
            }
            let mut socket = socket;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, log)
}

fn read_request(mut socket: &TcpStream) -> Option<Received> {
    socket.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = bytes[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { headers, body })
}

/// The check docs/api.md documents: HMAC-SHA256 of `<t>.<raw body>` under the whole secret.
fn signed_by(secret: &str, received: &Received) -> bool {
    let header = &received.headers["x-switchboard-signature"];
    let parts: HashMap<&str, &str> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let signed = [parts["t"].as_bytes(), b".", &received.body].concat();
    let given = hex::decode(parts["v1"]).unwrap();
    let fresh = parts["t"].parse::<i64>().unwrap() - chrono::Utc::now().timestamp();
    fresh.abs() <= 300 && ring::hmac::verify(&key, &signed, &given).is_ok()
}

fn of_type(log: &Mutex<Vec<Received>>, kind: &str) -> Vec<Received> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|r| r.headers.get("x-switchboard-event").map(String::as_str) == Some(kind))
        .cloned()
        .collect()
}

#[test]
fn a_customers_first_message_reaches_a_subscribed_receiver_signed() {
    for t in TestDb::all() {
        switchboard_e2e::install_tls();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let work = Workdir::new();
        let bind = format!("127.0.0.1:{}", free_port());
        let webhook_url = format!("http://{bind}/api/webhooks/whatsapp");
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig {
                webhook_url: Some(webhook_url.clone()),
                app_secret: Some(APP_SECRET.into()),
                latency: Duration::from_millis(5),
                ..SandboxConfig::default()
            }))
            .unwrap();
        let cmd = work.start_command(&t.url(), &NUMBER, &sandbox.api_url());
        let mut server = Server::start_at(cmd, &bind);
        let token = work.ok(
            &t.url(),
            &["token", "create", "--org", "default", "--role", "OWNER"],
        );
        let owner = ApiClient::new(&server, token);
        owner.expect(200, "PATCH", "/api/settings", Some(json!({"mode": "both"})));
        let (url, log) = receiver();
        let created = owner.expect(
            201,
            "POST",
            "/api/webhook-subscriptions",
            Some(
                json!({"url": url, "events": ["lead.created", "ticket.created", "ticket.updated"]}),
            ),
        );
        let secret = created["secret"].as_str().unwrap().to_string();
        let subscription = created["id"].as_str().unwrap().to_string();

        let business = Business {
            waba_id: WABA_ID.into(),
            phone_number_id: PHONE_NUMBER_ID.into(),
            display_phone_number: "15550001112".into(),
        };
        let sender = Sender::new(CUSTOMER, "Paula");
        let message = payloads::inbound_text(&business, &sender, "my order arrived broken");
        runtime
            .block_on(switchboard_sandbox::post_webhook(
                &reqwest::Client::new(),
                &webhook_url,
                Some(APP_SECRET),
                &message,
            ))
            .unwrap();

        let lead = wait_for(WAIT, "lead.created at the receiver", || {
            of_type(&log, "lead.created").pop()
        });
        assert!(signed_by(&secret, &lead), "{}", t.backend);
        assert_eq!(lead.json()["data"]["phone"], CUSTOMER);
        assert_eq!(lead.json()["data"]["name"], "Paula");
        let opened = wait_for(WAIT, "ticket.created at the receiver", || {
            of_type(&log, "ticket.created").pop()
        });
        assert!(signed_by(&secret, &opened));
        let ticket = opened.json()["data"].clone();
        assert_eq!(ticket["contactPhone"], CUSTOMER);
        let comment = wait_for(WAIT, "the customer's comment at the receiver", || {
            of_type(&log, "ticket.updated").pop()
        });
        assert_eq!(comment.json()["data"]["change"], "comment");
        assert_eq!(
            comment.json()["data"]["comment"]["body"],
            "my order arrived broken"
        );

        // An agent resolves it: the receiver hears the change, with the status it had.
        let id = ticket["id"].as_str().unwrap();
        owner.expect(
            200,
            "PUT",
            &format!("/api/tickets/{id}/status"),
            Some(json!({"status": "resolved"})),
        );
        let resolved = wait_for(WAIT, "the status change at the receiver", || {
            of_type(&log, "ticket.updated")
                .into_iter()
                .find(|r| r.json()["data"]["change"] == "status")
        });
        assert!(signed_by(&secret, &resolved));
        assert_eq!(resolved.json()["data"]["status"], "resolved");
        assert_eq!(resolved.json()["data"]["previous"], ticket["status"]);
        assert_eq!(
            resolved.headers["x-switchboard-delivery"].len(),
            36,
            "a delivery id"
        );

        let deliveries = owner.get(&format!(
            "/api/webhook-subscriptions/{subscription}/deliveries"
        ));
        assert_eq!(deliveries["total"], 4, "{deliveries}");
        wait_for(WAIT, "every delivery marked DELIVERED", || {
            let page = owner.get(&format!(
                "/api/webhook-subscriptions/{subscription}/deliveries?status=DELIVERED"
            ));
            (page["total"] == 4).then_some(())
        });
        server.terminate(Duration::from_secs(30));
        runtime.block_on(sandbox.stop());
    }
}
