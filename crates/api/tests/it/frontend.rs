//! What a frontend (Switchboard's own web inbox among them) needs beyond the inbox itself:
//! who the token belongs to, what to paste into Meta's webhook settings, and the customer's
//! WhatsApp name and newest ticket on each conversation.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use chrono::Duration;
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_store::SecretBox;
use switchboard_store::models::now;
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::contacts;
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::tickets::{self, NewTicket};
use switchboard_store::testing::TestDb;

use crate::world::{Tenant, app, assert_error, call, tenant};

/// The API with the master key the world's channels are sealed with.
async fn app_with_secrets(
    t: &TestDb,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let api = web::Data::new(
        Api::start(t.db.clone(), ApiSettings::default(), None)
            .unwrap()
            .with_secrets(Arc::new(SecretBox::from_key(&[1; 32]).unwrap())),
    );
    test::init_service(App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())))
        .await
}

/// A second number of A's, set up for Meta: verify token and app secret.
fn configured_channel(t: &TestDb, a: &Tenant) -> String {
    let mut conn = t.db.conn().unwrap();
    channels::insert_channel(
        &mut conn,
        &SecretBox::from_key(&[1; 32]).unwrap(),
        &ChannelInput {
            organization_id: a.org.id.clone(),
            phone_number_id: "7007".into(),
            access_token: "EAAG-second".into(),
            app_secret: Some("app-secret-of-7007".into()),
            verify_token: Some("verify-me-7007".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .id
}

fn setup_uri(channel_id: &str) -> String {
    format!("/api/integrations/whatsapp/channels/{channel_id}/webhook-setup")
}

#[actix_web::test]
async fn me_says_whose_token_it_is() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t).await;
        for role in Role::ALL {
            let got = call(&app, "GET", "/api/me", Some(a.token(role)), None).await;
            assert_eq!(got.0, StatusCode::OK, "{}", got.1);
            assert_eq!(got.1["userId"], a.user(role));
            assert_eq!(got.1["role"], role.as_str());
            assert_eq!(got.1["organizationId"], a.org.id.as_str());
            assert_eq!(got.1["organizationName"], "Acme");
        }
        let none = call(&app, "GET", "/api/me", None, None).await;
        assert_error(&none, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        let unknown = call(&app, "GET", "/api/me", Some("sb_nope"), None).await;
        assert_error(&unknown, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

#[actix_web::test]
async fn admins_get_the_webhook_url_path_and_the_verify_token_to_paste_into_meta() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let configured = configured_channel(&t, &a);
        let app = app_with_secrets(&t).await;
        for role in [Role::Owner, Role::Admin] {
            let got = call(
                &app,
                "GET",
                &setup_uri(&configured),
                Some(a.token(role)),
                None,
            )
            .await;
            assert_eq!(got.0, StatusCode::OK, "{}", got.1);
            assert_eq!(got.1["channelId"], configured.as_str());
            assert_eq!(got.1["callbackPath"], "/api/webhooks/whatsapp");
            assert_eq!(got.1["verifyToken"], "verify-me-7007");
            assert_eq!(got.1["appSecretConfigured"], true);
        }
        // A number added without them says so, rather than inventing a token.
        let bare = call(
            &app,
            "GET",
            &setup_uri(&a.channel.id),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(bare.0, StatusCode::OK, "{}", bare.1);
        assert!(bare.1["verifyToken"].is_null());
        assert_eq!(bare.1["appSecretConfigured"], false);
        // It shows a secret: managers and sellers are refused.
        for role in [Role::Manager, Role::Seller] {
            let got = call(
                &app,
                "GET",
                &setup_uri(&configured),
                Some(a.token(role)),
                None,
            )
            .await;
            assert_error(&got, StatusCode::FORBIDDEN, "FORBIDDEN_ROLE");
            assert!(!got.1.to_string().contains("verify-me-7007"));
        }
    }
}

#[actix_web::test]
async fn another_organization_cannot_read_a_channels_webhook_setup() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let configured = configured_channel(&t, &a);
        let app = app_with_secrets(&t).await;
        let theirs = call(&app, "GET", &setup_uri(&configured), Some(b.owner()), None).await;
        assert_error(&theirs, StatusCode::NOT_FOUND, "NOT_FOUND");
        assert!(!theirs.1.to_string().contains("verify-me-7007"));
        let nowhere = call(
            &app,
            "GET",
            &setup_uri("00000000-0000-0000-0000-000000000000"),
            Some(b.owner()),
            None,
        )
        .await;
        assert_eq!(nowhere.1["message"], theirs.1["message"]);
    }
}

#[actix_web::test]
async fn conversations_carry_the_whatsapp_name_and_the_newest_ticket() {
    for t in TestDb::all() {
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        // A helpdesk-only customer: a contact with a WhatsApp name, no lead, two tickets.
        let phone = "5511988887777";
        let (conversation_id, newest) = {
            let mut conn = t.db.conn().unwrap();
            let contact = contacts::upsert_contact(
                &mut conn,
                &a.org.id,
                Some(phone),
                None,
                Some("Lucía Fernández"),
            )
            .unwrap();
            let key = ConversationKey {
                organization_id: &a.org.id,
                channel_id: &a.channel.id,
                contact_phone: phone,
            };
            let conversation =
                conversations::upsert_conversation(&mut conn, &key, Some(&contact.id), None)
                    .unwrap();
            let mut opened = Vec::new();
            for subject in ["la impresora no imprime", "otra vez la impresora"] {
                opened.push(
                    tickets::insert_ticket(
                        &mut conn,
                        &NewTicket {
                            organization_id: &a.org.id,
                            service_id: None,
                            conversation_id: Some(&conversation.id),
                            lead_id: None,
                            contact_phone: phone,
                            subject,
                            at: now() - Duration::minutes(5),
                        },
                    )
                    .unwrap(),
                );
            }
            (conversation.id, opened.pop().unwrap())
        };
        let app = app(&t).await;
        let one = call(
            &app,
            "GET",
            &format!("/api/integrations/conversations/{conversation_id}"),
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(one.0, StatusCode::OK, "{}", one.1);
        assert_eq!(one.1["contactName"], "Lucía Fernández");
        assert!(one.1["leadName"].is_null());
        assert_eq!(one.1["latestTicket"]["id"], newest.id.as_str());
        assert_eq!(one.1["latestTicket"]["number"], newest.number);
        assert_eq!(one.1["latestTicket"]["status"], "new");
        // Found by the WhatsApp name (any case), since there is no lead to search by.
        let found = call(
            &app,
            "GET",
            "/api/integrations/conversations?search=luc%C3%ADa%20FERN",
            Some(a.owner()),
            None,
        )
        .await;
        assert_eq!(found.1["total"], 1, "{}", found.1);
        assert_eq!(found.1["data"][0]["id"], conversation_id.as_str());
        assert_eq!(found.1["data"][0]["latestTicket"]["id"], newest.id.as_str());
        // A conversation without tickets has none; another organization finds none of it.
        let plain = call(
            &app,
            "GET",
            &format!("/api/integrations/conversations/{}", a.conversation_id),
            Some(a.owner()),
            None,
        )
        .await;
        assert!(plain.1["latestTicket"].is_null());
        let theirs = call(
            &app,
            "GET",
            "/api/integrations/conversations?search=lucia",
            Some(b.owner()),
            None,
        )
        .await;
        assert_eq!(theirs.1["total"], 0, "{}", theirs.1);
    }
}
