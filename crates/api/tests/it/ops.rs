use actix_web::http::StatusCode;
use switchboard_domain::Role;
use switchboard_store::testing::TestDb;

use crate::world::{app, assert_error, call, tenant};

#[actix_web::test]
async fn jobs_are_listed_by_status_and_dead_ones_retried() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let (status, dead) = call(
            &app,
            "GET",
            "/api/integrations/jobs?status=dead",
            Some(a.token(Role::Admin)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{dead}");
        assert_eq!(dead["total"], 1);
        assert_eq!(dead["data"][0]["id"], a.dead_job_id);
        assert_eq!(dead["data"][0]["lastError"], "gave up");
        let (_, by_kind) = call(
            &app,
            "GET",
            "/api/integrations/jobs?kind=SEND_MESSAGE",
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(by_kind["total"], 0);
        let uri = format!("/api/integrations/jobs/{}/retry", a.dead_job_id);
        let (status, retried) = call(&app, "POST", &uri, Some(a.owner()), None).await;
        assert_eq!(status, StatusCode::OK, "{retried}");
        assert_eq!(retried["status"], "PENDING");
        assert_eq!(retried["attempts"], 0);
        let again = call(&app, "POST", &uri, Some(a.owner()), None).await;
        assert_error(&again, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(again.1["message"].as_str().unwrap().contains("only DEAD"));
    }
}

#[actix_web::test]
async fn health_and_readiness_need_no_token() {
    let t = TestDb::sqlite();
    let app = app(&t).await;
    let (status, health) = call(&app, "GET", "/healthz", None, None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, ready) = call(&app, "GET", "/readyz", None, None).await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
}

/// The contract, checked in: a change to the API shows up as a change to this file, on
/// purpose. Regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p switchboard-api openapi`.
#[actix_web::test]
async fn the_openapi_document_matches_its_snapshot() {
    let t = TestDb::sqlite();
    let app = app(&t).await;
    let (status, served) = call(&app, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi.snapshot.json");
    let pretty = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        snapshot == pretty,
        "openapi.json changed: review the change, then run UPDATE_SNAPSHOTS=1 cargo test -p switchboard-api openapi"
    );
    // Every route the API mounts is in the contract, with its auth.
    let paths = served["paths"].as_object().unwrap();
    for path in [
        "/api/integrations/conversations",
        "/api/integrations/conversations/{id}/mark-read",
        "/api/integrations/whatsapp/templates/send",
        "/api/leads/{id}/notes",
        "/api/tokens/{id}",
        "/api/integrations/jobs/{id}/retry",
        "/api/integrations/whatsapp/send",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the document");
    }
    let secured = &served["paths"]["/api/leads"]["get"]["security"];
    assert_eq!(secured, &serde_json::json!([{"bearer": []}]));
    assert_eq!(
        served["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[actix_web::test]
async fn the_docs_page_is_served_from_the_binary() {
    let t = TestDb::sqlite();
    let app = app(&t).await;
    let req = actix_web::test::TestRequest::get()
        .uri("/docs")
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = String::from_utf8(actix_web::test::read_body(resp).await.to_vec()).unwrap();
    assert!(
        body.contains("/api/openapi.json"),
        "the page reads the document"
    );
    assert!(
        !body.contains("https://cdn") && !body.contains("unpkg.com"),
        "no CDN"
    );
}
