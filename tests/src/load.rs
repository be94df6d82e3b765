//! Realistic webhook bodies for load: the fixture mix, each made unique, some batched, signed.

use serde_json::Value;
use switchboard_store::testing::webhook_fixtures;

/// A body exactly as it will be sent, with its `X-Hub-Signature-256`.
#[derive(Clone)]
pub struct SignedBody {
    pub body: Vec<u8>,
    pub signature: String,
}

/// `count` unique bodies for `phone_number_id` / `waba_id`: every fixture in turn, and every
/// tenth body a batch (ten statuses or five messages in one POST, as Meta aggregates them).
pub fn fixture_mix(
    count: usize,
    app_secret: &str,
    phone_number_id: &str,
    waba_id: &str,
    run: &str,
) -> Vec<SignedBody> {
    let fixtures: Vec<Value> = webhook_fixtures()
        .into_iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(&bytes).ok())
        .collect();
    let statuses: Vec<&Value> = fixtures
        .iter()
        .filter(|f| first_value(f).get("statuses").is_some())
        .collect();
    let messages: Vec<&Value> = fixtures
        .iter()
        .filter(|f| first_value(f).get("messages").is_some())
        .collect();
    (0..count)
        .map(|i| {
            let mut body = match i % 10 {
                9 if i % 20 == 9 => batch(&statuses, "statuses", 10, i),
                9 => batch(&messages, "messages", 5, i),
                _ => fixtures[i % fixtures.len()].clone(),
            };
            make_unique(&mut body, &format!("{run}.{i}"), phone_number_id, waba_id);
            from_customer(&mut body, i % CUSTOMERS);
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            SignedBody {
                signature: switchboard_ingest::signature::sign(app_secret, &bytes),
                body: bytes,
            }
        })
        .collect()
}

/// Distinct customers the mix comes from: real traffic is many conversations, not one.
const CUSTOMERS: usize = 500;

/// Makes every message of the body come from customer `n` (its own phone number).
fn from_customer(body: &mut Value, n: usize) {
    let phone = format!("5511900{n:06}");
    let Some(entries) = body["entry"].as_array_mut() else {
        return;
    };
    for entry in entries {
        let Some(changes) = entry["changes"].as_array_mut() else {
            continue;
        };
        for change in changes {
            let value = &mut change["value"];
            if let Some(contacts) = value.get_mut("contacts").and_then(Value::as_array_mut) {
                for contact in contacts {
                    contact["wa_id"] = Value::String(phone.clone());
                    if contact.get("user_id").is_some() {
                        contact["user_id"] = Value::String(format!("US.{n}"));
                    }
                }
            }
            if let Some(messages) = value.get_mut("messages").and_then(Value::as_array_mut) {
                for message in messages {
                    message["from"] = Value::String(phone.clone());
                }
            }
        }
    }
}

fn first_value(body: &Value) -> &Value {
    &body["entry"][0]["changes"][0]["value"]
}

fn batch(sources: &[&Value], key: &str, size: usize, seed: usize) -> Value {
    let mut body = sources[seed % sources.len()].clone();
    let items: Vec<Value> = (0..size)
        .map(|k| first_value(sources[(seed + k) % sources.len()])[key][0].clone())
        .collect();
    body["entry"][0]["changes"][0]["value"][key] = Value::Array(items);
    body
}

/// Gives every message and status its own wamid and points the body at our channel.
fn make_unique(body: &mut Value, tag: &str, phone_number_id: &str, waba_id: &str) {
    let Some(entries) = body["entry"].as_array_mut() else {
        return;
    };
    for entry in entries {
        entry["id"] = Value::String(waba_id.into());
        let Some(changes) = entry["changes"].as_array_mut() else {
            continue;
        };
        for change in changes {
            let value = &mut change["value"];
            if value.get("metadata").is_some() {
                value["metadata"]["phone_number_id"] = Value::String(phone_number_id.into());
            }
            for key in ["messages", "statuses"] {
                if let Some(items) = value.get_mut(key).and_then(Value::as_array_mut) {
                    for (k, item) in items.iter_mut().enumerate() {
                        item["id"] = Value::String(format!("wamid.{tag}.{k}"));
                    }
                }
            }
            if value.get("message_template_id").is_some() {
                value["message_template_name"] =
                    Value::String(format!("template_{}", tag.replace('.', "_")));
            }
        }
    }
}
