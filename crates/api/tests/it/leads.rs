use actix_web::http::StatusCode;
use serde_json::json;
use switchboard_domain::Role;
use switchboard_store::testing::TestDb;

use crate::world::{app, assert_error, call, tenant};

#[actix_web::test]
async fn leads_are_listed_searched_and_changed() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let seller = a.token(Role::Seller);
        let (status, list) = call(&app, "GET", "/api/leads", Some(seller), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["total"], 1);
        let lead = &list["data"][0];
        assert_eq!(lead["name"], "Ana of Acme");
        assert_eq!(lead["status"], "ACTIVE");
        assert_eq!(lead["source"], "whatsapp");
        let (_, pipelines) = call(&app, "GET", "/api/pipelines", Some(seller), None).await;
        assert_eq!(pipelines["total"], 1);
        let pipeline = &pipelines["data"][0];
        assert_eq!(pipeline["isDefault"], true);
        let stages: Vec<&str> = pipeline["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(stages, ["New", "Contacted", "Qualified", "Won", "Lost"]);
        assert_eq!(
            lead["stageId"], pipeline["stages"][0]["id"],
            "new leads enter at the first stage"
        );
        let qualified = pipeline["stages"][2]["id"].as_str().unwrap();
        let (status, changed) = call(
            &app,
            "PATCH",
            &format!("/api/leads/{}", a.lead_id),
            Some(seller),
            Some(json!({"name": "Ana Souza", "stageId": qualified, "status": "won", "assignedToId": a.user(Role::Seller)})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["name"], "Ana Souza");
        assert_eq!(changed["stageId"], qualified);
        assert_eq!(changed["pipelineId"], pipeline["id"]);
        assert_eq!(changed["status"], "WON");
        assert_eq!(changed["assignedToId"], a.user(Role::Seller));
        // Only the assignee cleared; the rest stays.
        let (_, cleared) = call(
            &app,
            "PATCH",
            &format!("/api/leads/{}", a.lead_id),
            Some(seller),
            Some(json!({"assignedToId": null})),
        )
        .await;
        assert_eq!(cleared["assignedToId"], json!(null));
        assert_eq!(cleared["name"], "Ana Souza");
        let count = |uri: String| {
            let app = &app;
            async move { call(app, "GET", &uri, Some(seller), None).await.1["total"].clone() }
        };
        assert_eq!(count("/api/leads?search=souza".into()).await, 1);
        assert_eq!(count("/api/leads?search=9999".into()).await, 1);
        assert_eq!(count("/api/leads?search=zed".into()).await, 0);
        assert_eq!(count(format!("/api/leads?stageId={qualified}")).await, 1);
        assert_eq!(
            count(format!(
                "/api/leads?stageId={}",
                pipeline["stages"][0]["id"].as_str().unwrap()
            ))
            .await,
            0
        );
        let (_, one) = call(
            &app,
            "GET",
            &format!("/api/leads/{}", a.lead_id),
            Some(seller),
            None,
        )
        .await;
        assert_eq!(one["name"], "Ana Souza");
    }
}

#[actix_web::test]
async fn bad_lead_changes_are_refused_and_change_nothing() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let uri = format!("/api/leads/{}", a.lead_id);
    for (body, expected) in [
        (json!({}), "nothing to change"),
        (json!({"name": "  "}), "name must be"),
        (json!({"status": "HOT"}), "ACTIVE, WON, LOST, ARCHIVED"),
        (json!({"stage": "x"}), "unknown field"),
        (json!({"name": 7}), "invalid type"),
    ] {
        let got = call(&app, "PATCH", &uri, Some(a.owner()), Some(body)).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(
            got.1["message"].as_str().unwrap().contains(expected),
            "{}",
            got.1
        );
    }
    for body in [
        json!({"stageId": "nope"}),
        json!({"assignedToId": "nobody"}),
    ] {
        let got = call(&app, "PATCH", &uri, Some(a.owner()), Some(body)).await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let (_, lead) = call(&app, "GET", &uri, Some(a.owner()), None).await;
    assert_eq!(lead["name"], "Ana of Acme");
    assert_eq!(lead["status"], "ACTIVE");
}

#[actix_web::test]
async fn notes_are_written_by_the_caller_and_listed_newest_first() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let uri = format!("/api/leads/{}/notes", a.lead_id);
        let (status, note) = call(
            &app,
            "POST",
            &uri,
            Some(a.token(Role::Seller)),
            Some(json!({"content": " wants a demo ", "isPrivate": true})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{note}");
        assert_eq!(note["content"], "wants a demo");
        assert_eq!(note["isPrivate"], true);
        assert_eq!(note["source"], "api");
        assert_eq!(note["authorUserId"], a.user(Role::Seller));
        let (_, list) = call(&app, "GET", &uri, Some(a.owner()), None).await;
        assert_eq!(list["total"], 2);
        assert_eq!(list["data"][0]["id"], note["id"], "newest first");
        assert_eq!(list["data"][1]["id"], a.note_id);
        for bad in [
            json!({"content": ""}),
            json!({"content": "x".repeat(10_001)}),
            json!({"text": "x"}),
            json!({"content": "x", "isPrivate": "yes"}),
        ] {
            let got = call(&app, "POST", &uri, Some(a.owner()), Some(bad)).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        let (_, after) = call(&app, "GET", &uri, Some(a.owner()), None).await;
        assert_eq!(after["total"], 2, "refused notes are not stored");
        let unknown = call(
            &app,
            "POST",
            "/api/leads/nope/notes",
            Some(a.owner()),
            Some(json!({"content": "x"})),
        )
        .await;
        assert_error(&unknown, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}
