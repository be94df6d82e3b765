//! Marketing opt-outs: the consent routes, and marketing templates refused with 422 OPTED_OUT
//! before anything is queued.

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_store::repo::templates::{self, NewTemplate};
use switchboard_store::repo::{jobs, messages};
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, Tenant, app, assert_error, call, tenant};

const TEMPLATES: &str = "/api/integrations/whatsapp/templates";

fn opt_outs_uri(phone: &str) -> String {
    format!("/api/contacts/{phone}/opt-outs")
}

fn opt_out_uri(phone: &str) -> String {
    format!("/api/contacts/{phone}/opt-out")
}

/// An APPROVED MARKETING template of the tenant; returns its id.
fn marketing_template(t: &TestDb, tenant: &Tenant) -> String {
    let mut conn = t.db.conn().unwrap();
    let template = templates::insert_template(
        &mut conn,
        &NewTemplate {
            organization_id: &tenant.org.id,
            channel_id: None,
            name: "weekly_promo",
            language: "en_US",
            category: "MARKETING",
            parameter_format: "POSITIONAL",
            components: r#"[{"type":"BODY","text":"This week: {{1}} off everything"}]"#,
        },
    )
    .unwrap();
    templates::record_submission(&mut conn, &tenant.org.id, &template.id, "5678", "APPROVED")
        .unwrap();
    template.id
}

/// Messages and jobs of the organization: what a refused send must leave unchanged.
fn stored(t: &TestDb, tenant: &Tenant) -> (usize, usize) {
    let mut conn = t.db.conn().unwrap();
    let messages = messages::list_messages(&mut conn, &tenant.org.id)
        .unwrap()
        .len();
    let jobs = jobs::list_jobs(
        &mut conn,
        &jobs::JobFilter {
            organization_id: Some(tenant.org.id.clone()),
            ..Default::default()
        },
    )
    .unwrap()
    .len();
    (messages, jobs)
}

#[actix_web::test]
async fn a_marketing_template_to_an_opted_out_contact_is_refused_before_anything_is_queued() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let promo = marketing_template(&t, &a);
        let app = app(&t).await;
        let set = call(
            &app,
            "PUT",
            &opt_out_uri(CUSTOMER),
            Some(a.token(Role::Manager)),
            Some(json!({"optedOut": true, "detail": "asked by phone"})),
        )
        .await;
        assert_eq!(set.0, StatusCode::OK, "{}", set.1);
        assert_eq!(set.1["optedOut"], true);
        assert_eq!(set.1["source"], "API");

        let before = stored(&t, &a);
        let promo_send = json!({"toPhone": CUSTOMER, "templateId": promo, "variables": ["20%"]});
        let refused = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/send"),
            Some(a.token(Role::Seller)),
            Some(promo_send.clone()),
        )
        .await;
        assert_error(&refused, StatusCode::UNPROCESSABLE_ENTITY, "OPTED_OUT");
        let why = refused.1["message"].as_str().unwrap();
        assert!(
            why.contains("opted out of marketing messages on")
                && why.contains("recorded through the API")
                && why.contains("START"),
            "{why}"
        );
        assert_eq!(stored(&t, &a), before, "nothing queued ({})", t.backend);
        // The same template named in Meta's shape through /send is refused too.
        let by_name = call(
            &app,
            "POST",
            "/api/integrations/whatsapp/send",
            Some(a.owner()),
            Some(json!({"toPhone": CUSTOMER, "type": "template",
                "template": {"name": "weekly_promo", "language": "en_US", "variables": ["20%"]}})),
        )
        .await;
        assert_error(&by_name, StatusCode::UNPROCESSABLE_ENTITY, "OPTED_OUT");
        assert_eq!(stored(&t, &a), before);

        // Utility templates and free text inside the window still go.
        let utility = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/send"),
            Some(a.owner()),
            Some(json!({"toPhone": CUSTOMER, "templateId": a.template_id, "variables": ["Ana", "#1"]})),
        )
        .await;
        assert_eq!(utility.0, StatusCode::ACCEPTED, "{}", utility.1);
        let text = call(
            &app,
            "POST",
            "/api/integrations/whatsapp/send",
            Some(a.owner()),
            Some(json!({"toPhone": CUSTOMER, "text": "Your order shipped"})),
        )
        .await;
        assert_eq!(text.0, StatusCode::ACCEPTED, "{}", text.1);

        // Opted back in: marketing goes again.
        let back = call(
            &app,
            "PUT",
            &opt_out_uri(CUSTOMER),
            Some(a.owner()),
            Some(json!({"optedOut": false})),
        )
        .await;
        assert_eq!(back.1["optedOut"], false);
        assert_eq!(back.1["history"].as_array().unwrap().len(), 2);
        let sent = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/send"),
            Some(a.owner()),
            Some(promo_send),
        )
        .await;
        assert_eq!(sent.0, StatusCode::ACCEPTED, "{}", sent.1);
    }
}

