//! What `send` and `mark_read` put on the wire, and what they make of Meta's answers.

use serde_json::{Value, json};
use switchboard_domain::outbound::OutboundContent;
use switchboard_graph::ErrorClass;

use crate::harness::{MockGraph, PHONE_NUMBER_ID, Reply, Seen, TOKEN, auth, fixture_json};

const MESSAGES: &str = "/v25.0/106540352242922/messages";
const FIXTURE_WAMID: &str = "wamid.HBgLMTM0Mzc3NzI5MTAVAgARGBIyQzU4M0Q4MDc2NDY4ODgwNjUA";

fn content(value: Value) -> OutboundContent {
    serde_json::from_value(value).unwrap()
}

/// Sends `inner` to 573103055424 and returns the one request the server saw.
async fn sent_body(inner: Value, reply_to: Option<&str>) -> (Seen, switchboard_graph::Accepted) {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        MESSAGES,
        Reply::fixture(200, "send-success-01.json"),
    );
    let accepted = graph
        .client()
        .send(&auth(), "573103055424", &content(inner), reply_to)
        .await
        .unwrap();
    let seen = graph.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let request = seen[0].clone();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, MESSAGES);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("switchboard/"))
    );
    (request, accepted)
}

#[tokio::test]
async fn text_is_sent_in_metas_shape_with_a_plus() {
    let (request, accepted) = sent_body(
        json!({"text": {"body": "Hola Ana", "preview_url": true}}),
        None,
    )
    .await;
    assert_eq!(
        request.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+573103055424",
            "type": "text",
            "text": {"body": "Hola Ana", "preview_url": true}
        })
    );
    // send-success-01.json, a live recording.
    assert_eq!(accepted.wamid, FIXTURE_WAMID);
    assert_eq!(accepted.wa_id.as_deref(), Some("13437772910"));
    assert_eq!(accepted.message_status, None);
}

#[tokio::test]
async fn a_template_reply_carries_the_context() {
    let template = json!({
        "name": "order_confirmation",
        "language": {"code": "en_US"},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.test/a.png"}}]},
            {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name", "text": "Jessica"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": "STOP"}]}
        ]
    });
    let (request, _) = sent_body(json!({"template": template}), Some("wamid.INBOUND")).await;
    assert_eq!(
        request.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+573103055424",
            "type": "template",
            "template": template,
            "context": {"message_id": "wamid.INBOUND"}
        })
    );
}

#[tokio::test]
async fn an_image_by_link_keeps_its_caption() {
    let (request, _) = sent_body(
        json!({"image": {"link": "https://cdn.example.com/p.jpg?v=2", "caption": "Your receipt"}}),
        None,
    )
    .await;
    assert_eq!(
        request.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+573103055424",
            "type": "image",
            "image": {"link": "https://cdn.example.com/p.jpg?v=2", "caption": "Your receipt"}
        })
    );
}

#[tokio::test]
async fn interactive_buttons_are_sent_as_meta_documents_them() {
    let interactive = json!({
        "type": "button",
        "body": {"text": "Confirm your appointment?"},
        "footer": {"text": "Clinic"},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
            {"type": "reply", "reply": {"id": "no", "title": "No"}}
        ]}
    });
    let (request, _) = sent_body(json!({"interactive": interactive}), None).await;
    assert_eq!(
        request.json(),
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "+573103055424",
            "type": "interactive",
            "interactive": interactive
        })
    );
}

#[tokio::test]
async fn a_pacing_status_is_reported_and_contacts_are_optional() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        MESSAGES,
        Reply::value(
            200,
            &json!({"messaging_product": "whatsapp",
                    "messages": [{"id": "wamid.PACED", "message_status": "held_for_quality_assessment"}]}),
        ),
    );
    let accepted = graph
        .client()
        .send(
            &auth(),
            "+15550001111",
            &content(json!({"text": {"body": "x"}})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(accepted.wamid, "wamid.PACED");
    assert_eq!(accepted.wa_id, None);
    assert_eq!(
        accepted.message_status.as_deref(),
        Some("held_for_quality_assessment")
    );
    // A number given with '+' is not doubled.
    assert_eq!(graph.seen()[0].json()["to"], "+15550001111");
}

#[tokio::test]
async fn an_unreadable_acceptance_is_not_retried() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        MESSAGES,
        Reply::raw(200, "text/html", "<html>ok</html>"),
    );
    let error = graph
        .client()
        .send(
            &auth(),
            "15550001111",
            &content(json!({"text": {"body": "x"}})),
            None,
        )
        .await
        .unwrap_err();
    // Meta probably accepted it: retrying could deliver it twice.
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(error.http_status, Some(200));
}

#[tokio::test]
async fn mark_read_sends_the_read_receipt_and_optional_typing_dots() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        MESSAGES,
        Reply::fixture(200, "mark-read-success-01.json"),
    );
    let client = graph.client();
    client.mark_read(&auth(), "wamid.IN1", false).await.unwrap();
    client.mark_read(&auth(), "wamid.IN2", true).await.unwrap();
    let seen = graph.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].json(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1"})
    );
    assert_eq!(
        seen[1].json(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN2",
               "typing_indicator": {"type": "text"}})
    );
    for request in &seen {
        assert_eq!(request.path, format!("/v25.0/{PHONE_NUMBER_ID}/messages"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn marking_an_outgoing_message_read_is_a_message_error() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        MESSAGES,
        Reply::fixture(400, "error-100-invalid-parameter-01.json"),
    );
    let error = graph
        .client()
        .mark_read(&auth(), "wamid.OUT", false)
        .await
        .unwrap_err();
    let recorded = fixture_json("error-100-invalid-parameter-01.json");
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!(error.code, Some(100));
    assert_eq!(error.http_status, Some(400));
    assert_eq!(
        error.details.as_deref(),
        recorded["error"]["error_data"]["details"].as_str()
    );
    assert_eq!(error.fbtrace_id.as_deref(), Some("A37kyQyzvth42JAWv5dja9R"));
    assert!(
        error
            .reason()
            .starts_with("(#100) Invalid parameter: Message supplied")
    );
}

#[tokio::test]
async fn success_false_is_an_error() {
    let graph = MockGraph::start().await;
    graph.on("POST", MESSAGES, Reply::json(200, r#"{"success":false}"#));
    let error = graph
        .client()
        .mark_read(&auth(), "wamid.IN", false)
        .await
        .unwrap_err();
    assert!(error.message.contains("success=false"), "{}", error.message);
}
