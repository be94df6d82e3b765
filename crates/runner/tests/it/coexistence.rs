//! Coexistence (echoes typed in the WhatsApp Business app, history sync), marketing opt-outs
//! (keywords, Meta's user_preferences, error 131050), message.received events and per-field
//! webhook times, projected from stored webhooks.

use diesel::prelude::*;
use serde_json::{Value, json};
use switchboard_runner::jobs::process_webhook::project_event;
use switchboard_runner::replay::replay;
use switchboard_store::db::write_transaction;
use switchboard_store::models::{MessageLog, Organization, WebhookSubscription, new_id, now};
use switchboard_store::repo::messages::meta_time;
use switchboard_store::repo::{
    channels, conversations, leads, messages, notes, opt_outs, organizations, webhooks,
};
use switchboard_store::schema::{integration_jobs, tickets, webhook_deliveries};
use switchboard_store::testing::TestDb;

use crate::support::{PHONE_NUMBER_ID, WABA_ID, org_with_channel, store_event};

const CUSTOMER: &str = "16505551234";
const BUSINESS: &str = "15550783881";
const ECHO_WAMID: &str = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/coexistence/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn project(t: &TestDb, event_id: &str) {
    let mut conn = t.db.conn().unwrap();
    write_transaction(&mut conn, |c| project_event(c, event_id)).unwrap();
}

/// Stores and projects a webhook body; returns its event id.
fn deliver(t: &TestDb, org: &Organization, body: &[u8]) -> String {
    let id = store_event(t, org, body);
    project(t, &id);
    id
}

fn change(field: &str, value: Value) -> Vec<u8> {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({"display_phone_number": BUSINESS, "phone_number_id": PHONE_NUMBER_ID});
    json!({"object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": field, "value": value}]}]})
    .to_string()
    .into_bytes()
}

fn inbound(wamid: &str, from: &str, ts: i64, kind: &str, part: Value) -> Vec<u8> {
    change(
        "messages",
        json!({"contacts": [{"profile": {"name": "Sheena"}, "wa_id": from}],
            "messages": [{"from": from, "id": wamid, "timestamp": ts.to_string(),
                "type": kind, kind: part}]}),
    )
}

fn inbound_text(wamid: &str, from: &str, text: &str, ts: i64) -> Vec<u8> {
    inbound(wamid, from, ts, "text", json!({"body": text}))
}

fn status(wamid: &str, status: &str, ts: i64, errors: Value) -> Vec<u8> {
    let mut item = json!({"id": wamid, "status": status, "timestamp": ts.to_string(),
        "recipient_id": CUSTOMER});
    if errors.is_array() {
        item["errors"] = errors;
    }
    change("messages", json!({"statuses": [item]}))
}

