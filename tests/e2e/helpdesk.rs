//! The helpdesk over WhatsApp with the real binary and the sandbox standing in for Meta:
//! customers choose a service from the assistant's menu (by number, by name, by tapping the
//! list), write into their tickets, use commands in three languages; sessions expire; agents
//! change statuses and reply, and the customer is told inside the 24-hour window as text and
//! outside it through an approved template (or the notification is recorded as skipped).

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_e2e::api::ApiClient;
use switchboard_e2e::server::Server;
use switchboard_e2e::{TestNumber, Workdir, free_port, wait_for};
use switchboard_sandbox::payloads::{self, Business, Sender};
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455668";
const WABA_ID: &str = "57438975936";
const APP_SECRET: &str = "e2e-helpdesk-secret";
const NUMBER: TestNumber = TestNumber {
    phone_number_id: PHONE_NUMBER_ID,
    waba_id: WABA_ID,
    app_secret: APP_SECRET,
};
const WAIT: Duration = Duration::from_secs(15);

/// A running desk: the binary (`start`), the sandbox as Meta, and an OWNER's API client.
struct Desk {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<SandboxHandle>,
    server: Server,
    owner: ApiClient,
    owner_token: String,
    webhook_url: String,
    http: reqwest::Client,
    _work: Workdir,
}

impl Desk {
    fn start(t: &TestDb) -> Desk {
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
        let server = Server::start_at(cmd, &bind);
        let token = work.ok(
            &t.url(),
            &["token", "create", "--org", "default", "--role", "OWNER"],
        );
        let owner = ApiClient::new(&server, token.clone());
        Desk {
            runtime,
            sandbox: Some(sandbox),
            server,
            owner,
            owner_token: token,
            webhook_url,
            http: reqwest::Client::new(),
            _work: work,
        }
    }

    fn owner_token(&self) -> &str {
        &self.owner_token
    }

    fn sandbox(&self) -> &SandboxHandle {
        self.sandbox.as_ref().unwrap()
    }

    fn settings(&self, patch: Value) {
        self.owner
            .expect(200, "PATCH", "/api/settings", Some(patch));
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

    fn business() -> Business {
        Business {
            waba_id: WABA_ID.into(),
            phone_number_id: PHONE_NUMBER_ID.into(),
            display_phone_number: "15550001111".into(),
        }
    }

    /// The customer writes `text` now.
    fn write(&self, from: &str, text: &str) {
        let sender = Sender::new(from, "Cliente");
        self.post(&payloads::inbound_text(&Self::business(), &sender, text));
    }

    /// The customer wrote `text` `hours_ago`.
    fn write_earlier(&self, from: &str, text: &str, hours_ago: i64) {
        let sender = Sender::new(from, "Cliente");
        let at = payloads::unix_now() - hours_ago * 3600;
        self.post(&payloads::inbound_message(
            &Self::business(),
            &sender,
            json!({"type": "text", "text": {"body": text}, "timestamp": at.to_string()}),
        ));
    }

    /// The customer taps a row of the list message.
    fn tap(&self, from: &str, row_id: &str, title: &str) {
        let sender = Sender::new(from, "Cliente");
        self.post(&payloads::inbound_list_reply(
            &Self::business(),
            &sender,
            None,
            row_id,
            title,
            None,
        ));
    }

    /// Waits for the `n`th message (1-based) Meta got for `to`, and returns its body.
    fn nth_reply(&self, to: &str, n: usize) -> Value {
        wait_for(WAIT, &format!("message #{n} to {to}"), || {
            self.sandbox()
                .messages(Some(to))
                .get(n - 1)
                .map(|m| m.body.clone())
        })
    }

    fn tickets_of(&self, phone: &str) -> Vec<Value> {
        let list = self.owner.get("/api/tickets?limit=100");
        let mut found: Vec<Value> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["contactPhone"] == phone)
            .cloned()
            .collect();
        found.sort_by_key(|t| t["number"].as_i64());
        found
    }

    fn ticket(&self, id: &str) -> Value {
        self.owner.get(&format!("/api/tickets/{id}"))
    }

    fn stop(mut self) {
        self.server.terminate(Duration::from_secs(30));
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.stop());
        }
    }
}

