//! Inbound webhooks: the payload builders against Meta's recorded shapes, the signature, and
//! posting one (library function and `switchboard sandbox inbound`).

use clap::{Parser, Subcommand};
use serde_json::Value;
use switchboard_sandbox::cli::{self, SandboxArgs};
use switchboard_sandbox::payloads::{self, Business, MediaRef, Sender};
use switchboard_sandbox::{InboundError, post_webhook, sign};

use crate::harness::{Receiver, SECRET, TOKEN, client, fixture, sandbox, shape, strip};

fn business() -> Business {
    Business {
        waba_id: "57438975935".into(),
        phone_number_id: "1122334455667".into(),
        display_phone_number: "15550001111".into(),
    }
}

fn sender() -> Sender {
    Sender::new("5511999990000", "Ana")
}

/// The fixture with the 2026 BSUID fields removed (the sandbox sends phone-number identities).
fn recorded(name: &str) -> Value {
    let mut value = fixture(&format!("meta-webhooks/{name}"));
    strip(&mut value, "user_id");
    strip(&mut value, "parent_user_id");
    value
}

#[test]
fn builders_produce_the_recorded_shapes() {
    let text = payloads::inbound_text(&business(), &sender(), "hola");
    assert_eq!(shape(&text), shape(&recorded("text-01.json")));
    let message = &text["entry"][0]["changes"][0]["value"]["messages"][0];
    assert_eq!(message["from"], "5511999990000");
    assert_eq!(message["text"]["body"], "hola");
    assert_eq!(
        text["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"],
        "Ana"
    );

    let image = payloads::inbound_image(
        &business(),
        &sender(),
        &MediaRef {
            id: "65463453".into(),
            mime_type: "image/jpeg".into(),
            sha256: "4654+8g=".into(),
            caption: None,
        },
    );
    assert_eq!(shape(&image), shape(&recorded("image-01.json")));

    let button = payloads::inbound_button_reply(
        &business(),
        &sender(),
        Some("wamid.ours"),
        "callback_data",
        "title",
    );
    assert_eq!(
        shape(&button),
        shape(&recorded("interactive-button-reply-01.json"))
    );
    let context = &button["entry"][0]["changes"][0]["value"]["messages"][0]["context"];
    assert_eq!(context["id"], "wamid.ours");

    let list =
        payloads::inbound_list_reply(&business(), &sender(), None, "callback_data", "title", None);
    assert_eq!(
        shape(&list),
        shape(&recorded("interactive-list-reply-01.json"))
    );

    let delivered = payloads::statuses(
        &business(),
        vec![{
            let mut status = payloads::status("wamid.x", "delivered", "5511999990000", 1);
            status["pricing"] = serde_json::json!({"billable": true, "pricing_model": "PMP", "category": "service"});
            status
        }],
    );
    let mut recorded_delivered = recorded("status-delivered-01.json");
    strip(&mut recorded_delivered, "conversation");
    assert_eq!(shape(&delivered), shape(&recorded_delivered));

    // Fresh wamids and string timestamps each time.
    let again = payloads::inbound_text(&business(), &sender(), "hola");
    assert_ne!(payloads::message_id(&text), payloads::message_id(&again));
    assert!(
        message["timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
}

#[test]
fn sign_matches_a_known_hmac_and_rings_verify() {
    // RFC 4231 test case 2.
    assert_eq!(
        sign(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let body = payloads::to_wire(&payloads::inbound_text(&business(), &sender(), "mangé 😮"));
    let header = sign(SECRET.as_bytes(), &body);
    let tag = hex::decode(header.strip_prefix("sha256=").unwrap()).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    assert!(ring::hmac::verify(&key, &body, &tag).is_ok());
    // The wire body escapes like Meta's, so a re-serialization would not verify.
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(text.contains(r"mang\u00e9 \ud83d\ude2e"), "{text}");
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    assert!(ring::hmac::verify(&key, &reserialized, &tag).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_webhook_succeeds_only_on_200() {
    let receiver = Receiver::start().await;
    let client = client();
    let payload = payloads::inbound_text(&business(), &sender(), "hola");
    let delivered = post_webhook(&client, &receiver.url, Some(SECRET), &payload)
        .await
        .unwrap();
    assert_eq!(delivered.status, 200);
    let hit = &receiver.hits()[0];
    assert!(hit.signed_with(SECRET));
    assert_eq!(hit.json(), payload);

    receiver.answer_next(&[401]);
    match post_webhook(&client, &receiver.url, Some(SECRET), &payload).await {
        Err(InboundError::Rejected { status, body }) => {
            assert_eq!(status, 401);
            assert!(body.contains("refused"), "{body}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    receiver.answer_next(&[202]);
    assert!(
        post_webhook(&client, &receiver.url, Some(SECRET), &payload)
            .await
            .is_err()
    );
    let nowhere = post_webhook(&client, "http://127.0.0.1:9/none", None, &payload).await;
    assert!(matches!(nowhere, Err(InboundError::Unreachable { .. })));
    receiver.stop().await;
}

#[derive(Debug, Parser)]
struct Switchboard {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Sandbox(SandboxArgs),
}

fn sandbox_args(args: &[&str]) -> SandboxArgs {
    let mut argv = vec!["switchboard", "sandbox"];
    argv.extend_from_slice(args);
    match Switchboard::try_parse_from(argv).unwrap().command {
        Command::Sandbox(args) => args,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbound_command_posts_one_signed_webhook() {
    let receiver = Receiver::start().await;
    let common = [
        "inbound",
        "--webhook-url",
        receiver.url.as_str(),
        "--app-secret",
        SECRET,
        "--phone-number-id",
        "1122334455667",
        "--from",
        "5511999990000",
    ];
    let with = |extra: &[&str]| {
        let mut args = common.to_vec();
        args.extend_from_slice(extra);
        sandbox_args(&args)
    };
    cli::run(with(&["--text", "hola"])).await.unwrap();
    cli::run(with(&["--list-reply", "opt-2:Second option"]))
        .await
        .unwrap();
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.signed_with(SECRET)));
    let text = hits[0].json();
    let value = &text["entry"][0]["changes"][0]["value"];
    assert_eq!(value["messages"][0]["text"]["body"], "hola");
    assert_eq!(value["contacts"][0]["profile"]["name"], "Sandbox User");
    assert_eq!(value["metadata"]["phone_number_id"], "1122334455667");
    let list = hits[1].json();
    assert_eq!(
        list["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["list_reply"],
        serde_json::json!({"id": "opt-2", "title": "Second option"})
    );

    // Not answered 200: an error that says what came back.
    receiver.answer_next(&[403]);
    let err = cli::run(with(&["--button-reply", "yes:Yes"]))
        .await
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("403") && err.contains("refused"), "{err}");

    // An image file uploaded to a sandbox first: the webhook's id resolves there.
    let meta = sandbox(|_| {}).await;
    let dir = std::env::temp_dir().join(format!("sandbox-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("photo.png");
    let bytes = b"\x89PNG fake image bytes";
    std::fs::write(&path, bytes).unwrap();
    let api_url = meta.api_url();
    cli::run(with(&[
        "--image",
        path.to_str().unwrap(),
        "--caption",
        "look",
        "--api-url",
        &api_url,
        "--access-token",
        TOKEN,
    ]))
    .await
    .unwrap();
    let image = receiver.hits().last().unwrap().json();
    let image = &image["entry"][0]["changes"][0]["value"]["messages"][0]["image"];
    assert_eq!(image["mime_type"], "image/png");
    assert_eq!(image["caption"], "look");
    let id = image["id"].as_str().unwrap();
    let metadata: Value = client()
        .get(format!("{api_url}/v25.0/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["file_size"], bytes.len());
    std::fs::remove_dir_all(&dir).unwrap();
    meta.stop().await;
    receiver.stop().await;
}