/// An enabled subscription of the organization to `events`, inserted as the API would.
fn subscribe(t: &TestDb, org: &Organization, events: &[&str]) {
    use switchboard_store::schema::webhook_subscriptions;
    let at = now();
    let subscription = WebhookSubscription {
        id: new_id(),
        organization_id: org.id.clone(),
        url: "https://hooks.example.com/switchboard".into(),
        description: None,
        events: serde_json::to_string(events).unwrap(),
        secret_sealed: "sealed".into(),
        enabled: true,
        disabled_reason: None,
        consecutive_failures: 0,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(webhook_subscriptions::table)
        .values(&subscription)
        .execute(&mut t.db.conn().unwrap())
        .unwrap();
}

/// (event type, body) of every delivery queued for the organization.
fn deliveries(t: &TestDb, org: &Organization) -> Vec<(String, Value)> {
    webhook_deliveries::table
        .filter(webhook_deliveries::organization_id.eq(&org.id))
        .select((webhook_deliveries::event_type, webhook_deliveries::body))
        .load::<(String, String)>(&mut t.db.conn().unwrap())
        .unwrap()
        .into_iter()
        .map(|(kind, body)| (kind, serde_json::from_str(&body).unwrap()))
        .collect()
}

fn jobs_of_kind(t: &TestDb, kind: &str) -> i64 {
    integration_jobs::table
        .filter(integration_jobs::kind.eq(kind))
        .count()
        .get_result(&mut t.db.conn().unwrap())
        .unwrap()
}

fn ticket_count(t: &TestDb, org: &Organization) -> i64 {
    tickets::table
        .filter(tickets::organization_id.eq(&org.id))
        .count()
        .get_result(&mut t.db.conn().unwrap())
        .unwrap()
}

fn message(t: &TestDb, org: &Organization, wamid: &str) -> MessageLog {
    messages::find_message_by_wamid(&mut t.db.conn().unwrap(), &org.id, wamid)
        .unwrap()
        .unwrap_or_else(|| panic!("no message {wamid}"))
}

fn conversation(
    t: &TestDb,
    org: &Organization,
    phone: &str,
) -> switchboard_store::models::Conversation {
    conversations::list_conversations(&mut t.db.conn().unwrap(), &org.id)
        .unwrap()
        .into_iter()
        .find(|c| c.contact_phone == phone)
        .unwrap_or_else(|| panic!("no conversation with {phone}"))
}

fn set_mode(t: &TestDb, org: &Organization, mode: &str) {
    organizations::update_settings(&mut t.db.conn().unwrap(), &org.id, &json!({"mode": mode}))
        .unwrap();
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[test]
fn an_echo_is_an_outbound_app_message_that_notifies_nobody() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        subscribe(&t, &org, &["message.received"]);
        // The customer wrote first (through the API's number): a lead, one unread, one event.
        deliver(
            &t,
            &org,
            &inbound_text(
                "wamid.live.1",
                CUSTOMER,
                "Any info on the Quest 3?",
                1739320000,
            ),
        );
        let echo = fixture("echo-text-01.json");
        let id = deliver(&t, &org, &echo);
        project(&t, &id); // Meta delivered it twice: nothing more.

        let logs = messages::list_messages(&mut t.db.conn().unwrap(), &org.id).unwrap();
        assert_eq!(logs.len(), 2, "{}", t.backend);
        let sent = message(&t, &org, ECHO_WAMID);
        assert_eq!(
            (
                sent.direction.as_str(),
                sent.status.as_str(),
                sent.origin.as_deref()
            ),
            ("OUTBOUND", "SENT", Some("BUSINESS_APP"))
        );
        assert_eq!(sent.to_phone.as_deref(), Some(CUSTOMER));
        assert_eq!(sent.from_phone.as_deref(), Some(BUSINESS));
        assert!(sent.text.as_deref().unwrap().starts_with("Here's the info"));
        let conv = conversation(&t, &org, CUSTOMER);
        assert_eq!(sent.conversation_id.as_deref(), Some(conv.id.as_str()));
        assert_eq!(conv.unread_count, 1, "the echo is not unread");
        assert_eq!(
            conv.last_inbound_at,
            Some(meta_time(1739320000)),
            "an echo does not touch the 24-hour window"
        );
        assert_eq!(conv.last_message_direction.as_deref(), Some("OUTBOUND"));
        assert!(
            conv.last_message_text
                .unwrap()
                .starts_with("Here's the info")
        );
        let lead = &leads::list_leads(&mut t.db.conn().unwrap(), &org.id).unwrap()[0];
        assert_eq!(sent.lead_id.as_deref(), Some(lead.id.as_str()));
        let noted = notes::list_notes(&mut t.db.conn().unwrap(), &org.id, &lead.id).unwrap();
        assert_eq!(
            noted
                .iter()
                .filter(|n| n.content.contains("sent from the Business app"))
                .count(),
            1
        );
        let events = deliveries(&t, &org);
        assert_eq!(events.len(), 1, "only the customer's message: {events:?}");
        assert_eq!(events[0].1["data"]["wamid"], "wamid.live.1");
        // Its delivery statuses follow as for any message we sent.
        deliver(
            &t,
            &org,
            &status(ECHO_WAMID, "delivered", 1739321100, Value::Null),
        );
        assert_eq!(message(&t, &org, ECHO_WAMID).status, "DELIVERED");
    }
}

#[test]
fn an_echo_to_a_new_customer_opens_a_quiet_conversation_even_after_its_status() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        // The status can beat the echo: it waits for the row.
        deliver(
            &t,
            &org,
            &status(ECHO_WAMID, "read", 1739321200, Value::Null),
        );
        deliver(&t, &org, &fixture("echo-text-01.json"));
        assert_eq!(
            message(&t, &org, ECHO_WAMID).status,
            "READ",
            "{}",
            t.backend
        );
        let conv = conversation(&t, &org, CUSTOMER);
        assert_eq!(
            (conv.unread_count, conv.last_inbound_at),
            (0, None),
            "the customer never wrote: the window stays closed"
        );
        assert!(
            leads::list_leads(&mut t.db.conn().unwrap(), &org.id)
                .unwrap()
                .is_empty(),
            "an echo creates no lead"
        );
    }
}

