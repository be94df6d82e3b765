//! Stats on a known data set, the status page, and the connection check against the sandbox
//! standing in for Meta.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde_json::{Value, json};
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_sandbox::config::DEFAULT_PHONE_NUMBER_ID;
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::SecretBox;
use switchboard_store::models::{
    Channel, IntegrationJob, MessageLog, TicketNotification, new_id, now,
};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::tickets::{self, NewTicket};
use switchboard_store::repo::{jobs, leads, messages, organizations, tokens};
use switchboard_store::schema::{leads as leads_table, tickets as tickets_table};
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, Tenant, app, assert_error, call, tenant};

const OTHER_CUSTOMER: &str = "5511888880000";
const STATS: &str = "/api/integrations/whatsapp/stats";
const STATUS: &str = "/api/whatsapp/status";
const TEST: &str = "/api/integrations/whatsapp/test";

/// One message of the data set.
struct Msg<'a> {
    conversation: &'a str,
    phone: &'a str,
    direction: &'a str,
    at: NaiveDateTime,
    status: &'a str,
    code: Option<&'a str>,
    origin: Option<&'a str>,
    kind: &'a str,
}

impl<'a> Msg<'a> {
    fn inbound(conversation: &'a str, phone: &'a str, at: NaiveDateTime) -> Self {
        Msg {
            conversation,
            phone,
            direction: "INBOUND",
            at,
            status: "RECEIVED",
            code: None,
            origin: None,
            kind: "text",
        }
    }

    fn outbound(conversation: &'a str, phone: &'a str, at: NaiveDateTime, status: &'a str) -> Self {
        Msg {
            direction: "OUTBOUND",
            status,
            ..Msg::inbound(conversation, phone, at)
        }
    }

    fn failed(mut self, code: Option<&'a str>) -> Self {
        self.code = code;
        self
    }

    fn from(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }

    fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }
}

/// Stores `m` as the projections would; returns its id.
fn put(t: &TestDb, org: &str, channel: &Channel, m: Msg<'_>) -> String {
    let inbound = m.direction == "INBOUND";
    let message = MessageLog {
        id: new_id(),
        organization_id: org.into(),
        channel_id: Some(channel.id.clone()),
        conversation_id: Some(m.conversation.into()),
        lead_id: None,
        provider: "WHATSAPP".into(),
        direction: m.direction.into(),
        message_type: m.kind.into(),
        from_phone: inbound.then(|| m.phone.to_string()),
        to_phone: (!inbound).then(|| m.phone.to_string()),
        text: Some("secret body the stats never read".into()),
        media_id: None,
        media_mime_type: None,
        media_filename: None,
        details: None,
        context_message_id: None,
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: (m.status != "QUEUED").then(|| format!("wamid.{}", new_id())),
        status: m.status.into(),
        error_code: m.code.map(str::to_string),
        error_message: m.code.map(|c| format!("Meta error {c}")),
        status_updated_at: None,
        sent_at: (!inbound && m.status != "QUEUED").then_some(m.at),
        created_at: m.at,
        updated_at: m.at,
        origin: m.origin.map(str::to_string),
    };
    let id = message.id.clone();
    assert!(messages::insert_message_once(&mut t.db.conn().unwrap(), &message).unwrap());
    id
}

fn conversation_with(t: &TestDb, a: &Tenant, phone: &str) -> String {
    let key = ConversationKey {
        organization_id: &a.org.id,
        channel_id: &a.channel.id,
        contact_phone: phone,
    };
    conversations::upsert_conversation(&mut t.db.conn().unwrap(), &key, None, None)
        .unwrap()
        .id
}

/// A ticket of `a` opened at `at`.
fn ticket_at(t: &TestDb, a: &Tenant, at: NaiveDateTime) -> String {
    let mut conn = t.db.conn().unwrap();
    let ticket = tickets::insert_ticket(
        &mut conn,
        &NewTicket {
            organization_id: &a.org.id,
            service_id: None,
            conversation_id: Some(&a.conversation_id),
            lead_id: None,
            contact_phone: CUSTOMER,
            subject: "help",
            at,
        },
    )
    .unwrap();
    diesel::update(tickets_table::table.find(&ticket.id))
        .set(tickets_table::created_at.eq(at))
        .execute(&mut conn)
        .unwrap();
    ticket.id
}

