//! The web inbox in a real headless Chromium (Debian's `chromium`, driven by `playwright-core`
//! from tests/browser) against the real binary, with the sandbox standing in for Meta. The
//! browser script (tests/browser/inbox.mjs) signs in with a token and works the inbox as a
//! person would; when it needs the customer or Meta to do something, it prints `STEP <name>`
//! and this side makes it happen, then answers `OK <name>` on its standard input.
//!
//! Without Chromium, node or playwright-core the test says loudly that it skipped; with
//! `SWITCHBOARD_REQUIRE_BROWSER=1` (CI) it fails instead.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_e2e::api::ApiClient;
use switchboard_e2e::server::Server;
use switchboard_e2e::{TestNumber, Workdir, free_port, wait_for};
use switchboard_sandbox::payloads::{self, Business, Sender};
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455669";
const WABA_ID: &str = "57438975937";
const APP_SECRET: &str = "e2e-web-secret";
const NUMBER: TestNumber = TestNumber {
    phone_number_id: PHONE_NUMBER_ID,
    waba_id: WABA_ID,
    app_secret: APP_SECRET,
};
const VERIFY_TOKEN: &str = "e2e-web-verify-token";
/// Writes while the page is open.
const CUSTOMER: &str = "5511977770001";
/// Wrote 30 hours ago: outside the 24-hour window, templates only.
const QUIET_CUSTOMER: &str = "5511977770002";
const WAIT: Duration = Duration::from_secs(20);
/// The whole browser run, start to end.
const BROWSER_LIMIT: Duration = Duration::from_secs(240);
const PHOTO: &[u8] = include_bytes!("../browser/fixtures/photo.png");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above tests/")
        .to_path_buf()
}

/// What the browser run needs on this machine, or why it cannot run.
struct Browser {
    node: PathBuf,
    chromium: PathBuf,
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn browser() -> Option<Browser> {
    let chromium = std::env::var_os("SWITCHBOARD_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| find_program(&["chromium", "chromium-browser"]));
    let node = find_program(&["node", "nodejs"]);
    let playwright = workspace().join("tests/browser/node_modules/playwright-core");
    let mut missing = Vec::new();
    if chromium.is_none() {
        missing.push("chromium");
    }
    if node.is_none() {
        missing.push("node");
    }
    if !playwright.is_dir() {
        missing.push("tests/browser/node_modules/playwright-core");
    }
    if missing.is_empty() {
        return Some(Browser {
            node: node?,
            chromium: chromium?,
        });
    }
    let message = format!(
        "SKIPPED: browser tests need {}; run .ci/run or: apt-get install chromium && npm ci --prefix tests/browser",
        missing.join(", ")
    );
    assert!(
        std::env::var("SWITCHBOARD_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "SWITCHBOARD_REQUIRE_BROWSER=1 but {message}"
    );
    // Straight to stderr, past the test harness's capture: a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n==================== web inbox ====================\n{message}\n===================================================\n"
    );
    None
}

/// The binary (`start`) with the sandbox as Meta, an organization in `both` modes (leads and
/// tickets) and an OWNER token.
struct Stage {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    server: Server,
    owner: ApiClient,
    token: String,
    webhook_url: String,
    http: reqwest::Client,
    _db: TestDb,
    _work: Workdir,
}

impl Stage {
    fn start() -> Stage {
        switchboard_e2e::install_tls();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let db = TestDb::sqlite();
        let work = Workdir::new();
        let bind = format!("127.0.0.1:{}", free_port());
        let webhook_url = format!("http://{bind}/api/webhooks/whatsapp");
        // Statuses a person can watch arrive: sent, then delivered, then read.
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig {
                webhook_url: Some(webhook_url.clone()),
                app_secret: Some(APP_SECRET.into()),
                phone_number_id: PHONE_NUMBER_ID.into(),
                waba_id: WABA_ID.into(),
                latency: Duration::from_millis(5),
                sent_after: Duration::from_millis(300),
                delivered_after: Duration::from_millis(1200),
                read_after: Duration::from_millis(2500),
                ..SandboxConfig::default()
            }))
            .unwrap();
        let mut cmd = work.start_command(&db.url(), &NUMBER, &sandbox.api_url());
        cmd.env("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN);
        let server = Server::start_at(cmd, &bind);
        let token = work.ok(
            &db.url(),
            &["token", "create", "--org", "default", "--role", "OWNER"],
        );
        let owner = ApiClient::new(&server, token.clone());
        owner.expect(200, "PATCH", "/api/settings", Some(json!({"mode": "both"})));
        Stage {
            runtime,
            sandbox: Some(sandbox),
            server,
            owner,
            token,
            webhook_url,
            http: reqwest::Client::new(),
            _db: db,
            _work: work,
        }
    }

    fn sandbox(&self) -> &SandboxHandle {
        self.sandbox.as_ref().unwrap()
    }

    fn business() -> Business {
        Business {
            waba_id: WABA_ID.into(),
            phone_number_id: PHONE_NUMBER_ID.into(),
            display_phone_number: "15550002222".into(),
        }
    }

    fn post(&self, payload: &Value) {
        self.runtime
            .block_on(switchboard_sandbox::post_webhook(
                &self.http,
                &self.webhook_url,
                Some(APP_SECRET),
                payload,
            ))
            .unwrap();
    }

    fn conversation_of(&self, phone: &str) -> Option<Value> {
        let list = self
            .owner
            .get(&format!("/api/integrations/conversations?search={phone}"));
        list["data"].as_array()?.first().cloned()
    }

    /// Pedro wrote 30 hours ago: his conversation is there, with its window closed.
    fn quiet_customer_wrote_yesterday(&self) {
        let at = payloads::unix_now() - 30 * 3600;
        self.post(&payloads::inbound_message(
            &Self::business(),
            &Sender::new(QUIET_CUSTOMER, "Pedro Quiet"),
            json!({"type": "text", "text": {"body": "¿Siguen abiertos?"}, "timestamp": at.to_string()}),
        ));
        wait_for(WAIT, "Pedro's conversation", || {
            self.conversation_of(QUIET_CUSTOMER)
                .filter(|c| c["windowOpen"] == false)
        });
    }

    /// Ana writes while the page is open, then sends a photo and a document.
    fn customer_writes(&self) {
        let ana = Sender::new(CUSTOMER, "Ana Web");
        self.post(&payloads::inbound_text(
            &Self::business(),
            &ana,
            "Hola, ¿tienen stock del modelo azul?",
        ));
        let photo = self
            .sandbox()
            .add_inbound_media(PHOTO.to_vec(), "image/png");
        self.post(&payloads::inbound_image(&Self::business(), &ana, &photo));
        let invoice = self
            .sandbox()
            .add_inbound_media(b"%PDF-1.4\n% an invoice\n".to_vec(), "application/pdf");
        self.post(&payloads::inbound_message(
            &Self::business(),
            &ana,
            json!({"type": "document", "document": {"id": invoice.id, "mime_type": "application/pdf",
                "sha256": invoice.sha256, "filename": "factura-2291.pdf"}}),
        ));
    }

    /// Meta reports the agent's newest text to Ana failed (after accepting it).
    fn meta_fails_the_newest_reply(&self, text: &str) {
        let conversation = self.conversation_of(CUSTOMER).unwrap();
        let id = conversation["id"].as_str().unwrap().to_string();
        let wamid = wait_for(WAIT, "the reply's wamid", || {
            let thread = self
                .owner
                .get(&format!("/api/integrations/conversations/{id}/messages"));
            thread["data"]
                .as_array()?
                .iter()
                .find(|m| m["text"] == text)?["externalMessageId"]
                .as_str()
                .map(str::to_string)
        });
        let failed = payloads::failed_status(&wamid, CUSTOMER, payloads::unix_now(), 131_026);
        self.post(&payloads::statuses(&Self::business(), vec![failed]));
    }

    fn stop(mut self) {
        self.server.terminate(Duration::from_secs(30));
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.stop());
        }
    }
}

