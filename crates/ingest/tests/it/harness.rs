use std::sync::Arc;

use actix_web::web;
use switchboard_ingest::{ChannelDirectory, Ingest, IngestSettings};
use switchboard_store::SecretBox;
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::{jobs, organizations, webhooks};
use switchboard_store::testing::TestDb;
use switchboard_store::writer::GroupCommit;

pub const PHONE_NUMBER_ID: &str = "1122334455667";
pub const WABA_ID: &str = "57438975935";
pub const APP_SECRET: &str = "meta-app-secret";
pub const VERIFY_TOKEN: &str = "my-verify-token";

/// One channel to create: (phone number id, app secret, verify token, WABA id).
pub type ChannelSpec<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

pub const DEFAULT_CHANNEL: ChannelSpec<'static> = (
    PHONE_NUMBER_ID,
    Some(APP_SECRET),
    Some(VERIFY_TOKEN),
    Some(WABA_ID),
);

/// Builds the shared state the way `switchboard serve` does.
pub async fn ingest(t: &TestDb, production: bool, specs: &[ChannelSpec<'_>]) -> web::Data<Ingest> {
    let secrets = Arc::new(SecretBox::from_key(&[9; 32]).unwrap());
    {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        for (phone, secret, verify, waba) in specs {
            let input = ChannelInput {
                organization_id: org.id.clone(),
                phone_number_id: phone.to_string(),
                access_token: "EAAG".into(),
                app_secret: secret.map(str::to_string),
                verify_token: verify.map(str::to_string),
                waba_id: waba.map(str::to_string),
                ..Default::default()
            };
            channels::insert_channel(&mut conn, &secrets, &input).unwrap();
        }
    }
    let directory = ChannelDirectory::load(t.db.clone(), secrets).await.unwrap();
    let writer = GroupCommit::start(t.db.clone(), "test", 64, None).unwrap();
    web::Data::new(Ingest {
        directory,
        writer,
        settings: IngestSettings {
            production,
            ..Default::default()
        },
    })
}

#[macro_export]
macro_rules! app {
    ($data:expr) => {{
        let data = $data.clone();
        actix_web::test::init_service(
            actix_web::App::new()
                .configure(move |cfg| switchboard_ingest::configure(cfg, data.clone())),
        )
        .await
    }};
}

/// POSTs `body` with an optional `X-Hub-Signature-256`; returns the status and JSON answer.
#[macro_export]
macro_rules! post {
    ($app:expr, $path:expr, $body:expr, $signature:expr) => {{
        let mut req = actix_web::test::TestRequest::post()
            .uri($path)
            .insert_header(("content-type", "application/json"))
            .set_payload(actix_web::web::Bytes::copy_from_slice($body));
        let signature: Option<String> = $signature;
        if let Some(sig) = signature {
            req = req.insert_header(("X-Hub-Signature-256", sig));
        }
        let resp = actix_web::test::call_service(&$app, req.to_request()).await;
        let status = resp.status().as_u16();
        let bytes = actix_web::test::read_body(resp).await;
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }};
}

pub fn sign(body: &[u8]) -> Option<String> {
    Some(switchboard_ingest::signature::sign(APP_SECRET, body))
}

pub fn counts(t: &TestDb) -> (i64, i64) {
    let mut conn = t.db.conn().unwrap();
    (
        webhooks::count_events(&mut conn).unwrap(),
        jobs::count_jobs(&mut conn).unwrap(),
    )
}

/// A realistic text-message webhook whose wamid makes the body unique.
pub fn text_body(wamid: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{WABA_ID}","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"{PHONE_NUMBER_ID}"}},"contacts":[{{"profile":{{"name":"Ana"}},"wa_id":"5511999990000"}}],"messages":[{{"from":"5511999990000","id":"{wamid}","timestamp":"1697043223","text":{{"body":"hola"}},"type":"text"}}]}},"field":"messages"}}]}}]}}"#
    )
    .into_bytes()
}
