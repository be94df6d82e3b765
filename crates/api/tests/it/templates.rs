use actix_web::http::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_store::repo::{jobs, messages};
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, app, assert_error, call, tenant};

const TEMPLATES: &str = "/api/integrations/whatsapp/templates";

fn promo() -> Value {
    json!({"name": "spring_promo", "language": "es", "category": "marketing",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Oferta {{1}}"},
        {"type": "BODY", "text": "Hola {{1}}, tu código es {{2}}"},
        {"type": "FOOTER", "text": "Responde STOP para salir"}
    ]})
}

#[actix_web::test]
async fn a_template_is_created_pending_listed_changed_and_disabled() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let (status, created) = call(
            &app,
            "POST",
            TEMPLATES,
            Some(a.token(Role::Manager)),
            Some(promo()),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "PENDING");
        assert_eq!(created["category"], "MARKETING");
        assert_eq!(created["parameterFormat"], "POSITIONAL");
        assert_eq!(created["variables"], json!(["header.1", "1", "2"]));
        let id = created["id"].as_str().unwrap().to_string();
        // Unique per organization, name and language.
        let twice = call(&app, "POST", TEMPLATES, Some(a.owner()), Some(promo())).await;
        assert_error(&twice, StatusCode::CONFLICT, "CONFLICT");
        let mut english = promo();
        english["language"] = json!("en_US");
        let (status, _) = call(&app, "POST", TEMPLATES, Some(a.owner()), Some(english)).await;
        assert_eq!(status, StatusCode::CREATED, "same name, other language");
        // Filters.
        let total = |uri: String| {
            let app = &app;
            let token = a.owner().to_string();
            async move { call(app, "GET", &uri, Some(&token), None).await.1["total"].clone() }
        };
        assert_eq!(total(TEMPLATES.to_string()).await, 3);
        assert_eq!(total(format!("{TEMPLATES}?status=pending")).await, 2);
        assert_eq!(total(format!("{TEMPLATES}?status=APPROVED")).await, 1);
        assert_eq!(
            total(format!("{TEMPLATES}?category=MARKETING&language=es")).await,
            1
        );
        assert_eq!(total(format!("{TEMPLATES}?language=pt_BR")).await, 0);
        let (_, one) = call(
            &app,
            "GET",
            &format!("{TEMPLATES}/{id}"),
            Some(a.token(Role::Seller)),
            None,
        )
        .await;
        assert_eq!(one["name"], "spring_promo");
        assert_eq!(
            one["components"][1]["text"],
            "Hola {{1}}, tu código es {{2}}"
        );
        // Named placeholders: the format follows.
        let (status, changed) = call(
            &app,
            "PATCH",
            &format!("{TEMPLATES}/{id}"),
            Some(a.owner()),
            Some(json!({"components": [{"type": "BODY", "text": "Hola {{first_name}}"}]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["parameterFormat"], "NAMED");
        assert_eq!(changed["variables"], json!(["first_name"]));
        assert_eq!(changed["category"], "MARKETING", "unchanged fields stay");
        let (status, disabled) = call(
            &app,
            "DELETE",
            &format!("{TEMPLATES}/{id}"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(disabled["status"], "DISABLED");
        let (_, still) = call(
            &app,
            "GET",
            &format!("{TEMPLATES}/{id}"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(still["status"], "DISABLED", "soft delete: the row stays");
    }
}

#[actix_web::test]
async fn template_definitions_meta_would_reject_are_refused_with_the_reason() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let body = |patch: Value| {
        let mut b = promo();
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (body(json!({"name": "Spring Promo"})), "lowercase"),
        (body(json!({"name": ""})), "lowercase"),
        (body(json!({"language": "spanish"})), "language code"),
        (
            body(json!({"category": "PROMO"})),
            "MARKETING, UTILITY or AUTHENTICATION",
        ),
        (
            body(json!({"components": [{"type": "BODY", "text": "a {{1}} b {{3}}"}]})),
            "without gaps",
        ),
        (
            body(json!({"components": [{"type": "BODY", "text": "{{1}}{{2}}"}]})),
            "cannot touch",
        ),
        (
            body(json!({"components": [{"type": "FOOTER", "text": "x"}]})),
            "needs a BODY",
        ),
        (body(json!({"components": "BODY"})), "must be a list"),
        (
            json!({"name": "x", "language": "es", "category": "UTILITY"}),
            "components",
        ),
        (
            json!({"name": "x", "language": "es", "category": "UTILITY", "components": [], "extra": 1}),
            "extra",
        ),
    ];
    for (request, expected) in cases {
        let got = call(
            &app,
            "POST",
            TEMPLATES,
            Some(a.owner()),
            Some(request.clone()),
        )
        .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        let message = got.1["message"].as_str().unwrap();
        assert!(message.contains(expected), "{request}: {message}");
    }
    let (_, list) = call(&app, "GET", TEMPLATES, Some(a.owner()), None).await;
    assert_eq!(list["total"], 1, "nothing was stored");
    let empty_patch = call(
        &app,
        "PATCH",
        &format!("{TEMPLATES}/{}", a.template_id),
        Some(a.owner()),
        Some(json!({})),
    )
    .await;
    assert_error(&empty_patch, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let unknown_channel = call(
        &app,
        "POST",
        TEMPLATES,
        Some(a.owner()),
        Some(body(json!({"channelId": "nope"}))),
    )
    .await;
    assert_error(&unknown_channel, StatusCode::NOT_FOUND, "NOT_FOUND");
}

#[actix_web::test]
async fn an_approved_template_is_sent_with_its_variables_kept() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        // The customer never wrote in the last 24 hours? Templates go anyway.
        let (status, body) = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/send"),
            Some(a.token(Role::Seller)),
            Some(
                json!({"toPhone": "+55 11 98888-0000", "templateId": a.template_id,
                "variables": {"1": "John", "2": "#42"}, "leadId": a.lead_id}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["status"], "QUEUED");
        let mut conn = t.db.conn().unwrap();
        let job = jobs::find_job(&mut conn, body["jobId"].as_str().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(job.kind, "SEND_MESSAGE_TEMPLATE");
        let message = messages::list_messages(&mut conn, &a.org.id)
            .unwrap()
            .into_iter()
            .find(|m| m.id == body["messageLogId"])
            .unwrap();
        assert_eq!(message.to_phone.as_deref(), Some("5511988880000"));
        assert_eq!(message.template_name.as_deref(), Some("order_update"));
        assert_eq!(message.template_language.as_deref(), Some("en_US"));
        let variables: Value =
            serde_json::from_str(message.template_variables.as_deref().unwrap()).unwrap();
        assert_eq!(variables, json!(["John", "#42"]));
        assert_eq!(message.lead_id.as_deref(), Some(a.lead_id.as_str()));
    }
}

#[actix_web::test]
async fn template_sends_name_what_is_missing_or_wrong() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let send = |body: Value| {
        let app = &app;
        let token = a.owner().to_string();
        async move {
            call(
                app,
                "POST",
                &format!("{TEMPLATES}/send"),
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let missing =
        send(json!({"toPhone": CUSTOMER, "templateId": a.template_id, "variables": {"1": "John"}}))
            .await;
    assert_error(
        &missing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "TEMPLATE_VARIABLES_MISSING",
    );
    assert!(
        missing.1["message"].as_str().unwrap().contains(": 2"),
        "{}",
        missing.1
    );
    let blank =
        send(json!({"toPhone": CUSTOMER, "templateId": a.template_id, "variables": ["John", " "]}))
            .await;
    assert_error(
        &blank,
        StatusCode::UNPROCESSABLE_ENTITY,
        "TEMPLATE_VARIABLES_MISSING",
    );
    // A PENDING template cannot be sent.
    let (_, pending) = call(&app, "POST", TEMPLATES, Some(a.owner()), Some(promo())).await;
    let not_approved = send(json!({"toPhone": CUSTOMER, "templateId": pending["id"], "variables": {"1": "a", "2": "b", "header.1": "c"}})).await;
    assert_error(
        &not_approved,
        StatusCode::UNPROCESSABLE_ENTITY,
        "TEMPLATE_NOT_APPROVED",
    );
    let unknown = send(json!({"toPhone": CUSTOMER, "templateId": "nope"})).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "NOT_FOUND");
    let phone =
        send(json!({"toPhone": "12", "templateId": a.template_id, "variables": ["a", "b"]})).await;
    assert_error(&phone, StatusCode::BAD_REQUEST, "INVALID_PHONE");
    for bad in [
        json!({"templateId": a.template_id}),
        json!({"toPhone": CUSTOMER, "templateId": a.template_id, "variables": "John"}),
        json!({"toPhone": CUSTOMER, "templateId": a.template_id, "variables": {"1": ["x"]}}),
        json!({"toPhone": CUSTOMER, "templateId": a.template_id, "color": "red"}),
    ] {
        let got = send(bad.clone()).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    let stored = messages::list_messages(&mut t.db.conn().unwrap(), &a.org.id).unwrap();
    assert_eq!(
        stored.len(),
        1,
        "only the seeded inbound message: no refused send was stored"
    );
}

#[actix_web::test]
async fn sync_and_submit_queue_their_jobs() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let (status, sync) = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/sync"),
            Some(a.token(Role::Manager)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{sync}");
        let (status, submit) = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/{}/submit", a.template_id),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{submit}");
        let mut conn = t.db.conn().unwrap();
        let sync_job = jobs::find_job(&mut conn, sync["jobId"].as_str().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(sync_job.kind, "SYNC_TEMPLATES");
        assert_eq!(sync_job.organization_id.as_deref(), Some(a.org.id.as_str()));
        let submit_job = jobs::find_job(&mut conn, submit["jobId"].as_str().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(submit_job.kind, "SUBMIT_TEMPLATE");
        let payload: Value = serde_json::from_str(&submit_job.payload).unwrap();
        assert_eq!(payload, json!({"templateId": a.template_id}));
    }
}
