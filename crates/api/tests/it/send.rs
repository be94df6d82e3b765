use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_store::SecretBox;
use switchboard_store::models::{Channel, Organization, now};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::{jobs, messages, organizations, tokens};
use switchboard_store::testing::TestDb;

const TO: &str = "5511999990000";

struct Tenant {
    org: Organization,
    channel: Channel,
    token: String,
}

fn tenant(t: &TestDb, name: &str, phone_number_id: &str, role: Role) -> Tenant {
    let mut conn = t.db.conn().unwrap();
    let org = organizations::insert_organization(&mut conn, name, None).unwrap();
    let channel = channels::insert_channel(
        &mut conn,
        &SecretBox::from_key(&[1; 32]).unwrap(),
        &ChannelInput {
            organization_id: org.id.clone(),
            phone_number_id: phone_number_id.into(),
            access_token: "EAAG".into(),
            default_country_code: Some("55".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let token = tokens::insert_user_with_token(&mut conn, &org.id, role, None)
        .unwrap()
        .plaintext;
    Tenant {
        org,
        channel,
        token,
    }
}

/// The customer wrote `hours_ago`: their 24-hour window is open (or not).
fn customer_wrote(t: &TestDb, tenant: &Tenant, hours_ago: i64) {
    let mut conn = t.db.conn().unwrap();
    let key = ConversationKey {
        organization_id: &tenant.org.id,
        channel_id: &tenant.channel.id,
        contact_phone: TO,
    };
    let conversation = conversations::upsert_conversation(&mut conn, &key, None, None).unwrap();
    let at = now() - chrono::TimeDelta::hours(hours_ago);
    conversations::record_message(
        &mut conn,
        &conversation.id,
        "INBOUND",
        "hi",
        at,
        "wamid.in",
        true,
    )
    .unwrap();
}

async fn post(
    t: &TestDb,
    token: Option<&str>,
    body: Value,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, Option<String>) {
    let api = web::Data::new(Api::start(t.db.clone(), ApiSettings::default(), None).unwrap());
    let app = test::init_service(
        App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())),
    )
    .await;
    let mut req = test::TestRequest::post()
        .uri("/api/integrations/whatsapp/send")
        .set_json(body);
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let replayed = resp
        .headers()
        .get("Idempotent-Replayed")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = test::read_body_json(resp).await;
    (status, body, replayed)
}

fn message_count(t: &TestDb, org: &Organization) -> usize {
    messages::list_messages(&mut t.db.conn().unwrap(), &org.id)
        .unwrap()
        .len()
}

#[actix_web::test]
async fn a_reply_inside_the_window_is_queued_with_its_job() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001", Role::Seller);
        customer_wrote(&t, &acme, 2);
        let (status, body, _) = post(
            &t,
            Some(&acme.token),
            json!({"toPhone": "+55 11 99999-0000", "text": "hola"}),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "QUEUED");
        let job = jobs::find_job(&mut t.db.conn().unwrap(), body["jobId"].as_str().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(job.kind, "SEND_MESSAGE");
        assert!(job.payload.contains(body["messageLogId"].as_str().unwrap()));
        let stored = messages::list_messages(&mut t.db.conn().unwrap(), &acme.org.id).unwrap();
        assert_eq!(
            stored[0].to_phone.as_deref(),
            Some(TO),
            "normalized to E.164 digits"
        );
        assert_eq!(stored[0].text.as_deref(), Some("hola"));
    }
}

#[actix_web::test]
async fn free_form_outside_the_window_is_refused_but_a_template_goes() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001", Role::Seller);
        let (status, body, _) = post(
            &t,
            Some(&acme.token),
            json!({"toPhone": TO, "text": "hello?"}),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errorCode"], "WINDOW_CLOSED");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("approved template")
        );
        customer_wrote(&t, &acme, 25);
        let (status, body, _) = post(
            &t,
            Some(&acme.token),
            json!({"toPhone": TO, "text": "hello?"}),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("more than 24 hours ago")
        );
        assert_eq!(message_count(&t, &acme.org), 0, "nothing queued");
        let template = json!({"toPhone": TO, "type": "template", "template": {"name": "order_update", "language": "pt_BR", "variables": ["Ana"]}});
        let (status, body, _) = post(&t, Some(&acme.token), template, &[]).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let job = jobs::find_job(&mut t.db.conn().unwrap(), body["jobId"].as_str().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(job.kind, "SEND_MESSAGE_TEMPLATE");
    }
}

