//! Tests of the whole model against Meta-shaped bodies: the shared fixtures
//! (real payloads from public SDKs) and hand-made edge cases.

use super::*;
use serde_json::json;
use std::path::{Path, PathBuf};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/meta-webhooks"
);

fn fixture_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("fixtures folder {FIXTURES}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

fn fixture(name: &str) -> WebhookBody {
    let path = Path::new(FIXTURES).join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The only messages value of a single-change body.
fn value_of(body: &WebhookBody) -> MessagesValue {
    body.entry[0].changes[0].messages_value().unwrap()
}

fn first_message(name: &str) -> Message {
    value_of(&fixture(name)).messages().remove(0).unwrap()
}

fn first_status(name: &str) -> Status {
    value_of(&fixture(name)).statuses().remove(0).unwrap()
}

fn body_with_value(value: Value) -> WebhookBody {
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]});
    parse(body.to_string().as_bytes()).unwrap()
}

#[test]
fn every_fixture_parses_with_every_item_readable() {
    let paths = fixture_paths();
    assert!(
        paths.len() >= 20,
        "expected the shared fixtures, found {paths:?}"
    );
    for path in paths {
        let body = parse(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(body.is_whatsapp(), "{}", path.display());
        assert!(body.changes().count() > 0, "{}", path.display());
        for (_, change) in body.changes() {
            let typed =
                change.messages_value().is_some() || change.template_status_update().is_some();
            assert!(typed, "{}: field {}", path.display(), change.field);
            let Some(value) = change.messages_value() else {
                continue;
            };
            assert!(
                value.messages().iter().all(Result::is_ok),
                "{}",
                path.display()
            );
            assert!(
                value.statuses().iter().all(Result::is_ok),
                "{}",
                path.display()
            );
            assert_eq!(value.phone_number_id(), Some("1122334455667"));
        }
    }
}

#[test]
fn fixture_summaries_read_as_a_person_would() {
    let expected = [
        ("text-01.json", "Body Text"),
        ("text-reply-context-01.json", "replied text"),
        ("referral-ctwa-01.json", "BODY"),
        ("image-01.json", "[image]"),
        ("video-01.json", "[video] caption"),
        ("document-01.json", "[document filename.pdf] caption"),
        ("audio-01.json", "[audio]"),
        ("audio-voice-01.json", "[voice]"),
        ("sticker-01.json", "[sticker]"),
        ("location-01.json", "[location] (12.25089,43.90539)"),
        (
            "contacts-01.json",
            "[contacts] Chandler Bing, Monica, Rachel Green",
        ),
        ("order-01.json", "[order] 7 items"),
        ("reaction-01.json", "[reaction] \u{1F62E}"),
        ("reaction-removed-01.json", "[reaction removed]"),
        ("button-quick-reply-01.json", "[button] title"),
        ("interactive-button-reply-01.json", "[interactive] title"),
        ("interactive-list-reply-01.json", "[interactive] title"),
        ("interactive-nfm-reply-01.json", "[interactive] Sent"),
        ("unsupported-01.json", "[unsupported]"),
        (
            "system-user-changed-number-01.json",
            "[system] User A changed from 972987654321 to 972912345678",
        ),
    ];
    for (name, summary) in expected {
        assert_eq!(first_message(name).summary(), summary, "{name}");
    }
}

#[test]
fn fixture_message_fields_are_typed() {
    let text = first_message("text-01.json");
    assert_eq!(
        (
            text.id.as_str(),
            text.from.as_deref(),
            text.timestamp,
            text.kind.as_str()
        ),
        ("wamid.xyzxyz", Some("972987654321"), 1_697_043_223, "text")
    );
    let reply = first_message("text-reply-context-01.json").context.unwrap();
    assert_eq!(reply.id.as_deref(), Some("wamid.xyzxyz=="));
    assert!(first_message("video-01.json").context.unwrap().forwarded);
    let referral = first_message("referral-ctwa-01.json").referral.unwrap();
    assert_eq!(referral["ctwa_clid"], "CTWA_CLID");
    let doc = first_message("document-01.json").media().unwrap();
    assert_eq!(doc.filename.as_deref(), Some("filename.pdf"));
    assert_eq!(doc.mime_type.as_deref(), Some("application/pdf"));
    assert!(first_message("audio-voice-01.json").media().unwrap().voice);
    assert_eq!(
        first_message("order-01.json").details().unwrap()["order"]["catalog_id"],
        "354160437058781"
    );
}

#[test]
fn fixture_senders_carry_profile_and_bsuid() {
    let value = value_of(&fixture("interactive-button-reply-01.json"));
    let message = value.messages().remove(0).unwrap();
    let contact = value.contact_for(&message).unwrap();
    assert_eq!(contact.wa_id.as_deref(), Some("972987654321"));
    assert_eq!(contact.user_id.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(contact.profile_name.as_deref(), Some("Test Name"));
}

#[test]
fn system_message_has_no_contact_but_a_new_number() {
    let value = value_of(&fixture("system-user-changed-number-01.json"));
    let message = value.messages().remove(0).unwrap();
    assert!(value.contacts.is_empty());
    assert_eq!(value.contact_for(&message), None);
    let system = message.system().unwrap();
    assert_eq!(system.kind, "user_changed_number");
    assert_eq!(system.new_wa_id.as_deref(), Some("972912345678"));
}

#[test]
fn nfm_reply_keeps_response_json_as_a_string() {
    let message = first_message("interactive-nfm-reply-01.json");
    let details = message.details().unwrap();
    let response = &details["interactive"]["nfm_reply"]["response_json"];
    assert!(response.as_str().unwrap().contains("\"flow_token\""));
}

#[test]
fn reaction_fixtures_distinguish_emoji_and_removal() {
    let reaction = first_message("reaction-01.json").reaction().unwrap();
    assert_eq!(reaction.emoji.as_deref(), Some("\u{1F62E}"));
    assert_eq!(reaction.message_id, "wamid.yzxyzx=");
    let removed = first_message("reaction-removed-01.json")
        .reaction()
        .unwrap();
    assert_eq!(removed.emoji, None);
}

#[test]
fn unsupported_fixture_keeps_its_error() {
    let message = first_message("unsupported-01.json");
    assert_eq!(message.errors[0].code, 131_051);
    assert_eq!(
        message.errors[0].details.as_deref(),
        Some("Message type is currently not supported.")
    );
    assert_eq!(message.details().unwrap()["errors"][0]["code"], 131_051);
}

#[test]
fn status_fixtures_are_typed() {
    let expected = [
        ("status-sent-01.json", "sent"),
        ("status-delivered-01.json", "delivered"),
        ("status-read-01.json", "read"),
        ("status-failed-01.json", "failed"),
    ];
    for (name, status) in expected {
        let item = first_status(name);
        assert_eq!(
            (item.id.as_str(), item.status.as_str()),
            ("wamid.xyzxyz", status),
            "{name}"
        );
        assert_eq!(item.recipient_id.as_deref(), Some("972987654321"));
    }
    let opaque = first_status("status-sent-biz-opaque-01.json");
    assert_eq!(
        opaque.biz_opaque_callback_data.as_deref(),
        Some("some data")
    );
    assert_eq!(opaque.raw["pricing"]["pricing_model"], "CBP");
}

#[test]
fn failed_status_carries_its_errors() {
    let failed = first_status("status-failed-01.json");
    assert_eq!(failed.timestamp, 1_689_380_458);
    let error = &failed.errors[0];
    assert_eq!(error.code, 130_472);
    assert_eq!(
        error.title.as_deref(),
        Some("User's number is part of an experiment")
    );
    assert!(
        error
            .details
            .as_deref()
            .unwrap()
            .starts_with("Failed to send message")
    );
}

#[test]
fn template_status_update_is_typed() {
    let body = fixture("template-status-01.json");
    assert_eq!(body.entry[0].time, Some(1_698_268_000));
    let change = &body.entry[0].changes[0];
    assert_eq!(change.messages_value(), None);
    let update = change.template_status_update().unwrap();
    assert_eq!(update.event, "APPROVED");
    assert_eq!(update.template_id.as_deref(), Some("12345678"));
    assert_eq!(update.name.as_deref(), Some("my_message_template"));
    assert_eq!(update.language.as_deref(), Some("pt-BR"));
    assert_eq!((update.reason, update.category), (None, None));
}

#[test]
fn template_id_may_be_a_string_and_event_is_required() {
    let value = json!({"event": "REJECTED", "message_template_id": "77", "reason": "PROMOTIONAL",
                       "message_template_category": "MARKETING"});
    let update = TemplateStatusUpdate::from_value(&value).unwrap();
    assert_eq!(update.template_id.as_deref(), Some("77"));
    assert_eq!(update.reason.as_deref(), Some("PROMOTIONAL"));
    assert_eq!(update.category.as_deref(), Some("MARKETING"));
    assert_eq!(
        TemplateStatusUpdate::from_value(&json!({"reason": null})),
        None
    );
}

#[test]
fn timestamps_may_be_strings_or_integers() {
    let body = body_with_value(json!({"messages": [
        {"from": "1", "id": "wamid.S", "timestamp": "1697043223", "type": "text", "text": {"body": "a"}},
        {"from": "1", "id": "wamid.I", "timestamp": 1697043223, "type": "text", "text": {"body": "b"}}
    ], "statuses": [
        {"id": "wamid.T", "status": "sent", "timestamp": 1697043223}
    ]}));
    let value = value_of(&body);
    let stamps: Vec<i64> = value
        .messages()
        .into_iter()
        .map(|m| m.unwrap().timestamp)
        .collect();
    assert_eq!(stamps, [1_697_043_223, 1_697_043_223]);
    assert_eq!(
        value.statuses()[0].as_ref().unwrap().timestamp,
        1_697_043_223
    );
}

#[test]
fn bsuid_only_sender_has_neither_phone_nor_wa_id() {
    let body = body_with_value(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Bob", "username": "@bob"}, "user_id": "US.13491208655302741918"}],
        "messages": [{"from_user_id": "US.13491208655302741918", "id": "wamid.B", "timestamp": "1",
                      "type": "text", "text": {"body": "hi"}}]
    }));
    let value = value_of(&body);
    let message = value.messages().remove(0).unwrap();
    assert_eq!(message.from, None);
    assert_eq!(message.sender(), Some("US.13491208655302741918"));
    let contact = value.contact_for(&message).unwrap();
    assert_eq!(contact.wa_id, None);
    assert_eq!(contact.profile_name.as_deref(), Some("Bob"));
    assert_eq!(value.phone_number_id(), Some("106540352242922"));
}