#[actix_web::test]
async fn opt_out_routes_show_the_state_and_its_history() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let never = call(
            &app,
            "GET",
            &opt_outs_uri(CUSTOMER),
            Some(a.token(Role::Seller)),
            None,
        )
        .await;
        assert_eq!(never.0, StatusCode::OK, "{}", never.1);
        assert_eq!(
            never.1,
            json!({"phone": CUSTOMER, "optedOut": false, "since": null, "source": null, "history": []})
        );
        // Any way of writing the number is the same contact.
        let set = call(
            &app,
            "PUT",
            &opt_out_uri("%2B55%2011%2099999-0000"),
            Some(a.owner()),
            Some(json!({"optedOut": true, "detail": "  called us  "})),
        )
        .await;
        assert_eq!(set.0, StatusCode::OK, "{}", set.1);
        assert_eq!(set.1["phone"], CUSTOMER);
        let got = call(
            &app,
            "GET",
            &opt_outs_uri(CUSTOMER),
            Some(a.token(Role::Seller)),
            None,
        )
        .await;
        assert_eq!(got.1["optedOut"], true);
        assert!(got.1["since"].is_string());
        let change = &got.1["history"][0];
        assert_eq!(change["source"], "API");
        assert!(
            change["detail"]
                .as_str()
                .unwrap()
                .starts_with("called us (by user "),
            "{change}"
        );
        assert!(change["occurredAt"].is_string() && change["recordedAt"].is_string());
    }
}

#[actix_web::test]
async fn opt_out_changes_are_validated_and_change_nothing_when_refused() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let bad_bodies = [
            json!({}),
            json!({"optedOut": "yes"}),
            json!({"optedOut": true, "reason": "x"}),
            json!({"optedOut": true, "detail": "x".repeat(501)}),
            json!([true]),
        ];
        for body in bad_bodies {
            let got = call(
                &app,
                "PUT",
                &opt_out_uri(CUSTOMER),
                Some(a.owner()),
                Some(body.clone()),
            )
            .await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        for phone in ["abc", "123", "12%2B34", "1234567890123456789"] {
            let got = call(&app, "GET", &opt_outs_uri(phone), Some(a.owner()), None).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_PHONE");
            let got = call(
                &app,
                "PUT",
                &opt_out_uri(phone),
                Some(a.owner()),
                Some(json!({"optedOut": true})),
            )
            .await;
            assert_error(&got, StatusCode::BAD_REQUEST, "INVALID_PHONE");
        }
        for role in [Role::Seller] {
            let got = call(
                &app,
                "PUT",
                &opt_out_uri(CUSTOMER),
                Some(a.token(role)),
                Some(json!({"optedOut": true})),
            )
            .await;
            assert_error(&got, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        }
        let none = call(&app, "GET", &opt_outs_uri(CUSTOMER), None, None).await;
        assert_error(&none, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let got = call(&app, "GET", &opt_outs_uri(CUSTOMER), Some(a.owner()), None).await;
        assert_eq!(got.1["history"], json!([]), "nothing was recorded");
    }
}

#[actix_web::test]
async fn another_organizations_same_phone_is_independent() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let b_promo = marketing_template(&t, &b);
        let app = app(&t).await;
        let set = call(
            &app,
            "PUT",
            &opt_out_uri(CUSTOMER),
            Some(a.owner()),
            Some(json!({"optedOut": true})),
        )
        .await;
        assert_eq!(set.0, StatusCode::OK);
        let seen_by_b = call(&app, "GET", &opt_outs_uri(CUSTOMER), Some(b.owner()), None).await;
        assert_eq!(seen_by_b.1["optedOut"], false, "{}", t.backend);
        assert_eq!(seen_by_b.1["history"], json!([]));
        let sent = call(
            &app,
            "POST",
            &format!("{TEMPLATES}/send"),
            Some(b.owner()),
            Some(json!({"toPhone": CUSTOMER, "templateId": b_promo, "variables": ["10%"]})),
        )
        .await;
        assert_eq!(sent.0, StatusCode::ACCEPTED, "{}", sent.1);
    }
}

#[actix_web::test]
async fn settings_show_and_change_the_opt_out_keywords() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let got = call(
        &app,
        "GET",
        "/api/settings",
        Some(a.token(Role::Seller)),
        None,
    )
    .await;
    assert_eq!(got.0, StatusCode::OK);
    assert_eq!(got.1["optOut"]["stopKeywords"], Value::Null);
    let stop = got.1["optOutInForce"]["stopKeywords"].as_array().unwrap();
    for keyword in ["stop", "baja", "sair", "parar"] {
        assert!(stop.contains(&json!(keyword)), "{keyword}");
    }
    assert!(got.1["optOutInForce"]["texts"]["optedOut"].is_string());
    let changed = call(
        &app,
        "PATCH",
        "/api/settings",
        Some(a.owner()),
        Some(
            json!({"optOut": {"stopKeywords": ["Basta YA"], "texts": {"optedIn": "Welcome back"}}}),
        ),
    )
    .await;
    assert_eq!(changed.0, StatusCode::OK, "{}", changed.1);
    assert_eq!(
        changed.1["optOutInForce"]["stopKeywords"],
        json!(["basta ya"])
    );
    assert_eq!(
        changed.1["optOutInForce"]["texts"]["optedIn"],
        "Welcome back"
    );
    let refused = call(
        &app,
        "PATCH",
        "/api/settings",
        Some(a.owner()),
        Some(json!({"optOut": {"startKeywords": ["basta ya"]}})),
    )
    .await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let kept = call(&app, "GET", "/api/settings", Some(a.owner()), None).await;
    assert_eq!(kept.1["optOut"]["startKeywords"], Value::Null);
}
