//! Sending messages and marking inbound ones read (reference §8).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use switchboard_domain::outbound::OutboundContent;

use crate::client::{ChannelAuth, GraphClient, read_json, read_success};
use crate::error::{ErrorClass, GraphError};

/// Meta accepted a message. Accepted is not delivered: delivery (or failure) arrives later
/// by status webhook, keyed by `wamid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The message id every status webhook will carry; store it before anything else.
    pub wamid: String,
    /// The recipient's WhatsApp id, when Meta reports one.
    pub wa_id: Option<String>,
    /// Template pacing status (`accepted`, `held_for_quality_assessment`…), when present.
    pub message_status: Option<String>,
}

impl GraphClient {
    /// Sends `content` to `to` (E.164 digits), quoting `reply_to` when given.
    #[tracing::instrument(
        name = "graph.send",
        skip_all,
        fields(phone_number_id = auth.phone_number_id, kind = content.kind())
    )]
    pub async fn send(
        &self,
        auth: &ChannelAuth<'_>,
        to: &str,
        content: &OutboundContent,
        reply_to: Option<&str>,
    ) -> Result<Accepted, GraphError> {
        let body = send_body(to, content, reply_to)?;
        let url = self.url(&[auth.phone_number_id, "messages"])?;
        let request = self.http().post(url).json(&body);
        let response = self.call("send", auth.access_token, request).await?;
        let answer: SendResponse = read_json("send", response).await?;
        answer.accepted()
    }

    /// Marks `wamid` (an inbound message) and everything before it as read; with
    /// `typing_indicator` the customer also sees typing dots for up to 25 seconds.
    #[tracing::instrument(
        name = "graph.mark_read",
        skip_all,
        fields(phone_number_id = auth.phone_number_id)
    )]
    pub async fn mark_read(
        &self,
        auth: &ChannelAuth<'_>,
        wamid: &str,
        typing_indicator: bool,
    ) -> Result<(), GraphError> {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": wamid,
        });
        if typing_indicator {
            body["typing_indicator"] = json!({"type": "text"});
        }
        let url = self.url(&[auth.phone_number_id, "messages"])?;
        let request = self.http().post(url).json(&body);
        let response = self.call("mark read", auth.access_token, request).await?;
        read_success("mark read", response).await
    }
}

/// Meta's send body around the content's own JSON (`{"<type>": {…}}`), so every message type
/// the domain knows is sent without a match here.
pub(crate) fn send_body(
    to: &str,
    content: &OutboundContent,
    reply_to: Option<&str>,
) -> Result<Value, GraphError> {
    let kind = content.kind();
    let inner = match serde_json::to_value(content) {
        Ok(Value::Object(mut map)) if map.len() == 1 => map.remove(kind),
        _ => None,
    };
    let Some(inner) = inner else {
        return Err(GraphError::local(
            ErrorClass::Message,
            format!("send: the {kind} content did not serialize to {{\"{kind}\": {{…}}}}"),
        ));
    };
    let mut body = Map::new();
    body.insert("messaging_product".into(), "whatsapp".into());
    body.insert("recipient_type".into(), "individual".into());
    // Without '+', Meta prepends the business's own country code: the wrong person (§13.14).
    body.insert(
        "to".into(),
        format!("+{}", to.trim().trim_start_matches('+')).into(),
    );
    body.insert("type".into(), kind.into());
    body.insert(kind.into(), inner);
    if let Some(wamid) = reply_to {
        body.insert("context".into(), json!({"message_id": wamid}));
    }
    Ok(Value::Object(body))
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: Option<String>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
    message_status: Option<String>,
}

impl SendResponse {
    fn accepted(self) -> Result<Accepted, GraphError> {
        let wa_id = self.contacts.into_iter().next().and_then(|c| c.wa_id);
        let Some(message) = self.messages.into_iter().next() else {
            return Err(GraphError::unreadable_success(
                "send",
                200,
                "no messages[0].id",
            ));
        };
        Ok(Accepted {
            wamid: message.id,
            wa_id,
            message_status: message.message_status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::outbound::{Media, Text};

    #[test]
    fn the_body_wraps_the_content_and_prefixes_plus() {
        let text = OutboundContent::Text(Text {
            body: "hola".into(),
            preview_url: false,
        });
        assert_eq!(
            send_body("573103055424", &text, None).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "+573103055424", "type": "text", "text": {"body": "hola"}})
        );
        let image = OutboundContent::Image(Media {
            id: Some("42".into()),
            ..Media::default()
        });
        assert_eq!(
            send_body("+15550001111", &image, Some("wamid.abc")).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "+15550001111", "type": "image", "image": {"id": "42"},
                   "context": {"message_id": "wamid.abc"}})
        );
    }

    #[test]
    fn a_send_answer_without_a_message_id_is_an_error() {
        let answer: SendResponse =
            serde_json::from_str(r#"{"messaging_product":"whatsapp","messages":[]}"#).unwrap();
        let error = answer.accepted().unwrap_err();
        assert_eq!(error.class, ErrorClass::Message);
        assert!(error.message.contains("messages[0].id"));
    }
}