/// Messages and conversations as lines, for comparing final states.
fn history_state(t: &TestDb, org: &Organization) -> Vec<String> {
    let mut conn = t.db.conn().unwrap();
    let mut lines: Vec<String> = messages::list_messages(&mut conn, &org.id)
        .unwrap()
        .into_iter()
        .map(|m| {
            format!(
                "{:?} {} {} {} {:?} {:?} {:?} {:?} {:?}",
                m.external_message_id,
                m.direction,
                m.message_type,
                m.status,
                m.text,
                m.media_id,
                m.origin,
                m.to_phone,
                m.sent_at
            )
        })
        .collect();
    for c in conversations::list_conversations(&mut conn, &org.id).unwrap() {
        lines.push(format!(
            "conversation {} unread={} last={:?} at={:?} dir={:?} inbound={:?} contact={}",
            c.contact_phone,
            c.unread_count,
            c.last_message_text,
            c.last_message_at,
            c.last_message_direction,
            c.last_inbound_at,
            c.contact_id.is_some()
        ));
    }
    lines.sort();
    lines
}

#[test]
fn history_is_recorded_quietly_whatever_the_order_of_its_chunks() {
    let orders: [&[&str]; 3] = [
        &[
            "history-chunk-1.json",
            "history-chunk-2.json",
            "history-media-01.json",
        ],
        &[
            "history-chunk-2.json",
            "history-media-01.json",
            "history-chunk-1.json",
        ],
        // Media before its placeholder, and a chunk delivered twice.
        &[
            "history-media-01.json",
            "history-chunk-1.json",
            "history-chunk-2.json",
            "history-chunk-1.json",
        ],
    ];
    let mut first: std::collections::HashMap<&str, Vec<String>> = Default::default();
    for order in orders {
        for t in TestDb::all() {
            let state = run_history(&t, order);
            let expected = first.entry(t.backend).or_insert_with(|| state.clone());
            assert_eq!(&state, expected, "{} {order:?}", t.backend);
        }
    }
}

/// Projects the history files in `order` next to a live conversation (helpdesk and CRM on,
/// a subscriber to every event), checks that nobody was told, and returns the final state.
fn run_history(t: &TestDb, order: &[&str]) -> Vec<String> {
    let (org, _) = org_with_channel(t);
    set_mode(t, &org, "both");
    subscribe(
        t,
        &org,
        &[
            "message.received",
            "lead.created",
            "ticket.created",
            "message.status",
        ],
    );
    // A live message, older than the history below (onboarding happened after it).
    deliver(
        t,
        &org,
        &inbound_text("wamid.live.h", CUSTOMER, "hello", 1739000000),
    );
    let tickets_before = ticket_count(t, &org);
    let deliveries_before = deliveries(t, &org).len();
    let sends_before = jobs_of_kind(t, "SEND_MESSAGE");
    let leads_before = leads::list_leads(&mut t.db.conn().unwrap(), &org.id)
        .unwrap()
        .len();
    for name in order {
        let id = deliver(t, &org, &fixture(name));
        let event = webhooks::find_event(&mut t.db.conn().unwrap(), &id)
            .unwrap()
            .unwrap();
        assert_eq!(
            (event.status.as_str(), event.error.as_deref()),
            ("PROCESSED", None),
            "{name}"
        );
    }

    // Business messages are outbound with their history status; the customer's are inbound.
    let row = |wamid: &str| message(t, &org, wamid);
    let expected = [
        ("wamid.hist.c1", "INBOUND", "text", "RECEIVED"),
        ("wamid.hist.b1", "OUTBOUND", "text", "READ"),
        ("wamid.hist.b2", "OUTBOUND", "image", "PLAYED"),
        ("wamid.hist.c2", "INBOUND", "text", "RECEIVED"),
        ("wamid.hist.b3", "OUTBOUND", "text", "DELIVERED"),
        ("wamid.hist.b4", "OUTBOUND", "text", "FAILED"),
    ];
    for (wamid, direction, kind, status) in expected {
        let m = row(wamid);
        assert_eq!(
            (
                m.direction.as_str(),
                m.message_type.as_str(),
                m.status.as_str(),
                m.origin.as_deref()
            ),
            (direction, kind, status, Some("HISTORY")),
            "{wamid} ({})",
            t.backend
        );
    }
    let media = row("wamid.hist.b2");
    assert_eq!(media.media_id.as_deref(), Some("1479537139650973"));
    assert_eq!(media.text.as_deref(), Some("The catalogue"));
    assert_eq!(row("wamid.hist.b1").to_phone.as_deref(), Some(CUSTOMER));

    // Nobody was told: no unread, no window, no ticket, no event, no send, no download.
    let live = conversation(t, &org, CUSTOMER);
    assert_eq!(live.unread_count, 1, "only the live message is unread");
    assert_eq!(
        live.last_inbound_at,
        Some(meta_time(1739000000)),
        "history never moves the 24-hour window"
    );
    assert_eq!(live.last_message_text.as_deref(), Some("Anytime."));
    assert_eq!(live.last_message_direction.as_deref(), Some("OUTBOUND"));
    let other = conversation(t, &org, "5511988887777");
    assert_eq!((other.unread_count, other.last_inbound_at), (0, None));
    assert_eq!(ticket_count(t, &org), tickets_before);
    assert_eq!(deliveries(t, &org).len(), deliveries_before);
    assert_eq!(jobs_of_kind(t, "SEND_MESSAGE"), sends_before);
    assert_eq!(jobs_of_kind(t, "DOWNLOAD_MEDIA"), 0);
    assert_eq!(
        leads::list_leads(&mut t.db.conn().unwrap(), &org.id)
            .unwrap()
            .len(),
        leads_before,
        "history creates no lead"
    );

    // A replay rebuilds the same messages and conversations.
    let state = history_state(t, &org);
    let report = replay(&t.db, &org.id, None).unwrap();
    assert_eq!(report.failed, 0);
    assert_eq!(history_state(t, &org), state, "replay ({})", t.backend);
    state
}

