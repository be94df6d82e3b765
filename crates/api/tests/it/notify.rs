//! The notify API (`POST /api/whatsapp/notify`), API keys and the click-to-chat QR code.
//! Waiting for Meta is tested with a real runner sending to the sandbox.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{App, test, web};
use serde_json::{Value, json};
use switchboard_api::notify::{InternalKey, NotifyWait};
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_graph::{GraphClient, GraphConfig};
use switchboard_runner::jobs::Outbound;
use switchboard_runner::pacing::{Pacer, PacingSettings};
use switchboard_runner::{Runner, RunnerHandle, RunnerSettings};
use switchboard_sandbox::{ErrorKind, Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::SecretBox;
use switchboard_store::models::MessageLog;
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::{messages, outbound};
use switchboard_store::testing::TestDb;
use tokio::sync::Notify;

use crate::world::{CUSTOMER, Tenant, call, tenant};

const INTERNAL_KEY: &str = "internal-key-of-the-billing-server";
const NOTIFY: &str = "/api/whatsapp/notify";

/// Settings that answer at once (no runner in most tests), with the internal key set.
fn settings(wait: Duration) -> ApiSettings {
    ApiSettings {
        internal_api_key: Some(InternalKey::new(INTERNAL_KEY)),
        notify_wait: NotifyWait(wait),
        ..ApiSettings::default()
    }
}

async fn app_with(
    t: &TestDb,
    settings: ApiSettings,
    wake: Option<Arc<Notify>>,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let api = web::Data::new(Api::start(t.db.clone(), settings, wake).unwrap());
    test::init_service(App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())))
        .await
}

/// POSTs `body` (raw bytes) to the notify API with `headers`.
async fn post_raw<S, B>(
    app: &S,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, Value, HeaderMap)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::post()
        .uri(NOTIFY)
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body.to_vec());
    for header in headers {
        req = req.insert_header(*header);
    }
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = test::read_body(resp).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

async fn post<S, B>(
    app: &S,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, Value, HeaderMap)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    post_raw(app, headers, body.to_string().as_bytes()).await
}

fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

/// Asserts a failure in the notify envelope, readable by the seed's clients and the API's.
fn assert_failure(got: &(StatusCode, Value, HeaderMap), status: StatusCode, code: &str) {
    let (got_status, body, _) = got;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{body}");
    assert_eq!(body["message"], message, "{body}");
}

fn outbound_messages(t: &TestDb, org: &str) -> Vec<MessageLog> {
    messages::list_messages(&mut t.db.conn().unwrap(), org)
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "OUTBOUND")
        .collect()
}

fn message(t: &TestDb, org: &str, id: &str) -> MessageLog {
    outbound::find_message(&mut t.db.conn().unwrap(), org, id)
        .unwrap()
        .unwrap()
}

/// The organization `INTERNAL_API_KEY` acts for, as the `WHATSAPP_*` bootstrap names it.
fn default_org(t: &TestDb) -> Tenant {
    let default = tenant(t, "Default", "3003");
    assert_eq!(default.org.slug, "default");
    default
}

/// A runner sending to `meta`, woken by the API (as in `switchboard start`).
fn runner(t: &TestDb, meta: &SandboxHandle) -> (Arc<Notify>, RunnerHandle) {
    let graph = GraphClient::new(GraphConfig {
        api_url: meta.api_url(),
        timeout: Duration::from_secs(2),
        ..GraphConfig::default()
    })
    .unwrap();
    let outbound = Outbound {
        graph,
        // The key world.rs sealed the channels' access tokens with.
        secrets: Arc::new(SecretBox::from_key(&[1; 32]).unwrap()),
        pacer: Arc::new(Pacer::new(PacingSettings::default())),
        media_dir: std::env::temp_dir().join("switchboard-test-media"),
    };
    let registry = switchboard_runner::jobs::registry(&t.db, Some(outbound)).unwrap();
    let runner = Runner::new(
        t.db.clone(),
        registry,
        RunnerSettings {
            poll_interval: Duration::from_millis(20),
            ..RunnerSettings::default()
        },
    );
    let wake = runner.waker();
    (wake, runner.spawn().unwrap())
}

