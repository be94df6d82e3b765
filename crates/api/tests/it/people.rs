use actix_web::http::StatusCode;
use serde_json::json;
use switchboard_domain::Role;
use switchboard_store::testing::TestDb;

use crate::world::{app, assert_error, call, tenant};

#[actix_web::test]
async fn a_token_is_shown_once_works_and_is_listed_without_its_secret() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let (status, created) = call(
            &app,
            "POST",
            "/api/tokens",
            Some(a.token(Role::Admin)),
            Some(json!({"name": "CRM sync", "userId": a.user(Role::Manager)})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let secret = created["token"].as_str().unwrap().to_string();
        assert_eq!(created["role"], "MANAGER");
        assert_eq!(created["name"], "CRM sync");
        assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
        let (status, _) = call(&app, "GET", "/api/leads", Some(&secret), None).await;
        assert_eq!(status, StatusCode::OK, "the new token works");
        let (_, list) = call(&app, "GET", "/api/tokens", Some(a.owner()), None).await;
        assert_eq!(list["total"], 6);
        assert!(
            !list.to_string().contains(&secret),
            "the secret is never listed"
        );
        assert!(!list.to_string().contains("tokenHash"));
        // Without userId the token acts as the caller.
        let (_, own) = call(
            &app,
            "POST",
            "/api/tokens",
            Some(a.owner()),
            Some(json!({"name": "mine"})),
        )
        .await;
        assert_eq!(own["userId"], a.user(Role::Owner));
        let (_, revoked) = call(
            &app,
            "DELETE",
            &format!("/api/tokens/{}", created["id"].as_str().unwrap()),
            Some(a.owner()),
            None,
        )
        .await;
        assert!(revoked["revokedAt"].is_string());
        let after = call(&app, "GET", "/api/leads", Some(&secret), None).await;
        assert_error(&after, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

#[actix_web::test]
async fn nobody_hands_out_more_power_than_they_hold() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let admin = a.token(Role::Admin);
    let owner_token = call(
        &app,
        "POST",
        "/api/tokens",
        Some(admin),
        Some(json!({"name": "x", "userId": a.user(Role::Owner)})),
    )
    .await;
    assert_error(&owner_token, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
    let owner_user = call(
        &app,
        "POST",
        "/api/users",
        Some(admin),
        Some(json!({"name": "Boss", "role": "OWNER"})),
    )
    .await;
    assert_error(&owner_user, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
    let (status, _) = call(
        &app,
        "POST",
        "/api/users",
        Some(a.owner()),
        Some(json!({"name": "Boss 2", "role": "OWNER"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "an owner may add an owner");
}

#[actix_web::test]
async fn users_are_created_and_listed() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let (status, user) = call(
            &app,
            "POST",
            "/api/users",
            Some(a.token(Role::Admin)),
            Some(json!({"name": " Zoe ", "email": "Zoe@Acme.test", "role": "seller"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        assert_eq!(user["name"], "Zoe");
        assert_eq!(user["email"], "zoe@acme.test");
        assert_eq!(user["role"], "SELLER");
        let twice = call(
            &app,
            "POST",
            "/api/users",
            Some(a.owner()),
            Some(json!({"name": "Zoe", "email": "zoe@acme.test", "role": "SELLER"})),
        )
        .await;
        assert_error(&twice, StatusCode::CONFLICT, "CONFLICT");
        for (bad, expected) in [
            (json!({"name": "X", "role": "BOSS"}), "unknown role"),
            (json!({"name": "", "role": "SELLER"}), "name must be"),
            (
                json!({"name": "X", "role": "SELLER", "email": "nope"}),
                "not an email",
            ),
            (json!({"role": "SELLER"}), "missing field"),
        ] {
            let got = call(&app, "POST", "/api/users", Some(a.owner()), Some(bad)).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
            assert!(
                got.1["message"].as_str().unwrap().contains(expected),
                "{}",
                got.1
            );
        }
        let (_, list) = call(&app, "GET", "/api/users", Some(a.token(Role::Seller)), None).await;
        assert_eq!(list["total"], 6, "four roles, the spare token's user, Zoe");
        assert!(
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["id"] == user["id"])
        );
    }
}