#[test]
fn declined_history_sharing_is_a_problem_on_the_event_and_the_channel() {
    for t in TestDb::all() {
        let (org, channel) = org_with_channel(&t);
        let id = deliver(&t, &org, &fixture("history-declined-01.json"));
        let mut conn = t.db.conn().unwrap();
        let event = webhooks::find_event(&mut conn, &id).unwrap().unwrap();
        assert_eq!(event.status, "PROCESSED");
        let problems = event.error.unwrap();
        assert!(
            problems.contains("2593109") && problems.contains("declined"),
            "{problems}"
        );
        let channel = channels::find_channel(&mut conn, &org.id, &channel.id)
            .unwrap()
            .unwrap();
        let info: Value = serde_json::from_str(channel.account_info.as_deref().unwrap()).unwrap();
        assert_eq!(info["history"]["value"]["status"], "DECLINED", "{info}");
        assert_eq!(info["history"]["value"]["errors"][0]["code"], 2593109);
        assert!(
            messages::list_messages(&mut conn, &org.id)
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn user_preferences_in_either_order_end_with_the_latest() {
    let stop = fixture("user-preferences-stop-01.json");
    let resume = fixture("user-preferences-resume-01.json");
    for order in [[&stop, &resume], [&resume, &stop]] {
        for t in TestDb::all() {
            let (org, _) = org_with_channel(&t);
            for body in order {
                deliver(&t, &org, body);
            }
            // Delivered again: nothing new.
            for body in order {
                deliver(&t, &org, body);
            }
            let mut conn = t.db.conn().unwrap();
            let state = opt_outs::current_state(&mut conn, &org.id, CUSTOMER)
                .unwrap()
                .unwrap();
            assert!(!state.opted_out, "resume is the latest ({})", t.backend);
            assert_eq!(state.source, "WEBHOOK");
            assert_eq!(state.external_ref, "up:16505551234:1731709321:resume");
            let history = opt_outs::history(&mut conn, &org.id, CUSTOMER).unwrap();
            assert_eq!(history.len(), 2);
            assert!(history[1].opted_out);
            assert_eq!(
                history[1].detail.as_deref(),
                Some("User requested to stop marketing messages")
            );
            assert_eq!(history[1].occurred_at, meta_time(1731705721));
        }
    }
    // A stop alone opts out.
    let t = TestDb::sqlite();
    let (org, _) = org_with_channel(&t);
    deliver(&t, &org, &stop);
    let mut conn = t.db.conn().unwrap();
    assert!(
        opt_outs::opted_out_since(&mut conn, &org.id, CUSTOMER)
            .unwrap()
            .is_some()
    );
}

/// The outbound texts queued for the organization, oldest first.
fn queued_texts(t: &TestDb, org: &Organization) -> Vec<String> {
    messages::list_messages(&mut t.db.conn().unwrap(), &org.id)
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "OUTBOUND" && m.status == "QUEUED")
        .filter_map(|m| m.text)
        .collect()
}

#[test]
fn stop_and_start_keywords_change_consent_are_confirmed_and_open_no_ticket() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        set_mode(&t, &org, "both");
        let now = unix_now();
        let stop = deliver(
            &t,
            &org,
            &inbound_text("wamid.kw.stop", CUSTOMER, " ¡STOP! ", now - 60),
        );
        let mut conn = t.db.conn().unwrap();
        let state = opt_outs::current_state(&mut conn, &org.id, CUSTOMER)
            .unwrap()
            .unwrap();
        assert!(state.opted_out, "{}", t.backend);
        assert_eq!(
            (state.source.as_str(), state.external_ref.as_str()),
            ("KEYWORD", "wamid.kw.stop")
        );
        assert_eq!(state.occurred_at, meta_time(now - 60));
        drop(conn);
        assert_eq!(
            queued_texts(&t, &org),
            vec![
                "You will no longer receive marketing messages from us. Write START to receive them again."
            ]
        );
        assert_eq!(ticket_count(&t, &org), 0, "a keyword opens no ticket");

        let start = deliver(
            &t,
            &org,
            &inbound_text("wamid.kw.start", CUSTOMER, "start", now - 30),
        );
        // Projected again (a repeated webhook): no second confirmation, no second event.
        project(&t, &stop);
        project(&t, &start);
        let mut conn = t.db.conn().unwrap();
        assert!(
            !opt_outs::current_state(&mut conn, &org.id, CUSTOMER)
                .unwrap()
                .unwrap()
                .opted_out
        );
        assert_eq!(
            opt_outs::history(&mut conn, &org.id, CUSTOMER)
                .unwrap()
                .len(),
            2
        );
        drop(conn);
        assert_eq!(queued_texts(&t, &org).len(), 2);
        assert_eq!(ticket_count(&t, &org), 0);

        // An old keyword (delivered late) is recorded at its own time: the newer START still
        // holds, and nothing is sent outside the window.
        deliver(
            &t,
            &org,
            &inbound_text("wamid.kw.old", CUSTOMER, "BAJA", 1700000000),
        );
        let mut conn = t.db.conn().unwrap();
        assert!(
            !opt_outs::current_state(&mut conn, &org.id, CUSTOMER)
                .unwrap()
                .unwrap()
                .opted_out
        );
        drop(conn);
        assert_eq!(queued_texts(&t, &org).len(), 2);

        // A sentence with a keyword in it is a message like any other: it opens a ticket.
        deliver(
            &t,
            &org,
            &inbound_text(
                "wamid.kw.no",
                CUSTOMER,
                "stop sending me the wrong size",
                now,
            ),
        );
        assert_eq!(ticket_count(&t, &org), 1);
        // Every keyword message is still in the conversation.
        assert_eq!(conversation(&t, &org, CUSTOMER).unread_count, 4);
    }
}