#[test]
fn contact_for_matches_ids_in_a_batch() {
    let value = MessagesValue::from_value(&json!({
        "contacts": [{"wa_id": "111"}, {"user_id": "US.2"}],
        "messages": [
            {"from": "111", "id": "a", "timestamp": 1, "type": "text"},
            {"from_user_id": "US.2", "id": "b", "timestamp": 1, "type": "text"},
            {"from": "333", "id": "c", "timestamp": 1, "type": "text"}
        ]
    }))
    .unwrap();
    let messages: Vec<Message> = value.messages().into_iter().map(Result::unwrap).collect();
    assert_eq!(
        value.contact_for(&messages[0]).unwrap().wa_id.as_deref(),
        Some("111")
    );
    assert_eq!(
        value.contact_for(&messages[1]).unwrap().user_id.as_deref(),
        Some("US.2")
    );
    assert_eq!(value.contact_for(&messages[2]), None);
}

#[test]
fn one_garbage_item_does_not_lose_the_batch() {
    let body = body_with_value(json!({"messages": [
        {"from": "1", "id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "one"}},
        {"id": "wamid.2", "timestamp": "not a time", "type": "text"},
        "garbage",
        {"from": "1", "id": "wamid.4", "timestamp": "4", "type": "image", "image": {"id": "m"}}
    ], "statuses": [
        {"status": "sent"},
        {"id": "wamid.9", "status": "read", "timestamp": "9"}
    ]}));
    let value = value_of(&body);
    let messages = value.messages();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0].as_ref().unwrap().summary(), "one");
    let bad = messages[1].as_ref().unwrap_err();
    assert_eq!((bad.index, bad.id.as_deref()), (1, Some("wamid.2")));
    assert!(bad.to_string().contains("item 1 (wamid.2)"));
    assert_eq!(messages[2].as_ref().unwrap_err().index, 2);
    assert_eq!(messages[3].as_ref().unwrap().summary(), "[image]");
    let statuses = value.statuses();
    assert_eq!(statuses[0].as_ref().unwrap_err().index, 0);
    assert_eq!(statuses[1].as_ref().unwrap().status, "read");
}

