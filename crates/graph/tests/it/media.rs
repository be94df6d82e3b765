//! Upload, metadata, download (with an expired URL) and deletion of media.

use serde_json::json;
use switchboard_graph::ErrorClass;

use crate::harness::{MockGraph, PHONE_NUMBER_ID, Reply, TOKEN, auth, fixture_json};

const MEDIA_ID: &str = "1761991787669262";
const MEDIA_PATH: &str = "/v25.0/1761991787669262";

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// Metadata like media-get-metadata-01.json, with the download URL on the mock server.
fn metadata(graph: &MockGraph, download_path: &str) -> Reply {
    let mut body = fixture_json("media-get-metadata-01.json");
    body["url"] = json!(format!(
        "{}{download_path}?mid={MEDIA_ID}&ext=1728904986",
        graph.url
    ));
    Reply::value(200, &body)
}

#[tokio::test]
async fn upload_sends_a_multipart_file_and_returns_the_id() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        &format!("/v25.0/{PHONE_NUMBER_ID}/media"),
        Reply::json(200, r#"{"id":"4490709327384033"}"#),
    );
    let png = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let id = graph
        .client()
        .upload_media(&auth(), png, "image/png", "receipt.png")
        .await
        .unwrap();
    assert_eq!(id, "4490709327384033");
    let request = &graph.seen()[0];
    assert_eq!(request.header("authorization"), Some(bearer().as_str()));
    assert!(
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with("multipart/form-data; boundary=")),
        "{:?}",
        request.header("content-type")
    );
    let body = request.text();
    assert!(
        body.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"),
        "{body}"
    );
    assert!(
        body.contains("name=\"type\"\r\n\r\nimage/png\r\n"),
        "{body}"
    );
    assert!(
        body.contains("name=\"file\"; filename=\"receipt.png\"\r\nContent-Type: image/png\r\n\r\n"),
        "{body}"
    );
    assert!(body.contains("not really an image"));
}

#[tokio::test]
async fn upload_refuses_a_bad_mime_type_without_calling_meta() {
    let graph = MockGraph::start().await;
    let error = graph
        .client()
        .upload_media(&auth(), vec![1, 2, 3], "not a mime", "x.bin")
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Message);
    assert!(graph.seen().is_empty());
}

#[tokio::test]
async fn media_info_parses_metas_answer() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        MEDIA_PATH,
        Reply::fixture(200, "media-get-metadata-01.json"),
    );
    let info = graph.client().media_info(&auth(), MEDIA_ID).await.unwrap();
    assert_eq!(info.id, MEDIA_ID);
    assert_eq!(info.mime_type, "image/png");
    assert_eq!(info.file_size, Some(182859));
    assert_eq!(
        info.sha256.as_deref(),
        Some("c86c28d437534f7367e73b283155c083dddfdaf7f9b4dfae27e140f880035141")
    );
    assert!(
        info.url
            .starts_with("https://lookaside.fbsbx.com/whatsapp_business/attachments/")
    );
    let request = &graph.seen()[0];
    assert_eq!(request.header("authorization"), Some(bearer().as_str()));
    assert!(request.query.is_empty(), "{:?}", request.query);
}

#[tokio::test]
async fn download_sends_the_token_and_renews_an_expired_url_once() {
    let graph = MockGraph::start().await;
    graph.on("GET", MEDIA_PATH, metadata(&graph, "/lookaside/old"));
    graph.on("GET", MEDIA_PATH, metadata(&graph, "/lookaside/new"));
    graph.on(
        "GET",
        "/lookaside/old",
        Reply::raw(404, "text/html", "Not Found"),
    );
    let file: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    graph.on(
        "GET",
        "/lookaside/new",
        Reply::raw(200, "image/png", file.clone()),
    );

    let (info, bytes) = graph
        .client()
        .download_media(&auth(), MEDIA_ID)
        .await
        .unwrap();

    assert_eq!(bytes, file);
    assert!(info.url.contains("/lookaside/new"), "{}", info.url);
    let seen = graph.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [MEDIA_PATH, "/lookaside/old", MEDIA_PATH, "/lookaside/new"]
    );
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(bearer().as_str()),
            "{}",
            request.path
        );
        assert!(request.header("user-agent").is_some());
    }
    assert_eq!(seen[3].query.get("mid").map(String::as_str), Some(MEDIA_ID));
}

#[tokio::test]
async fn download_gives_up_after_one_renewal() {
    let graph = MockGraph::start().await;
    graph.on("GET", MEDIA_PATH, metadata(&graph, "/lookaside/gone"));
    graph.on(
        "GET",
        "/lookaside/gone",
        Reply::raw(404, "text/html", "Not Found"),
    );
    let error = graph
        .client()
        .download_media(&auth(), MEDIA_ID)
        .await
        .unwrap_err();
    assert_eq!(error.http_status, Some(404));
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(graph.seen().len(), 4);
}

#[tokio::test]
async fn a_media_id_meta_does_not_know_is_not_downloaded() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        MEDIA_PATH,
        Reply::value(
            400,
            &json!({"error": {"message": "Unsupported get request. Object with ID '1761991787669262' does not exist",
                    "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "A1"}}),
        ),
    );
    let error = graph
        .client()
        .download_media(&auth(), MEDIA_ID)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(graph.seen().len(), 1);
}

#[tokio::test]
async fn delete_media_is_limited_to_the_channels_number() {
    let graph = MockGraph::start().await;
    graph.on(
        "DELETE",
        MEDIA_PATH,
        Reply::fixture(200, "mark-read-success-01.json"),
    );
    graph
        .client()
        .delete_media(&auth(), MEDIA_ID)
        .await
        .unwrap();
    let request = &graph.seen()[0];
    assert_eq!(request.method, "DELETE");
    assert_eq!(
        request.query.get("phone_number_id").map(String::as_str),
        Some(PHONE_NUMBER_ID)
    );
    assert_eq!(request.header("authorization"), Some(bearer().as_str()));
}
