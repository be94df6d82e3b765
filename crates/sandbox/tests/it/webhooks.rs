//! Status webhooks: order, signature, shape, batching, failures, retries, reorder, duplicates,
//! throughput.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{
    Receiver, SECRET, client, fixture, post_messages, sandbox_for, send_text, settled_stats, shape,
    strip,
};

const WAIT: Duration = Duration::from_secs(10);

fn names(statuses: &[Value]) -> Vec<String> {
    statuses
        .iter()
        .map(|s| s["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_delivered_read_arrive_in_order_signed_over_the_raw_body() {
    let receiver = Receiver::start().await;
    let sandbox = sandbox_for(&receiver, |c| {
        c.display_phone_number = "15550001111".into();
        c.waba_id = "57438975935".into();
    })
    .await;
    let client = client();
    let body = json!({
        "messaging_product": "whatsapp",
        "to": "+55 11 99999-0000",
        "type": "text",
        "text": { "body": "olá, 😀" },
        "biz_opaque_callback_data": "job-42",
    });
    // The number in the URL is the one webhooks name.
    let (status, answer) = post_messages(&client, &sandbox, "987654321012", &body).await;
    assert_eq!(status, 200, "{answer}");
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_string();

    let hits = receiver.wait_for_statuses(3, WAIT).await;
    assert_eq!(hits.len(), 3);
    for hit in &hits {
        assert!(
            hit.signed_with(SECRET),
            "bad signature on {:?}",
            hit.signature
        );
        assert!(!hit.signed_with("another-secret"));
        assert!(hit.body.is_ascii(), "Meta's wire bodies are ASCII");
        let payload = hit.json();
        assert_eq!(payload["object"], "whatsapp_business_account");
        assert_eq!(payload["entry"][0]["id"], "57438975935");
        let change = &payload["entry"][0]["changes"][0];
        assert_eq!(change["field"], "messages");
        assert_eq!(change["value"]["messaging_product"], "whatsapp");
        assert_eq!(
            change["value"]["metadata"],
            json!({"display_phone_number": "15550001111", "phone_number_id": "987654321012"})
        );
    }
    let statuses: Vec<Value> = hits.iter().flat_map(|h| h.statuses()).collect();
    assert_eq!(names(&statuses), ["sent", "delivered", "read"]);
    for status in &statuses {
        assert_eq!(status["id"], wamid.as_str());
        assert_eq!(status["recipient_id"], "5511999990000");
        assert_eq!(status["biz_opaque_callback_data"], "job-42");
        let timestamp = status["timestamp"].as_str().unwrap();
        let seconds: i64 = timestamp.parse().unwrap();
        assert!((seconds - chrono::Utc::now().timestamp()).abs() < 60);
    }
    assert_eq!(statuses[0]["pricing"]["pricing_model"], "PMP");
    assert_eq!(statuses[0]["pricing"]["category"], "service");
    assert!(statuses[1]["pricing"].is_object());
    assert!(statuses[2].get("pricing").is_none());

    // Same shape as Meta's recorded `sent` webhook (minus `conversation`, gone since v24,
    // and pricing `type`, which the recording predates).
    let mut ours = hits[0].json();
    strip(&mut ours, "biz_opaque_callback_data");
    strip(&mut ours, "type");
    let mut theirs = fixture("meta-webhooks/status-sent-01.json");
    strip(&mut theirs, "conversation");
    assert_eq!(shape(&ours), shape(&theirs));

    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.webhooks_sent, 3);
    assert_eq!(stats.statuses_sent, 3);
    assert_eq!(stats.statuses_pending, 0);
    assert_eq!(stats.webhooks_failed, 0);
    sandbox.stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_read_stops_at_delivered_and_reactions_only_get_sent() {
    let receiver = Receiver::start().await;
    let sandbox = sandbox_for(&receiver, |c| c.send_read = false).await;
    let client = client();
    let wamid = send_text(&client, &sandbox, "16505551234").await;
    let (status, _) = post_messages(
        &client,
        &sandbox,
        "1122334455667",
        &json!({"messaging_product":"whatsapp","to":"16505551234","type":"reaction",
                "reaction":{"message_id": wamid, "emoji":"👍"}}),
    )
    .await;
    assert_eq!(status, 200);
    let hits = receiver.wait_for_statuses(3, WAIT).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let statuses: Vec<Value> = receiver.hits().iter().flat_map(|h| h.statuses()).collect();
    assert_eq!(statuses.len(), 3, "{hits:?}");
    let for_text: Vec<Value> = statuses
        .iter()
        .filter(|s| s["id"] == wamid.as_str())
        .cloned()
        .collect();
    assert_eq!(names(&for_text), ["sent", "delivered"]);
    sandbox.stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_due_together_are_batched_up_to_batch_max() {
    let receiver = Receiver::start().await;
    let sandbox = Arc::new(
        sandbox_for(&receiver, |c| {
            c.batch_max = 4;
            c.batch_window = Duration::from_millis(200);
            c.sent_after = Duration::from_millis(500);
            c.delivered_after = Duration::from_millis(1000);
            c.send_read = false;
        })
        .await,
    );
    let client = client();
    let sends: Vec<_> = (0..10)
        .map(|_| {
            let (client, sandbox) = (client.clone(), Arc::clone(&sandbox));
            tokio::spawn(async move { send_text(&client, &sandbox, "16505551234").await })
        })
        .collect();
    let mut wamids = Vec::new();
    for send in sends {
        wamids.push(send.await.unwrap());
    }
    let hits = receiver.wait_for_statuses(20, WAIT).await;
    let sizes: Vec<usize> = hits.iter().map(|h| h.statuses().len()).collect();
    assert!(sizes.iter().all(|n| (1..=4).contains(n)), "{sizes:?}");
    assert!(
        sizes.iter().any(|n| *n > 1),
        "nothing was batched: {sizes:?}"
    );
    assert!(hits.len() < 20, "{sizes:?}");
    for hit in &hits {
        assert!(hit.signed_with(SECRET));
    }
    // Every message still gets sent before delivered.
    let statuses: Vec<Value> = hits.iter().flat_map(|h| h.statuses()).collect();
    for wamid in &wamids {
        let mine: Vec<Value> = statuses
            .iter()
            .filter(|s| s["id"] == wamid.as_str())
            .cloned()
            .collect();
        assert_eq!(names(&mine), ["sent", "delivered"]);
    }
    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.statuses_sent, 20);
    assert_eq!(stats.webhooks_sent, hits.len() as u64);
    Arc::into_inner(sandbox).unwrap().stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_async_accepts_then_reports_failed_with_errors() {
    let receiver = Receiver::start().await;
    let sandbox = sandbox_for(&receiver, |c| c.async_failures = vec![(131047, 1.0)]).await;
    let client = client();
    let wamid = send_text(&client, &sandbox, "16505551234").await;
    let hits = receiver.wait_for_statuses(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.hits().len(), 1, "nothing after failed");
    assert!(hits[0].signed_with(SECRET));
    let failed = &hits[0].statuses()[0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["id"], wamid.as_str());
    assert!(failed.get("pricing").is_none());
    let error = &failed["errors"][0];
    assert_eq!(error["code"], 131047);
    assert_eq!(error["title"], "Re-engagement message");
    assert_eq!(error["message"], "Re-engagement message");
    assert!(
        error["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("24 hours")
    );
    assert!(error["href"].as_str().unwrap().starts_with("https://"));
    // Same shape as Meta's recorded failure.
    assert_eq!(
        shape(&hits[0].json()["entry"][0]["changes"][0]["value"]["statuses"][0]),
        shape(
            &fixture("meta-webhooks/status-failed-01.json")["entry"][0]["changes"][0]["value"]["statuses"]
                [0]
        )
    );
    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.accepted_messages, 1);
    assert_eq!(stats.async_failures_injected.get("131047"), Some(&1));
    sandbox.stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_webhooks_are_retried_then_given_up() {
    let receiver = Receiver::start().await;
    let sandbox = sandbox_for(&receiver, |c| {
        c.webhook_retries = 2;
        c.webhook_retry_base = Duration::from_millis(40);
    })
    .await;
    let client = client();
    let reaction = |wamid: &str| {
        json!({"messaging_product":"whatsapp","to":"16505551234","type":"reaction",
               "reaction":{"message_id": wamid, "emoji":"👍"}})
    };

    // Two refusals, then 200: the same bytes three times.
    receiver.answer_next(&[500, 503]);
    let (status, _) = post_messages(&client, &sandbox, "1122334455667", &reaction("wamid.a")).await;
    assert_eq!(status, 200);
    let hits = receiver.wait_until(WAIT, |hits| hits.len() >= 3).await;
    assert_eq!(hits[0].body, hits[1].body);
    assert_eq!(hits[1].body, hits[2].body);
    assert!(hits.iter().all(|h| h.signed_with(SECRET)));
    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.webhook_retries, 2);
    assert_eq!(stats.webhooks_sent, 1);
    assert_eq!(stats.statuses_sent, 1);
    assert_eq!(stats.webhooks_failed, 0);

    // Never answered 2xx: 1 + 2 retries, then counted as failed.
    receiver.answer_next(&[500, 500, 500, 500, 500]);
    post_messages(&client, &sandbox, "1122334455667", &reaction("wamid.b")).await;
    receiver.wait_until(WAIT, |hits| hits.len() >= 6).await;
    let deadline = Instant::now() + WAIT;
    while sandbox.stats().webhooks_failed == 0 {
        assert!(Instant::now() < deadline, "never given up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.webhooks_failed, 1);
    assert_eq!(stats.statuses_dropped, 1);
    assert_eq!(stats.statuses_pending, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 6, "no more attempts after giving up");
    sandbox.stop().await;
    receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_shuffles_and_duplicate_repeats() {
    let receiver = Receiver::start().await;
    let sandbox = sandbox_for(&receiver, |c| c.reorder_rate = 1.0).await;
    let client = client();
    send_text(&client, &sandbox, "16505551234").await;
    let hits = receiver.wait_for_statuses(3, WAIT).await;
    let order = names(&hits.iter().flat_map(|h| h.statuses()).collect::<Vec<_>>());
    assert_ne!(order, ["sent", "delivered", "read"]);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, ["delivered", "read", "sent"]);
    sandbox.stop().await;
    receiver.stop().await;

    let receiver = Receiver::start().await;
    let sandbox = sandbox_for(&receiver, |c| c.duplicate_rate = 1.0).await;
    send_text(&client, &sandbox, "16505551234").await;
    let hits = receiver.wait_until(WAIT, |hits| hits.len() >= 6).await;
    assert_eq!(hits.len(), 6);
    for pair in hits.chunks(2) {
        assert_eq!(pair[0].body, pair[1].body, "each body twice");
        assert_eq!(pair[0].signature, pair[1].signature);
    }
    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.webhooks_sent, 6);
    assert_eq!(stats.webhooks_duplicated, 3);
    assert_eq!(stats.statuses_sent, 3);
    sandbox.stop().await;
    receiver.stop().await;
}

/// 1,000 sends as fast as 16 clients can make them: every one gets its three statuses, in
/// order, one per POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_up_with_a_thousand_sends() {
    const SENDS: usize = 1000;
    let receiver = Receiver::start().await;
    let sandbox = Arc::new(sandbox_for(&receiver, |_| {}).await);
    let client = client();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        let sandbox = Arc::clone(&sandbox);
        tasks.push(tokio::spawn(async move {
            let mut wamids = Vec::new();
            for i in (worker..SENDS).step_by(16) {
                let to = format!("1555{:07}", i);
                wamids.push(send_text(&client, &sandbox, &to).await);
            }
            wamids
        }));
    }
    let mut wamids = Vec::new();
    for task in tasks {
        wamids.extend(task.await.unwrap());
    }
    let sending = started.elapsed();
    let hits = receiver
        .wait_for_statuses(3 * SENDS, Duration::from_secs(60))
        .await;
    let delivering = started.elapsed();
    assert_eq!(hits.len(), 3 * SENDS);
    let mut by_wamid: HashMap<String, Vec<String>> = HashMap::new();
    for status in hits.iter().flat_map(|h| h.statuses()) {
        by_wamid
            .entry(status["id"].as_str().unwrap().to_string())
            .or_default()
            .push(status["status"].as_str().unwrap().to_string());
    }
    assert_eq!(by_wamid.len(), SENDS);
    for wamid in &wamids {
        assert_eq!(by_wamid[wamid], ["sent", "delivered", "read"], "{wamid}");
    }
    let stats = settled_stats(&sandbox).await;
    assert_eq!(stats.accepted_messages, SENDS as u64);
    assert_eq!(stats.statuses_sent, 3 * SENDS as u64);
    assert!(stats.max_per_second >= 1 && stats.max_per_second <= SENDS as u64);
    eprintln!(
        "{SENDS} sends in {sending:?}, all {} statuses delivered after {delivering:?} (max {}/s)",
        3 * SENDS,
        stats.max_per_second
    );
    Arc::into_inner(sandbox).unwrap().stop().await;
    receiver.stop().await;
}
