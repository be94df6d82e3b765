//! Services, tickets, helpdesk settings and the default templates through the API.

use actix_web::http::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_store::models::now;
use switchboard_store::repo::tickets::{self, NewTicket};
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, Tenant, app, assert_error, call, tenant};

/// A ticket on the tenant's conversation (the customer wrote just now: the window is open).
fn ticket(t: &TestDb, a: &Tenant, subject: &str) -> String {
    let mut conn = t.db.conn().unwrap();
    tickets::insert_ticket(
        &mut conn,
        &NewTicket {
            organization_id: &a.org.id,
            service_id: None,
            conversation_id: Some(&a.conversation_id),
            lead_id: Some(&a.lead_id),
            contact_phone: CUSTOMER,
            subject,
            at: now(),
        },
    )
    .unwrap()
    .id
}

#[actix_web::test]
async fn services_are_managed_by_owners_and_admins_and_checked() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        let admin = a.token(Role::Admin);
        let (status, billing) = call(
            &app,
            "POST",
            "/api/services",
            Some(admin),
            Some(json!({"name": " Billing "})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{billing}");
        assert_eq!(billing["name"], "Billing");
        assert_eq!(billing["destination"], "local");
        assert_eq!(billing["active"], true);
        let (_, support) = call(
            &app,
            "POST",
            "/api/services",
            Some(admin),
            Some(json!({"name": "Support", "destination": "jira", "jiraProjectKey": "SUP"})),
        )
        .await;
        assert_eq!(support["jiraProjectKey"], "SUP");
        assert!(
            support["position"].as_i64() > billing["position"].as_i64(),
            "new services go last"
        );

        for (body, why) in [
            (json!({"name": ""}), "empty name"),
            (json!({"name": "42"}), "digits only"),
            (
                json!({"name": "X", "destination": "email"}),
                "unknown destination",
            ),
            (
                json!({"name": "X", "destination": "jira"}),
                "jira without a key",
            ),
            (
                json!({"name": "X", "destination": "jira", "jiraProjectKey": "sup"}),
                "bad key",
            ),
            (json!({"name": "X", "colour": "red"}), "unknown field"),
        ] {
            let got = call(&app, "POST", "/api/services", Some(admin), Some(body)).await;
            assert_eq!(got.0, StatusCode::BAD_REQUEST, "{why}: {}", got.1);
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        let manager = call(
            &app,
            "POST",
            "/api/services",
            Some(a.token(Role::Manager)),
            Some(json!({"name": "Sales"})),
        )
        .await;
        assert_error(&manager, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");

        let id = billing["id"].as_str().unwrap();
        let (status, changed) = call(
            &app,
            "PATCH",
            &format!("/api/services/{id}"),
            Some(admin),
            Some(json!({"active": false, "position": 9})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["active"], false);
        assert_eq!(changed["name"], "Billing", "untouched fields stay");
        let (_, list) = call(
            &app,
            "GET",
            "/api/services",
            Some(a.token(Role::Seller)),
            None,
        )
        .await;
        let names: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Support", "Billing"], "menu order by position");

        let foreign = call(
            &app,
            "DELETE",
            &format!("/api/services/{id}"),
            Some(b.owner()),
            None,
        )
        .await;
        assert_error(&foreign, StatusCode::NOT_FOUND, "NOT_FOUND");
        let (status, _) = call(
            &app,
            "DELETE",
            &format!("/api/services/{id}"),
            Some(admin),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let gone = call(
            &app,
            "GET",
            &format!("/api/services/{id}"),
            Some(admin),
            None,
        )
        .await;
        assert_error(&gone, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[actix_web::test]
async fn tickets_are_listed_replied_to_moved_and_assigned() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t).await;
        let seller = a.token(Role::Seller);
        let first = ticket(&t, &a, "Printer broken");
        let second = ticket(&t, &a, "Invoice");
        let (status, list) = call(&app, "GET", "/api/tickets", Some(seller), None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["total"], 2);
        assert_eq!(list["data"][0]["id"], second.as_str(), "newest first");
        assert_eq!(list["data"][1]["number"], 1001);
        assert_eq!(list["data"][0]["number"], 1002);

        // A reply: a comment and a WhatsApp message, as text inside the window.
        let (status, reply) = call(
            &app,
            "POST",
            &format!("/api/tickets/{first}/replies"),
            Some(seller),
            Some(json!({"text": "On our way"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply["comment"]["authorType"], "agent");
        assert_eq!(reply["comment"]["authorUserId"], a.user(Role::Seller));
        assert_eq!(reply["notification"]["status"], "QUEUED");
        assert_eq!(reply["notification"]["via"], "text");
        let message_id = reply["notification"]["messageLogId"].as_str().unwrap();
        let (_, thread) = call(
            &app,
            "GET",
            &format!(
                "/api/integrations/conversations/{}/messages?limit=100",
                a.conversation_id
            ),
            Some(seller),
            None,
        )
        .await;
        let sent: Vec<&Value> = thread["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["id"] == message_id)
            .collect();
        assert_eq!(sent.len(), 1, "{thread}");
        assert_eq!(sent[0]["direction"], "OUTBOUND");
        assert_eq!(sent[0]["status"], "QUEUED");

        // Status changes: checked, notified, filtered on.
        for bad in [json!({"status": "open"}), json!({"status": 3}), json!({})] {
            let got = call(
                &app,
                "PUT",
                &format!("/api/tickets/{first}/status"),
                Some(seller),
                Some(bad),
            )
            .await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        let (status, moved) = call(
            &app,
            "PUT",
            &format!("/api/tickets/{first}/status"),
            Some(seller),
            Some(json!({"status": "waiting_customer"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["ticket"]["status"], "waiting_customer");
        assert_eq!(moved["notification"]["event"], "status_changed");
        let (_, resolved) = call(
            &app,
            "PUT",
            &format!("/api/tickets/{second}/status"),
            Some(seller),
            Some(json!({"status": "resolved"})),
        )
        .await;
        assert!(resolved["ticket"]["closedAt"].is_string(), "{resolved}");
        let (_, waiting) = call(
            &app,
            "GET",
            "/api/tickets?status=waiting_customer",
            Some(seller),
            None,
        )
        .await;
        assert_eq!(waiting["total"], 1);
        assert_eq!(waiting["data"][0]["id"], first.as_str());
        let bad_filter = call(&app, "GET", "/api/tickets?status=open", Some(seller), None).await;
        assert_error(&bad_filter, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

        let (_, detail) = call(
            &app,
            "GET",
            &format!("/api/tickets/{first}"),
            Some(seller),
            None,
        )
        .await;
        assert_eq!(detail["subject"], "Printer broken");
        assert_eq!(detail["comments"].as_array().unwrap().len(), 1);
        let events: Vec<&str> = detail["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["event"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["agent_reply", "status_changed"]);

        // Assignment: managers and up, to users of the organization only.
        let by_seller = call(
            &app,
            "PATCH",
            &format!("/api/tickets/{first}/assign"),
            Some(seller),
            Some(json!({"assignedToId": a.user(Role::Seller)})),
        )
        .await;
        assert_error(&by_seller, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        let foreign_user = call(
            &app,
            "PATCH",
            &format!("/api/tickets/{first}/assign"),
            Some(a.token(Role::Manager)),
            Some(json!({"assignedToId": b.user(Role::Seller)})),
        )
        .await;
        assert_error(&foreign_user, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        let (status, assigned) = call(
            &app,
            "PATCH",
            &format!("/api/tickets/{first}/assign"),
            Some(a.token(Role::Manager)),
            Some(json!({"assignedToId": a.user(Role::Seller)})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{assigned}");
        let (_, mine) = call(
            &app,
            "GET",
            "/api/tickets?assignedTo=me",
            Some(seller),
            None,
        )
        .await;
        assert_eq!(mine["total"], 1);
        let (_, nobody) = call(
            &app,
            "GET",
            "/api/tickets?assignedTo=none",
            Some(seller),
            None,
        )
        .await;
        assert_eq!(nobody["data"][0]["id"], second.as_str());

        // Another organization sees none of it, exactly as if it did not exist.
        let (_, theirs) = call(&app, "GET", "/api/tickets", Some(b.owner()), None).await;
        assert_eq!(theirs["total"], 0);
        for (method, uri, body) in [
            ("GET", format!("/api/tickets/{first}"), None),
            (
                "POST",
                format!("/api/tickets/{first}/replies"),
                Some(json!({"text": "x"})),
            ),
            (
                "PUT",
                format!("/api/tickets/{first}/status"),
                Some(json!({"status": "closed"})),
            ),
            (
                "PATCH",
                format!("/api/tickets/{first}/assign"),
                Some(json!({"assignedToId": null})),
            ),
        ] {
            let got = call(&app, method, &uri, Some(b.owner()), body).await;
            assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
        }
        let empty = call(
            &app,
            "POST",
            &format!("/api/tickets/{first}/replies"),
            Some(seller),
            Some(json!({"text": "   "})),
        )
        .await;
        assert_error(&empty, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        let (_, after) = call(
            &app,
            "GET",
            &format!("/api/tickets/{first}"),
            Some(seller),
            None,
        )
        .await;
        assert_eq!(
            after["comments"].as_array().unwrap().len(),
            1,
            "refused replies add nothing"
        );
    }
}

#[actix_web::test]
async fn helpdesk_settings_merge_and_refuse_bad_values() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let owner = a.owner();
        let (status, set) = call(
            &app,
            "PATCH",
            "/api/settings",
            Some(owner),
            Some(json!({"mode": "both", "helpdesk": {"language": "pt", "texts": {"connected": "Pronto: {service}"}}})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(set["mode"], "both");
        assert_eq!(set["helpdesk"]["language"], "pt");
        assert_eq!(set["helpdeskTexts"]["connected"], "Pronto: {service}");
        assert_eq!(set["helpdeskTexts"]["menuButton"], "Serviços");
        assert_eq!(set["readReceipts"], true, "other settings stay");
        for bad in [
            json!({"mode": "tickets"}),
            json!({"helpdesk": {"sessionHours": 0}}),
            json!({"helpdesk": {"language": "fr"}}),
            json!({"helpdesk": {"templates": {"agentReply": "Not A Name"}}}),
        ] {
            let got = call(&app, "PATCH", "/api/settings", Some(owner), Some(bad)).await;
            assert_error(&got, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        }
        let (_, now) = call(&app, "GET", "/api/settings", Some(owner), None).await;
        assert_eq!(
            now["helpdesk"]["language"], "pt",
            "refused patches changed nothing"
        );
        assert_eq!(now["helpdesk"]["sessionHours"], 24);
    }
}

#[actix_web::test]
async fn default_templates_are_registered_once_and_submitted() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        let uri = "/api/integrations/whatsapp/templates/register-defaults";
        let seller = call(&app, "POST", uri, Some(a.token(Role::Seller)), None).await;
        assert_error(&seller, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
        let (status, first) = call(&app, "POST", uri, Some(a.owner()), None).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let outcomes: Vec<(&str, &str)> = first["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["name"].as_str().unwrap(), d["outcome"].as_str().unwrap()))
            .collect();
        assert_eq!(outcomes.len(), 6);
        assert!(outcomes.iter().all(|(_, o)| *o == "created"), "{first}");
        assert!(first["data"][0]["jobId"].is_string());
        assert_eq!(first["settingsUpdated"], true);
        let (_, again) = call(&app, "POST", uri, Some(a.owner()), None).await;
        assert!(
            again["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["outcome"] == "existing" && d["jobId"].is_null()),
            "{again}"
        );
        assert_eq!(again["settingsUpdated"], false);
        let (_, jobs) = call(
            &app,
            "GET",
            "/api/integrations/jobs?kind=SUBMIT_TEMPLATE&limit=100",
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(jobs["total"], 6, "one submission each");
        let (_, settings) = call(&app, "GET", "/api/settings", Some(a.owner()), None).await;
        assert_eq!(
            settings["helpdesk"]["templates"]["statusChanged"],
            "ticket_updated"
        );
        assert_eq!(
            settings["helpdesk"]["templates"]["agentReply"],
            "agent_response"
        );
        let (_, templates) = call(
            &app,
            "GET",
            "/api/integrations/whatsapp/templates?limit=100",
            Some(a.owner()),
            None,
        )
        .await;
        let updated = templates["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "ticket_updated")
            .unwrap();
        assert_eq!(updated["language"], "en");
        assert_eq!(updated["category"], "UTILITY");
        assert_eq!(updated["variables"], json!(["1", "2"]));
    }
}