async fn sandbox(errors: Vec<(ErrorKind, f64)>) -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        error_rates: errors,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

async fn create_key<S, B>(app: &S, token: &str, name: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (status, body) = call(
        app,
        "POST",
        "/api/api-keys",
        Some(token),
        Some(json!({ "name": name })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[actix_web::test]
async fn each_way_in_acts_for_its_organization_and_wrong_keys_get_401() {
    for t in TestDb::all() {
        let default = default_org(&t);
        let acme = tenant(&t, "Acme", "1001");
        let app = app_with(&t, settings(Duration::ZERO), None).await;
        let body = json!({"to": CUSTOMER, "message": "Your order shipped"});
        let acme_key = create_key(&app, acme.owner(), "billing").await;
        let acme_key = acme_key["key"].as_str().unwrap().to_string();
        let seller = bearer(acme.token(Role::Seller));
        let ways_in: [(&[(&str, &str)], &Tenant); 3] = [
            (&[("x-api-key", INTERNAL_KEY)], &default),
            (&[("x-api-key", acme_key.as_str())], &acme),
            (&[(seller.0, seller.1.as_str())], &acme),
        ];
        for (headers, org) in ways_in {
            let before = outbound_messages(&t, &org.org.id).len();
            let got = post(&app, headers, body.clone()).await;
            assert_eq!(
                got.0,
                StatusCode::ACCEPTED,
                "{} {headers:?}: {}",
                t.backend,
                got.1
            );
            assert_eq!(got.1["success"], true);
            let id = got.1["data"]["messageLogId"].as_str().unwrap();
            assert_eq!(
                message(&t, &org.org.id, id).to_phone.as_deref(),
                Some(CUSTOMER)
            );
            assert_eq!(outbound_messages(&t, &org.org.id).len(), before + 1);
        }
        // The key's last use shows in the list (never the key itself).
        let (_, list) = call(&app, "GET", "/api/api-keys", Some(acme.owner()), None).await;
        let listed = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "billing")
            .unwrap()
            .clone();
        assert!(listed["lastUsedAt"].is_string(), "{listed}");
        assert!(!list.to_string().contains(&acme_key));

        // Refused: nothing is queued anywhere.
        let before = outbound_messages(&t, &acme.org.id).len()
            + outbound_messages(&t, &default.org.id).len();
        let revoked_id = listed["id"].as_str().unwrap();
        let (status, _) = call(
            &app,
            "DELETE",
            &format!("/api/api-keys/{revoked_id}"),
            Some(acme.owner()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let token_as_key = acme.owner().to_string();
        for (headers, hint) in [
            (vec![("x-api-key", "wrong")], "unknown or was revoked"),
            (
                vec![("x-api-key", acme_key.as_str())],
                "unknown or was revoked",
            ),
            (vec![("x-api-key", "")], "empty"),
            (
                vec![("x-api-key", token_as_key.as_str())],
                "Authorization: Bearer",
            ),
            (
                vec![("Authorization", "Bearer sb_nope")],
                "unknown or was revoked",
            ),
            (vec![], "missing Authorization"),
        ] {
            let got = post(&app, &headers, body.clone()).await;
            assert_failure(&got, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
            assert!(
                got.1["message"].as_str().unwrap().contains(hint),
                "{headers:?}: {}",
                got.1
            );
        }
        // A wrong key is refused even with a good token beside it.
        let owner = bearer(acme.owner());
        let got = post(
            &app,
            &[("x-api-key", "wrong"), (owner.0, &owner.1)],
            body.clone(),
        )
        .await;
        assert_failure(&got, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let after = outbound_messages(&t, &acme.org.id).len()
            + outbound_messages(&t, &default.org.id).len();
        assert_eq!(after, before, "a refused call queued something");
    }
}

#[actix_web::test]
async fn the_internal_key_needs_the_default_organization_and_is_off_when_unset() {
    let t = TestDb::sqlite();
    let acme = tenant(&t, "Acme", "1001");
    let body = json!({"to": CUSTOMER, "message": "hi"});
    let app = app_with(&t, settings(Duration::ZERO), None).await;
    let got = post(&app, &[("x-api-key", INTERNAL_KEY)], body.clone()).await;
    assert_failure(&got, StatusCode::UNPROCESSABLE_ENTITY, "NO_CHANNEL");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("WHATSAPP_PHONE_NUMBER_ID")
    );
    // Without INTERNAL_API_KEY no key but the organizations' works.
    let app = app_with(&t, ApiSettings::default(), None).await;
    let got = post(&app, &[("x-api-key", INTERNAL_KEY)], body).await;
    assert_failure(&got, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    assert!(outbound_messages(&t, &acme.org.id).is_empty());
}

/// A channel of `org` with its own country code (or none), for the normalization table.
fn channel_with_country(
    t: &TestDb,
    org: &Tenant,
    phone_number_id: &str,
    cc: Option<&str>,
) -> String {
    channels::insert_channel(
        &mut t.db.conn().unwrap(),
        &SecretBox::from_key(&[1; 32]).unwrap(),
        &ChannelInput {
            organization_id: org.org.id.clone(),
            phone_number_id: phone_number_id.into(),
            access_token: "EAAG".into(),
            default_country_code: cc.map(str::to_string),
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

#[actix_web::test]
async fn numbers_are_normalized_with_the_channels_country_code() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001");
        let colombia = channel_with_country(&t, &acme, "1002", Some("57"));
        let no_code = channel_with_country(&t, &acme, "1003", None);
        let app = app_with(
            &t,
            ApiSettings {
                default_country_code: Some("1".into()),
                ..settings(Duration::ZERO)
            },
            None,
        )
        .await;
        let owner = bearer(acme.owner());
        let auth = [(owner.0, owner.1.as_str())];
        // Templates go to anyone, so the window does not get in the way of the table.
        let notify = |to: &str, channel: &str| json!({"to": to, "template": "order_update", "variables": ["Ana", "#1"], "channelId": channel});
        let accepted = [
            ("310 305 5424", &colombia, "573103055424"),
            ("310-305-5424", &colombia, "573103055424"),
            ("+57 310 305 5424", &colombia, "573103055424"),
            ("0057 310 305 5424", &colombia, "573103055424"),
            ("(+57) 310-305-5424", &colombia, "573103055424"),
            ("0310 305 5424", &colombia, "573103055424"),
            ("11 99999-0000", &acme.channel.id, "5511999990000"),
            ("+44 7911 123456", &acme.channel.id, "447911123456"),
            // No country code on the channel: DEFAULT_COUNTRY_CODE.
            ("(650) 555-1234", &no_code, "16505551234"),
        ];
        for (to, channel, expected) in accepted {
            let got = post(&app, &auth, notify(to, channel)).await;
            assert_eq!(got.0, StatusCode::ACCEPTED, "{} {to}: {}", t.backend, got.1);
            assert_eq!(got.1["data"]["to"], expected, "{to}");
        }
        let before = outbound_messages(&t, &acme.org.id).len();
        let refused = [
            ("305", "only 5 digits"),
            ("310 305 5424 310 305", "at most 15"),
            ("310 305 ABCD", "letter 'A'"),
            ("57+310", "'+'"),
            ("", "empty"),
        ];
        for (to, why) in refused {
            let got = post(&app, &auth, notify(to, &colombia)).await;
            assert_failure(&got, StatusCode::BAD_REQUEST, "INVALID_PHONE");
            let message = got.1["message"].as_str().unwrap();
            assert!(
                message.starts_with("to: ") && message.contains(why),
                "{to}: {message}"
            );
        }
        let got = post(
            &app,
            &auth,
            json!({"to": 573103055424u64, "message": "x", "channelId": colombia}),
        )
        .await;
        // A number as JSON number is read as digits (then the window is what refuses it).
        assert_failure(&got, StatusCode::UNPROCESSABLE_ENTITY, "WINDOW_CLOSED");
        let got = post(&app, &auth, json!({"to": ["573103055424"], "message": "x"})).await;
        assert_failure(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert_eq!(outbound_messages(&t, &acme.org.id).len(), before);
    }
}

#[actix_web::test]
async fn without_to_the_default_recipient_is_used() {
    let t = TestDb::sqlite();
    let acme = tenant(&t, "Acme", "1001");
    let owner = bearer(acme.owner());
    let auth = [(owner.0, owner.1.as_str())];
    let body = json!({"message": "Backup finished"});
    let app = app_with(&t, settings(Duration::ZERO), None).await;
    let got = post(&app, &auth, body.clone()).await;
    assert_failure(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains("WHATSAPP_DEFAULT_TO")
    );
    let with_default = |to: &str| ApiSettings {
        default_to: Some(to.into()),
        ..settings(Duration::ZERO)
    };
    // The channel's country code (55) applies to the setting too.
    let app = app_with(&t, with_default("11 99999-0000"), None).await;
    let got = post(&app, &auth, body.clone()).await;
    assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
    assert_eq!(got.1["data"]["to"], CUSTOMER);
    // A body's `to` wins over the setting.
    let got = post(
        &app,
        &auth,
        json!({"to": "+55 11 99999 0000", "message": "x"}),
    )
    .await;
    assert_eq!(got.1["data"]["to"], CUSTOMER);
    let app = app_with(&t, with_default("12"), None).await;
    let got = post(&app, &auth, body).await;
    assert_failure(&got, StatusCode::BAD_REQUEST, "INVALID_PHONE");
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .starts_with("WHATSAPP_DEFAULT_TO: ")
    );
}

#[actix_web::test]
async fn waits_for_meta_and_answers_with_the_wamid() {
    let meta = sandbox(vec![]).await;
    for t in TestDb::all() {
        let default = default_org(&t);
        let (wake, runner) = runner(&t, &meta);
        let app = app_with(&t, settings(Duration::from_secs(10)), Some(wake)).await;
        let key = [("x-api-key", INTERNAL_KEY)];
        let text = post(
            &app,
            &key,
            json!({"to": "+55 11 99999-0000", "message": "Tu pedido salió"}),
        )
        .await;
        let template = post(
            &app,
            &key,
            json!({"to": CUSTOMER, "template": "order_update", "language": "en_US", "variables": {"1": "Ana", "2": "#1"}}),
        )
        .await;
        runner.shutdown().await;
        for (got, kind) in [(text, "text"), (template, "template")] {
            assert_eq!(got.0, StatusCode::OK, "{} {kind}: {}", t.backend, got.1);
            let data = &got.1["data"];
            assert_eq!(got.1["success"], true);
            assert_eq!(data["to"], CUSTOMER);
            let wamid = data["messageId"].as_str().unwrap();
            assert!(wamid.starts_with("wamid."), "{wamid}");
            assert!(
                data["jobId"].is_string() && data["status"].is_string(),
                "{data}"
            );
            let stored = message(&t, &default.org.id, data["messageLogId"].as_str().unwrap());
            assert_eq!(stored.external_message_id.as_deref(), Some(wamid));
            assert_eq!(stored.message_type, kind);
            let at_meta: Vec<_> = meta
                .messages(Some(CUSTOMER))
                .into_iter()
                .filter(|m| m.wamid == wamid)
                .collect();
            assert_eq!(at_meta.len(), 1, "Meta got the message once");
            assert_eq!(at_meta[0].kind, kind);
        }
    }
    meta.stop().await;
}

#[actix_web::test]
async fn answers_202_when_meta_has_not_answered_in_time() {
    let t = TestDb::sqlite();
    let acme = tenant(&t, "Acme", "1001");
    // No runner: nothing will answer.
    let app = app_with(&t, settings(Duration::from_millis(300)), None).await;
    let owner = bearer(acme.owner());
    let started = Instant::now();
    let got = post(
        &app,
        &[(owner.0, &owner.1)],
        json!({"to": CUSTOMER, "message": "hi"}),
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
    assert!(
        waited >= Duration::from_millis(300),
        "answered after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    let data = &got.1["data"];
    assert_eq!(got.1["success"], true);
    assert_eq!(data["to"], CUSTOMER);
    assert_eq!(data["status"], "QUEUED");
    assert!(data["jobId"].is_string());
    let stored = message(&t, &acme.org.id, data["messageLogId"].as_str().unwrap());
    assert_eq!(stored.status, "QUEUED");
}

#[actix_web::test]
async fn meta_refusing_the_message_is_a_failure_with_its_code() {
    for (meta_code, code) in [(131047, "WINDOW_CLOSED"), (131026, "META_REFUSED")] {
        let meta = sandbox(vec![(ErrorKind::Meta(meta_code), 1.0)]).await;
        let t = TestDb::sqlite();
        let acme = tenant(&t, "Acme", "1001");
        let (wake, runner) = runner(&t, &meta);
        let app = app_with(&t, settings(Duration::from_secs(10)), Some(wake)).await;
        let owner = bearer(acme.owner());
        let got = post(
            &app,
            &[(owner.0, &owner.1)],
            json!({"to": CUSTOMER, "message": "hi"}),
        )
        .await;
        runner.shutdown().await;
        meta.stop().await;
        assert_failure(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
        let error = &got.1["error"];
        assert_eq!(error["metaCode"], meta_code.to_string(), "{}", got.1);
        let stored = message(&t, &acme.org.id, error["messageLogId"].as_str().unwrap());
        assert_eq!(stored.status, "FAILED");
        assert!(error["jobId"].is_string());
    }
}

#[actix_web::test]
async fn templates_reach_customers_outside_the_window() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001");
        let app = app_with(&t, settings(Duration::ZERO), None).await;
        let owner = bearer(acme.owner());
        let auth = [(owner.0, owner.1.as_str())];
        let stranger = "+55 21 98888 7777";
        let before = outbound_messages(&t, &acme.org.id).len();
        // Free text to someone who never wrote: refused before Meta, nothing queued.
        let got = post(&app, &auth, json!({"to": stranger, "message": "hi"})).await;
        assert_failure(&got, StatusCode::UNPROCESSABLE_ENTITY, "WINDOW_CLOSED");
        let refusals = [
            (
                json!({"to": stranger, "template": "order_update", "variables": ["Ana"]}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "TEMPLATE_VARIABLES_MISSING",
            ),
            (
                json!({"to": stranger, "template": "no_such", "variables": []}),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                json!({"to": stranger, "template": "order_update", "language": "pt_BR"}),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                json!({"to": stranger, "template": "order_update", "variables": 3}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"to": stranger, "message": "hi", "template": "order_update"}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"to": stranger, "message": "hi", "variables": ["Ana"]}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"to": stranger}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"to": stranger, "message": ""}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"to": stranger, "mesage": "typo"}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"to": stranger, "template": "order_update", "variables": ["A", "B"], "channelId": "nope"}),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
        ];
        for (body, status, code) in refusals {
            let got = post(&app, &auth, body.clone()).await;
            assert_eq!(got.0, status, "{body}: {}", got.1);
            assert_failure(&got, status, code);
        }
        for raw in [&b"{not json"[..], b"", b"[]"] {
            let got = post_raw(&app, &auth, raw).await;
            assert_failure(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        assert_eq!(
            outbound_messages(&t, &acme.org.id).len(),
            before,
            "a refusal queued something"
        );
        // The approved template goes, by name or id.
        for template in ["order_update", acme.template_id.as_str()] {
            let got = post(
                &app,
                &auth,
                json!({"to": stranger, "template": template, "variables": ["Ana", "#1"]}),
            )
            .await;
            assert_eq!(got.0, StatusCode::ACCEPTED, "{}", got.1);
            assert_eq!(got.1["data"]["to"], "5521988887777");
            let stored = message(
                &t,
                &acme.org.id,
                got.1["data"]["messageLogId"].as_str().unwrap(),
            );
            assert_eq!(stored.template_name.as_deref(), Some("order_update"));
            assert_eq!(
                stored.template_variables.as_deref(),
                Some(r##"["Ana","#1"]"##)
            );
        }
    }
}

#[actix_web::test]
async fn the_same_idempotency_key_sends_once() {
    let meta = sandbox(vec![]).await;
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001");
        let (wake, runner) = runner(&t, &meta);
        let app = app_with(&t, settings(Duration::from_secs(10)), Some(wake)).await;
        let owner = bearer(acme.owner());
        let headers = [
            (owner.0, owner.1.as_str()),
            ("Idempotency-Key", "invoice-77"),
        ];
        let body = json!({"to": CUSTOMER, "message": "Invoice 77 is ready"});
        let accepted = meta.stats().accepted_messages;
        let first = post(&app, &headers, body.clone()).await;
        let again = post(&app, &headers, body.clone()).await;
        runner.shutdown().await;
        assert_eq!(first.0, StatusCode::OK, "{}", first.1);
        assert_eq!(again.0, StatusCode::OK, "{}", again.1);
        assert_eq!(first.1["data"]["messageId"], again.1["data"]["messageId"]);
        assert_eq!(
            first.1["data"]["messageLogId"],
            again.1["data"]["messageLogId"]
        );
        assert!(first.2.get("Idempotent-Replayed").is_none());
        assert_eq!(again.2.get("Idempotent-Replayed").unwrap(), "true");
        assert_eq!(meta.stats().accepted_messages, accepted + 1, "sent twice");
        let long = "k".repeat(256);
        let got = post(
            &app,
            &[(owner.0, &owner.1), ("Idempotency-Key", &long)],
            body,
        )
        .await;
        assert_failure(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    meta.stop().await;
}

#[actix_web::test]
async fn api_keys_are_shown_once_listed_by_prefix_and_revoked() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001");
        let app = app_with(&t, settings(Duration::ZERO), None).await;
        let created = create_key(&app, acme.owner(), "  billing server ").await;
        let key = created["key"].as_str().unwrap();
        assert!(key.starts_with("sbk_") && key.len() > 40, "{key}");
        assert_eq!(created["name"], "billing server");
        assert!(key.starts_with(created["prefix"].as_str().unwrap()));
        assert!(created["revokedAt"].is_null() && created["lastUsedAt"].is_null());
        let id = created["id"].as_str().unwrap();
        let (status, list) = call(
            &app,
            "GET",
            "/api/api-keys",
            Some(acme.token(Role::Admin)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            list["total"], 2,
            "the world's spare key and this one: {list}"
        );
        assert!(
            !list.to_string().contains(key),
            "a list shows a key: {list}"
        );
        for bad in [
            json!({"name": ""}),
            json!({"name": "x".repeat(201)}),
            json!({}),
            json!({"name": "a", "role": "OWNER"}),
        ] {
            let (status, body) =
                call(&app, "POST", "/api/api-keys", Some(acme.owner()), Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["errorCode"], "VALIDATION_ERROR");
        }
        let uri = format!("/api/api-keys/{id}");
        let (status, revoked) = call(&app, "DELETE", &uri, Some(acme.owner()), None).await;
        assert_eq!(status, StatusCode::OK, "{revoked}");
        let first_revocation = revoked["revokedAt"].as_str().unwrap().to_string();
        let (_, again) = call(&app, "DELETE", &uri, Some(acme.owner()), None).await;
        assert_eq!(again["revokedAt"], first_revocation.as_str());
        let got = post(
            &app,
            &[("x-api-key", key)],
            json!({"to": CUSTOMER, "message": "hi"}),
        )
        .await;
        assert_failure(&got, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

#[actix_web::test]
async fn another_organizations_key_sends_for_that_organization_only() {
    let t = TestDb::sqlite();
    let acme = tenant(&t, "Acme", "1001");
    let bravo = tenant(&t, "Bravo", "2002");
    let app = app_with(&t, settings(Duration::ZERO), None).await;
    let bravo_key = create_key(&app, bravo.owner(), "bravo").await;
    let bravo_key = bravo_key["key"].as_str().unwrap();
    // Bravo's key cannot send from Acme's channel: it is not found for Bravo.
    let got = post(
        &app,
        &[("x-api-key", bravo_key)],
        json!({"to": CUSTOMER, "message": "hi", "channelId": acme.channel.id}),
    )
    .await;
    assert_failure(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    // Nor name Acme's template by id.
    let got = post(
        &app,
        &[("x-api-key", bravo_key)],
        json!({"to": CUSTOMER, "template": acme.template_id, "variables": ["A", "B"]}),
    )
    .await;
    assert_failure(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(outbound_messages(&t, &acme.org.id).len(), 0);
}

/// GETs the QR code, returning the status, content type and bytes.
async fn qr<S, B>(app: &S, token: &str, query: &str) -> (StatusCode, String, Vec<u8>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = test::TestRequest::get()
        .uri(&format!("/api/whatsapp/qr{query}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = test::call_service(app, req).await;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("Content-Type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, test::read_body(resp).await.to_vec())
}

/// A channel with its display number, as `channel add --display-phone-number` stores it.
fn channel_with_number(t: &TestDb, org: &Tenant, phone_number_id: &str, display: &str) -> String {
    channels::insert_channel(
        &mut t.db.conn().unwrap(),
        &SecretBox::from_key(&[1; 32]).unwrap(),
        &ChannelInput {
            organization_id: org.org.id.clone(),
            phone_number_id: phone_number_id.into(),
            access_token: "EAAG".into(),
            display_phone_number: Some(display.into()),
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

/// The modules of the code a link should make, row by row.
fn modules_of(link: &str) -> (usize, Vec<bool>) {
    let code = qrcode::QrCode::new(link.as_bytes()).unwrap();
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    (code.width(), dark)
}

#[actix_web::test]
async fn the_qr_code_opens_a_chat_with_the_channels_number() {
    let t = TestDb::sqlite();
    let acme = tenant(&t, "Acme", "1001");
    let app = app_with(&t, settings(Duration::ZERO), None).await;
    let seller = acme.token(Role::Seller);
    // The world's channel has no display number: there is no link to draw.
    let (status, _, body) = qr(&app, seller, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errorCode"], "NO_PHONE_NUMBER");
    let channel = channel_with_number(&t, &acme, "1009", "+57 300 123 4567");
    let query = format!("?channelId={channel}&text=Hola%2C%20quiero%20info");
    let link = "https://wa.me/573001234567?text=Hola%2C%20quiero%20info";
    let (width, dark) = modules_of(link);

    let (status, content_type, png) = qr(&app, seller, &query).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "image/png");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let side = switchboard_api::qr::png_side(width);
    assert_eq!((frame.width, frame.height), (side, side));
    // Sample the centre of every module: dark where the link's code is dark, light around it.
    let module = switchboard_api::qr::PNG_MODULE_PIXELS as usize;
    let quiet = switchboard_api::qr::QUIET_ZONE_MODULES as usize;
    let at = |mx: usize, my: usize| {
        let (x, y) = (
            (mx + quiet) * module + module / 2,
            (my + quiet) * module + module / 2,
        );
        pixels[y * side as usize + x] == 0
    };
    for my in 0..width {
        for mx in 0..width {
            assert_eq!(at(mx, my), dark[my * width + mx], "module ({mx}, {my})");
        }
    }
    assert!(
        pixels[..side as usize * module * quiet]
            .iter()
            .all(|p| *p == 255),
        "quiet zone"
    );

    let (status, content_type, svg) = qr(&app, seller, &format!("{query}&format=svg")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "image/svg+xml");
    let svg = String::from_utf8(svg).unwrap();
    let expected = qrcode::QrCode::new(link.as_bytes())
        .unwrap()
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .build();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
    assert_eq!(svg, expected, "the SVG is not the link's code");

    // Without text the link is the number alone; the org's first channel is the default one.
    let (status, _, _) = qr(&app, seller, &format!("?channelId={channel}")).await;
    assert_eq!(status, StatusCode::OK);
    for (query, status, code) in [
        (
            format!("?channelId={channel}&format=gif"),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            format!("?channelId={channel}&text={}", "a".repeat(501)),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            format!("?channelId={channel}&size=9"),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            "?channelId=nope".to_string(),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ] {
        let (got, _, body) = qr(&app, seller, &query).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["errorCode"], code, "{query}");
    }
    // Another organization's channel is not found.
    let bravo = tenant(&t, "Bravo", "2002");
    let (status, _, _) = qr(&app, bravo.owner(), &format!("?channelId={channel}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