fn text_of(body: &Value) -> &str {
    body["text"]["body"]
        .as_str()
        .or_else(|| body["interactive"]["body"]["text"].as_str())
        .unwrap_or_default()
}

#[test]
fn customers_choose_a_service_from_the_assistants_menu() {
    for t in TestDb::all() {
        let desk = Desk::start(&t);
        desk.settings(
            json!({"mode": "helpdesk", "helpdesk": {"language": "es", "assistantName": "Ana"}}),
        );
        let mut services = Vec::new();
        for name in ["Facturación", "Soporte técnico", "Ventas"] {
            let created =
                desk.owner
                    .expect(201, "POST", "/api/services", Some(json!({"name": name})));
            services.push(created["id"].as_str().unwrap().to_string());
        }

        // First contact: no ticket, the menu as a list message.
        let ana = "5511988880001";
        desk.write(ana, "hola");
        let menu = desk.nth_reply(ana, 1);
        assert_eq!(menu["type"], "interactive", "{menu}");
        assert!(text_of(&menu).contains("Soy Ana"), "{menu}");
        let rows = &menu["interactive"]["action"]["sections"][0]["rows"];
        assert_eq!(rows.as_array().unwrap().len(), 3);
        assert_eq!(rows[1]["title"], "2. Soporte técnico");
        assert!(desk.tickets_of(ana).is_empty(), "no ticket before a choice");

        // A wrong answer repeats the menu with a hint; the number chooses.
        desk.write(ana, "no sé");
        let again = desk.nth_reply(ana, 2);
        assert!(text_of(&again).starts_with("Lo siento"), "{again}");
        desk.write(ana, "2");
        let connected = desk.nth_reply(ana, 3);
        assert_eq!(
            text_of(&connected),
            "Te hemos conectado con Soporte técnico. ¿En qué podemos ayudarte?"
        );
        let tickets = desk.tickets_of(ana);
        assert_eq!(tickets.len(), 1);
        assert_eq!(tickets[0]["serviceId"], services[1].as_str());
        assert_eq!(tickets[0]["status"], "new");
        let id = tickets[0]["id"].as_str().unwrap().to_string();

        // Everything after the choice is a comment on that ticket.
        desk.write(ana, "mi impresora no imprime");
        let detail = wait_for(WAIT, "the second comment", || {
            let t = desk.ticket(&id);
            (t["comments"].as_array().unwrap().len() == 2).then_some(t)
        });
        assert_eq!(
            detail["comments"][0]["body"], "2",
            "the choice is the first comment"
        );
        assert_eq!(detail["comments"][1]["body"], "mi impresora no imprime");
        assert_eq!(detail["comments"][1]["authorType"], "customer");
        assert_eq!(desk.tickets_of(ana).len(), 1);

        // By tapping a row, and by name (any case, without accents).
        let bruno = "5511988880002";
        desk.write(bruno, "buenas");
        desk.nth_reply(bruno, 1);
        desk.tap(bruno, &format!("service:{}", services[2]), "3. Ventas");
        assert!(text_of(&desk.nth_reply(bruno, 2)).contains("Ventas"));
        assert_eq!(desk.tickets_of(bruno)[0]["serviceId"], services[2].as_str());
        let carla = "5511988880003";
        desk.write(carla, "hola");
        desk.nth_reply(carla, 1);
        desk.write(carla, "FACTURACION");
        assert!(text_of(&desk.nth_reply(carla, 2)).contains("Facturación"));
        assert_eq!(desk.tickets_of(carla)[0]["serviceId"], services[0].as_str());

        // Ticket numbers are the organization's, one after the other.
        let numbers: Vec<i64> = [ana, bruno, carla]
            .iter()
            .map(|p| desk.tickets_of(p)[0]["number"].as_i64().unwrap())
            .collect();
        assert_eq!(numbers[1], numbers[0] + 1);
        assert_eq!(numbers[2], numbers[0] + 2);
        desk.stop();
    }
}