/// A job of `org` in `status`, optionally keyed and carrying a payload.
fn job(t: &TestDb, org: &str, status: &str, key: Option<String>, payload: &str, at: NaiveDateTime) {
    let mut job: IntegrationJob = jobs::new_job("NOOP", Some(org.into()), payload.into(), at);
    job.status = status.into();
    job.idempotency_key = key;
    jobs::insert_jobs(&mut t.db.conn().unwrap(), &[job]).unwrap();
}

/// Organization A's data set (see the expected numbers in the test), and some of B's.
fn data_set(t: &TestDb, a: &Tenant, b: &Tenant) {
    let n = now();
    let ago = |d: TimeDelta| n - d;
    let (days, hours, secs) = (TimeDelta::days, TimeDelta::hours, TimeDelta::seconds);
    let org = a.org.id.as_str();
    let ch = &a.channel;
    let c1 = a.conversation_id.as_str(); // holds the tenant's "hola", now (never answered)
    let c2 = conversation_with(t, a, OTHER_CUSTOMER);
    let c2 = c2.as_str();
    // 40 days ago: a wait of 10 s (only in a 60-day period).
    put(t, org, ch, Msg::inbound(c1, CUSTOMER, ago(days(40))));
    put(
        t,
        org,
        ch,
        Msg::outbound(c1, CUSTOMER, ago(days(40) - secs(10)), "READ"),
    );
    // Two days ago: two customer messages, one answer 120 s after the first.
    put(t, org, ch, Msg::inbound(c1, CUSTOMER, ago(days(2))));
    put(
        t,
        org,
        ch,
        Msg::inbound(c1, CUSTOMER, ago(days(2) - secs(30))),
    );
    put(
        t,
        org,
        ch,
        Msg::outbound(c1, CUSTOMER, ago(days(2) - secs(120)), "READ"),
    );
    // Yesterday (25 hours ago): the assistant and a status notice answer at once; the agent
    // after 300 s.
    let y = days(1) + hours(1);
    put(t, org, ch, Msg::inbound(c1, CUSTOMER, ago(y)));
    let assistant = put(
        t,
        org,
        ch,
        Msg::outbound(c1, CUSTOMER, ago(y - secs(1)), "DELIVERED"),
    );
    let notice = put(
        t,
        org,
        ch,
        Msg::outbound(c1, CUSTOMER, ago(y - secs(2)), "FAILED").failed(Some("131047")),
    );
    put(
        t,
        org,
        ch,
        Msg::outbound(c1, CUSTOMER, ago(y - secs(300)), "DELIVERED"),
    );
    job(
        t,
        org,
        "DONE",
        Some(format!("send:{org}:assistant:wamid.x:menu")),
        &json!({"messageLogId": assistant}).to_string(),
        ago(y - secs(1)),
    );
    let ticket = ticket_at(t, a, ago(y));
    tickets::insert_notification(
        &mut t.db.conn().unwrap(),
        &TicketNotification {
            id: new_id(),
            organization_id: org.into(),
            ticket_id: ticket,
            event: "status_changed".into(),
            via: Some("text".into()),
            status: "QUEUED".into(),
            reason: None,
            message_log_id: Some(notice),
            created_at: ago(y - secs(2)),
        },
    )
    .unwrap();
    ticket_at(t, a, ago(days(40)));
    // Three hours ago, another customer: answered from the WhatsApp Business app after 60 s.
    put(t, org, ch, Msg::inbound(c2, OTHER_CUSTOMER, ago(hours(3))));
    put(
        t,
        org,
        ch,
        Msg::outbound(c2, OTHER_CUSTOMER, ago(hours(3) - secs(60)), "SENT").from("BUSINESS_APP"),
    );
    // History sync: would open a wait answered 30 min later, and change every count.
    put(
        t,
        org,
        ch,
        Msg::inbound(c2, OTHER_CUSTOMER, ago(hours(2) + TimeDelta::minutes(30))).from("HISTORY"),
    );
    put(
        t,
        org,
        ch,
        Msg::outbound(
            c2,
            OTHER_CUSTOMER,
            ago(hours(2) + TimeDelta::minutes(29)),
            "READ",
        )
        .from("HISTORY"),
    );
    put(
        t,
        org,
        ch,
        Msg::outbound(c2, OTHER_CUSTOMER, ago(hours(2)), "FAILED").failed(Some("131026")),
    );
    put(
        t,
        org,
        ch,
        Msg::outbound(c2, OTHER_CUSTOMER, ago(hours(2)), "FAILED").failed(None),
    );
    put(
        t,
        org,
        ch,
        Msg::outbound(c2, OTHER_CUSTOMER, ago(hours(1)), "QUEUED"),
    );
    // A reaction neither asks nor answers.
    put(
        t,
        org,
        ch,
        Msg::inbound(c2, OTHER_CUSTOMER, ago(TimeDelta::minutes(30))).kind("reaction"),
    );
    // A second lead, created 40 days ago.
    let mut conn = t.db.conn().unwrap();
    let lead = leads::find_or_create_lead(
        &mut conn,
        org,
        &leads::LeadFromWhatsApp {
            phone: Some(OTHER_CUSTOMER),
            wa_user_id: None,
            profile_name: None,
            referral: None,
        },
    )
    .unwrap();
    diesel::update(leads_table::table.find(&lead.id))
        .set(leads_table::created_at.eq(ago(days(40))))
        .execute(&mut conn)
        .unwrap();
    // B: an answer and a failure that must not show up in A's numbers.
    let (bo, bc) = (b.org.id.as_str(), b.conversation_id.as_str());
    put(t, bo, &b.channel, Msg::inbound(bc, CUSTOMER, ago(days(1))));
    put(
        t,
        bo,
        &b.channel,
        Msg::outbound(bc, CUSTOMER, ago(days(1) - secs(5)), "FAILED").failed(Some("131047")),
    );
}