/// Runs tests/browser/inbox.mjs, doing each `STEP` it asks for. Returns its exit status.
fn run_browser(browser: &Browser, stage: &Stage, screenshots: &Path) -> bool {
    let mut child = Command::new(&browser.node)
        .arg(workspace().join("tests/browser/inbox.mjs"))
        .current_dir(workspace())
        .env("SWITCHBOARD_URL", stage.server.url(""))
        .env("SWITCHBOARD_TOKEN", &stage.token)
        .env("SWITCHBOARD_CHROMIUM", &browser.chromium)
        .env("SWITCHBOARD_SCREENSHOTS", screenshots)
        .env("SWITCHBOARD_VERIFY_TOKEN", VERIFY_TOKEN)
        .env("CUSTOMER_PHONE", CUSTOMER)
        .env("QUIET_CUSTOMER_PHONE", QUIET_CUSTOMER)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let mut answers = child.stdin.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + BROWSER_LIMIT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Print what is left of its output.
            while let Ok(line) = lines.try_recv() {
                println!("browser: {line}");
            }
            return status.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the browser run took longer than {BROWSER_LIMIT:?}");
        }
        let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        println!("browser: {line}");
        let Some(step) = line.strip_prefix("STEP ") else {
            continue;
        };
        let (name, argument) = step.split_once(' ').unwrap_or((step, ""));
        match name {
            "customer-writes" => stage.customer_writes(),
            "meta-fails-reply" => stage.meta_fails_the_newest_reply(argument),
            other => panic!("the browser script asked for an unknown step: {other}"),
        }
        writeln!(answers, "OK {name}").unwrap();
        answers.flush().unwrap();
    }
}

#[test]
fn the_web_inbox_works_in_a_real_browser() {
    let Some(browser) = browser() else {
        return;
    };
    let stage = Stage::start();
    stage.quiet_customer_wrote_yesterday();
    let screenshots = workspace().join("target/e2e-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let passed = run_browser(&browser, &stage, &screenshots);
    assert!(
        passed,
        "the browser script failed (see its output above); server logs:\n{}",
        stage.server.logs()
    );

    // What the page did went through the public API and is there for every other client.
    let ana = stage.conversation_of(CUSTOMER).unwrap();
    assert_eq!(ana["unreadCount"], 0, "marked read in the page: {ana}");
    let ticket_id = ana["latestTicket"]["id"].as_str().unwrap();
    let ticket = stage.owner.get(&format!("/api/tickets/{ticket_id}"));
    assert_eq!(ticket["status"], "resolved", "{ticket}");
    let at_meta = stage.sandbox().messages(Some(QUIET_CUSTOMER));
    assert!(
        at_meta
            .iter()
            .any(|m| m.body["template"]["name"] == "sample_issue_resolution"),
        "the template reached Meta for Pedro: {:?}",
        at_meta.iter().map(|m| &m.body).collect::<Vec<_>>()
    );
    for shot in [
        "laptop-inbox.png",
        "laptop-templates.png",
        "laptop-settings.png",
        "phone-list.png",
        "phone-thread.png",
    ] {
        let path = screenshots.join(shot);
        assert!(
            std::fs::metadata(&path).is_ok_and(|m| m.len() > 1000),
            "{} was not taken",
            path.display()
        );
    }
    stage.stop();
}
