//! Listing templates across pages.

use serde_json::json;
use switchboard_graph::{CreatedTemplate, ErrorClass, TemplateSubmission};

use crate::harness::{MockGraph, Reply, TOKEN, fixture_json};

const WABA_ID: &str = "102290129340398";
const TEMPLATES: &str = "/v25.0/102290129340398/message_templates";

#[tokio::test]
async fn list_templates_follows_the_pages_to_the_end() {
    let graph = MockGraph::start().await;
    // Page 1: the recorded list, with the `next` link Meta adds when more pages follow
    // (it carries a token, which the client must not send back in the URL).
    let mut first = fixture_json("template-list-01.json");
    first["paging"]["next"] = json!(format!(
        "{}{TEMPLATES}?access_token=SHOULD-NOT-BE-SENT&limit=100&after=OTkZD",
        graph.url
    ));
    let second = json!({
        "data": [{
            "name": "appointment_reminder", "parameter_format": "NAMED",
            "components": [{"type": "BODY", "text": "Hi {{first_name}}, see you at {{time}}."}],
            "language": "es", "status": "REJECTED", "category": "UTILITY",
            "rejected_reason": "INVALID_FORMAT",
            "quality_score": {"score": "UNKNOWN", "date": 1712830463},
            "id": "900000000000001"
        }],
        "paging": {"cursors": {"before": "QVFIa", "after": "QVFIb"}}
    });
    graph.on("GET", TEMPLATES, Reply::value(200, &first));
    graph.on("GET", TEMPLATES, Reply::value(200, &second));

    let templates = graph.client().list_templates(TOKEN, WABA_ID).await.unwrap();

    assert_eq!(templates.len(), 8);
    let hello = &templates[0];
    assert_eq!(hello.id, "711633970112948");
    assert_eq!(hello.name, "hello_world");
    assert_eq!(hello.language, "en_US");
    assert_eq!(hello.status, "APPROVED");
    assert_eq!(hello.category.as_deref(), Some("MARKETING"));
    assert_eq!(hello.previous_category, None);
    assert_eq!(hello.components, first["data"][0]["components"]);
    assert_eq!(
        templates[1].previous_category.as_deref(),
        Some("ISSUE_RESOLUTION")
    );
    let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names[6], "sample_flight_confirmation");
    let last = &templates[7];
    assert_eq!(last.name, "appointment_reminder");
    assert_eq!(last.parameter_format.as_deref(), Some("NAMED"));
    assert_eq!(last.rejected_reason.as_deref(), Some("INVALID_FORMAT"));
    assert_eq!(last.quality.as_deref(), Some("UNKNOWN"));

    let seen = graph.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(
            !request.query.contains_key("access_token"),
            "{:?}",
            request.query
        );
        assert_eq!(request.query.get("limit").map(String::as_str), Some("100"));
        assert!(request.query["fields"].contains("quality_score"));
    }
    assert!(!seen[0].query.contains_key("after"));
    assert_eq!(
        seen[1].query.get("after").map(String::as_str),
        Some("OTkZD")
    );
}

#[tokio::test]
async fn a_single_page_without_next_is_the_whole_list() {
    let graph = MockGraph::start().await;
    graph.on(
        "GET",
        TEMPLATES,
        Reply::fixture(200, "template-list-01.json"),
    );
    let templates = graph.client().list_templates(TOKEN, WABA_ID).await.unwrap();
    assert_eq!(templates.len(), 7);
    assert_eq!(graph.seen().len(), 1);
}

#[tokio::test]
async fn a_rate_limited_page_fails_the_listing_for_later() {
    let graph = MockGraph::start().await;
    let mut first = fixture_json("template-list-01.json");
    first["paging"]["next"] = json!("https://graph.facebook.com/next?after=OTkZD");
    graph.on("GET", TEMPLATES, Reply::value(200, &first));
    graph.on(
        "GET",
        TEMPLATES,
        Reply::value(
            400,
            &json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException",
                    "code": 4, "fbtrace_id": "A4"}}),
        )
        .header("Retry-After", "60"),
    );
    let error = graph
        .client()
        .list_templates(TOKEN, WABA_ID)
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::RetryLater);
    assert_eq!(error.code, Some(4));
    assert_eq!(error.retry_after, Some(std::time::Duration::from_secs(60)));
}

fn submission(components: &serde_json::Value) -> TemplateSubmission<'_> {
    TemplateSubmission {
        name: "order_ready",
        language: "en_US",
        category: "UTILITY",
        parameter_format: "NAMED",
        components,
    }
}

#[tokio::test]
async fn create_template_posts_metas_body_and_reads_the_id() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        TEMPLATES,
        Reply::value(
            200,
            &json!({"id": "594425479261596", "status": "PENDING", "category": "UTILITY"}),
        ),
    );
    let components = json!([{"type": "BODY", "text": "Hi {{first_name}}, your order is ready.",
        "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"}]}}]);
    let created = graph
        .client()
        .create_template(TOKEN, WABA_ID, &submission(&components))
        .await
        .unwrap();
    assert_eq!(
        created,
        CreatedTemplate {
            id: "594425479261596".into(),
            status: "PENDING".into(),
            category: Some("UTILITY".into()),
        }
    );
    let seen = graph.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, TEMPLATES);
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert!(seen[0].query.is_empty(), "{:?}", seen[0].query);
    assert_eq!(
        seen[0].json(),
        json!({"name": "order_ready", "language": "en_US", "category": "UTILITY",
               "parameter_format": "named", "components": components})
    );
}

#[tokio::test]
async fn a_refused_template_is_a_message_error_explained_by_meta() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        TEMPLATES,
        Reply::value(
            400,
            &json!({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                "error_subcode": 2388024, "is_transient": false,
                "error_user_title": "Message template already exists",
                "error_user_msg": "Content in this language already exists",
                "fbtrace_id": "AVcW4pUKmmTl"}}),
        ),
    );
    let components = json!([{"type": "BODY", "text": "Hi"}]);
    let error = graph
        .client()
        .create_template(TOKEN, WABA_ID, &submission(&components))
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Message);
    assert_eq!((error.code, error.subcode), (Some(100), Some(2388024)));
    assert_eq!(
        error.details.as_deref(),
        Some("Content in this language already exists")
    );
    assert_eq!(
        error.reason(),
        "(#100) Invalid parameter: Content in this language already exists"
    );
}

#[tokio::test]
async fn an_expired_token_on_submission_is_a_channel_error_without_the_token() {
    let graph = MockGraph::start().await;
    graph.on(
        "POST",
        TEMPLATES,
        Reply::value(
            401,
            &json!({"error": {"message": format!("Error validating access token {TOKEN}"),
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "A1"}}),
        ),
    );
    let components = json!([{"type": "BODY", "text": "Hi"}]);
    let error = graph
        .client()
        .create_template(TOKEN, WABA_ID, &submission(&components))
        .await
        .unwrap_err();
    assert_eq!(error.class, ErrorClass::Channel);
    assert!(!error.reason().contains(TOKEN), "{}", error.reason());
}
