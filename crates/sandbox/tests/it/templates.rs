//! Creating templates over HTTP: Meta's answer, the list that follows, refusals, reset.

use serde_json::{Value, json};

use crate::harness::{TOKEN, client, sandbox};

async fn post_template(
    client: &reqwest::Client,
    api_url: &str,
    waba_id: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client
        .post(format!("{api_url}/v25.0/{waba_id}/message_templates"))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn list(client: &reqwest::Client, api_url: &str, waba_id: &str) -> Vec<Value> {
    let page: Value = client
        .get(format!(
            "{api_url}/v25.0/{waba_id}/message_templates?limit=100"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

fn order_ready() -> Value {
    json!({
        "name": "order_ready",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "positional",
        "components": [
            {"type": "HEADER", "format": "TEXT", "text": "Order update"},
            {"type": "BODY", "text": "Your order {{1}} is ready.",
             "example": {"body_text": [["A-1"]]}},
        ],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_template_is_answered_like_meta_and_listed_pending() {
    let sandbox = sandbox(|_| {}).await;
    let (client, url) = (client(), sandbox.api_url());
    let (status, answer) = post_template(&client, &url, "57438975935", &order_ready()).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    assert_eq!(
        answer,
        json!({"id": id, "status": "PENDING", "category": "UTILITY"})
    );
    let listed = list(&client, &url, "57438975935").await;
    assert_eq!(listed.len(), 8);
    let created = listed.iter().find(|t| t["id"] == id.as_str()).unwrap();
    assert_eq!(created["name"], "order_ready");
    assert_eq!(created["language"], "en_US");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["parameter_format"], "POSITIONAL");
    assert_eq!(created["components"], order_ready()["components"]);
    assert_eq!(
        list(&client, &url, "111").await.len(),
        7,
        "only its WABA lists it"
    );

    // The same name and language again: Meta's duplicate refusal.
    let (status, refusal) = post_template(&client, &url, "57438975935", &order_ready()).await;
    assert_eq!(status, 400);
    assert_eq!(refusal["error"]["message"], "Invalid parameter");
    assert_eq!(refusal["error"]["type"], "OAuthException");
    assert_eq!(refusal["error"]["code"], 100);
    assert_eq!(refusal["error"]["error_subcode"], 2388024);
    assert_eq!(
        refusal["error"]["error_user_msg"],
        "Content in this language already exists"
    );
    assert!(refusal["error"]["fbtrace_id"].is_string());

    // A reset forgets created templates.
    sandbox.reset();
    assert_eq!(list(&client, &url, "57438975935").await.len(), 7);
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_template_is_refused_and_not_listed() {
    let sandbox = sandbox(|_| {}).await;
    let (client, url) = (client(), sandbox.api_url());
    let mut bad_name = order_ready();
    bad_name["name"] = json!("Order Ready!");
    let (status, refusal) = post_template(&client, &url, "57438975935", &bad_name).await;
    assert_eq!(status, 400);
    assert_eq!(refusal["error"]["code"], 100);
    assert!(
        refusal["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .contains("Order Ready!"),
        "{refusal}"
    );
    let mut no_body = order_ready();
    no_body["components"] = json!([{"type": "FOOTER", "text": "bye"}]);
    let (status, refusal) = post_template(&client, &url, "57438975935", &no_body).await;
    assert_eq!(status, 400);
    assert!(
        refusal["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .contains("BODY"),
        "{refusal}"
    );
    assert_eq!(list(&client, &url, "57438975935").await.len(), 7);

    // Without a token, as every Graph call.
    let anonymous = client
        .post(format!("{url}/v25.0/57438975935/message_templates"))
        .json(&order_ready())
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    sandbox.stop().await;
}