#[actix_web::test]
async fn stats_count_a_known_data_set_for_the_callers_organization_only() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        data_set(&t, &a, &b);
        let app = app(&t).await;

        let (status, got) = call(&app, "GET", STATS, Some(a.token(Role::Seller)), None).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(got["days"], 30);
        let from = chrono::DateTime::parse_from_rfc3339(got["from"].as_str().unwrap()).unwrap();
        let to = chrono::DateTime::parse_from_rfc3339(got["to"].as_str().unwrap()).unwrap();
        assert_eq!(to - from, TimeDelta::days(30));
        // In: 2 + 1 + "hola" of c1, and 1 + a reaction of c2. Out: 4 in c1, 5 in c2.
        assert_eq!(got["inboundMessages"], 6, "{}: {got}", t.backend);
        assert_eq!(got["outboundMessages"], 8);
        assert_eq!(got["totalMessages"], 14);
        assert_eq!(got["uniqueContacts"], 2);
        assert_eq!(got["ticketsCreated"], 1);
        assert_eq!(got["leadsCreated"], 1);
        // Waits answered: 120 s, 300 s (the assistant and the notice do not answer), 60 s.
        assert_eq!(got["avgResponseTime"], 160.0);
        assert_eq!(got["responsesMeasured"], 3);
        // Reached Meta: READ, DELIVERED ×2, SENT, FAILED ×3 (the QUEUED one did not): 7.
        assert_eq!(got["deliveryRate"], 0.4286);
        assert_eq!(got["readRate"], 0.1429);
        assert_eq!(
            got["failedByCode"],
            json!({"131026": 1, "131047": 1, "unknown": 1})
        );

        // Sixty days: the old wait (10 s), message pair, ticket and lead come in.
        let (_, got) = call(
            &app,
            "GET",
            &format!("{STATS}?days=60"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(got["days"], 60);
        assert_eq!(got["inboundMessages"], 7);
        assert_eq!(got["outboundMessages"], 9);
        assert_eq!(got["ticketsCreated"], 2);
        assert_eq!(got["leadsCreated"], 2);
        assert_eq!(got["avgResponseTime"], 122.5);
        assert_eq!(got["deliveryRate"], 0.5);
        assert_eq!(got["readRate"], 0.25);

        // One day: only the last 24 hours.
        let (_, got) = call(
            &app,
            "GET",
            &format!("{STATS}?days=1"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(got["inboundMessages"], 3, "{got}"); // c2's, its reaction, "hola"
        assert_eq!(got["outboundMessages"], 4);
        assert_eq!(got["avgResponseTime"], 60.0);
        assert_eq!(got["ticketsCreated"], 0);

        // B sees its own numbers only.
        let (_, got) = call(&app, "GET", STATS, Some(b.owner()), None).await;
        assert_eq!(got["inboundMessages"], 2);
        assert_eq!(got["outboundMessages"], 1);
        assert_eq!(got["uniqueContacts"], 1);
        assert_eq!(got["avgResponseTime"], 5.0);
        assert_eq!(got["deliveryRate"], 0.0);
        assert_eq!(got["readRate"], 0.0);
        assert_eq!(got["failedByCode"], json!({"131047": 1}));
        assert_eq!(got["ticketsCreated"], 0);
        assert!(!got.to_string().contains("secret body"));
    }
}

#[actix_web::test]
async fn stats_of_an_organization_without_messages_are_zero_and_null() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    diesel::delete(switchboard_store::schema::message_logs::table)
        .execute(&mut t.db.conn().unwrap())
        .unwrap();
    let app = app(&t).await;
    let (status, got) = call(&app, "GET", STATS, Some(a.owner()), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["totalMessages"], 0);
    assert_eq!(got["avgResponseTime"], Value::Null);
    assert_eq!(got["deliveryRate"], Value::Null);
    assert_eq!(got["readRate"], Value::Null);
    assert_eq!(got["failedByCode"], json!({}));
}

#[actix_web::test]
async fn stats_refuse_a_period_outside_one_to_365_days() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    for bad in ["0", "366", "-3", "abc", "2.5", ""] {
        let got = call(
            &app,
            "GET",
            &format!("{STATS}?days={bad}"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(
            got.1["message"].as_str().unwrap().contains("days"),
            "{}",
            got.1
        );
    }
    let (status, got) = call(
        &app,
        "GET",
        &format!("{STATS}?days=365"),
        Some(a.owner()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["days"], 365);
    let got = call(&app, "GET", STATS, None, None).await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

fn add_channel(t: &TestDb, org: &str, phone_number_id: &str, app_secret: Option<&str>) -> Channel {
    channels::insert_channel(
        &mut t.db.conn().unwrap(),
        &SecretBox::from_key(&[1; 32]).unwrap(),
        &ChannelInput {
            organization_id: org.into(),
            phone_number_id: phone_number_id.into(),
            access_token: "EAAG".into(),
            app_secret: app_secret.map(str::to_string),
            ..Default::default()
        },
    )
    .unwrap()
}

fn channel_of<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no channel {id} in {status}"))
}

/// Asserts that `value` is the RFC 3339 form of `at` (UTC, with `Z`).
fn assert_time(value: &Value, at: NaiveDateTime) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    assert!(text.ends_with('Z'), "{text}");
    let parsed = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    assert_eq!(parsed.naive_utc(), at, "{text}");
}

#[actix_web::test]
async fn status_shows_each_channels_webhooks_sends_and_health_and_the_orgs_jobs() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let n = now() - TimeDelta::minutes(10);
        let at = |minutes: i64| n + TimeDelta::minutes(minutes);
        // A's first channel: two webhook fields, and a send Meta accepted.
        {
            let mut conn = t.db.conn().unwrap();
            channels::touch_webhook_field(&mut conn, &a.channel.id, "messages", at(1)).unwrap();
            channels::touch_webhook_field(&mut conn, &a.channel.id, "statuses", at(3)).unwrap();
            // An older one does not move it back.
            channels::touch_webhook_field(&mut conn, &a.channel.id, "messages", at(0)).unwrap();
        }
        put(
            &t,
            &a.org.id,
            &a.channel,
            Msg::outbound(&a.conversation_id, CUSTOMER, at(2), "DELIVERED"),
        );
        // An echo of the Business app is no send of ours.
        put(
            &t,
            &a.org.id,
            &a.channel,
            Msg::outbound(&a.conversation_id, CUSTOMER, at(4), "SENT").from("BUSINESS_APP"),
        );
        // A second channel, paused by Meta's 190; a third never used, with an app secret.
        let paused = add_channel(&t, &a.org.id, "1002", None);
        channels::pause_channel(
            &mut t.db.conn().unwrap(),
            &paused.id,
            "(#190) Error validating access token: Session has expired",
        )
        .unwrap();
        let fresh = add_channel(&t, &a.org.id, "1003", Some("app-secret"));
        // Jobs: A has its tenant's DEAD one, plus these; B's are not A's.
        for status in ["PENDING", "PENDING", "RUNNING", "DONE"] {
            job(&t, &a.org.id, status, None, "{}", now());
        }
        for _ in 0..3 {
            job(&t, &b.org.id, "PENDING", None, "{}", now());
        }
        let app = app(&t).await;

        let (status, got) = call(&app, "GET", STATUS, Some(a.token(Role::Seller)), None).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(
            got["jobs"],
            json!({"pending": 2, "running": 1, "dead": 1}),
            "{}",
            t.backend
        );
        assert_eq!(got["channels"].as_array().unwrap().len(), 3);
        let first = channel_of(&got, &a.channel.id);
        assert_eq!(first["phoneNumberId"], "1001");
        assert_eq!(first["configured"], true);
        assert_eq!(first["appSecretSet"], false);
        assert_eq!(first["status"], "ACTIVE");
        let fields = first["lastWebhookByField"].as_object().unwrap();
        assert_eq!(fields.len(), 2, "{fields:?}");
        assert_time(&fields["messages"], at(1));
        assert_time(&fields["statuses"], at(3));
        assert_time(&first["lastWebhookAt"], at(3));
        assert_time(&first["lastSendAt"], at(2));
        assert_eq!(first["health"]["tokenValid"], true);
        assert_time(&first["health"]["checkedAt"], at(2));
        assert!(first["health"].get("error").is_none());

        let second = channel_of(&got, &paused.id);
        assert_eq!(second["status"], "PAUSED");
        assert_eq!(second["health"]["tokenValid"], false);
        assert!(
            second["health"]["error"]
                .as_str()
                .unwrap()
                .contains("(#190)")
        );
        assert_eq!(second["lastWebhookAt"], Value::Null);
        assert_eq!(second["lastWebhookByField"], json!({}));
        assert_eq!(second["lastSendAt"], Value::Null);

        let third = channel_of(&got, &fresh.id);
        assert_eq!(third["appSecretSet"], true);
        assert_eq!(third["health"], json!({"tokenValid": null}));

        // Nothing secret, and none of B's.
        let text = got.to_string();
        assert!(
            !text.contains("EAAG") && !text.contains("app-secret"),
            "{text}"
        );
        assert!(!text.contains(&b.channel.id));
        assert_eq!(got["env"]["masterKeyLoaded"], false);
        assert_eq!(got["env"]["runnerInProcess"], false);
        assert_eq!(got["env"]["graphApiUrl"], Value::Null);
        assert!(got["env"]["version"].is_string());

        let (_, got) = call(&app, "GET", STATUS, Some(b.owner()), None).await;
        assert_eq!(got["jobs"], json!({"pending": 3, "running": 0, "dead": 1}));
        assert_eq!(got["channels"].as_array().unwrap().len(), 1);
        let got = call(&app, "GET", STATUS, Some("sb_nope"), None).await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

const TOKEN: &str = "EAAG";

async fn meta() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        access_token: Some(TOKEN.into()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn graph(api_url: &str) -> switchboard_graph::GraphClient {
    switchboard_graph::GraphClient::new(switchboard_graph::GraphConfig {
        api_url: api_url.to_string(),
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap()
}

/// The API as `switchboard start` builds it: the master key, a Graph client pointed at the
/// sandbox, and (with `runner`) a job runner in the process that sends through the sandbox.
async fn checking_app(
    t: &TestDb,
    meta_url: String,
    runner: bool,
) -> (
    impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    Option<switchboard_runner::RunnerHandle>,
) {
    let secrets = Arc::new(SecretBox::from_key(&[1; 32]).unwrap());
    let (wake, handle) = if runner {
        let outbound = switchboard_runner::jobs::Outbound {
            graph: graph(&meta_url),
            secrets: Arc::clone(&secrets),
            pacer: Arc::new(switchboard_runner::pacing::Pacer::new(
                switchboard_runner::pacing::PacingSettings::default(),
            )),
            media_dir: std::env::temp_dir().join("switchboard-test-media"),
        };
        let registry = switchboard_runner::jobs::registry(&t.db, Some(outbound)).unwrap();
        let runner = switchboard_runner::Runner::new(
            t.db.clone(),
            registry,
            switchboard_runner::RunnerSettings {
                poll_interval: Duration::from_millis(50),
                ..Default::default()
            },
        );
        (Some(runner.waker()), Some(runner.spawn().unwrap()))
    } else {
        (None, None)
    };
    let api = Api::start(t.db.clone(), ApiSettings::default(), wake)
        .unwrap()
        .with_secrets(secrets)
        .with_graph(graph(&meta_url))
        .with_test_send_wait(Duration::from_secs(if runner { 10 } else { 0 }));
    let api = web::Data::new(api);
    let app = test::init_service(
        App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())),
    )
    .await;
    (app, handle)
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report}"))
}

#[actix_web::test]
async fn the_check_reads_the_number_from_meta_and_the_status_remembers_it() {
    let meta = meta().await;
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", DEFAULT_PHONE_NUMBER_ID);
        let (app, _) = checking_app(&t, meta.api_url(), false).await;
        let (_, before) = call(&app, "GET", STATUS, Some(a.owner()), None).await;
        assert_eq!(
            channel_of(&before, &a.channel.id)["health"]["tokenValid"],
            Value::Null
        );

        let (status, report) = call(&app, "POST", TEST, Some(a.owner()), Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["channelId"], a.channel.id);
        assert_eq!(report["steps"].as_array().unwrap().len(), 2);
        assert_eq!(step(&report, "token")["ok"], true);
        let number = step(&report, "phoneNumber");
        assert_eq!(number["ok"], true);
        let detail = number["detail"].as_str().unwrap();
        for part in [
            "+1 555-000-1111",
            "Switchboard Sandbox",
            "GREEN",
            "VERIFIED",
        ] {
            assert!(detail.contains(part), "{detail}");
        }

        let (_, after) = call(&app, "GET", STATUS, Some(a.token(Role::Seller)), None).await;
        let health = &channel_of(&after, &a.channel.id)["health"];
        assert_eq!(health["tokenValid"], true, "{after}");
        assert!(health["checkedAt"].is_string());
        assert!(health.get("error").is_none());
        assert_eq!(after["env"]["graphApiUrl"], format!("{}/", meta.api_url()));
        assert_eq!(after["env"]["graphApiVersion"], "v25.0");
        assert_eq!(after["env"]["masterKeyLoaded"], true);
    }
    meta.stop().await;
}

#[actix_web::test]
async fn an_invalid_token_fails_the_check_with_what_to_do() {
    let meta = meta().await;
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", DEFAULT_PHONE_NUMBER_ID);
    let expired = {
        let mut conn = t.db.conn().unwrap();
        let channel = add_channel(&t, &a.org.id, "3003", None);
        channels::set_access_token(
            &mut conn,
            &SecretBox::from_key(&[1; 32]).unwrap(),
            &channel.id,
            "EAAG-expired",
        )
        .unwrap();
        channel
    };
    let (app, _) = checking_app(&t, meta.api_url(), false).await;
    let body = json!({"channelId": expired.id, "to": CUSTOMER});
    let (status, report) = call(&app, "POST", TEST, Some(a.owner()), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], false);
    let token = step(&report, "token");
    assert_eq!(token["ok"], false);
    let detail = token["detail"].as_str().unwrap();
    assert!(
        detail.contains("the access token is invalid or expired"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            "switchboard channel resume --org {} {}",
            a.org.id, expired.id
        )),
        "{detail}"
    );
    assert!(!detail.contains("EAAG-expired"));
    assert_eq!(step(&report, "phoneNumber")["ok"], false);
    // Nothing is sent with a token Meta refuses.
    let send = step(&report, "sendTest");
    assert_eq!(send["ok"], false);
    assert!(send["detail"].as_str().unwrap().starts_with("not sent"));
    assert_eq!(meta.stats().accepted_messages, 0);
    let queued: i64 = switchboard_store::schema::message_logs::table
        .filter(switchboard_store::schema::message_logs::direction.eq("OUTBOUND"))
        .count()
        .get_result(&mut t.db.conn().unwrap())
        .unwrap();
    assert_eq!(queued, 0);
    // The status page now knows.
    let (_, after) = call(&app, "GET", STATUS, Some(a.owner()), None).await;
    let health = &channel_of(&after, &expired.id)["health"];
    assert_eq!(health["tokenValid"], false, "{after}");
    assert!(
        health["error"]
            .as_str()
            .unwrap()
            .contains("invalid or expired")
    );
    assert!(health["checkedAt"].is_string());
    // The channel itself is not paused by a check.
    assert_eq!(channel_of(&after, &expired.id)["status"], "ACTIVE");
    meta.stop().await;
}

