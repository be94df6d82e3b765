//! `/api/webhook-subscriptions`: the CRUD with its validation, the secret shown once, enabling
//! again, the delivery log, redelivery and the test event. Roles and other organizations' ids
//! are in matrix.rs.

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_domain::events::EventType;
use switchboard_store::db::write_transaction;
use switchboard_store::models::WebhookDelivery;
use switchboard_store::repo::subscriptions::{self, Attempt, Event};
use switchboard_store::testing::TestDb;

use crate::world::{Tenant, assert_error, call, master_key, tenant};

const HOOKS: &str = "/api/webhook-subscriptions";

/// The API with the master key (creating a subscription seals its secret), in production or not.
async fn hooks_app(
    t: &TestDb,
    production: bool,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    let settings = ApiSettings {
        production,
        ..ApiSettings::default()
    };
    let api = Api::start(t.db.clone(), settings, None)
        .unwrap()
        .with_secrets(std::sync::Arc::new(master_key()));
    let api = web::Data::new(api);
    test::init_service(App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())))
        .await
}

fn new_hook() -> Value {
    json!({
        "url": "https://crm.example.com/hooks/switchboard",
        "events": ["lead.created", "ticket.created"],
        "description": "CRM"
    })
}

async fn count<S, B>(app: &S, a: &Tenant) -> i64
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let (_, list) = call(app, "GET", HOOKS, Some(a.owner()), None).await;
    list["total"].as_i64().unwrap()
}