#[test]
fn message_received_is_queued_for_customers_messages_only() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        subscribe(&t, &org, &["message.received"]);
        subscribe(&t, &org, &["ticket.created"]); // wants other events: gets none of these
        let text = deliver(
            &t,
            &org,
            &inbound_text("wamid.ev.1", CUSTOMER, "hola", 1739320000),
        );
        deliver(
            &t,
            &org,
            &inbound(
                "wamid.ev.2",
                CUSTOMER,
                1739320005,
                "reaction",
                json!({"message_id": "wamid.ev.1", "emoji": "👍"}),
            ),
        );
        project(&t, &text);
        deliver(&t, &org, &fixture("echo-text-01.json"));
        deliver(&t, &org, &fixture("history-chunk-1.json"));
        let events = deliveries(&t, &org);
        assert_eq!(events.len(), 2, "{} {events:?}", t.backend);
        let mut kinds: Vec<(String, String, String)> = events
            .iter()
            .map(|(kind, body)| {
                assert_eq!(body["type"], "message.received");
                assert_eq!(body["data"]["direction"], "INBOUND");
                assert_eq!(body["data"]["origin"], Value::Null);
                (
                    kind.clone(),
                    body["data"]["wamid"].as_str().unwrap().to_string(),
                    body["data"]["type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                (
                    "message.received".into(),
                    "wamid.ev.1".into(),
                    "text".into()
                ),
                (
                    "message.received".into(),
                    "wamid.ev.2".into(),
                    "reaction".into()
                ),
            ]
        );
    }
}