#[actix_web::test]
async fn the_test_send_goes_through_the_queue_to_meta() {
    let meta = meta().await;
    for t in TestDb::all() {
        meta.reset();
        let a = tenant(&t, "Acme", DEFAULT_PHONE_NUMBER_ID);
        let (app, runner) = checking_app(&t, meta.api_url(), true).await;
        // The customer wrote just now ("hola"): the window is open.
        let body = json!({"to": format!("+{CUSTOMER}"), "text": "ping from the check"});
        let (status, report) = call(&app, "POST", TEST, Some(a.owner()), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["ok"], true, "{}: {report}", t.backend);
        let send = step(&report, "sendTest");
        let wamid = send["wamid"].as_str().unwrap();
        assert!(send["detail"].as_str().unwrap().contains(wamid));
        assert!(send["jobId"].is_string() && send["messageLogId"].is_string());
        let sent = meta.messages(Some(CUSTOMER));
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].wamid, wamid);
        assert_eq!(sent[0].body["text"]["body"], "ping from the check");
        // It is a message of the conversation like any other.
        let (_, listed) = call(
            &app,
            "GET",
            &format!(
                "/api/integrations/messages?conversationId={}",
                a.conversation_id
            ),
            Some(a.owner()),
            None,
        )
        .await;
        assert!(
            listed.to_string().contains("ping from the check"),
            "{listed}"
        );

        // Someone who never wrote: the window is closed, and nothing is queued.
        let body = json!({"to": "5511777770000"});
        let (status, report) = call(&app, "POST", TEST, Some(a.owner()), Some(body)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(report["ok"], false);
        assert_eq!(step(&report, "token")["ok"], true);
        let send = step(&report, "sendTest");
        assert_eq!(send["ok"], false);
        assert!(
            send["detail"].as_str().unwrap().contains("24-hour"),
            "{send}"
        );
        assert!(send.get("jobId").is_none());
        assert!(meta.messages(Some("5511777770000")).is_empty());
        runner.unwrap().shutdown().await;
    }
    meta.stop().await;
}

