use actix_web::http::StatusCode;
use serde_json::json;
use switchboard_domain::Role;
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::{jobs, organizations};
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, app, assert_error, call, inbound, tenant};

const LIST: &str = "/api/integrations/conversations";

#[actix_web::test]
async fn the_inbox_lists_conversations_newest_first_with_names_and_window() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        // A second customer who wrote later, and one who never wrote (only we did).
        let mut conn = t.db.conn().unwrap();
        let key = ConversationKey {
            organization_id: &a.org.id,
            channel_id: &a.channel.id,
            contact_phone: "5511888880000",
        };
        let later = conversations::upsert_conversation(&mut conn, &key, None, None).unwrap();
        inbound(
            &t,
            &a.org,
            &a.channel,
            &later.id,
            &a.lead_id,
            "wamid.later",
            "are you there?",
        );
        drop(conn);
        let app = app(&t).await;
        let (status, body) = call(&app, "GET", LIST, Some(a.token(Role::Seller)), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total"], 2);
        assert_eq!(body["page"], 1);
        assert_eq!(body["limit"], 20);
        let first = &body["data"][0];
        assert_eq!(first["id"], later.id, "newest message first");
        assert_eq!(first["lastMessageText"], "are you there?");
        assert_eq!(first["lastMessageDirection"], "INBOUND");
        assert_eq!(first["provider"], "WHATSAPP");
        assert_eq!(first["windowOpen"], true);
        let second = &body["data"][1];
        assert_eq!(second["phone"], CUSTOMER);
        assert_eq!(second["leadName"], "Ana of Acme");
        assert_eq!(second["unreadCount"], 1);
        // The window closes 24 hours after the last inbound message.
        let last = chrono::DateTime::parse_from_rfc3339(second["lastMessageAt"].as_str().unwrap())
            .unwrap();
        let until =
            chrono::DateTime::parse_from_rfc3339(second["windowOpenUntil"].as_str().unwrap())
                .unwrap();
        assert_eq!(until - last, chrono::TimeDelta::hours(24));
        // Paging.
        let (_, page2) = call(
            &app,
            "GET",
            &format!("{LIST}?page=2&limit=1"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(page2["data"].as_array().unwrap().len(), 1);
        assert_eq!(page2["data"][0]["phone"], CUSTOMER);
        assert_eq!(page2["total"], 2);
        let (_, far) = call(
            &app,
            "GET",
            &format!("{LIST}?page=9"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(far["data"], json!([]));
        assert_eq!(far["total"], 2);
    }
}

#[actix_web::test]
async fn inbox_filters_by_assignee_unread_search_and_provider() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let seller = a.user(Role::Seller).to_string();
        let assign = call(
            &app,
            "PATCH",
            &format!("{LIST}/{}/assign", a.conversation_id),
            Some(a.token(Role::Manager)),
            Some(json!({"assignedToId": seller})),
        )
        .await;
        assert_eq!(assign.0, StatusCode::OK, "{}", assign.1);
        assert_eq!(assign.1["assignedToId"], seller);
        assert_eq!(assign.1["assignedToName"], "seller token");
        let count = |uri: String, token: String| {
            let app = &app;
            async move {
                let (status, body) = call(app, "GET", &uri, Some(&token), None).await;
                assert_eq!(status, StatusCode::OK, "{uri}: {body}");
                body["total"].as_i64().unwrap()
            }
        };
        let seller_token = a.token(Role::Seller).to_string();
        let owner = a.owner().to_string();
        assert_eq!(
            count(format!("{LIST}?assignedTo={seller}"), owner.clone()).await,
            1
        );
        assert_eq!(
            count(format!("{LIST}?assignedTo=me"), seller_token.clone()).await,
            1
        );
        assert_eq!(
            count(format!("{LIST}?assignedTo=me"), owner.clone()).await,
            0
        );
        assert_eq!(
            count(format!("{LIST}?assignedTo=none"), owner.clone()).await,
            0
        );
        assert_eq!(count(format!("{LIST}?unread=true"), owner.clone()).await, 1);
        assert_eq!(
            count(format!("{LIST}?unread=false"), owner.clone()).await,
            0
        );
        assert_eq!(
            count(format!("{LIST}?search=ana%20OF"), owner.clone()).await,
            1,
            "lead name, any case"
        );
        assert_eq!(
            count(format!("{LIST}?search=99999"), owner.clone()).await,
            1,
            "phone digits"
        );
        assert_eq!(
            count(format!("{LIST}?search=%2B55%2011%209999"), owner.clone()).await,
            1,
            "typed phone"
        );
        assert_eq!(count(format!("{LIST}?search=bob"), owner.clone()).await, 0);
        assert_eq!(
            count(format!("{LIST}?search=%25"), owner.clone()).await,
            0,
            "% is literal"
        );
        assert_eq!(
            count(format!("{LIST}?provider=whatsapp"), owner.clone()).await,
            1
        );
        assert_eq!(
            count(format!("{LIST}?provider=SMS"), owner.clone()).await,
            0
        );
        // Unassign.
        let unassign = call(
            &app,
            "PATCH",
            &format!("{LIST}/{}/assign", a.conversation_id),
            Some(a.owner()),
            Some(json!({"assignedToId": null})),
        )
        .await;
        assert_eq!(unassign.1["assignedToId"], json!(null));
        assert_eq!(count(format!("{LIST}?assignedTo=none"), owner).await, 1);
    }
}

#[actix_web::test]
async fn bad_inbox_requests_get_clear_errors() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    for uri in [
        format!("{LIST}?page=0"),
        format!("{LIST}?limit=101"),
        format!("{LIST}?limit=0"),
        format!("{LIST}?page=abc"),
        format!("{LIST}?unread=maybe"),
    ] {
        let got = call(&app, "GET", &uri, Some(a.owner()), None).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    let assign = format!("{LIST}/{}/assign", a.conversation_id);
    for body in [
        json!({"assignedTo": "x"}),
        json!({"assignedToId": 5}),
        json!([]),
    ] {
        let got = call(&app, "PATCH", &assign, Some(a.owner()), Some(body)).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
    let unknown_user = call(
        &app,
        "PATCH",
        &assign,
        Some(a.owner()),
        Some(json!({"assignedToId": "nobody"})),
    )
    .await;
    assert_error(&unknown_user, StatusCode::NOT_FOUND, "NOT_FOUND");
    let seller = call(
        &app,
        "PATCH",
        &assign,
        Some(a.token(Role::Seller)),
        Some(json!({"assignedToId": null})),
    )
    .await;
    assert_error(&seller, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
    let (_, still) = call(
        &app,
        "GET",
        &format!("{LIST}/{}", a.conversation_id),
        Some(a.owner()),
        None,
    )
    .await;
    assert_eq!(
        still["assignedToId"],
        json!(null),
        "refused requests change nothing"
    );
}

#[actix_web::test]
async fn a_conversations_messages_come_newest_first() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        inbound(
            &t,
            &a.org,
            &a.channel,
            &a.conversation_id,
            &a.lead_id,
            "wamid.second",
            "second",
        );
        let app = app(&t).await;
        let uri = format!("{LIST}/{}/messages", a.conversation_id);
        let (status, body) = call(&app, "GET", &uri, Some(a.token(Role::Seller)), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["total"], 2);
        let newest = &body["data"][0];
        assert_eq!(newest["text"], "second");
        assert_eq!(newest["direction"], "INBOUND");
        assert_eq!(newest["type"], "text");
        assert_eq!(newest["from"], CUSTOMER);
        assert_eq!(newest["status"], "RECEIVED");
        assert_eq!(newest["provider"], "WHATSAPP");
        assert_eq!(newest["externalMessageId"], "wamid.second");
        assert!(newest["createdAt"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["data"][1]["text"], "hola");
        // The same through /messages, by lead and by conversation.
        for uri in [
            format!("/api/integrations/messages?leadId={}", a.lead_id),
            format!(
                "/api/integrations/messages?conversationId={}",
                a.conversation_id
            ),
        ] {
            let (_, by) = call(&app, "GET", &uri, Some(a.owner()), None).await;
            assert_eq!(by["total"], 2, "{uri}");
            assert_eq!(by["data"][0]["text"], "second");
        }
        let (_, none) = call(
            &app,
            "GET",
            "/api/integrations/messages?leadId=nope",
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(none["total"], 0);
    }
}

#[actix_web::test]
async fn mark_read_zeroes_unread_and_queues_one_receipt_for_the_last_inbound_message() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        inbound(
            &t,
            &a.org,
            &a.channel,
            &a.conversation_id,
            &a.lead_id,
            "wamid.last",
            "last",
        );
        let app = app(&t).await;
        let uri = format!("{LIST}/{}/mark-read", a.conversation_id);
        let (status, body) = call(&app, "PATCH", &uri, Some(a.token(Role::Seller)), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["conversation"]["unreadCount"], 0);
        let job_id = body["receiptJobId"].as_str().unwrap().to_string();
        let job = jobs::find_job(&mut t.db.conn().unwrap(), &job_id)
            .unwrap()
            .unwrap();
        assert_eq!(job.kind, "MARK_READ");
        assert_eq!(job.organization_id.as_deref(), Some(a.org.id.as_str()));
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
        assert_eq!(
            payload,
            json!({"channelId": a.channel.id, "messageId": "wamid.last"})
        );
        // Twice: still one receipt for that message.
        let (_, again) = call(&app, "PATCH", &uri, Some(a.owner()), None).await;
        assert_eq!(again["receiptJobId"], job_id);
    }
}

#[actix_web::test]
async fn mark_read_sends_no_receipt_when_the_organization_turned_them_off() {
    let t = TestDb::sqlite();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t).await;
    let off = call(
        &app,
        "PATCH",
        "/api/settings",
        Some(a.owner()),
        Some(json!({"readReceipts": false})),
    )
    .await;
    assert_eq!(off.0, StatusCode::OK, "{}", off.1);
    assert_eq!(off.1["readReceipts"], false);
    let (status, body) = call(
        &app,
        "PATCH",
        &format!("{LIST}/{}/mark-read", a.conversation_id),
        Some(a.owner()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["conversation"]["unreadCount"], 0);
    assert_eq!(body["receiptJobId"], json!(null));
    let settings = organizations::settings_of(&mut t.db.conn().unwrap(), &a.org.id).unwrap();
    assert!(!settings.read_receipts, "the setting is stored");
    let (_, read) = call(
        &app,
        "GET",
        "/api/settings",
        Some(a.token(Role::Seller)),
        None,
    )
    .await;
    assert_eq!(read["readReceipts"], false);
    for bad in [
        json!({"readReceipts": "no"}),
        json!({"colour": "red"}),
        json!([true]),
    ] {
        let got = call(&app, "PATCH", "/api/settings", Some(a.owner()), Some(bad)).await;
        assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    }
}
