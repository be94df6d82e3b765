//! The Graph endpoints: sends, tokens, malformed bodies, injected errors, mark-as-read,
//! templates, media, counts.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_sandbox::multipart::{self, Part};
use switchboard_sandbox::{ErrorKind, Stats};

use crate::harness::{TOKEN, client, post_messages, sandbox, send_text, text_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_answers_like_meta_with_a_fresh_wamid_each_time() {
    let sandbox = sandbox(|_| {}).await;
    let client = client();
    let (status, first) = post_messages(
        &client,
        &sandbox,
        "1122334455667",
        &text_to("+1 650-555-1234", "hello"),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["messaging_product"], "whatsapp");
    assert_eq!(first["contacts"][0]["input"], "+1 650-555-1234");
    assert_eq!(first["contacts"][0]["wa_id"], "16505551234");
    let a = first["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(a.starts_with("wamid.HBg"), "{a}");
    let b = send_text(&client, &sandbox, "+16505551234").await;
    assert_ne!(a, b);
    // Templates get Meta's pacing field.
    let (status, template) = post_messages(
        &client,
        &sandbox,
        "1122334455667",
        &json!({"messaging_product":"whatsapp","to":"16505551234","type":"template",
                "template":{"name":"hello_world","language":{"code":"en_US"}}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(template["messages"][0]["message_status"], "accepted");

    let stats = sandbox.stats();
    assert_eq!(stats.accepted_messages, 3);
    assert_eq!(stats.rejected_messages, 0);
    assert!(stats.first_accepted_at.is_some() && stats.last_accepted_at.is_some());
    let stored = sandbox.messages(Some("+16505551234"));
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].wamid, a);
    assert_eq!(stored[0].kind, "text");
    assert_eq!(stored[0].body["text"]["body"], "hello");
    assert!(sandbox.messages(Some("15550009999")).is_empty());

    // The same over HTTP.
    let listed: Value = client
        .get(format!(
            "{}/sandbox/messages?to=%2B16505551234",
            sandbox.api_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    assert_eq!(listed["data"][0]["wamid"], a.as_str());
    assert_eq!(listed["data"][0]["to"], "+1 650-555-1234");
    assert!(
        listed["data"][0]["acceptedAt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let over_http: Value = client
        .get(format!("{}/sandbox/stats", sandbox.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["acceptedMessages"], 3);
    assert_eq!(over_http["maxPerSecond"], 3);
    let first_at = over_http["firstAcceptedAt"].as_str().unwrap();
    // RFC 3339 with milliseconds: 2026-11-22T01:02:03.456Z
    assert_eq!(first_at.len(), 24, "{first_at}");

    // Reset clears counts and messages.
    let reset = client
        .post(format!("{}/sandbox/reset", sandbox.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(sandbox.stats().accepted_messages, 0);
    assert!(sandbox.messages(None).is_empty());
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_checked_on_every_graph_call() {
    let sandbox = sandbox(|c| c.access_token = Some("the-right-token".into())).await;
    let client = client();
    let url = format!("{}/v25.0/1122334455667/messages", sandbox.api_url());
    let body = text_to("16505551234", "hi");

    let missing = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(missing.headers().contains_key("www-authenticate"));
    let missing: Value = missing.json().await.unwrap();
    assert_eq!(missing["error"]["code"], 190);
    assert_eq!(missing["error"]["type"], "OAuthException");

    let wrong = client
        .post(&url)
        .bearer_auth("another-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["error"]["code"], 190);
    assert!(wrong["error"]["fbtrace_id"].is_string());

    let right = client
        .post(&url)
        .bearer_auth("the-right-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);

    for path in [
        "/v25.0/57438975935/message_templates",
        "/v25.0/123456",
        "/123456",
    ] {
        let response = client
            .get(format!("{}{path}", sandbox.api_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let stats = sandbox.stats();
    assert_eq!((stats.accepted_messages, stats.rejected_messages), (1, 2));
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sends_get_error_100_saying_what_is_wrong() {
    let sandbox = sandbox(|_| {}).await;
    let client = client();
    let url = format!("{}/v25.0/1122334455667/messages", sandbox.api_url());
    let not_json = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body("{\"messaging_product\":")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let not_json: Value = not_json.json().await.unwrap();
    assert_eq!(not_json["error"]["code"], 100);
    assert_eq!(
        not_json["error"]["error_data"]["messaging_product"],
        "whatsapp"
    );
    assert!(
        not_json["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );

    let cases = [
        (
            json!({"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}),
            "(#100) The parameter to is required.",
        ),
        (
            json!({"messaging_product":"whatsapp","to":"16505551234","type":"image","image":{}}),
            "(#100) The parameter image['id'] is required.",
        ),
        (
            json!({"messaging_product":"whatsapp","to":"16505551234","type":"carrier_pigeon","carrier_pigeon":{}}),
            "(#100) Invalid parameter",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = post_messages(&client, &sandbox, "1122334455667", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"]["message"], message, "{answer}");
        assert!(
            !answer["error"]["error_data"]["details"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    let stats = sandbox.stats();
    assert_eq!((stats.accepted_messages, stats.rejected_messages), (0, 4));

    let unknown = client
        .get(format!("{}/nowhere/at/all", sandbox.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(unknown["error"]["code"], 2500);
    let bad_version = client
        .post(format!("{}/25.0/1122334455667/messages", sandbox.api_url()))
        .bearer_auth(TOKEN)
        .json(&text_to("16505551234", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_version.status(), 400);
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_as_read_and_typing_indicator() {
    let sandbox = sandbox(|_| {}).await;
    let client = client();
    let read = json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.HBgNNTUxMTk5OTk5MDAwMBUCABIYFDNBMEIwQzBEMEUwRjAwMDAwMDAwAA=="});
    let (status, answer) = post_messages(&client, &sandbox, "1122334455667", &read).await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let mut typing = read.clone();
    typing["typing_indicator"] = json!({"type": "text"});
    let (status, _) = post_messages(&client, &sandbox, "1122334455667", &typing).await;
    assert_eq!(status, 200);

    // A wamid the sandbox handed out for a send is outgoing: Meta refuses it.
    let outgoing = send_text(&client, &sandbox, "16505551234").await;
    let (status, answer) = post_messages(
        &client,
        &sandbox,
        "1122334455667",
        &json!({"messaging_product":"whatsapp","status":"read","message_id":outgoing}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["message"], "(#100) Invalid parameter");
    assert_eq!(
        answer["error"]["error_data"]["details"],
        format!(
            "Message supplied to mark message as read API with message ID: {outgoing} is outgoing. Please use an incoming message ID."
        )
    );
    // Something that is not a wamid at all is refused too.
    let (status, answer) = post_messages(
        &client,
        &sandbox,
        "1122334455667",
        &json!({"messaging_product":"whatsapp","status":"read","message_id":"ABGGFlA5Fpa"}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("ABGGFlA5Fpa"),
        "{answer}"
    );
    let stats = sandbox.stats();
    assert_eq!(stats.mark_reads, 2);
    assert_eq!(stats.accepted_messages, 1);
    assert_eq!(
        stats.rejected_messages, 0,
        "a refused mark-read is not a send"
    );
    // The reads that succeeded are listed, in order, with the number and the typing flag.
    let reads = sandbox.reads();
    let wamid = read["message_id"].as_str().unwrap();
    assert_eq!(reads.len(), 2);
    assert!(
        reads
            .iter()
            .all(|r| r.message_id == wamid && r.phone_number_id == "1122334455667")
    );
    assert_eq!(
        reads.iter().map(|r| r.typing_indicator).collect::<Vec<_>>(),
        [false, true]
    );
    let listed: Value = client
        .get(format!("{}/sandbox/reads", sandbox.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][1]["messageId"], wamid);
    assert_eq!(listed["data"][1]["typingIndicator"], true);
    sandbox.reset();
    assert!(sandbox.reads().is_empty());
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_rate_limit_has_metas_body() {
    let sandbox = sandbox(|c| c.error_rates = vec![(ErrorKind::Meta(130429), 1.0)]).await;
    let client = client();
    let (status, answer) = post_messages(
        &client,
        &sandbox,
        "1122334455667",
        &text_to("16505551234", "hi"),
    )
    .await;
    assert_eq!(status, 400);
    let error = &answer["error"];
    assert_eq!(error["message"], "(#130429) Rate limit hit");
    assert_eq!(error["type"], "OAuthException");
    assert_eq!(error["code"], 130429);
    assert_eq!(error["error_data"]["messaging_product"], "whatsapp");
    assert_eq!(
        error["error_data"]["details"],
        "Cloud API message throughput has been reached."
    );
    assert_eq!(error["fbtrace_id"].as_str().unwrap().len(), 23);
    let stats = sandbox.stats();
    assert_eq!(stats.accepted_messages, 0);
    assert_eq!(stats.rejected_messages, 1);
    assert_eq!(stats.errors_injected.get("130429"), Some(&1));
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_injected_errors() {
    let client = client();
    let expired = sandbox(|c| c.error_rates = vec![(ErrorKind::Meta(190), 1.0)]).await;
    let (status, answer) = post_messages(
        &client,
        &expired,
        "1122334455667",
        &text_to("16505551234", "hi"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["code"], 190);
    assert_eq!(answer["error"]["error_subcode"], 463);
    expired.stop().await;

    let broken = sandbox(|c| c.error_rates = vec![(ErrorKind::Http500, 1.0)]).await;
    let response = client
        .post(format!("{}/v25.0/1122334455667/messages", broken.api_url()))
        .bearer_auth(TOKEN)
        .json(&text_to("16505551234", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(broken.stats().errors_injected.get("500"), Some(&1));
    broken.stop().await;

    // Half and half: both outcomes show up, and the counts add up.
    let half = sandbox(|c| c.error_rates = vec![(ErrorKind::Meta(131056), 0.5)]).await;
    let mut codes = Vec::new();
    for _ in 0..40 {
        let (status, _) = post_messages(
            &client,
            &half,
            "1122334455667",
            &text_to("16505551234", "hi"),
        )
        .await;
        codes.push(status);
    }
    let stats = half.stats();
    assert!(codes.contains(&200) && codes.contains(&400), "{codes:?}");
    assert_eq!(stats.accepted_messages + stats.rejected_messages, 40);
    assert_eq!(
        stats.errors_injected.get("131056").copied().unwrap_or(0),
        stats.rejected_messages
    );
    half.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_timeout_holds_the_request_until_shutdown() {
    let sandbox = sandbox(|c| c.error_rates = vec![(ErrorKind::Timeout, 1.0)]).await;
    crate::harness::install_tls();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let started = Instant::now();
    let result = impatient
        .post(format!(
            "{}/v25.0/1122334455667/messages",
            sandbox.api_url()
        ))
        .bearer_auth(TOKEN)
        .json(&text_to("16505551234", "hi"))
        .send()
        .await;
    let error = result.expect_err("a held request must not be answered");
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(800));
    let stats = sandbox.stats();
    assert_eq!(stats.errors_injected.get("timeout"), Some(&1));
    assert_eq!(stats.rejected_messages, 1);

    // A request still held does not keep the sandbox from stopping.
    let url = format!("{}/v25.0/1122334455667/messages", sandbox.api_url());
    let held = tokio::spawn(async move {
        crate::harness::client()
            .post(url)
            .bearer_auth(TOKEN)
            .json(&text_to("16505551234", "hi"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), sandbox.stop())
        .await
        .expect("stop must not wait for the held request's two minutes");
    assert!(stopping.elapsed() < Duration::from_secs(5));
    let outcome = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !matches!(outcome, Ok(200)),
        "released with {outcome:?}, never a success"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_added_before_answering() {
    let sandbox = sandbox(|c| c.latency = Duration::from_millis(250)).await;
    let client = client();
    let started = Instant::now();
    send_text(&client, &sandbox, "16505551234").await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_per_second_counts_the_densest_second() {
    let sandbox = sandbox(|_| {}).await;
    let client = client();
    for _ in 0..10 {
        send_text(&client, &sandbox, "16505551234").await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..6 {
        send_text(&client, &sandbox, "16505551234").await;
    }
    let stats: Stats = sandbox.stats();
    assert_eq!(stats.accepted_messages, 16);
    // Two bursts more than a second apart: the busier one, not their sum.
    assert_eq!(stats.max_per_second, 10);
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_paging_walks_the_whole_list() {
    let sandbox = sandbox(|_| {}).await;
    let client = client();
    let mut url = format!(
        "{}/v25.0/57438975935/message_templates?limit=3",
        sandbox.api_url()
    );
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let page: Value = client
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        for template in page["data"].as_array().unwrap() {
            names.push(template["name"].as_str().unwrap().to_string());
        }
        assert!(page["paging"]["cursors"]["after"].is_string());
        match page["paging"]["next"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 7);
    assert_eq!(names[0], "hello_world");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7);

    // The after cursor by hand, and a broken one.
    let first: Value = client
        .get(format!(
            "{}/v25.0/57438975935/message_templates?limit=2",
            sandbox.api_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let second: Value = client
        .get(format!(
            "{}/v25.0/57438975935/message_templates?limit=2&after={after}",
            sandbox.api_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"][0]["name"], names[2].as_str());
    let broken = client
        .get(format!(
            "{}/v25.0/57438975935/message_templates?after=nonsense",
            sandbox.api_url()
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    sandbox.stop().await;
}

fn upload_form(parts: &[Part]) -> (String, Vec<u8>) {
    multipart::encode(parts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_upload_metadata_download_expiry_and_delete() {
    let sandbox = sandbox(|c| c.media_url_ttl = Duration::from_millis(600)).await;
    let client = client();
    let png = b"\x89PNG\r\n\x1a\n not really a png".to_vec();
    let (content_type, body) = upload_form(&[
        Part::text("messaging_product", "whatsapp"),
        Part::file("file", "cat.png", "image/png", png.clone()),
    ]);
    let uploaded: Value = client
        .post(format!("{}/v25.0/1122334455667/media", sandbox.api_url()))
        .bearer_auth(TOKEN)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = uploaded["id"].as_str().unwrap().to_string();
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{uploaded}");

    let metadata_url = format!("{}/v25.0/{id}", sandbox.api_url());
    let metadata: Value = client
        .get(&metadata_url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["id"], id.as_str());
    assert_eq!(metadata["messaging_product"], "whatsapp");
    assert_eq!(metadata["mime_type"], "image/png");
    assert_eq!(metadata["file_size"], png.len());
    assert_eq!(
        metadata["sha256"],
        hex::encode(ring::digest::digest(&ring::digest::SHA256, &png))
    );
    let url = metadata["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&sandbox.api_url()), "{url}");

    let no_token = client.get(&url).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let download = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.bytes().await.unwrap().as_ref(), png.as_slice());

    tokio::time::sleep(Duration::from_millis(700)).await;
    let expired = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(expired.status(), 404);

    // A fresh metadata call gives a fresh URL; the version-less path works too.
    let again: Value = client
        .get(format!("{}/{id}", sandbox.api_url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = again["url"].as_str().unwrap();
    assert_ne!(fresh, url);
    let download = client.get(fresh).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(download.status(), 200);

    let deleted: Value = client
        .delete(&metadata_url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted, json!({"success": true}));
    let gone = client
        .get(&metadata_url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 400);
    let gone: Value = gone.json().await.unwrap();
    assert_eq!(gone["error"]["code"], 100);
    assert_eq!(gone["error"]["error_subcode"], 33);
    let download = client.get(fresh).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(download.status(), 404);

    // Refused uploads.
    for (parts, fragment) in [
        (
            vec![Part::text("messaging_product", "whatsapp")],
            "parameter file is required",
        ),
        (
            vec![Part::file("file", "a.png", "image/png", vec![1])],
            "parameter messaging_product is required",
        ),
        (
            vec![
                Part::text("messaging_product", "whatsapp"),
                Part::file("file", "tool.exe", "application/x-msdownload", vec![1]),
            ],
            "Param file must be a file with one of the following types",
        ),
    ] {
        let (content_type, body) = upload_form(&parts);
        let response = client
            .post(format!("{}/v25.0/1122334455667/media", sandbox.api_url()))
            .bearer_auth(TOKEN)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.unwrap();
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains(fragment),
            "{answer}"
        );
    }
    sandbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandboxs_phone_number_reads_like_metas() {
    let sandbox = sandbox(|c| c.access_token = Some(TOKEN.into())).await;
    let client = client();
    let get = |path: &str, token: &str| {
        client
            .get(format!("{}{path}", sandbox.api_url()))
            .bearer_auth(token)
            .send()
    };
    let response = get(
        "/v25.0/1122334455667?fields=display_phone_number,verified_name,quality_rating,code_verification_status",
        TOKEN,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let number: Value = response.json().await.unwrap();
    assert_eq!(
        number,
        json!({"id": "1122334455667", "display_phone_number": "+1 555-000-1111",
               "verified_name": "Switchboard Sandbox", "quality_rating": "GREEN",
               "code_verification_status": "VERIFIED"})
    );
    // Without fields: Meta's default set.
    let all: Value = get("/v25.0/1122334455667", TOKEN)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["platform_type"], "CLOUD_API");
    assert_eq!(all["throughput"]["level"], "STANDARD");
    // A field the node does not have.
    let response = get("/v25.0/1122334455667?fields=colour", TOKEN)
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], 100);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(colour)")
    );
    // Another token: Meta's 190.
    let response = get("/v25.0/1122334455667", "EAAG-other").await.unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], 190);
    assert_eq!(error["error"]["type"], "OAuthException");
    // A number that is not the sandbox's: an object that does not exist.
    let response = get("/v25.0/999000999", TOKEN).await.unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["error_subcode"], 33);
    sandbox.stop().await;
}