#[test]
fn interactive_without_its_object_still_parses() {
    let body = body_with_value(json!({
        "metadata": {"phone_number_id": "42"},
        "contacts": [{"profile": {"name": "X"}, "wa_id": "57310"}],
        "messages": [{"from": "57310", "id": "wamid.E", "timestamp": "5", "type": "interactive"}],
        "errors": [{"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
                    "error_data": {"details": "Unsupported webhook payload"}}]
    }));
    let value = value_of(&body);
    assert_eq!(value.errors[0].code, 131_000);
    assert_eq!(
        value.errors[0].details.as_deref(),
        Some("Unsupported webhook payload")
    );
    let message = value.messages().remove(0).unwrap();
    assert_eq!(message.text(), None);
    assert_eq!(message.summary(), "[interactive]");
    assert_eq!(message.details(), None);
}

#[test]
fn errors_without_a_code_are_skipped_not_invented() {
    let errors = ApiError::list(&[json!({"title": "no code"}), json!({"code": "130429"})]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, 130_429);
}

#[test]
fn envelope_tolerates_numeric_ids_and_nulls() {
    let body = parse(
        br#"{"object":"whatsapp_business_account","entry":[
        {"id":102290129340398,"time":"1698268000","changes":null},
        {"changes":[{"value":{"event":"X"}}]}]}"#,
    )
    .unwrap();
    assert_eq!(body.entry[0].id.as_deref(), Some("102290129340398"));
    assert_eq!(body.entry[0].time, Some(1_698_268_000));
    assert!(body.entry[0].changes.is_empty());
    assert_eq!(body.entry[1].changes[0].field, "");
    assert_eq!(body.changes().count(), 1);
}

