//! The whole loop through the real binary and the sandbox standing in for Meta: a customer
//! writes, an agent replies through the API, and Meta's statuses take the reply to READ.

use std::time::Duration;

use serde_json::json;
use switchboard_e2e::server::Server;
use switchboard_e2e::{Workdir, free_port, wait_for};
use switchboard_sandbox::{Sandbox, SandboxConfig};
use switchboard_store::models::MessageLog;
use switchboard_store::repo::{conversations, leads, messages, organizations};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455667";
const APP_SECRET: &str = "e2e-app-secret";
const CUSTOMER: &str = "5511999990000";

fn outbound(t: &TestDb, org: &str) -> Vec<MessageLog> {
    messages::list_messages(&mut t.db.conn().unwrap(), org)
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "OUTBOUND")
        .collect()
}

#[test]
fn a_customer_message_and_a_reply_go_all_the_way_to_read() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for t in TestDb::all() {
        let work = Workdir::new();
        let bind = format!("127.0.0.1:{}", free_port());
        let webhook_url = format!("http://{bind}/api/webhooks/whatsapp");
        let sandbox = runtime
            .block_on(Sandbox::start(SandboxConfig {
                webhook_url: Some(webhook_url.clone()),
                app_secret: Some(APP_SECRET.into()),
                latency: Duration::from_millis(20),
                ..SandboxConfig::default()
            }))
            .unwrap();
        let mut cmd = work.command(&t.url(), &["start"]);
        cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
            .env("WHATSAPP_ACCESS_TOKEN", "EAAG-e2e")
            .env("WHATSAPP_APP_SECRET", APP_SECRET)
            .env("WHATSAPP_API_URL", sandbox.api_url());
        let mut server = Server::start_at(cmd, &bind);

        // The customer writes (the sandbox's `inbound` command plays their phone).
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
        let org = organizations::find_organization_by_slug(&mut t.db.conn().unwrap(), "default")
            .unwrap()
            .unwrap();
        let conversation = wait_for(Duration::from_secs(10), "the conversation", || {
            conversations::list_conversations(&mut t.db.conn().unwrap(), &org.id)
                .unwrap()
                .into_iter()
                .next()
        });
        assert_eq!(conversation.contact_phone, CUSTOMER);
        let lead = leads::list_leads(&mut t.db.conn().unwrap(), &org.id)
            .unwrap()
            .remove(0);
        assert_eq!(lead.name, "Ana");

        // An agent replies through the API.
        let token = work.ok(
            &t.url(),
            &["token", "create", "--org", "default", "--role", "SELLER"],
        );
        let client = switchboard_e2e::blocking_client().build().unwrap();
        let response = client
            .post(server.url("/api/integrations/whatsapp/send"))
            .bearer_auth(&token)
            .json(&json!({"toPhone": format!("+{CUSTOMER}"), "text": "¡Sí! Te lo separo.", "leadId": lead.id}))
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            202,
            "{}",
            response.text().unwrap_or_default()
        );
        let accepted: serde_json::Value = response.json().unwrap();
        assert_eq!(accepted["status"], "QUEUED");

        // Sent to Meta, then delivered and read by Meta's webhooks.
        let read = wait_for(Duration::from_secs(15), "the reply to be READ", || {
            outbound(&t, &org.id)
                .into_iter()
                .find(|m| m.status == "READ")
        });
        assert_eq!(read.id, accepted["messageLogId"].as_str().unwrap());
        let wamid = read.external_message_id.clone().unwrap();
        let at_meta = sandbox.messages(None);
        assert!(
            at_meta
                .iter()
                .any(|m| m.wamid == wamid && m.body["text"]["body"] == "¡Sí! Te lo separo.")
        );
        let statuses: Vec<String> = messages::list_status_events(&mut t.db.conn().unwrap(), &wamid)
            .unwrap()
            .into_iter()
            .map(|e| e.status)
            .collect();
        for status in ["SENT", "DELIVERED", "READ"] {
            assert!(
                statuses.contains(&status.to_string()),
                "{status} in {statuses:?}"
            );
        }
        let notes = switchboard_store::repo::notes::list_notes(
            &mut t.db.conn().unwrap(),
            &org.id,
            &lead.id,
        )
        .unwrap();
        assert!(
            notes.iter().any(|n| n.content.contains("Te lo separo")),
            "{notes:?}"
        );

        server.terminate(Duration::from_secs(30));
        runtime.block_on(sandbox.stop());
    }
}
