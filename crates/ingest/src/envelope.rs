//! The minimal parse the ack path needs: is it a WhatsApp webhook, and for which numbers.
//! Everything else in the body is left for the job that processes it.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::directory::{ChannelRoute, Snapshot};

pub const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

#[derive(Deserialize)]
struct Envelope {
    object: Option<String>,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    /// The WABA id: a string from Meta, a number in some SDK fixtures.
    #[serde(default)]
    id: Option<StringOrNumber>,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    value: Option<Value>,
}

#[derive(Deserialize)]
struct Value {
    #[serde(default)]
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    phone_number_id: Option<StringOrNumber>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    String(String),
    Number(serde_json::Number),
    #[allow(dead_code)] // any other JSON shape: present but unusable for routing
    Other(IgnoredAny),
}

impl StringOrNumber {
    fn text(&self) -> Option<String> {
        match self {
            StringOrNumber::String(s) => Some(s.clone()),
            StringOrNumber::Number(n) => Some(n.to_string()),
            StringOrNumber::Other(_) => None,
        }
    }
}

/// Where a body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// Every channel the body's changes route to, first-seen order, without repeats.
    pub channels: Vec<ChannelRoute>,
    /// Changes that named a number (or, without metadata, a WABA) no channel has.
    pub unrouted: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error(
        "`object` is {0}, expected \"whatsapp_business_account\": only WhatsApp Business webhooks are accepted here"
    )]
    WrongObject(String),
}

/// The phone number ids (or WABA ids, for fields without metadata) a body is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    PhoneNumberId(String),
    WabaId(String),
}

pub fn parse(body: &[u8]) -> Result<Vec<Address>, EnvelopeError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
    match envelope.object.as_deref() {
        Some(WHATSAPP_OBJECT) => {}
        Some(other) => return Err(EnvelopeError::WrongObject(format!("\"{other}\""))),
        None => return Err(EnvelopeError::WrongObject("missing".into())),
    }
    let mut addresses = Vec::new();
    for entry in envelope.entry {
        let waba = entry.id.as_ref().and_then(StringOrNumber::text);
        for change in entry.changes {
            let phone = change
                .value
                .and_then(|v| v.metadata)
                .and_then(|m| m.phone_number_id)
                .and_then(|p| p.text());
            match (phone, &waba) {
                (Some(phone), _) => addresses.push(Address::PhoneNumberId(phone)),
                (None, Some(waba)) => addresses.push(Address::WabaId(waba.clone())),
                (None, None) => {}
            }
        }
    }
    addresses.dedup();
    Ok(addresses)
}

pub fn route(addresses: &[Address], snapshot: &Snapshot) -> Routing {
    let mut routing = Routing {
        channels: Vec::new(),
        unrouted: Vec::new(),
    };
    for address in addresses {
        let found = match address {
            Address::PhoneNumberId(id) => snapshot.by_phone_number_id(id),
            Address::WabaId(id) => snapshot.by_waba_id(id),
        };
        match found {
            Some(route) if !routing.channels.contains(route) => {
                routing.channels.push(route.clone())
            }
            Some(_) => {}
            None => routing.unrouted.push(match address {
                Address::PhoneNumberId(id) => format!("phone_number_id {id}"),
                Address::WabaId(id) => format!("WABA {id}"),
            }),
        }
    }
    routing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_in_every_entry_and_change() {
        let body = br#"{"object":"whatsapp_business_account","entry":[
            {"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"111"},"messages":[]}},
                                 {"field":"messages","value":{"metadata":{"phone_number_id":"222"}}}]},
            {"id":"2","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}"#;
        assert_eq!(
            parse(body).unwrap(),
            vec![
                Address::PhoneNumberId("111".into()),
                Address::PhoneNumberId("222".into()),
                Address::WabaId("2".into())
            ]
        );
    }

    #[test]
    fn accepts_numeric_ids_and_odd_shapes_without_failing() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":123,"changes":[{"value":{"metadata":{"phone_number_id":456}}},{"value":null},{}]},{"id":{"x":1}}]}"#;
        assert_eq!(
            parse(body).unwrap(),
            vec![
                Address::PhoneNumberId("456".into()),
                Address::WabaId("123".into())
            ]
        );
    }

    #[test]
    fn rejects_non_json_and_other_objects() {
        assert!(matches!(parse(b"not json"), Err(EnvelopeError::NotJson(_))));
        assert!(matches!(parse(b"[]"), Err(EnvelopeError::NotJson(_))));
        assert!(matches!(
            parse(br#"{"object":"page","entry":[]}"#),
            Err(EnvelopeError::WrongObject(_))
        ));
        assert!(matches!(
            parse(br#"{"entry":[]}"#),
            Err(EnvelopeError::WrongObject(_))
        ));
    }
}
