//! `GET /api/media/{id}`: a customer's stored file, to any user of its organization, with
//! headers that keep a browser from running it; and the download's state on its message.

use std::path::PathBuf;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::Value;
use switchboard_api::{Api, ApiSettings};
use switchboard_domain::Role;
use switchboard_store::db::write_transaction;
use switchboard_store::models::{MessageLog, new_id, now};
use switchboard_store::repo::media::{self, StoredFile};
use switchboard_store::repo::messages;
use switchboard_store::testing::TestDb;

use crate::world::{CUSTOMER, Tenant, assert_error, call, tenant};

/// A media directory of the test's own, removed when it ends.
struct MediaDir(PathBuf);

impl MediaDir {
    fn new() -> Self {
        MediaDir(std::env::temp_dir().join(format!("switchboard-api-media-{}", new_id())))
    }
}

impl Drop for MediaDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn app(
    t: &TestDb,
    dir: &MediaDir,
) -> impl Service<
    actix_http::Request,
    Response = ServiceResponse<impl MessageBody>,
    Error = actix_web::Error,
> {
    let settings = ApiSettings {
        media_dir: dir.0.clone(),
        ..ApiSettings::default()
    };
    let api = web::Data::new(Api::start(t.db.clone(), settings, None).unwrap());
    test::init_service(App::new().configure(|cfg| switchboard_api::configure(cfg, api.clone())))
        .await
}

/// A customer's file message in A's conversation, projected as the webhook job does (its
/// media row PENDING); returns (message id, media id).
fn receive_file(
    t: &TestDb,
    a: &Tenant,
    kind: &str,
    mime_type: &str,
    file_name: Option<&str>,
) -> (String, String) {
    let at = now();
    let meta_id = new_id();
    let log = MessageLog {
        id: new_id(),
        organization_id: a.org.id.clone(),
        channel_id: Some(a.channel.id.clone()),
        conversation_id: Some(a.conversation_id.clone()),
        lead_id: Some(a.lead_id.clone()),
        provider: "WHATSAPP".into(),
        direction: "INBOUND".into(),
        message_type: kind.into(),
        from_phone: Some(CUSTOMER.into()),
        to_phone: None,
        text: None,
        media_id: Some(meta_id.clone()),
        media_mime_type: Some(mime_type.into()),
        media_filename: file_name.map(str::to_string),
        details: None,
        context_message_id: None,
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: Some(format!("wamid.{}", new_id())),
        status: "RECEIVED".into(),
        error_code: None,
        error_message: None,
        status_updated_at: None,
        sent_at: Some(at),
        created_at: at,
        updated_at: at,
        origin: None,
    };
    let mut conn = t.db.conn().unwrap();
    let job = write_transaction(&mut conn, |c| {
        messages::insert_message_once(c, &log)?;
        media::queue_download_in(c, &log, None)
    })
    .unwrap();
    assert!(job.is_some());
    (log.id, media::media_id_for(&a.org.id, &meta_id))
}

