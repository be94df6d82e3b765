//! Meta's error answers, and no answer at all, as the client reports them.

use std::time::Duration;

use serde_json::json;
use switchboard_domain::outbound::OutboundContent;
use switchboard_graph::{ErrorClass, GraphConfig, GraphError, WINDOW_CLOSED_REASON};

use crate::harness::{MockGraph, Reply, TOKEN, auth};

const MESSAGES: &str = "/v25.0/106540352242922/messages";

fn hello() -> OutboundContent {
    serde_json::from_value(json!({"text": {"body": "hello"}})).unwrap()
}

/// Sends once against a server that answers `reply`.
async fn send_answered_by(reply: Reply) -> GraphError {
    let graph = MockGraph::start().await;
    graph.on("POST", MESSAGES, reply);
    graph
        .client()
        .send(&auth(), "15550001111", &hello(), None)
        .await
        .unwrap_err()
}

fn meta_error(code: i64, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"error": {
        "message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": format!("details of {code}")},
        "fbtrace_id": "Atrace"
    }}))
    .unwrap()
}

#[tokio::test]
async fn throughput_limit_is_retried_later() {
    let error = send_answered_by(Reply::fixture(400, "error-130429-rate-limit-01.json")).await;
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert!(error.is_throughput_limit());
    assert!(!error.is_pair_limit());
    assert_eq!(error.code, Some(130429));
    assert_eq!(error.subcode, Some(2494055));
    assert_eq!(error.http_status, Some(400));
    assert_eq!(error.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
    assert_eq!(error.retry_after, None);
    assert_eq!(
        error.reason(),
        "(#130429) Rate limit hit: Cloud API message throughput has been reached."
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let error = send_answered_by(
        Reply::fixture(429, "error-130429-rate-limit-01.json").header("Retry-After", "30"),
    )
    .await;
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert_eq!(error.retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn business_use_case_usage_is_honoured() {
    let error = send_answered_by(
        Reply::json(400, meta_error(80007, "(#80007) Rate limit issues")).header(
            "X-Business-Use-Case-Usage",
            r#"{"102290129340398":[{"type":"whatsapp_business_management","call_count":100,"estimated_time_to_regain_access":2}]}"#,
        ),
    )
    .await;
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert_eq!(error.retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn pair_limit_is_retried_later_for_that_recipient() {
    let error = send_answered_by(Reply::json(
        400,
        meta_error(131056, "(#131056) Pair rate limit hit"),
    ))
    .await;
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert!(error.is_pair_limit());
}

#[tokio::test]
async fn invalid_parameter_fails_the_message() {
    let error = send_answered_by(Reply::fixture(400, "error-100-invalid-parameter-01.json")).await;
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(error.code, Some(100));
}

#[tokio::test]
async fn a_closed_window_fails_the_message_with_advice() {
    let error = send_answered_by(Reply::json(
        400,
        meta_error(131047, "(#131047) Re-engagement message"),
    ))
    .await;
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(error.reason(), WINDOW_CLOSED_REASON);
    assert_eq!(error.to_string(), WINDOW_CLOSED_REASON);
}

#[tokio::test]
async fn an_expired_token_pauses_the_channel_and_is_never_quoted() {
    let body = json!({"error": {
        "message": format!("Error validating access token {TOKEN}: Session has expired"),
        "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "Aexp"
    }});
    let error = send_answered_by(Reply::value(401, &body)).await;
    assert_eq!(error.class, ErrorClass::Channel);
    assert_eq!(error.code, Some(190));
    assert_eq!(error.subcode, Some(463));
    assert!(!format!("{error:?}").contains(TOKEN), "{error:?}");
    assert!(!error.reason().contains(TOKEN));
}

#[tokio::test]
async fn a_known_code_wins_over_a_5xx_status() {
    let error = send_answered_by(Reply::json(
        500,
        meta_error(368, "(#368) Temporarily blocked for policies violations"),
    ))
    .await;
    assert_eq!(error.class, ErrorClass::Channel);
}

#[tokio::test]
async fn an_html_500_is_retried_later_and_explained() {
    let error = send_answered_by(Reply::raw(
        500,
        "text/html",
        "<html><body><h1>500 Internal Server Error</h1></body></html>",
    ))
    .await;
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert_eq!(error.http_status, Some(500));
    assert_eq!(error.code, None);
    assert!(error.reason().contains("HTTP 500"), "{}", error.reason());
    assert!(error.reason().contains("500 Internal Server Error"));
}

#[tokio::test]
async fn an_unknown_code_on_a_4xx_fails_the_message() {
    let error = send_answered_by(Reply::json(
        400,
        meta_error(987654, "(#987654) Something new"),
    ))
    .await;
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(error.reason(), "(#987654) Something new: details of 987654");
}

#[tokio::test]
async fn a_slow_server_is_a_timeout_to_retry() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        MESSAGES,
        Reply::fixture(200, "send-success-01.json").delayed(Duration::from_secs(3)),
    );
    let client = graph.client_with(GraphConfig {
        timeout: Duration::from_millis(300),
        ..GraphConfig::default()
    });
    let started = std::time::Instant::now();
    let error = client
        .send(&auth(), "15550001111", &hello(), None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert_eq!(error.http_status, None);
    assert!(error.message.contains("timed out"), "{}", error.message);
}

#[tokio::test]
async fn a_refused_connection_is_retried_later() {
    // A port that was free a moment ago and has no listener now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = switchboard_graph::GraphClient::new(GraphConfig {
        api_url: format!("http://127.0.0.1:{port}"),
        ..GraphConfig::default()
    })
    .unwrap();
    let error = client
        .send(&auth(), "15550001111", &hello(), None)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert_eq!(error.http_status, None);
    assert!(
        error.message.contains("could not connect"),
        "{}",
        error.message
    );
}
