use actix_web::test::{self, TestRequest};
use switchboard_store::testing::TestDb;

use crate::app;
use crate::harness::{DEFAULT_CHANNEL, ingest};

async fn get(
    data: &actix_web::web::Data<switchboard_ingest::Ingest>,
    query: &str,
) -> (u16, String, String) {
    let app = app!(data);
    let resp = test::call_service(
        &app,
        TestRequest::get()
            .uri(&format!("/api/webhooks/whatsapp?{query}"))
            .to_request(),
    )
    .await;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    (status, content_type, body)
}

#[actix_web::test]
async fn echoes_the_challenge_byte_for_byte_on_every_path() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let app = app!(data);
    for path in switchboard_ingest::WEBHOOK_PATHS {
        let uri = format!(
            "{path}?hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444"
        );
        let resp = test::call_service(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        assert!(
            resp.headers()
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(test::read_body(resp).await, "1158201444");
    }
    // An opaque challenge comes back exactly as sent.
    let (status, _, body) = get(
        &data,
        "hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=a%2Bb%20c-%C3%A9",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "a+b c-é"));
}

#[actix_web::test]
async fn refuses_with_a_reason_for_each_way_it_can_go_wrong() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[DEFAULT_CHANNEL]).await;
    let cases = [
        (
            "hub.verify_token=my-verify-token&hub.challenge=1",
            "hub.mode is missing",
        ),
        (
            "hub.mode=unsubscribe&hub.verify_token=my-verify-token&hub.challenge=1",
            "expected 'subscribe'",
        ),
        (
            "hub.mode=subscribe&hub.challenge=1",
            "hub.verify_token is missing",
        ),
        (
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            "matches no channel",
        ),
        (
            "hub.mode=subscribe&hub.verify_token=my-verify-token",
            "hub.challenge is missing",
        ),
        ("", "hub.mode is missing"),
    ];
    for (query, reason) in cases {
        let (status, content_type, body) = get(&data, query).await;
        assert_eq!(status, 403, "{query}");
        assert!(content_type.starts_with("application/json"));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["errorCode"], "WHATSAPP_VERIFY_FAILED", "{query}");
        assert!(
            json["message"].as_str().unwrap().contains(reason),
            "{query}: {body}"
        );
        assert!(!body.contains("my-verify-token"), "never echo tokens");
    }
}

#[actix_web::test]
async fn says_when_no_channel_has_a_verify_token() {
    let t = TestDb::sqlite();
    let data = ingest(&t, false, &[("1", Some("s"), None, None)]).await;
    let (status, _, body) = get(
        &data,
        "hub.mode=subscribe&hub.verify_token=x&hub.challenge=1",
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("no channel has a verify token"), "{body}");
}
