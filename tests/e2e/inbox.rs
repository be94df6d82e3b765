//! The inbox as a frontend works it, through the real binary's REST API only, with the
//! sandbox standing in for Meta: a customer writes, an agent sees the conversation, marks it
//! read (Meta gets the receipt), syncs Meta's templates and sends one; a template written
//! here is submitted for review.

use std::time::Duration;

use serde_json::json;
use switchboard_e2e::api::ApiClient;
use switchboard_e2e::server::Server;
use switchboard_e2e::{TestNumber, Workdir, free_port, wait_for};
use switchboard_sandbox::{Sandbox, SandboxConfig};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455667";
const WABA_ID: &str = "57438975935";
const APP_SECRET: &str = "e2e-app-secret";
const NUMBER: TestNumber = TestNumber {
    phone_number_id: PHONE_NUMBER_ID,
    waba_id: WABA_ID,
    app_secret: APP_SECRET,
};
const CUSTOMER: &str = "5511999990000";

#[test]
fn an_agent_works_the_inbox_through_the_api() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for t in TestDb::all() {
        let work = Workdir::new();
        let bind = format!("127.0.0.1:{}", free_port());
        let webhook_url = format!("http://{bind}/api/webhooks/whatsapp");
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig {
                webhook_url: Some(webhook_url.clone()),
                app_secret: Some(APP_SECRET.into()),
                latency: Duration::from_millis(10),
                ..SandboxConfig::default()
            }))
            .unwrap();
        let cmd = work.start_command(&t.url(), &NUMBER, &sandbox.api_url());
        let mut server = Server::start_at(cmd, &bind);
        let inbound = work.run(
            &t.url(),
            &[
                "sandbox",
                "inbound",
                "--webhook-url",
                &webhook_url,
                "--app-secret",
                APP_SECRET,
                "--phone-number-id",
                PHONE_NUMBER_ID,
                "--from",
                CUSTOMER,
                "--name",
                "Ana",
                "--text",
                "hola, ¿tienen stock?",
            ],
        );
        assert!(
            inbound.status.success(),
            "{}",
            String::from_utf8_lossy(&inbound.stderr)
        );
        let agent = ApiClient::new(
            &server,
            work.ok(
                &t.url(),
                &["token", "create", "--org", "default", "--role", "MANAGER"],
            ),
        );

        // The conversation shows up, unread, with the lead's name and an open window.
        let conversation = wait_for(Duration::from_secs(10), "the conversation", || {
            let list = agent.get("/api/integrations/conversations?unread=true");
            (list["total"] == 1).then(|| list["data"][0].clone())
        });
        assert_eq!(conversation["phone"], CUSTOMER);
        assert_eq!(conversation["leadName"], "Ana");
        assert_eq!(conversation["lastMessageText"], "hola, ¿tienen stock?");
        assert_eq!(conversation["windowOpen"], true);
        let id = conversation["id"].as_str().unwrap();
        let thread = agent.get(&format!("/api/integrations/conversations/{id}/messages"));
        let wamid = thread["data"][0]["externalMessageId"]
            .as_str()
            .unwrap()
            .to_string();

        // Marked read here; Meta gets the read receipt for that message.
        let (status, marked) = agent.call(
            "PATCH",
            &format!("/api/integrations/conversations/{id}/mark-read"),
            None,
        );
        assert_eq!(status, 200, "{marked}");
        assert_eq!(marked["conversation"]["unreadCount"], 0);
        wait_for(
            Duration::from_secs(10),
            "Meta to get the read receipt",
            || sandbox.reads().into_iter().find(|r| r.message_id == wamid),
        );

        // Meta's templates come in with a sync, and an approved one goes out.
        let (status, _) = agent.call("POST", "/api/integrations/whatsapp/templates/sync", None);
        assert_eq!(status, 202);
        let template = wait_for(Duration::from_secs(10), "the synced templates", || {
            let list = agent.get("/api/integrations/whatsapp/templates?status=APPROVED&limit=100");
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == "sample_issue_resolution")
                .cloned()
        });
        assert_eq!(template["variables"], json!(["1"]));
        let (status, sent) = agent.call(
            "POST",
            "/api/integrations/whatsapp/templates/send",
            Some(json!({"toPhone": CUSTOMER, "templateId": template["id"], "variables": {"1": "Ana"}})),
        );
        assert_eq!(status, 202, "{sent}");
        let message_id = sent["messageLogId"].as_str().unwrap().to_string();
        let delivered = wait_for(Duration::from_secs(15), "the template to be read", || {
            let thread = agent.get(&format!("/api/integrations/conversations/{id}/messages"));
            thread["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["id"] == message_id.as_str() && m["status"] == "READ")
                .cloned()
        });
        assert_eq!(delivered["templateName"], "sample_issue_resolution");
        let at_meta = sandbox.messages(None);
        assert!(
            at_meta
                .iter()
                .any(|m| m.body["template"]["components"][0]["parameters"][0]["text"] == "Ana")
        );

        // A template written here goes to Meta for review and comes back with Meta's id.
        let (status, created) = agent.call(
            "POST",
            "/api/integrations/whatsapp/templates",
            Some(
                json!({"name": "stock_alert", "language": "es", "category": "UTILITY",
                "components": [{"type": "BODY", "text": "Hola {{1}}, ya llegó {{2}}."}]}),
            ),
        );
        assert_eq!(status, 201, "{created}");
        let tid = created["id"].as_str().unwrap();
        let (status, _) = agent.call(
            "POST",
            &format!("/api/integrations/whatsapp/templates/{tid}/submit"),
            None,
        );
        assert_eq!(status, 202);
        let submitted = wait_for(
            Duration::from_secs(10),
            "Meta's id for the template",
            || {
                let t = agent.get(&format!("/api/integrations/whatsapp/templates/{tid}"));
                t["externalId"].is_string().then_some(t)
            },
        );
        assert_eq!(submitted["status"], "PENDING");

        server.terminate(Duration::from_secs(30));
        runtime.block_on(sandbox.stop());
    }
}
