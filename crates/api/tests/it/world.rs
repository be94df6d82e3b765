//! Two organizations with one user per role, each with a conversation, lead, note, template
//! and job: the ground every API test stands on.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::Value;
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_store::SecretBox;
use switchboard_store::models::{Channel, MessageLog, Organization, new_id, now};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::leads::{self, LeadFromWhatsApp};
use switchboard_store::repo::templates::{self, NewTemplate};
use switchboard_store::repo::{api_keys, jobs, messages, notes, organizations, tokens};
use switchboard_store::testing::TestDb;

pub const CUSTOMER: &str = "5511999990000";

pub struct Tenant {
    pub org: Organization,
    pub channel: Channel,
    /// Token and user id per role, OWNER first.
    pub users: Vec<(Role, String, String)>,
    pub conversation_id: String,
    pub lead_id: String,
    pub note_id: String,
    pub template_id: String,
    pub dead_job_id: String,
    pub token_id: String,
    /// An API key nobody calls with, for the tests that revoke one.
    pub api_key_id: String,
    pub inbound_wamid: String,
    /// An outgoing webhook subscription and one of its deliveries (a queued ping).
    pub webhook_subscription_id: String,
    pub webhook_delivery_id: String,
}

impl Tenant {
    pub fn token(&self, role: Role) -> &str {
        &self.users.iter().find(|(r, _, _)| *r == role).unwrap().1
    }

    pub fn user(&self, role: Role) -> &str {
        &self.users.iter().find(|(r, _, _)| *r == role).unwrap().2
    }

    pub fn owner(&self) -> &str {
        self.token(Role::Owner)
    }
}

pub fn tenant(t: &TestDb, name: &str, phone_number_id: &str) -> Tenant {
    let mut conn = t.db.conn().unwrap();
    let c = &mut conn;
    let org = organizations::insert_organization(c, name, None).unwrap();
    let channel = channels::insert_channel(
        c,
        &SecretBox::from_key(&[1; 32]).unwrap(),
        &ChannelInput {
            organization_id: org.id.clone(),
            phone_number_id: phone_number_id.into(),
            access_token: "EAAG".into(),
            default_country_code: Some("55".into()),
            waba_id: Some(format!("9{phone_number_id}")),
            ..Default::default()
        },
    )
    .unwrap();
    let users: Vec<(Role, String, String)> = Role::ALL
        .into_iter()
        .map(|role| {
            let issued = tokens::insert_user_with_token(c, &org.id, role, None).unwrap();
            (role, issued.plaintext, issued.user.id)
        })
        .collect();
    // A token nobody calls with, for the tests that revoke one.
    let token_id = tokens::insert_user_with_token(c, &org.id, Role::Seller, Some("spare"))
        .unwrap()
        .token
        .id;
    let api_key_id = api_keys::insert_api_key(c, &org.id, "spare")
        .unwrap()
        .key
        .id;
    let lead = leads::find_or_create_lead(
        c,
        &org.id,
        &LeadFromWhatsApp {
            phone: Some(CUSTOMER),
            wa_user_id: None,
            profile_name: Some(&format!("Ana of {name}")),
            referral: None,
        },
    )
    .unwrap();
    let key = ConversationKey {
        organization_id: &org.id,
        channel_id: &channel.id,
        contact_phone: CUSTOMER,
    };
    let conversation = conversations::upsert_conversation(c, &key, None, Some(&lead.id)).unwrap();
    let inbound_wamid = format!("wamid.{}", new_id());
    inbound(
        t,
        &org,
        &channel,
        &conversation.id,
        &lead.id,
        &inbound_wamid,
        "hola",
    );
    let note = notes::insert_note(c, &org.id, &lead.id, &users[0].2, "called her", false).unwrap();
    let template = templates::insert_template(
        c,
        &NewTemplate {
            organization_id: &org.id,
            channel_id: None,
            name: "order_update",
            language: "en_US",
            category: "UTILITY",
            parameter_format: "POSITIONAL",
            components: r#"[{"type":"BODY","text":"Hi {{1}}, order {{2}} shipped"}]"#,
        },
    )
    .unwrap();
    templates::record_submission(c, &org.id, &template.id, "1234", "APPROVED").unwrap();
    let mut job = jobs::new_job("NOOP", Some(org.id.clone()), "{}".into(), now());
    job.status = "DEAD".into();
    job.last_error = Some("gave up".into());
    jobs::insert_jobs(c, std::slice::from_ref(&job)).unwrap();
    let hook = webhook_subscription(c, &org.id);
    Tenant {
        org,
        channel,
        users,
        conversation_id: conversation.id,
        lead_id: lead.id,
        note_id: note.id,
        template_id: template.id,
        dead_job_id: job.id,
        token_id,
        api_key_id,
        inbound_wamid,
        webhook_subscription_id: hook.0,
        webhook_delivery_id: hook.1,
    }
}

