//! Tenancy and roles, route by route: organization B never reaches A's rows (404, exactly as
//! an id that does not exist), and every restricted route refuses the roles it should.

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, Tenant, app, assert_error, call, tenant};

/// Every route that takes an id of A's, with a body that would be valid.
fn routes_with_ids(a: &Tenant) -> Vec<(&'static str, String, Option<Value>)> {
    let conv = format!("/api/integrations/conversations/{}", a.conversation_id);
    let tpl = format!("/api/integrations/whatsapp/templates/{}", a.template_id);
    let lead = format!("/api/leads/{}", a.lead_id);
    let hook = format!("/api/webhook-subscriptions/{}", a.webhook_subscription_id);
    vec![
        ("GET", conv.clone(), None),
        (
            "GET",
            format!(
                "/api/integrations/whatsapp/channels/{}/webhook-setup",
                a.channel.id
            ),
            None,
        ),
        ("GET", format!("{conv}/messages"), None),
        (
            "PATCH",
            format!("{conv}/assign"),
            Some(json!({"assignedToId": null})),
        ),
        ("PATCH", format!("{conv}/mark-read"), None),
        ("GET", tpl.clone(), None),
        ("PATCH", tpl.clone(), Some(json!({"category": "MARKETING"}))),
        ("DELETE", tpl.clone(), None),
        ("POST", format!("{tpl}/submit"), None),
        (
            "POST",
            "/api/integrations/whatsapp/templates/send".into(),
            Some(
                json!({"toPhone": CUSTOMER, "templateId": a.template_id, "variables": ["Ana", "#1"]}),
            ),
        ),
        ("GET", lead.clone(), None),
        ("PATCH", lead.clone(), Some(json!({"name": "Mallory"}))),
        ("GET", format!("{lead}/notes"), None),
        (
            "POST",
            format!("{lead}/notes"),
            Some(json!({"content": "hi"})),
        ),
        ("DELETE", format!("/api/tokens/{}", a.token_id), None),
        ("DELETE", format!("/api/api-keys/{}", a.api_key_id), None),
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
        (
            "POST",
            format!("/api/integrations/jobs/{}/retry", a.dead_job_id),
            None,
        ),
    ]
}