#[actix_web::test]
async fn a_subscription_shows_its_secret_once_and_a_rotation_replaces_it() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = hooks_app(&t, false).await;
        let (status, created) = call(
            &app,
            "POST",
            HOOKS,
            Some(a.token(Role::Admin)),
            Some(new_hook()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", t.backend);
        let secret = created["secret"].as_str().unwrap().to_string();
        assert!(
            secret.starts_with("whsec_") && secret.len() > 40,
            "{secret}"
        );
        assert_eq!(created["url"], "https://crm.example.com/hooks/switchboard");
        assert_eq!(created["events"], json!(["lead.created", "ticket.created"]));
        assert_eq!(created["description"], "CRM");
        assert_eq!(created["enabled"], true);
        assert_eq!(created["consecutiveFailures"], 0);
        let id = created["id"].as_str().unwrap();

        let one = call(&app, "GET", &format!("{HOOKS}/{id}"), Some(a.owner()), None).await;
        assert_eq!(one.0, StatusCode::OK);
        assert!(one.1.get("secret").is_none(), "{}", one.1);
        let (_, list) = call(&app, "GET", HOOKS, Some(a.owner()), None).await;
        assert_eq!(list["total"], 2, "the world's and this one");
        assert_eq!(list["page"], 1);
        assert!(!list.to_string().contains(&secret), "{list}");

        let (status, rotated) = call(
            &app,
            "POST",
            &format!("{HOOKS}/{id}/rotate-secret"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{rotated}");
        let new_secret = rotated["secret"].as_str().unwrap();
        assert_ne!(new_secret, secret);
        let stored = subscriptions::find_subscription(&mut t.db.conn().unwrap(), &a.org.id, id)
            .unwrap()
            .unwrap();
        assert!(!stored.secret_sealed.contains(new_secret), "sealed at rest");
        assert_eq!(stored.open_secret(&master_key()).unwrap(), new_secret);
    }
}

#[actix_web::test]
async fn bad_subscriptions_are_refused_with_what_to_fix_and_change_nothing() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = hooks_app(&t, false).await;
        let with = |field: &str, value: Value| {
            let mut body = new_hook();
            body[field] = value;
            body
        };
        let cases = [
            (json!({"events": ["lead.created"]}), "url"),
            (
                with("url", json!("ftp://crm.example.com/x")),
                "scheme 'ftp'",
            ),
            (with("url", json!("/hooks/switchboard")), "absolute"),
            (
                with("url", json!("https://u:p@crm.example.com/")),
                "credentials",
            ),
            (with("url", json!("https://")), "host"),
            (with("url", json!(42)), "invalid type"),
            (with("events", json!([])), "at least one"),
            (with("events", json!(["lead.deleted"])), "message.received"),
            (with("events", json!("lead.created")), "invalid type"),
            (with("description", json!("x".repeat(501))), "500"),
            (with("secret", json!("mine")), "secret"),
        ];
        for (body, says) in cases {
            let got = call(&app, "POST", HOOKS, Some(a.owner()), Some(body.clone())).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
            let message = got.1["message"].as_str().unwrap();
            assert!(message.contains(says), "{body}: {message}");
        }
        assert_eq!(count(&app, &a).await, 1, "{}: nothing created", t.backend);

        let hook = format!("{HOOKS}/{}", a.webhook_subscription_id);
        for body in [
            json!({"events": ["ticket.closed"]}),
            json!({"url": "mailto:ops@example.com"}),
            json!({"enabled": "yes"}),
        ] {
            let got = call(&app, "PATCH", &hook, Some(a.owner()), Some(body)).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        let (_, unchanged) = call(&app, "GET", &hook, Some(a.owner()), None).await;
        assert_eq!(unchanged["events"], json!(["template.status"]));
        assert_eq!(unchanged["url"], "https://hooks.example.com/switchboard");
        for query in ["?page=0", "?limit=500", "?status=LOST"] {
            let got = call(
                &app,
                "GET",
                &format!("{hook}/deliveries{query}"),
                Some(a.owner()),
                None,
            )
            .await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
    }
}

#[actix_web::test]
async fn in_production_a_subscription_must_use_https() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = hooks_app(&t, true).await;
    let mut body = new_hook();
    body["url"] = json!("http://crm.example.com/hooks");
    let got = call(&app, "POST", HOOKS, Some(a.owner()), Some(body)).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert!(got.1["message"].as_str().unwrap().contains("https"));
    let hook = format!("{HOOKS}/{}", a.webhook_subscription_id);
    let got = call(
        &app,
        "PATCH",
        &hook,
        Some(a.owner()),
        Some(json!({"url": "http://crm.example.com/hooks"})),
    )
    .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let ok = call(&app, "POST", HOOKS, Some(a.owner()), Some(new_hook())).await;
    assert_eq!(ok.0, StatusCode::CREATED, "{}", ok.1);
}

#[actix_web::test]
async fn enabling_again_clears_the_failures_and_the_reason() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = hooks_app(&t, false).await;
        let hook = format!("{HOOKS}/{}", a.webhook_subscription_id);
        let (status, off) = call(
            &app,
            "PATCH",
            &hook,
            Some(a.owner()),
            Some(json!({"enabled": false, "description": "billing"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{off}");
        assert_eq!(off["enabled"], false);
        assert!(off["disabledReason"].as_str().unwrap().contains("enabled"));
        assert_eq!(off["description"], "billing");
        // Redelivering and testing wait until it is enabled.
        for uri in [
            format!("{hook}/test"),
            format!("{hook}/deliveries/{}/redeliver", a.webhook_delivery_id),
        ] {
            let got = call(&app, "POST", &uri, Some(a.owner()), None).await;
            assert_error(&got, StatusCode::CONFLICT, "CONFLICT");
        }

        // As the runner leaves it after its receiver failed for hours.
        let mut conn = t.db.conn().unwrap();
        {
            use diesel::prelude::*;
            use switchboard_store::schema::webhook_subscriptions as s;
            diesel::update(s::table.find(&a.webhook_subscription_id))
                .set((
                    s::consecutive_failures.eq(30),
                    s::disabled_reason.eq("disabled automatically: …"),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        let (status, on) = call(
            &app,
            "PATCH",
            &hook,
            Some(a.owner()),
            Some(json!({"enabled": true, "description": null})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{on}");
        assert_eq!(on["enabled"], true, "{}", t.backend);
        assert_eq!(on["disabledReason"], Value::Null);
        assert_eq!(on["consecutiveFailures"], 0);
        assert_eq!(on["description"], Value::Null);
        assert_eq!(on["events"], json!(["template.status"]), "untouched");
    }
}

fn lead_event(t: &TestDb, a: &Tenant, key: &str) {
    let mut conn = t.db.conn().unwrap();
    let event = Event {
        organization_id: &a.org.id,
        kind: EventType::LeadCreated,
        key,
        data: json!({"leadId": key}),
    };
    write_transaction(&mut conn, |c| subscriptions::emit_in(c, &event)).unwrap();
}

fn deliveries_of(t: &TestDb, a: &Tenant, subscription: &str) -> Vec<WebhookDelivery> {
    let page = switchboard_store::repo::Page {
        limit: 100,
        offset: 0,
    };
    subscriptions::list_delivery_page(
        &mut t.db.conn().unwrap(),
        &a.org.id,
        subscription,
        None,
        page,
    )
    .unwrap()
    .0
}

fn record(t: &TestDb, delivery: &WebhookDelivery, status: Option<i32>, last: bool) {
    let delivered = status == Some(200);
    let attempt = Attempt {
        delivery_id: &delivery.id,
        job_id: delivery.job_id.as_deref().unwrap(),
        response_status: status,
        response_body: status.map(|s| format!("answer {s}")),
        error: (!delivered).then(|| "the receiver answered HTTP 500".to_string()),
        delivered,
        last,
    };
    write_transaction(&mut t.db.conn().unwrap(), |c| {
        subscriptions::record_attempt(c, &attempt)
    })
    .unwrap();
}

#[actix_web::test]
async fn the_delivery_log_pages_newest_first_and_a_dead_delivery_can_be_sent_again() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = hooks_app(&t, false).await;
        let (_, created) = call(&app, "POST", HOOKS, Some(a.owner()), Some(new_hook())).await;
        let id = created["id"].as_str().unwrap().to_string();
        lead_event(&t, &a, "lead-1");
        lead_event(&t, &a, "lead-2");
        let stored = deliveries_of(&t, &a, &id);
        let (second, first) = (&stored[0], &stored[1]);
        record(&t, second, Some(200), false);
        record(&t, first, Some(500), true);

        let uri = format!("{HOOKS}/{id}/deliveries");
        let (status, page) = call(
            &app,
            "GET",
            &format!("{uri}?limit=1"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(
            (page["total"].as_i64(), page["limit"].as_i64()),
            (Some(2), Some(1))
        );
        let newest = &page["data"][0];
        assert_eq!(newest["id"], second.id, "{}: newest first", t.backend);
        assert_eq!(newest["status"], "DELIVERED");
        assert_eq!(newest["attempts"], 1);
        assert_eq!(newest["responseStatus"], 200);
        assert!(newest["deliveredAt"].is_string());
        assert_eq!(newest["body"]["type"], "lead.created");
        assert_eq!(newest["body"]["data"]["leadId"], "lead-2");
        assert_eq!(newest["eventType"], "lead.created");
        let (_, dead) = call(
            &app,
            "GET",
            &format!("{uri}?status=dead"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(dead["total"], 1);
        let dead = &dead["data"][0];
        assert_eq!(dead["id"], first.id);
        assert_eq!(dead["status"], "DEAD");
        assert_eq!(dead["responseStatus"], 500);
        assert_eq!(dead["responseBody"], "answer 500");
        assert_eq!(dead["error"], "the receiver answered HTTP 500");

        let redeliver = format!("{uri}/{}/redeliver", first.id);
        let (status, again) = call(&app, "POST", &redeliver, Some(a.owner()), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(again["status"], "PENDING");
        assert_eq!(again["eventId"], first.event_id, "the same event");
        let (_, queued) = call(
            &app,
            "GET",
            "/api/integrations/jobs?kind=DELIVER_EVENT&status=PENDING",
            Some(a.owner()),
            None,
        )
        .await;
        let job_id = deliveries_of(&t, &a, &id)[1].job_id.clone().unwrap();
        assert_ne!(Some(job_id.as_str()), first.job_id.as_deref());
        let fresh = queued["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == job_id.as_str())
            .unwrap_or_else(|| panic!("{queued}"));
        assert_eq!(fresh["payload"]["deliveryId"], first.id);

        // Another subscription's delivery, or one that does not exist, is not found here.
        let other = format!("{uri}/{}/redeliver", a.webhook_delivery_id);
        let got = call(&app, "POST", &other, Some(a.owner()), None).await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn a_test_event_is_a_ping_to_that_subscription_only() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = hooks_app(&t, false).await;
        let (_, created) = call(&app, "POST", HOOKS, Some(a.owner()), Some(new_hook())).await;
        let id = created["id"].as_str().unwrap();
        let (status, ping) = call(
            &app,
            "POST",
            &format!("{HOOKS}/{id}/test"),
            Some(a.token(Role::Admin)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {ping}", t.backend);
        assert_eq!(ping["eventType"], "ping");
        assert_eq!(ping["status"], "PENDING");
        assert_eq!(ping["subscriptionId"], id);
        assert_eq!(ping["body"]["type"], "ping");
        assert_eq!(ping["body"]["data"]["subscriptionId"], id);
        assert_eq!(ping["body"]["organizationId"], a.org.id);
        let (_, log) = call(
            &app,
            "GET",
            &format!("{HOOKS}/{id}/deliveries"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(log["total"], 1);
        let world = deliveries_of(&t, &a, &a.webhook_subscription_id);
        assert_eq!(world.len(), 1, "the other subscription got nothing");
    }
}

#[actix_web::test]
async fn deleting_a_subscription_removes_it_and_its_log() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = hooks_app(&t, false).await;
        let hook = format!("{HOOKS}/{}", a.webhook_subscription_id);
        let forbidden = call(&app, "DELETE", &hook, Some(a.token(Role::Manager)), None).await;
        assert_error(&forbidden, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        let (status, _) = call(&app, "DELETE", &hook, Some(a.owner()), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{}", t.backend);
        for uri in [hook.clone(), format!("{hook}/deliveries")] {
            let got = call(&app, "GET", &uri, Some(a.owner()), None).await;
            assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
        }
        assert!(deliveries_of(&t, &a, &a.webhook_subscription_id).is_empty());
        let again = call(&app, "DELETE", &hook, Some(a.owner()), None).await;
        assert_error(&again, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn an_organization_has_at_most_25_subscriptions() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = hooks_app(&t, false).await;
    for _ in 1..25 {
        let (status, _) = call(&app, "POST", HOOKS, Some(a.owner()), Some(new_hook())).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let got = call(&app, "POST", HOOKS, Some(a.owner()), Some(new_hook())).await;
    assert_error(&got, StatusCode::CONFLICT, "CONFLICT");
    assert_eq!(count(&app, &a).await, 25);
    let (_, second_page) = call(
        &app,
        "GET",
        &format!("{HOOKS}?page=2&limit=10"),
        Some(a.owner()),
        None,
    )
    .await;
    assert_eq!(second_page["data"].as_array().unwrap().len(), 10);
    assert_eq!(second_page["total"], 25);
}

#[actix_web::test]
async fn managers_and_sellers_can_do_nothing_with_subscriptions() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = hooks_app(&t, false).await;
    let hook = format!("{HOOKS}/{}", a.webhook_subscription_id);
    let before = subscriptions::find_subscription(
        &mut t.db.conn().unwrap(),
        &a.org.id,
        &a.webhook_subscription_id,
    )
    .unwrap()
    .unwrap();
    let routes = [
        ("GET", HOOKS.to_string(), None),
        ("POST", HOOKS.to_string(), Some(new_hook())),
        ("GET", hook.clone(), None),
        ("PATCH", hook.clone(), Some(json!({"enabled": false}))),
        ("POST", format!("{hook}/rotate-secret"), None),
        ("POST", format!("{hook}/test"), None),
        ("GET", format!("{hook}/deliveries"), None),
        (
            "POST",
            format!("{hook}/deliveries/{}/redeliver", a.webhook_delivery_id),
            None,
        ),
        ("DELETE", hook.clone(), None),
    ];
    for role in [Role::Manager, Role::Seller] {
        for (method, uri, body) in &routes {
            let got = call(&app, method, uri, Some(a.token(role)), body.clone()).await;
            assert_error(&got, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        }
    }
    let after = subscriptions::find_subscription(
        &mut t.db.conn().unwrap(),
        &a.org.id,
        &a.webhook_subscription_id,
    )
    .unwrap()
    .unwrap();
    assert_eq!(after, before, "nothing changed, the secret neither");
    assert_eq!(count(&app, &a).await, 1);
    assert_eq!(deliveries_of(&t, &a, &a.webhook_subscription_id).len(), 1);
    // And their OWNER and ADMIN may create and rotate.
    for role in [Role::Admin, Role::Owner] {
        let (status, _) = call(&app, "POST", HOOKS, Some(a.token(role)), Some(new_hook())).await;
        assert_eq!(status, StatusCode::CREATED);
        let uri = format!("{hook}/rotate-secret");
        let (status, _) = call(&app, "POST", &uri, Some(a.token(role)), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}