#[test]
fn each_change_touches_the_time_of_its_webhook_field() {
    for t in TestDb::all() {
        let (org, channel) = org_with_channel(&t);
        let bodies = [
            (
                "messages",
                inbound_text("wamid.f.1", CUSTOMER, "hi", 1739320000),
            ),
            ("smb_message_echoes", fixture("echo-text-01.json")),
            ("history", fixture("history-chunk-1.json")),
            ("user_preferences", fixture("user-preferences-stop-01.json")),
        ];
        for (field, body) in bodies {
            let id = deliver(&t, &org, &body);
            let mut conn = t.db.conn().unwrap();
            let received = webhooks::find_event(&mut conn, &id)
                .unwrap()
                .unwrap()
                .received_at;
            let fields = channels::list_webhook_fields(&mut conn, &channel.id).unwrap();
            assert!(
                fields.contains(&(field.to_string(), received)),
                "{} {field}: {fields:?}",
                t.backend
            );
        }
        let mut conn = t.db.conn().unwrap();
        assert_eq!(
            channels::list_webhook_fields(&mut conn, &channel.id)
                .unwrap()
                .len(),
            4
        );
    }
}

#[test]
fn a_delivery_failed_with_131050_opts_the_recipient_out() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let errors = json!([{"code": 131050, "title": "User has stopped marketing messages",
            "message": "User has stopped marketing messages"}]);
        let failed = status("wamid.promo.1", "failed", 1739400000, errors);
        deliver(&t, &org, &failed);
        deliver(&t, &org, &failed);
        // Another failure code says nothing about consent.
        let other = status(
            "wamid.promo.2",
            "failed",
            1739400001,
            json!([{"code": 131026, "title": "Message undeliverable"}]),
        );
        deliver(&t, &org, &other);
        let mut conn = t.db.conn().unwrap();
        let history = opt_outs::history(&mut conn, &org.id, CUSTOMER).unwrap();
        assert_eq!(history.len(), 1, "{}", t.backend);
        assert!(history[0].opted_out);
        assert_eq!(
            (history[0].source.as_str(), history[0].external_ref.as_str()),
            ("META_ERROR", "131050:wamid.promo.1")
        );
        assert_eq!(history[0].occurred_at, meta_time(1739400000));
    }
}

#[tokio::test]
async fn a_send_refused_with_131050_opts_the_recipient_out() {
    use switchboard_domain::outbound::{OutboundContent, Text};
    use switchboard_runner::jobs::SendMessage;
    use switchboard_runner::{JobContext, JobHandler};
    use switchboard_sandbox::{ErrorKind, Sandbox, SandboxConfig};
    use switchboard_store::repo::outbound::{self, NewOutbound};

    let meta = Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        error_rates: vec![(ErrorKind::Meta(131050), 1.0)],
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    for t in TestDb::all() {
        let (org, channel) = org_with_channel(&t);
        let send = SendMessage::start(&t.db, crate::support::outbound(&meta.api_url())).unwrap();
        let queued = outbound::queue_message(
            &mut t.db.conn().unwrap(),
            &NewOutbound {
                organization_id: org.id.clone(),
                channel,
                to: CUSTOMER.into(),
                content: OutboundContent::Text(Text {
                    body: "20% off this week".into(),
                    preview_url: false,
                }),
                lead_id: None,
                reply_to: None,
                idempotency_key: None,
                origin: None,
            },
        )
        .unwrap();
        let ctx = JobContext { db: t.db.clone() };
        assert!(send.run(&ctx, &queued.job).await.is_err());
        let mut conn = t.db.conn().unwrap();
        let state = opt_outs::opted_out_since(&mut conn, &org.id, CUSTOMER)
            .unwrap()
            .expect("opted out");
        assert_eq!(state.source, "META_ERROR", "{}", t.backend);
        assert_eq!(state.external_ref, format!("131050:{}", queued.message.id));
        let failed = outbound::find_message(&mut conn, &org.id, &queued.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(
            (failed.status.as_str(), failed.error_code.as_deref()),
            ("FAILED", Some("131050"))
        );
    }
    meta.stop().await;
}