#[actix_web::test]
async fn organization_b_gets_404_on_every_id_of_organization_a() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        for (method, uri, body) in routes_with_ids(&a) {
            let got = call(&app, method, &uri, Some(b.owner()), body).await;
            assert_eq!(
                got.0,
                StatusCode::NOT_FOUND,
                "{} {method} {uri}: {}",
                t.backend,
                got.1
            );
            assert_eq!(got.1["errorCode"], "NOT_FOUND", "{method} {uri}");
            // The same answer as for an id that exists nowhere.
            let nowhere = uri
                .replace(&a.conversation_id, "00000000-0000-0000-0000-000000000000")
                .replace(&a.template_id, "00000000-0000-0000-0000-000000000000")
                .replace(&a.lead_id, "00000000-0000-0000-0000-000000000000")
                .replace(&a.token_id, "00000000-0000-0000-0000-000000000000")
                .replace(&a.api_key_id, "00000000-0000-0000-0000-000000000000")
                .replace(
                    &a.webhook_subscription_id,
                    "00000000-0000-0000-0000-000000000000",
                )
                .replace(&a.channel.id, "00000000-0000-0000-0000-000000000000")
                .replace(&a.dead_job_id, "00000000-0000-0000-0000-000000000000");
            let body = routes_with_ids(&a)
                .into_iter()
                .find(|(m, u, _)| *m == method && *u == uri)
                .and_then(|(_, _, b)| b)
                .map(|b| {
                    let text = b
                        .to_string()
                        .replace(&a.template_id, "00000000-0000-0000-0000-000000000000");
                    serde_json::from_str(&text).unwrap()
                });
            let missing = call(&app, method, &nowhere, Some(b.owner()), body).await;
            assert_eq!(missing.0, StatusCode::NOT_FOUND, "{method} {nowhere}");
            assert_eq!(missing.1["message"], got.1["message"], "{method} {uri}");
        }
        // Nothing of A's changed: its conversation is still unread, its lead keeps its name,
        // its template is still approved, its token still works.
        let conversation = call(
            &app,
            "GET",
            &format!("/api/integrations/conversations/{}", a.conversation_id),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(conversation.1["unreadCount"], 1);
        let lead = call(
            &app,
            "GET",
            &format!("/api/leads/{}", a.lead_id),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(lead.1["name"], "Ana of Acme");
        let template = call(
            &app,
            "GET",
            &format!("/api/integrations/whatsapp/templates/{}", a.template_id),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(template.1["status"], "APPROVED");
    }
}

#[actix_web::test]
async fn ids_named_in_bodies_are_scoped_too() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        // Assigning B's conversation to A's user.
        let got = call(
            &app,
            "PATCH",
            &format!(
                "/api/integrations/conversations/{}/assign",
                b.conversation_id
            ),
            Some(b.owner()),
            Some(json!({"assignedToId": a.user(Role::Seller)})),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
        // Moving B's lead to a stage of A's pipeline.
        let pipelines = call(&app, "GET", "/api/pipelines", Some(a.owner()), None).await;
        let a_stage = pipelines.1["data"][0]["stages"][1]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let got = call(
            &app,
            "PATCH",
            &format!("/api/leads/{}", b.lead_id),
            Some(b.owner()),
            Some(json!({"stageId": a_stage})),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
        // A token for A's user.
        let got = call(
            &app,
            "POST",
            "/api/tokens",
            Some(b.owner()),
            Some(json!({"name": "x", "userId": a.user(Role::Owner)})),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
        // Sending with A's lead.
        let got = call(
            &app,
            "POST",
            "/api/integrations/whatsapp/templates/send",
            Some(b.owner()),
            Some(json!({"toPhone": CUSTOMER, "templateId": b.template_id, "variables": ["A", "B"], "leadId": a.lead_id})),
        )
        .await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn organization_b_lists_none_of_organization_a() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        let lists = [
            "/api/integrations/conversations",
            &format!("/api/integrations/messages?leadId={}", a.lead_id),
            &format!(
                "/api/integrations/messages?conversationId={}",
                a.conversation_id
            ),
            "/api/integrations/messages",
            "/api/integrations/whatsapp/templates",
            "/api/integrations/whatsapp/channels",
            "/api/leads",
            "/api/pipelines",
            "/api/users",
            "/api/tokens",
            "/api/api-keys",
            "/api/integrations/jobs",
            "/api/whatsapp/status",
            "/api/webhook-subscriptions",
        ];
        let a_ids = [
            &a.org.id,
            &a.channel.id,
            &a.conversation_id,
            &a.lead_id,
            &a.note_id,
            &a.template_id,
            &a.dead_job_id,
            &a.token_id,
            &a.api_key_id,
            &a.inbound_wamid,
            &a.webhook_subscription_id,
            &a.webhook_delivery_id,
        ];
        for uri in lists {
            let got = call(&app, "GET", uri, Some(b.owner()), None).await;
            assert_eq!(got.0, StatusCode::OK, "{uri}: {}", got.1);
            let text = got.1.to_string();
            for id in a_ids {
                assert!(!text.contains(id.as_str()), "{uri} shows A's {id}: {text}");
            }
            for (_, _, user) in &a.users {
                assert!(!text.contains(user.as_str()), "{uri} shows A's user");
            }
        }
        // And B does see its own rows through the same lists.
        let mine = call(
            &app,
            "GET",
            "/api/integrations/conversations",
            Some(b.owner()),
            None,
        )
        .await;
        assert_eq!(mine.1["total"], 1);
        assert_eq!(mine.1["data"][0]["id"], b.conversation_id);
    }
}

/// Restricted routes and the roles they admit.
fn restricted(a: &Tenant) -> Vec<(&'static str, String, Option<Value>, &'static [Role])> {
    const ADMINS: &[Role] = &[Role::Owner, Role::Admin];
    const EDITORS: &[Role] = &[Role::Owner, Role::Admin, Role::Manager];
    let conv = format!("/api/integrations/conversations/{}", a.conversation_id);
    let tpl = format!("/api/integrations/whatsapp/templates/{}", a.template_id);
    let hook = format!("/api/webhook-subscriptions/{}", a.webhook_subscription_id);
    let hooks = "/api/webhook-subscriptions".to_string();
    vec![
        // Creating one and rotating its secret need the master key this app lacks: their
        // roles are checked in webhook_subscriptions.rs.
        ("GET", hooks, None, ADMINS),
        ("GET", hook.clone(), None, ADMINS),
        (
            "PATCH",
            hook.clone(),
            Some(json!({"description": "CRM"})),
            ADMINS,
        ),
        ("POST", format!("{hook}/test"), None, ADMINS),
        ("GET", format!("{hook}/deliveries"), None, ADMINS),
        (
            "POST",
            format!("{hook}/deliveries/{}/redeliver", a.webhook_delivery_id),
            None,
            ADMINS,
        ),
        ("DELETE", hook, None, ADMINS),
        ("GET", "/api/tokens".into(), None, ADMINS),
        (
            "POST",
            "/api/tokens".into(),
            Some(json!({"name": "ci"})),
            ADMINS,
        ),
        (
            "DELETE",
            format!("/api/tokens/{}", a.token_id),
            None,
            ADMINS,
        ),
        (
            "POST",
            "/api/users".into(),
            Some(json!({"name": "Zoe", "role": "SELLER"})),
            ADMINS,
        ),
        (
            "PATCH",
            "/api/settings".into(),
            Some(json!({"readReceipts": true})),
            ADMINS,
        ),
        ("GET", "/api/integrations/jobs".into(), None, ADMINS),
        (
            "POST",
            "/api/integrations/whatsapp/test".into(),
            Some(json!({})),
            ADMINS,
        ),
        ("GET", "/api/api-keys".into(), None, ADMINS),
        (
            "POST",
            "/api/api-keys".into(),
            Some(json!({"name": "billing"})),
            ADMINS,
        ),
        (
            "DELETE",
            format!("/api/api-keys/{}", a.api_key_id),
            None,
            ADMINS,
        ),
        (
            "POST",
            format!("/api/integrations/jobs/{}/retry", a.dead_job_id),
            None,
            ADMINS,
        ),
        (
            "PATCH",
            format!("{conv}/assign"),
            Some(json!({"assignedToId": null})),
            EDITORS,
        ),
        (
            "POST",
            "/api/integrations/whatsapp/templates".into(),
            Some(
                json!({"name": "promo", "language": "es", "category": "MARKETING",
                "components": [{"type": "BODY", "text": "Hola {{1}}"}]}),
            ),
            EDITORS,
        ),
        (
            "PATCH",
            tpl.clone(),
            Some(json!({"category": "UTILITY"})),
            EDITORS,
        ),
        ("DELETE", tpl.clone(), None, EDITORS),
        ("POST", format!("{tpl}/submit"), None, EDITORS),
        (
            "GET",
            format!(
                "/api/integrations/whatsapp/channels/{}/webhook-setup",
                a.channel.id
            ),
            None,
            ADMINS,
        ),
        (
            "POST",
            "/api/integrations/whatsapp/templates/sync".into(),
            None,
            EDITORS,
        ),
        (
            "PUT",
            format!("/api/contacts/{CUSTOMER}/opt-out"),
            Some(json!({"optedOut": true})),
            EDITORS,
        ),
    ]
}

#[actix_web::test]
async fn every_restricted_route_refuses_the_roles_it_should() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    for (method, uri, body, allowed) in restricted(&a) {
        // Least powerful first: refusals change nothing, so later calls see the same rows.
        for role in Role::ALL.into_iter().rev() {
            let got = call(&app, method, &uri, Some(a.token(role)), body.clone()).await;
            if allowed.contains(&role) {
                // A second allowed call may find the row changed by the first (a job already
                // retried): any answer but a refusal or a crash.
                assert!(
                    got.0 != StatusCode::FORBIDDEN
                        && got.0 != StatusCode::UNAUTHORIZED
                        && !got.0.is_server_error(),
                    "{role} should be allowed {method} {uri}: {} {}",
                    got.0,
                    got.1
                );
            } else {
                assert_error(&got, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
            }
        }
    }
}

#[actix_web::test]
async fn every_api_route_needs_a_live_token() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let mut routes: Vec<(&str, String, Option<Value>)> = routes_with_ids(&a);
    for list in [
        "/api/integrations/conversations",
        "/api/integrations/messages",
        "/api/integrations/whatsapp/templates",
        "/api/leads",
        "/api/pipelines",
        "/api/users",
        "/api/tokens",
        "/api/settings",
        "/api/me",
        "/api/integrations/jobs",
        "/api/api-keys",
        "/api/whatsapp/qr",
        "/api/integrations/whatsapp/stats",
        "/api/whatsapp/status",
        "/api/webhook-subscriptions",
    ] {
        routes.push(("GET", list.into(), None));
    }
    routes.push(("GET", format!("/api/contacts/{CUSTOMER}/opt-outs"), None));
    routes.push((
        "PUT",
        format!("/api/contacts/{CUSTOMER}/opt-out"),
        Some(json!({"optedOut": true})),
    ));
    routes.push((
        "POST",
        "/api/whatsapp/notify".into(),
        Some(json!({"to": CUSTOMER, "message": "hi"})),
    ));
    for (method, uri, body) in &routes {
        let none = call(&app, method, uri, None, body.clone()).await;
        assert_error(&none, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let unknown = call(&app, method, uri, Some("sb_nope"), body.clone()).await;
        assert_error(&unknown, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    // Revoked: the seller's token stops working at once.
    let seller_token_id = {
        let (_, list) = call(&app, "GET", "/api/tokens", Some(a.owner()), None).await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["role"] == "SELLER")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let revoked = call(
        &app,
        "DELETE",
        &format!("/api/tokens/{seller_token_id}"),
        Some(a.owner()),
        None,
    )
    .await;
    assert_eq!(revoked.0, StatusCode::OK, "{}", revoked.1);
    assert!(revoked.1["revokedAt"].is_string());
    let after = call(&app, "GET", "/api/leads", Some(a.token(Role::Seller)), None).await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

#[actix_web::test]
async fn x_organization_id_must_be_the_tokens() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let b = tenant(&t, "Bravo", "2002");
    let app = app(&t).await;
    let req = actix_web::test::TestRequest::get()
        .uri("/api/leads")
        .insert_header(("Authorization", format!("Bearer {}", a.owner())))
        .insert_header(("X-Organization-Id", b.org.id.as_str()))
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body: Value = actix_web::test::read_body_json(resp).await;
    assert_eq!(body["errorCode"], "FORBIDDEN_ORGANIZATION");
    let req = actix_web::test::TestRequest::get()
        .uri("/api/leads")
        .insert_header(("Authorization", format!("Bearer {}", a.owner())))
        .insert_header(("X-Organization-Id", a.org.id.as_str()))
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
}