#[actix_web::test]
async fn an_idempotency_key_sends_once() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001", Role::Seller);
        customer_wrote(&t, &acme, 1);
        let body = json!({"toPhone": TO, "text": "once"});
        let (s1, first, r1) = post(
            &t,
            Some(&acme.token),
            body.clone(),
            &[("Idempotency-Key", "order-42")],
        )
        .await;
        let (s2, second, r2) = post(
            &t,
            Some(&acme.token),
            body,
            &[("Idempotency-Key", "order-42")],
        )
        .await;
        assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
        assert_eq!(first["jobId"], second["jobId"]);
        assert_eq!(first["messageLogId"], second["messageLogId"]);
        assert_eq!((r1, r2.as_deref()), (None, Some("true")));
        assert_eq!(message_count(&t, &acme.org), 1);
    }
}

#[actix_web::test]
async fn bad_requests_get_a_clear_error_and_change_nothing() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001", Role::Seller);
        customer_wrote(&t, &acme, 1);
        let too_many_buttons: Vec<Value> = (0..4).map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("B{i}")}})).collect();
        let cases = [
            (
                json!({"toPhone": "abc", "text": "x"}),
                StatusCode::BAD_REQUEST,
                "INVALID_PHONE",
            ),
            (
                json!({"toPhone": "12", "text": "x"}),
                StatusCode::BAD_REQUEST,
                "INVALID_PHONE",
            ),
            (
                json!({"toPhone": TO, "text": "a".repeat(4097)}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"toPhone": TO, "type": "interactive", "interactive": {"type": "button", "body": {"text": "Pick"}, "action": {"buttons": too_many_buttons}}}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"text": "x"}),
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            ),
            (
                json!({"toPhone": TO, "text": "x", "leadId": "no-such-lead"}),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                json!({"toPhone": TO, "text": "x", "channelId": "no-such-channel"}),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
        ];
        for (body, status, code) in cases {
            let (got, answer, _) = post(&t, Some(&acme.token), body.clone(), &[]).await;
            assert_eq!(
                (got, answer["errorCode"].as_str().unwrap()),
                (status, code),
                "{body} → {answer}"
            );
            assert!(!answer["message"].as_str().unwrap().is_empty());
        }
        let (status, answer, _) = post(
            &t,
            Some(&acme.token),
            json!({"toPhone": TO, "text": "x"}),
            &[("Idempotency-Key", "")],
        )
        .await;
        assert_eq!(
            (status, answer["errorCode"].as_str()),
            (StatusCode::BAD_REQUEST, Some("VALIDATION_ERROR"))
        );
        assert_eq!(message_count(&t, &acme.org), 0);
    }
}

#[actix_web::test]
async fn malformed_json_gets_the_error_shape() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001", Role::Seller);
        let api = web::Data::new(Api::start(t.db.clone(), ApiSettings::default(), None).unwrap());
        let app = test::init_service(
            App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())),
        )
        .await;
        let req = test::TestRequest::post()
            .uri("/api/integrations/whatsapp/send")
            .insert_header(("Authorization", format!("Bearer {}", acme.token)))
            .insert_header(("Content-Type", "application/json"))
            .set_payload("{not json")
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: Value = test::read_body_json(resp).await;
        assert_eq!(body["errorCode"], "VALIDATION_ERROR");
    }
}

#[actix_web::test]
async fn tokens_are_checked_and_scoped_to_their_organization() {
    for t in TestDb::all() {
        let acme = tenant(&t, "Acme", "1001", Role::Seller);
        let other = tenant(&t, "Other", "2002", Role::Owner);
        customer_wrote(&t, &acme, 1);
        let body = json!({"toPhone": TO, "text": "x"});
        let (status, answer, _) = post(&t, None, body.clone(), &[]).await;
        assert_eq!(
            (status, answer["errorCode"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("UNAUTHORIZED"))
        );
        let (status, _, _) = post(&t, Some("sb_not_a_real_token"), body.clone(), &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, answer, _) = post(
            &t,
            Some(&acme.token),
            body.clone(),
            &[("X-Organization-Id", &other.org.id)],
        )
        .await;
        assert_eq!(
            (status, answer["errorCode"].as_str()),
            (StatusCode::FORBIDDEN, Some("FORBIDDEN_ORGANIZATION"))
        );
        // Another organization's channel is as unknown as one that does not exist.
        let theirs = json!({"toPhone": TO, "text": "x", "channelId": other.channel.id});
        let (status, _, _) = post(&t, Some(&acme.token), theirs, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let token_id = tokens::list_api_tokens(&mut t.db.conn().unwrap(), &acme.org.id).unwrap()[0]
            .0
            .id
            .clone();
        tokens::revoke_api_token(&mut t.db.conn().unwrap(), &token_id).unwrap();
        let (status, _, _) = post(&t, Some(&acme.token), body, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
        assert_eq!(message_count(&t, &acme.org), 0);
        assert_eq!(message_count(&t, &other.org), 0);
    }
}