/// What the download job does once it has the file.
fn store_file(t: &TestDb, dir: &MediaDir, a: &Tenant, media_id: &str, mime: &str, bytes: &[u8]) {
    let relative = format!("{}/{media_id}", a.org.id);
    let path = dir.0.join(&relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let file = StoredFile {
        mime_type: mime.into(),
        size_bytes: bytes.len() as i64,
        sha256: "00".repeat(32),
        storage_path: relative,
    };
    assert!(media::mark_downloaded(&mut t.db.conn().unwrap(), &a.org.id, media_id, &file).unwrap());
}

/// GETs a file: status, headers by name, body bytes.
async fn fetch<S, B>(app: &S, id: &str, token: &str) -> (StatusCode, Vec<(String, String)>, Vec<u8>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let req = test::TestRequest::get()
        .uri(&format!("/api/media/{id}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = test::call_service(app, req).await;
    let status = resp.status();
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    // The server writes Content-Length from the body's size (the test service does not).
    if let BodySize::Sized(len) = resp.response().body().size() {
        headers.push(("content-length".into(), len.to_string()));
    }
    let body = test::read_body(resp).await.to_vec();
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

fn as_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

#[actix_web::test]
async fn a_stored_image_is_served_inline_to_any_role_of_its_organization_only() {
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let a = tenant(&t, "Acme", "1001");
        let b = tenant(&t, "Bravo", "2002");
        let app = app(&t, &dir).await;
        let (_, id) = receive_file(&t, &a, "image", "image/jpeg", None);

        let (status, _, body) = fetch(&app, &id, a.owner()).await;
        assert_error(
            &(status, as_json(&body)),
            StatusCode::CONFLICT,
            "MEDIA_NOT_READY",
        );

        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        store_file(&t, &dir, &a, &id, "image/jpeg", &bytes);
        for role in Role::ALL {
            let (status, headers, body) = fetch(&app, &id, a.token(role)).await;
            assert_eq!(status, StatusCode::OK, "{role:?} ({})", t.backend);
            assert_eq!(body, bytes, "{role:?}");
            assert_eq!(header(&headers, "content-type"), "image/jpeg");
            assert_eq!(header(&headers, "content-length"), bytes.len().to_string());
            assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
            let disposition = header(&headers, "content-disposition");
            assert!(disposition.starts_with("inline"), "{disposition}");
            assert!(
                disposition.contains("filename=\"whatsapp-"),
                "{disposition}"
            );
            assert!(disposition.contains(".jpg"), "{disposition}");
        }

        // Another organization's token: exactly as an id that does not exist.
        let (status, _, body) = fetch(&app, &id, b.owner()).await;
        assert_error(
            &(status, as_json(&body)),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        let (status, _, body) = fetch(&app, "no-such-file", a.owner()).await;
        assert_error(
            &(status, as_json(&body)),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        let (status, _) = call(&app, "GET", &format!("/api/media/{id}"), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[actix_web::test]
async fn a_document_comes_as_an_attachment_under_a_cleaned_name() {
    let t = TestDb::sqlite();
    let dir = MediaDir::new();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t, &dir).await;
    let (_, id) = receive_file(
        &t,
        &a,
        "document",
        "text/html",
        Some("../../Cotización \"final\".html"),
    );
    store_file(&t, &dir, &a, &id, "text/html", b"<script>alert(1)</script>");
    let (status, headers, _) = fetch(&app, &id, a.token(Role::Seller)).await;
    assert_eq!(status, StatusCode::OK);
    let disposition = header(&headers, "content-disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("filename=\"Cotizaci_n _final_.html\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''Cotizaci%C3%B3n%20_final_.html"),
        "{disposition}"
    );
    assert!(!disposition.contains(".."), "{disposition}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-security-policy").contains("sandbox"));
}

#[actix_web::test]
async fn a_failed_download_is_refused_with_its_reason_and_shown_on_its_message() {
    for t in TestDb::all() {
        let dir = MediaDir::new();
        let a = tenant(&t, "Acme", "1001");
        let app = app(&t, &dir).await;
        let (message_id, id) = receive_file(&t, &a, "video", "video/mp4", None);
        let (failed_id, failed) = receive_file(&t, &a, "image", "image/jpeg", None);
        store_file(&t, &dir, &a, &id, "video/mp4", b"....ftyp");
        let reason = "the image has 9000000 bytes; WhatsApp allows at most 5242880";
        media::mark_failed(&mut t.db.conn().unwrap(), &a.org.id, &failed, reason).unwrap();

        let (status, _, body) = fetch(&app, &failed, a.owner()).await;
        let refused = (status, as_json(&body));
        assert_error(&refused, StatusCode::CONFLICT, "MEDIA_FAILED");
        assert!(
            refused.1["message"].as_str().unwrap().contains(reason),
            "{}",
            refused.1
        );

        let uri = format!(
            "/api/integrations/conversations/{}/messages",
            a.conversation_id
        );
        let by_conversation = call(&app, "GET", &uri, Some(a.owner()), None).await;
        let by_lead = call(
            &app,
            "GET",
            &format!("/api/integrations/messages?leadId={}", a.lead_id),
            Some(a.owner()),
            None,
        )
        .await;
        for (status, page) in [by_conversation, by_lead] {
            assert_eq!(status, StatusCode::OK, "{page}");
            let messages = page["data"].as_array().unwrap();
            let find = |id: &str| messages.iter().find(|m| m["id"] == id).unwrap().clone();
            let shown = find(&failed_id)["media"]["download"].clone();
            assert_eq!(shown["id"], failed.as_str());
            assert_eq!(shown["status"], "FAILED", "{} {page}", t.backend);
            assert_eq!(shown["error"], reason);
            assert_eq!(shown["url"], Value::Null);
            let ok = find(&message_id)["media"]["download"].clone();
            assert_eq!(ok["status"], "DOWNLOADED", "{page}");
            assert_eq!(ok["url"], format!("/api/media/{id}"));
            assert_eq!(ok["sizeBytes"], 8);
            // A text message has no media at all.
            let text = messages.iter().find(|m| m["type"] == "text").unwrap();
            assert_eq!(text["media"], Value::Null);
        }
    }
}

#[actix_web::test]
async fn a_downloaded_file_missing_from_disk_is_not_found() {
    let t = TestDb::sqlite();
    let dir = MediaDir::new();
    let a = tenant(&t, "Acme", "1001");
    let app = app(&t, &dir).await;
    let (_, id) = receive_file(&t, &a, "audio", "audio/ogg; codecs=opus", None);
    store_file(&t, &dir, &a, &id, "audio/ogg; codecs=opus", b"OggS");
    let (status, headers, _) = fetch(&app, &id, a.owner()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "audio/ogg; codecs=opus");
    assert!(header(&headers, "content-disposition").starts_with("attachment"));
    std::fs::remove_file(dir.0.join(&a.org.id).join(&id)).unwrap();
    let (status, _, body) = fetch(&app, &id, a.owner()).await;
    assert_error(
        &(status, as_json(&body)),
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}