#[test]
fn tickets_commands_sessions_and_notifications() {
    for t in TestDb::all() {
        let desk = Desk::start(&t);
        desk.settings(json!({"mode": "helpdesk"}));

        // Without services the first message opens a ticket and confirms its number.
        let dora = "5511977770001";
        desk.write(dora, "My order never arrived\nOrder 5521");
        let confirmation = desk.nth_reply(dora, 1);
        let ticket = wait_for(WAIT, "the ticket", || desk.tickets_of(dora).pop());
        let number = ticket["number"].as_i64().unwrap();
        assert_eq!(
            text_of(&confirmation),
            format!("Ticket #{number} created. We will answer soon.")
        );
        assert_eq!(ticket["subject"], "My order never arrived");
        let id = ticket["id"].as_str().unwrap().to_string();

        // Commands answer and are never comments.
        desk.write(dora, "/status");
        let status = desk.nth_reply(dora, 2);
        assert!(
            text_of(&status).starts_with(&format!("Ticket #{number}: new. Last update:")),
            "{status}"
        );
        desk.write(dora, "/help");
        assert!(text_of(&desk.nth_reply(dora, 3)).contains("/cancel"));
        assert_eq!(desk.ticket(&id)["comments"].as_array().unwrap().len(), 1);

        // An agent's status change and reply reach the customer as text inside the window.
        let changed = desk.owner.expect(
            200,
            "PUT",
            &format!("/api/tickets/{id}/status"),
            Some(json!({"status": "in_progress"})),
        );
        assert_eq!(changed["ticket"]["status"], "in_progress");
        assert_eq!(changed["notification"]["status"], "QUEUED");
        assert_eq!(changed["notification"]["via"], "text");
        assert_eq!(
            text_of(&desk.nth_reply(dora, 4)),
            format!("Your ticket #{number} is now: in progress.")
        );
        let replied = desk.owner.expect(
            201,
            "POST",
            &format!("/api/tickets/{id}/replies"),
            Some(json!({"text": "We found it: it ships today."})),
        );
        assert_eq!(replied["comment"]["authorType"], "agent");
        assert_eq!(
            text_of(&desk.nth_reply(dora, 5)),
            "We found it: it ships today."
        );

        // /new starts a fresh ticket; /cancel cancels it.
        desk.write(dora, "/new");
        let fresh = text_of(&desk.nth_reply(dora, 6)).to_string();
        assert_eq!(
            fresh,
            format!("Ticket #{} created. We will answer soon.", number + 1)
        );
        desk.write(dora, "/cancel");
        assert_eq!(
            text_of(&desk.nth_reply(dora, 7)),
            format!("Ticket #{} has been cancelled.", number + 1)
        );
        let tickets = desk.tickets_of(dora);
        assert_eq!(tickets.len(), 2);
        assert_eq!(tickets[0]["status"], "in_progress", "the first stays open");
        assert_eq!(tickets[1]["status"], "cancelled");

        // Commands in Portuguese and Spanish, answered in the desk's language.
        desk.settings(json!({"helpdesk": {"language": "pt"}}));
        desk.write(dora, "/ajuda");
        assert!(text_of(&desk.nth_reply(dora, 8)).starts_with("Comandos:\n/ajuda"));
        desk.write(dora, "/status");
        assert!(
            text_of(&desk.nth_reply(dora, 9)).contains("cancelado"),
            "the newest ticket's status"
        );
        desk.write(dora, "/novo");
        assert!(text_of(&desk.nth_reply(dora, 10)).contains("criado"));
        desk.write(dora, "/cancelar");
        assert!(text_of(&desk.nth_reply(dora, 11)).contains("foi cancelado"));
        desk.settings(json!({"helpdesk": {"language": "es"}}));
        desk.write(dora, "/ayuda");
        assert!(text_of(&desk.nth_reply(dora, 12)).starts_with("Comandos:\n/ayuda"));
        desk.write(dora, "/estado");
        assert!(text_of(&desk.nth_reply(dora, 13)).contains("cancelado"));
        desk.write(dora, "/nuevo");
        assert!(text_of(&desk.nth_reply(dora, 14)).contains("creado"));
        desk.write(dora, "/cancelar");
        assert!(text_of(&desk.nth_reply(dora, 15)).contains("cancelado"));
        desk.settings(json!({"helpdesk": {"language": "en"}}));

        // A session expires after 24 hours without activity: the next message is a new ticket.
        // (A message older than the window gets no answer: Meta would refuse it.)
        let eli = "5511977770002";
        desk.write_earlier(eli, "Invoice is wrong", 30);
        wait_for(WAIT, "Eli's first ticket", || desk.tickets_of(eli).pop());
        desk.write(eli, "Hello? Still waiting");
        assert!(text_of(&desk.nth_reply(eli, 1)).contains("created"));
        assert_eq!(desk.sandbox().messages(Some(eli)).len(), 1);
        let eli_tickets = wait_for(WAIT, "a second ticket", || {
            let found = desk.tickets_of(eli);
            (found.len() == 2).then_some(found)
        });
        assert_eq!(eli_tickets[0]["subject"], "Invoice is wrong");
        assert_eq!(eli_tickets[1]["subject"], "Hello? Still waiting");

        // Outside the window with no template configured: recorded as skipped, never lost.
        let old = &eli_tickets[0];
        let old_id = old["id"].as_str().unwrap();
        // Eli wrote again now, so Eli's window is open; Fay wrote two days ago.
        let fay = "5511977770003";
        desk.write_earlier(fay, "Refund please", 48);
        let fay_ticket = wait_for(WAIT, "Fay's ticket", || desk.tickets_of(fay).pop());
        let fay_id = fay_ticket["id"].as_str().unwrap().to_string();
        let skipped = desk.owner.expect(
            200,
            "PUT",
            &format!("/api/tickets/{fay_id}/status"),
            Some(json!({"status": "resolved"})),
        );
        assert_eq!(skipped["ticket"]["status"], "resolved", "the change stands");
        assert_eq!(skipped["notification"]["status"], "SKIPPED");
        assert!(
            skipped["notification"]["reason"]
                .as_str()
                .unwrap()
                .contains("helpdesk.templates.statusChanged"),
            "{skipped}"
        );
        assert_eq!(
            desk.ticket(&fay_id)["notifications"][0]["status"],
            "SKIPPED"
        );

        // The default templates are created and submitted; once Meta approves ticket_updated,
        // the next status change goes out as that template.
        let registered = desk.owner.expect(
            200,
            "POST",
            "/api/integrations/whatsapp/templates/register-defaults",
            None,
        );
        assert_eq!(registered["data"].as_array().unwrap().len(), 6);
        assert_eq!(registered["settingsUpdated"], true);
        let template_id = registered["data"][1]["templateId"]
            .as_str()
            .unwrap()
            .to_string();
        let submitted = wait_for(WAIT, "ticket_updated at Meta", || {
            let t = desk.owner.get(&format!(
                "/api/integrations/whatsapp/templates/{template_id}"
            ));
            t["externalId"].is_string().then_some(t)
        });
        assert_eq!(submitted["name"], "ticket_updated");
        desk.post(&json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "time": payloads::unix_now(), "changes": [{
                "field": "message_template_status_update",
                "value": {"event": "APPROVED", "message_template_id": submitted["externalId"],
                    "message_template_name": "ticket_updated", "message_template_language": "en",
                    "reason": "NONE"}}]}]
        }));
        wait_for(WAIT, "ticket_updated approved", || {
            let t = desk.owner.get(&format!(
                "/api/integrations/whatsapp/templates/{template_id}"
            ));
            (t["status"] == "APPROVED").then_some(())
        });
        let notified = desk.owner.expect(
            200,
            "PUT",
            &format!("/api/tickets/{fay_id}/status"),
            Some(json!({"status": "closed"})),
        );
        assert_eq!(notified["notification"]["via"], "template", "{notified}");
        let sent = desk.nth_reply(fay, 1);
        assert_eq!(sent["template"]["name"], "ticket_updated");
        let parameters = &sent["template"]["components"][0]["parameters"];
        assert_eq!(parameters[0]["text"], fay_ticket["number"].to_string());
        assert_eq!(parameters[1]["text"], "closed");

        // The same status again changes nothing and tells no one.
        let same = desk.owner.expect(
            200,
            "PUT",
            &format!("/api/tickets/{old_id}/status"),
            Some(json!({"status": "new"})),
        );
        assert!(same["notification"].is_null());
        desk.stop();
    }
}