#[test]
fn unreadable_envelopes_are_errors() {
    assert!(matches!(
        parse(b"{not json"),
        Err(WebhookError::InvalidJson(_))
    ));
    assert_eq!(parse(b"[1,2]"), Err(WebhookError::NotAnObject));
    assert!(matches!(
        parse(br#"{"entry":"x"}"#),
        Err(WebhookError::Shape(_))
    ));
    let empty = parse(b"{}").unwrap();
    assert!(!empty.is_whatsapp() && empty.entry.is_empty());
}

#[test]
fn other_fields_expose_the_generic_messages_shape() {
    let change = Change {
        field: "smb_message_echoes".into(),
        value: json!({"metadata": {"phone_number_id": "1"}, "messages": [{"id": "m", "timestamp": 1, "type": "text"}]}),
    };
    assert_eq!(change.messages_value(), None);
    let value = MessagesValue::from_value(&change.value).unwrap();
    assert!(value.messages()[0].is_ok());
    assert_eq!(MessagesValue::from_value(&json!([1])), None);
}

#[test]
fn tapped_rows_buttons_and_quick_replies_carry_their_id() {
    for name in [
        "interactive-list-reply-01.json",
        "interactive-button-reply-01.json",
        "button-quick-reply-01.json",
    ] {
        assert_eq!(
            first_message(name).reply_id().as_deref(),
            Some("callback_data"),
            "{name}"
        );
    }
    assert_eq!(first_message("reaction-01.json").reply_id(), None);
}
