//! The Jira connection (roles, secrets never shown twice) and Jira's comment webhook.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use diesel::prelude::*;
use serde_json::{Value, json};
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_domain::job_kind::JIRA_ADD_COMMENT;
use switchboard_store::SecretBox;
use switchboard_store::models::{TicketComment, new_id, now};
use switchboard_store::repo::jira;
use switchboard_store::schema::{
    integration_jobs, message_logs, services, ticket_comments, tickets,
};
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, Tenant, assert_error, call, tenant};

const JIRA: &str = "/api/integrations/jira";
const WEBHOOK: &str = "/api/integrations/jira/webhook";
const API_TOKEN: &str = "ATATT-plaintext-jira-token";

async fn app(
    t: &TestDb,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let api = Api::start(t.db.clone(), ApiSettings::default(), None)
        .unwrap()
        .with_secrets(Arc::new(SecretBox::from_key(&[5; 32]).unwrap()));
    let api = web::Data::new(api);
    test::init_service(App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())))
        .await
}

fn connection_body() -> Value {
    json!({
        "baseUrl": "https://acme.atlassian.net/",
        "userEmail": "bot@acme.com",
        "apiToken": API_TOKEN,
    })
}

/// Posts a webhook body with the secret in the query (`Some`) or not at all, or in the header.
async fn deliver<S, B>(
    app: &S,
    query_secret: Option<&str>,
    header_secret: Option<&str>,
    body: &Value,
) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let uri = match query_secret {
        Some(secret) => format!("{WEBHOOK}?secret={secret}"),
        None => WEBHOOK.to_string(),
    };
    let mut req = test::TestRequest::post().uri(&uri).set_json(body);
    if let Some(secret) = header_secret {
        req = req.insert_header(("X-Switchboard-Jira-Secret", secret));
    }
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let bytes = test::read_body(resp).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn comment_created(key: &str, id: &str, body: &str) -> Value {
    json!({
        "timestamp": 1_763_800_000_000_i64,
        "webhookEvent": "comment_created",
        "comment": {
            "id": id,
            "body": body,
            "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Maria in Support"},
            "created": "2026-11-22T10:00:00.000+0000",
        },
        "issue": {"id": "10002", "key": key, "fields": {"summary": "Order arrived broken"}},
    })
}

/// A Jira-bound ticket of the tenant's customer whose issue is `key`.
fn jira_ticket(t: &TestDb, a: &Tenant, key: &str) -> String {
    let mut conn = t.db.conn().unwrap();
    let service = new_id();
    diesel::insert_into(services::table)
        .values((
            services::id.eq(&service),
            services::organization_id.eq(&a.org.id),
            services::name.eq("Returns"),
            services::position.eq(1),
            services::active.eq(true),
            services::destination.eq("jira"),
            services::jira_project_key.eq("SUP"),
            services::created_at.eq(now()),
            services::updated_at.eq(now()),
        ))
        .execute(&mut conn)
        .unwrap();
    let id = new_id();
    diesel::insert_into(tickets::table)
        .values((
            tickets::id.eq(&id),
            tickets::organization_id.eq(&a.org.id),
            tickets::number.eq(1001_i64),
            tickets::service_id.eq(&service),
            tickets::conversation_id.eq(&a.conversation_id),
            tickets::lead_id.eq(&a.lead_id),
            tickets::contact_phone.eq(CUSTOMER),
            tickets::subject.eq("Order arrived broken"),
            tickets::status.eq("in_progress"),
            tickets::last_activity_at.eq(now()),
            tickets::created_at.eq(now()),
            tickets::updated_at.eq(now()),
        ))
        .execute(&mut conn)
        .unwrap();
    assert!(jira::set_issue_key(&mut conn, &id, key).unwrap());
    id
}

fn comments(t: &TestDb, ticket_id: &str) -> Vec<TicketComment> {
    ticket_comments::table
        .filter(ticket_comments::ticket_id.eq(ticket_id))
        .order(ticket_comments::created_at.asc())
        .select(TicketComment::as_select())
        .load(&mut t.db.conn().unwrap())
        .unwrap()
}

