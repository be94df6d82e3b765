//! Reading the channel's phone number: what goes on the wire, and Meta's answers read.

use serde_json::json;
use switchboard_graph::{ErrorClass, PhoneNumberInfo};

use crate::harness::{MockGraph, PHONE_NUMBER_ID, Reply, TOKEN, auth};

const PHONE_NUMBER: &str = "/v25.0/106540352242922";

#[tokio::test]
async fn the_number_is_read_with_the_channels_token_and_the_fields_asked() {
    let graph = MockGraph::start().await;
    // Meta's answer to GET /<PHONE_NUMBER_ID>?fields=… (phone numbers reference).
    graph.on(
        "GET",
        PHONE_NUMBER,
        Reply::value(
            200,
            &json!({
                "verified_name": "Jasper's Market",
                "code_verification_status": "VERIFIED",
                "display_phone_number": "+1 631-555-5555",
                "quality_rating": "GREEN",
                "id": PHONE_NUMBER_ID
            }),
        ),
    );

    let info = graph.client().phone_number(&auth()).await.unwrap();

    assert_eq!(
        info,
        PhoneNumberInfo {
            id: PHONE_NUMBER_ID.into(),
            display_phone_number: Some("+1 631-555-5555".into()),
            verified_name: Some("Jasper's Market".into()),
            quality_rating: Some("GREEN".into()),
            code_verification_status: Some("VERIFIED".into()),
        }
    );
    let seen = graph.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        seen[0].query.get("fields").map(String::as_str),
        Some("display_phone_number,verified_name,quality_rating,code_verification_status")
    );
    assert!(!seen[0].query.contains_key("access_token"));
}

#[tokio::test]
async fn fields_meta_leaves_out_are_none() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        PHONE_NUMBER,
        Reply::value(200, &json!({"id": PHONE_NUMBER_ID})),
    );
    let info = graph.client().phone_number(&auth()).await.unwrap();
    assert_eq!(info.id, PHONE_NUMBER_ID);
    assert_eq!(info.verified_name, None);
    assert_eq!(info.quality_rating, None);
}

#[tokio::test]
async fn an_invalid_token_is_a_channel_error_that_never_quotes_it() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        PHONE_NUMBER,
        Reply::value(
            401,
            &json!({"error": {
                "message": format!("Invalid OAuth access token - Cannot parse access token {TOKEN}"),
                "type": "OAuthException", "code": 190, "fbtrace_id": "AtokX"
            }}),
        ),
    );
    let error = graph.client().phone_number(&auth()).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Channel);
    assert_eq!(error.code, Some(190));
    assert_eq!(error.http_status, Some(401));
    assert!(!error.reason().contains(TOKEN), "{}", error.reason());
}

#[tokio::test]
async fn a_number_the_token_cannot_see_is_metas_unknown_object() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        PHONE_NUMBER,
        Reply::value(
            400,
            &json!({"error": {
                "message": "Unsupported get request. Object with ID '106540352242922' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "Aunk"
            }}),
        ),
    );
    let error = graph.client().phone_number(&auth()).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(error.code, Some(100));
    assert_eq!(error.subcode, Some(33));
    assert!(error.reason().contains("does not exist"));
}

#[tokio::test]
async fn an_answer_without_an_id_is_unreadable_and_not_retried() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        PHONE_NUMBER,
        Reply::value(200, &json!({"verified_name": "x"})),
    );
    let error = graph.client().phone_number(&auth()).await.unwrap_err();
    assert_eq!(error.class, ErrorClass::Message);
    assert!(
        error.message.contains("read phone number"),
        "{}",
        error.message
    );
}

#[test]
fn the_client_tells_where_it_calls_without_credentials() {
    let client = switchboard_graph::GraphClient::new(switchboard_graph::GraphConfig {
        api_url: "http://user:pw@127.0.0.1:9000/graph".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(client.api_url(), "http://127.0.0.1:9000/graph");
    assert_eq!(client.api_version(), "v25.0");
}