/// The master key of the tenants' webhook subscriptions (an API given it can rotate them).
pub fn master_key() -> SecretBox {
    SecretBox::from_key(&[1; 32]).unwrap()
}

/// A subscription of the organization (to an event these tests never cause, so it queues no
/// jobs behind other tests' backs) and one delivery in its log: (its id, the delivery's).
fn webhook_subscription(c: &mut switchboard_store::AnyConnection, org: &str) -> (String, String) {
    use diesel::RunQueryDsl;
    use switchboard_store::models::WebhookDelivery;
    use switchboard_store::repo::subscriptions::{self, NewSubscription};
    let created = subscriptions::insert_subscription(
        c,
        &master_key(),
        &NewSubscription {
            organization_id: org,
            url: "https://hooks.example.com/switchboard",
            events: &["template.status".to_string()],
            description: None,
            enabled: true,
            require_https: false,
        },
    )
    .unwrap();
    let at = now();
    let delivery = WebhookDelivery {
        id: new_id(),
        organization_id: org.to_string(),
        subscription_id: created.subscription.id.clone(),
        event_id: format!("evt_{}", new_id()),
        event_type: "template.status".into(),
        body: r#"{"type":"template.status","data":{}}"#.into(),
        status: "DELIVERED".into(),
        attempts: 1,
        response_status: Some(200),
        response_body: Some("ok".into()),
        error: None,
        job_id: None,
        created_at: at,
        updated_at: at,
        delivered_at: Some(at),
    };
    diesel::insert_into(switchboard_store::schema::webhook_deliveries::table)
        .values(&delivery)
        .execute(c)
        .unwrap();
    (created.subscription.id, delivery.id)
}

/// A customer's message, stored as the webhook projection stores it.
pub fn inbound(
    t: &TestDb,
    org: &Organization,
    channel: &Channel,
    conversation_id: &str,
    lead_id: &str,
    wamid: &str,
    text: &str,
) {
    let mut conn = t.db.conn().unwrap();
    let at = now();
    let message = MessageLog {
        id: new_id(),
        organization_id: org.id.clone(),
        channel_id: Some(channel.id.clone()),
        conversation_id: Some(conversation_id.into()),
        lead_id: Some(lead_id.into()),
        provider: "WHATSAPP".into(),
        direction: "INBOUND".into(),
        message_type: "text".into(),
        from_phone: Some(CUSTOMER.into()),
        to_phone: channel.display_phone_number.clone(),
        text: Some(text.into()),
        media_id: None,
        media_mime_type: None,
        media_filename: None,
        details: None,
        context_message_id: None,
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: Some(wamid.into()),
        status: "RECEIVED".into(),
        error_code: None,
        error_message: None,
        status_updated_at: None,
        sent_at: None,
        created_at: at,
        updated_at: at,
        origin: None,
    };
    messages::insert_message_once(&mut conn, &message).unwrap();
    conversations::record_message(&mut conn, conversation_id, "INBOUND", text, at, wamid, true)
        .unwrap();
}

pub async fn app(
    t: &TestDb,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let api = web::Data::new(Api::start(t.db.clone(), ApiSettings::default(), None).unwrap());
    test::init_service(App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())))
        .await
}

/// Calls the API: `method` and `uri`, a bearer token, and a JSON body (None: no body).
pub async fn call<S, B>(
    app: &S,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = test::TestRequest::default()
        .method(method.parse().unwrap())
        .uri(uri);
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    if let Some(body) = body {
        req = req.set_json(body);
    }
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let bytes = test::read_body(resp).await;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

/// Asserts an error answer: its status and `errorCode`, with a message for a person.
pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["errorCode"], code, "{}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}