/// (direction, to, text, status) of the organization's messages, oldest first.
fn messages(t: &TestDb, org: &str) -> Vec<(String, Option<String>, Option<String>, String)> {
    message_logs::table
        .filter(message_logs::organization_id.eq(org))
        .order(message_logs::created_at.asc())
        .select((
            message_logs::direction,
            message_logs::to_phone,
            message_logs::text,
            message_logs::status,
        ))
        .load(&mut t.db.conn().unwrap())
        .unwrap()
}

fn jobs_of_kind(t: &TestDb, org: &str, kind: &str) -> i64 {
    integration_jobs::table
        .filter(integration_jobs::organization_id.eq(org))
        .filter(integration_jobs::kind.eq(kind))
        .count()
        .get_result(&mut t.db.conn().unwrap())
        .unwrap()
}

#[actix_web::test]
async fn the_connection_is_for_admins_and_its_secrets_are_never_shown_again() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        let none = call(&app, "GET", JIRA, Some(a.owner()), None).await;
        assert_error(&none, StatusCode::NOT_FOUND, "NOT_FOUND");
        for role in [Role::Manager, Role::Seller] {
            let refused = call(
                &app,
                "PUT",
                JIRA,
                Some(a.token(role)),
                Some(connection_body()),
            )
            .await;
            assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
            let refused = call(&app, "GET", JIRA, Some(a.token(role)), None).await;
            assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        }
        let anonymous = call(&app, "PUT", JIRA, None, Some(connection_body())).await;
        assert_error(&anonymous, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

        let (status, saved) = call(
            &app,
            "PUT",
            JIRA,
            Some(a.token(Role::Admin)),
            Some(connection_body()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{}: {saved}", t.backend);
        assert_eq!(saved["baseUrl"], "https://acme.atlassian.net");
        assert_eq!(saved["userEmail"], "bot@acme.com");
        assert_eq!(saved["webhookUrl"], WEBHOOK);
        let secret = saved["webhookSecret"].as_str().unwrap().to_string();
        assert!(secret.len() > 30, "{secret}");
        assert!(
            !saved.to_string().contains(API_TOKEN),
            "the token is not echoed"
        );

        let (status, shown) = call(&app, "GET", JIRA, Some(a.owner()), None).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["id"], saved["id"]);
        assert_eq!(shown["webhookUrl"], WEBHOOK);
        let text = shown.to_string();
        assert!(
            !text.contains(&secret),
            "GET never shows the secret: {text}"
        );
        assert!(
            !text.contains(API_TOKEN),
            "GET never shows the token: {text}"
        );
        assert!(shown.get("webhookSecret").is_none() && shown.get("apiToken").is_none());

        // Bad input changes nothing.
        for bad in [
            json!({"baseUrl": "acme.atlassian.net", "userEmail": "bot@acme.com", "apiToken": "x"}),
            json!({"baseUrl": "https://acme.atlassian.net", "userEmail": "bot", "apiToken": "x"}),
            json!({"baseUrl": "https://acme.atlassian.net", "userEmail": "bot@acme.com", "apiToken": " "}),
            json!({"baseUrl": "https://acme.atlassian.net", "userEmail": "bot@acme.com"}),
            json!({"baseUrl": "https://x.net", "userEmail": "a@b.co", "apiToken": "x", "extra": 1}),
        ] {
            let refused = call(&app, "PUT", JIRA, Some(a.owner()), Some(bad.clone())).await;
            assert_error(&refused, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        let (_, unchanged) = call(&app, "GET", JIRA, Some(a.owner()), None).await;
        assert_eq!(unchanged["updatedAt"], shown["updatedAt"]);
        let webhook = deliver(&app, Some(&secret), None, &json!({"webhookEvent": "x"})).await;
        assert_eq!(
            webhook.0,
            StatusCode::OK,
            "the secret still works: {}",
            webhook.1
        );

        // Another organization sees no connection.
        let other = call(&app, "GET", JIRA, Some(b.owner()), None).await;
        assert_error(&other, StatusCode::NOT_FOUND, "NOT_FOUND");
        let other = call(&app, "DELETE", JIRA, Some(b.owner()), None).await;
        assert_error(&other, StatusCode::NOT_FOUND, "NOT_FOUND");

        let refused = call(&app, "DELETE", JIRA, Some(a.token(Role::Manager)), None).await;
        assert_error(&refused, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        let (status, _) = call(&app, "DELETE", JIRA, Some(a.owner()), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let gone = call(&app, "GET", JIRA, Some(a.owner()), None).await;
        assert_error(&gone, StatusCode::NOT_FOUND, "NOT_FOUND");
        let webhook = deliver(&app, Some(&secret), None, &json!({"webhookEvent": "x"})).await;
        assert_error(&webhook, StatusCode::UNAUTHORIZED, "JIRA_SECRET_INVALID");
    }
}

#[actix_web::test]
async fn saving_the_connection_again_replaces_the_webhook_secret() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let (_, first) = call(&app, "PUT", JIRA, Some(a.owner()), Some(connection_body())).await;
    let (_, second) = call(&app, "PUT", JIRA, Some(a.owner()), Some(connection_body())).await;
    assert_eq!(first["id"], second["id"]);
    assert_ne!(first["webhookSecret"], second["webhookSecret"]);
    let event = json!({"webhookEvent": "jira:issue_updated"});
    let old = deliver(&app, first["webhookSecret"].as_str(), None, &event).await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "JIRA_SECRET_INVALID");
    let new = deliver(&app, second["webhookSecret"].as_str(), None, &event).await;
    assert_eq!(new.0, StatusCode::OK);
}

#[actix_web::test]
async fn a_jira_comment_becomes_an_agent_reply_sent_to_the_customer_once() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        let (_, saved) = call(&app, "PUT", JIRA, Some(a.owner()), Some(connection_body())).await;
        let secret = saved["webhookSecret"].as_str().unwrap().to_string();
        let (_, saved_b) = call(&app, "PUT", JIRA, Some(b.owner()), Some(connection_body())).await;
        let secret_b = saved_b["webhookSecret"].as_str().unwrap().to_string();
        let ticket = jira_ticket(&t, &a, "SUP-7");
        let before = messages(&t, &a.org.id).len();
        let reply = comment_created("SUP-7", "10042", "We are sending you a new one today.");

        // A wrong or missing secret: 401, and nothing changes.
        for (query, header) in [
            (Some("sb_not-the-secret"), None),
            (None, None),
            (None, Some("nope")),
        ] {
            let refused = deliver(&app, query, header, &reply).await;
            assert_error(&refused, StatusCode::UNAUTHORIZED, "JIRA_SECRET_INVALID");
        }
        // Organization B's secret does not reach A's tickets.
        let (status, other) = deliver(&app, Some(&secret_b), None, &reply).await;
        assert_eq!(status, StatusCode::OK, "{other}");
        assert!(
            other["ignored"].as_str().unwrap().contains("SUP-7"),
            "{other}"
        );
        assert!(comments(&t, &ticket).is_empty(), "{}", t.backend);
        assert_eq!(messages(&t, &a.org.id).len(), before);

        // Other events and issues of no ticket are acknowledged and ignored.
        let updated = json!({"webhookEvent": "jira:issue_updated", "issue": {"key": "SUP-7"}});
        let (status, answer) = deliver(&app, Some(&secret), None, &updated).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            answer["ignored"]
                .as_str()
                .unwrap()
                .contains("jira:issue_updated"),
            "{answer}"
        );
        let (status, answer) = deliver(
            &app,
            Some(&secret),
            None,
            &comment_created("OPS-1", "1", "hi"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            answer["ignored"].as_str().unwrap().contains("OPS-1"),
            "{answer}"
        );
        let broken = deliver(
            &app,
            Some(&secret),
            None,
            &json!({"webhookEvent": "comment_created"}),
        )
        .await;
        assert_error(&broken, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(comments(&t, &ticket).is_empty());

        // The comment: an agent comment with Jira's id, and a message queued for the customer.
        let (status, created) = deliver(&app, Some(&secret), None, &reply).await;
        assert_eq!(status, StatusCode::OK, "{}: {created}", t.backend);
        let stored = comments(&t, &ticket);
        assert_eq!(stored.len(), 1);
        assert_eq!(created["commentId"], stored[0].id.as_str());
        assert_eq!(stored[0].author_type, "agent");
        assert_eq!(stored[0].external_id.as_deref(), Some("10042"));
        assert_eq!(stored[0].body, "We are sending you a new one today.");
        let sent = messages(&t, &a.org.id);
        assert_eq!(sent.len(), before + 1, "{sent:?}");
        let (direction, to, text, status) = sent.last().unwrap().clone();
        assert_eq!(direction, "OUTBOUND");
        assert_eq!(to.as_deref(), Some(CUSTOMER));
        assert!(
            text.unwrap_or_default()
                .contains("We are sending you a new one today."),
            "the customer gets the comment"
        );
        assert_eq!(status, "QUEUED");
        // It came from Jira: nothing goes back there.
        assert_eq!(jobs_of_kind(&t, &a.org.id, JIRA_ADD_COMMENT), 0);

        // Jira delivering it again adds nothing.
        let (status, again) = deliver(&app, Some(&secret), None, &reply).await;
        assert_eq!(status, StatusCode::OK);
        assert!(again["ignored"].as_str().is_some(), "{again}");
        assert_eq!(comments(&t, &ticket).len(), 1);
        assert_eq!(messages(&t, &a.org.id).len(), before + 1);

        // Comments Switchboard wrote come back as Jira's echo: skipped, by id or by their mark.
        let ours = &stored[0].id;
        let customer = new_id();
        diesel::insert_into(ticket_comments::table)
            .values((
                ticket_comments::id.eq(&customer),
                ticket_comments::organization_id.eq(&a.org.id),
                ticket_comments::ticket_id.eq(&ticket),
                ticket_comments::author_type.eq("customer"),
                ticket_comments::body.eq("is it shipped?"),
                ticket_comments::created_at.eq(now()),
            ))
            .execute(&mut t.db.conn().unwrap())
            .unwrap();
        jira::set_comment_external_id(&mut t.db.conn().unwrap(), &customer, "10050").unwrap();
        let echo = comment_created(
            "SUP-7",
            "10050",
            "Via Switchboard, customer +5511999990000 wrote:\n\nis it shipped?",
        );
        let (status, skipped) = deliver(&app, None, Some(&secret), &echo).await;
        assert_eq!(status, StatusCode::OK);
        assert!(skipped["ignored"].as_str().is_some(), "{skipped}");
        let early_echo = comment_created(
            "SUP-7",
            "10051",
            "Via Switchboard, agent Ana wrote:\n\nsent",
        );
        let (status, skipped) = deliver(&app, None, Some(&secret), &early_echo).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            skipped["ignored"]
                .as_str()
                .unwrap()
                .contains("Switchboard wrote"),
            "{skipped}"
        );
        assert_eq!(
            comments(&t, &ticket).len(),
            2,
            "only ours and the customer's"
        );
        assert_eq!(messages(&t, &a.org.id).len(), before + 1);
        assert!(comments(&t, &ticket).iter().any(|c| &c.id == ours));

        // The secret in the header works as well as in the query.
        let (status, by_header) = deliver(
            &app,
            None,
            Some(&secret),
            &comment_created("SUP-7", "10060", "It left the warehouse."),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{by_header}");
        assert!(by_header["commentId"].is_string());
        assert_eq!(messages(&t, &a.org.id).len(), before + 2);
    }
}