#[test]
fn media_on_a_ticket_is_served_and_jira_tickets_make_the_round_trip() {
    for t in TestDb::all() {
        let desk = Desk::start(&t);
        desk.settings(json!({"mode": "both"}));
        let sandbox = desk.sandbox();
        let connection = desk.owner.expect(
            200,
            "PUT",
            "/api/integrations/jira",
            Some(json!({"baseUrl": sandbox.jira_url(), "userEmail": "bot@acme.test", "apiToken": "jira-token"})),
        );
        let secret = connection["webhookSecret"].as_str().unwrap().to_string();
        desk.owner.expect(
            201,
            "POST",
            "/api/services",
            Some(json!({"name": "Support", "destination": "jira", "jiraProjectKey": "SUP"})),
        );

        // The menu, the choice: a ticket here and an issue in Jira with the first comment.
        let gus = "5511966660001";
        desk.write(gus, "hi");
        desk.nth_reply(gus, 1);
        desk.write(gus, "1");
        desk.nth_reply(gus, 2);
        let issue = wait_for(WAIT, "the Jira issue", || sandbox.jira_issues().pop());
        assert_eq!(issue.project_key, "SUP");
        assert_eq!(issue.summary, "Support");
        // The first comments are quoted in the description, not posted again.
        assert!(
            issue
                .description
                .as_deref()
                .unwrap_or_default()
                .contains(gus),
            "{issue:?}"
        );
        let ticket = wait_for(WAIT, "the Jira key on the ticket", || {
            desk.tickets_of(gus)
                .pop()
                .filter(|t| t["jiraIssueKey"] == issue.key.as_str())
        });
        let id = ticket["id"].as_str().unwrap().to_string();
        // Both modes: the message is a lead's note too.
        assert!(ticket["leadId"].is_string());

        // A photo on the ticket: downloaded from Meta, served to the organization's users.
        let photo = b"\xFF\xD8\xFF\xE0 a photo of the broken printer".to_vec();
        let media = sandbox.add_inbound_media(photo.clone(), "image/jpeg");
        desk.post(&payloads::inbound_image(
            &Desk::business(),
            &Sender::new(gus, "Gus"),
            &media,
        ));
        let comment = wait_for(WAIT, "the photo's comment", || {
            desk.ticket(&id)["comments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["mediaId"].is_string())
                .cloned()
        });
        let media_id = comment["mediaId"].as_str().unwrap();
        let served = wait_for(WAIT, "the downloaded photo", || {
            let response = switchboard_e2e::blocking_client()
                .build()
                .unwrap()
                .get(desk.server.url(&format!("/api/media/{media_id}")))
                .bearer_auth(desk.owner_token())
                .send()
                .unwrap();
            (response.status() == 200).then(|| {
                let kind = response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .to_string();
                (kind, response.bytes().unwrap().to_vec())
            })
        });
        assert_eq!(served.0, "image/jpeg");
        assert_eq!(served.1, photo);
        wait_for(WAIT, "the photo's comment in Jira", || {
            sandbox
                .jira_issues()
                .into_iter()
                .find(|i| i.key == issue.key && i.comments.len() == 1)
        });

        // An agent answers in Jira: the customer gets it on WhatsApp, once.
        let comment = json!({
            "webhookEvent": "comment_created",
            "issue": {"key": issue.key},
            "comment": {"id": "90001", "body": "Please restart the printer.",
                "author": {"emailAddress": "agent@acme.test", "displayName": "Agent"}}
        });
        let client = switchboard_e2e::blocking_client().build().unwrap();
        let hook = desk
            .server
            .url(&format!("/api/integrations/jira/webhook?secret={secret}"));
        for _ in 0..2 {
            let answer = client.post(&hook).json(&comment).send().unwrap();
            assert_eq!(answer.status(), 200);
        }
        assert_eq!(
            text_of(&desk.nth_reply(gus, 3)),
            "Please restart the printer."
        );
        let wrong = client
            .post(
                desk.server
                    .url("/api/integrations/jira/webhook?secret=nope"),
            )
            .json(&comment)
            .send()
            .unwrap();
        assert_eq!(wrong.status(), 401);
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            sandbox.messages(Some(gus)).len(),
            3,
            "a repeated Jira webhook sends nothing twice"
        );
        let agent_comments = desk.ticket(&id)["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["authorType"] == "agent")
            .count();
        assert_eq!(agent_comments, 1);
        desk.stop();
    }
}