#[actix_web::test]
async fn without_a_runner_the_test_send_answers_with_the_queued_ids() {
    let meta = meta().await;
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", DEFAULT_PHONE_NUMBER_ID);
    let (app, _) = checking_app(&t, meta.api_url(), false).await;
    let body = json!({"to": CUSTOMER});
    let (_, report) = call(&app, "POST", TEST, Some(a.owner()), Some(body)).await;
    let send = step(&report, "sendTest");
    assert_eq!(send["ok"], true, "{report}");
    assert!(send["detail"].as_str().unwrap().contains("queued"));
    assert!(send.get("wamid").is_none());
    let job_id = send["jobId"].as_str().unwrap();
    let (_, jobs) = call(
        &app,
        "GET",
        "/api/integrations/jobs?status=PENDING",
        Some(a.owner()),
        None,
    )
    .await;
    assert_eq!(jobs["data"][0]["id"], job_id, "{jobs}");
    assert_eq!(
        jobs["data"][0]["payload"]["messageLogId"],
        send["messageLogId"]
    );
    meta.stop().await;
}

#[actix_web::test]
async fn the_check_refuses_bad_requests_other_roles_and_other_organizations_channels() {
    let meta = meta().await;
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", DEFAULT_PHONE_NUMBER_ID);
    let b = tenant(&t, "Bravo", "2002");
    let (app, _) = checking_app(&t, meta.api_url(), false).await;
    for role in [Role::Manager, Role::Seller] {
        let got = call(&app, "POST", TEST, Some(a.token(role)), Some(json!({}))).await;
        assert_error(&got, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
    }
    let (status, _) = call(
        &app,
        "POST",
        TEST,
        Some(a.token(Role::Admin)),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let unknown = call(
        &app,
        "POST",
        TEST,
        Some(a.owner()),
        Some(json!({"channelId": "00000000-0000-0000-0000-000000000000"})),
    )
    .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "NOT_FOUND");
    let others = call(
        &app,
        "POST",
        TEST,
        Some(a.owner()),
        Some(json!({"channelId": b.channel.id})),
    )
    .await;
    assert_error(&others, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(others.1["message"], unknown.1["message"]);
    for (body, code) in [
        (json!({"to": "12"}), "INVALID_PHONE"),
        (json!({"text": "hi"}), "VALIDATION_ERROR"),
        (json!({"to": CUSTOMER, "text": ""}), "VALIDATION_ERROR"),
        (
            json!({"to": CUSTOMER, "text": "x".repeat(4097)}),
            "VALIDATION_ERROR",
        ),
        (json!({"phone": CUSTOMER}), "VALIDATION_ERROR"),
        (json!({"to": 5511}), "VALIDATION_ERROR"),
        (json!([]), "VALIDATION_ERROR"),
    ] {
        let got = call(&app, "POST", TEST, Some(a.owner()), Some(body.clone())).await;
        assert_error(&got, StatusCode::BAD_REQUEST, code);
    }
    // Refused requests asked Meta nothing and recorded nothing: only the ADMIN's check above.
    let (_, status) = call(&app, "GET", STATUS, Some(a.owner()), None).await;
    assert_eq!(
        channel_of(&status, &a.channel.id)["health"]["tokenValid"],
        true
    );
    assert_eq!(meta.stats().accepted_messages, 0);
    // An organization without a channel has nothing to check.
    let lonely = {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Lonely", None).unwrap();
        tokens::insert_user_with_token(&mut conn, &org.id, Role::Owner, None)
            .unwrap()
            .plaintext
    };
    let got = call(&app, "POST", TEST, Some(&lonely), Some(json!({}))).await;
    assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "NO_CHANNEL");
    meta.stop().await;
}

#[actix_web::test]
async fn a_server_that_cannot_call_meta_says_so_in_the_first_step() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let (status, report) = call(&app, "POST", TEST, Some(a.owner()), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], false);
    let token = step(&report, "token");
    assert!(
        token["detail"]
            .as_str()
            .unwrap()
            .contains("cannot call Meta"),
        "{token}"
    );
    // Nothing was learned about the token.
    let (_, status) = call(&app, "GET", STATUS, Some(a.owner()), None).await;
    assert_eq!(
        channel_of(&status, &a.channel.id)["health"]["tokenValid"],
        Value::Null
    );
}
