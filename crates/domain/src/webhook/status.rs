//! One delivery status (`value.statuses[]`) of a message we sent.

use super::json;
use super::{ApiError, ItemError};
use crate::status::MessageStatus;
use serde_json::Value;

/// A delivery status, with its raw item kept for the record (pricing,
/// conversation, and whatever Meta adds next).
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The wamid our send call returned.
    pub id: String,
    /// Verbatim as sent (`sent`, `delivered`, …): unknown values are stored,
    /// never rejected.
    pub status: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub recipient_id: Option<String>,
    /// The recipient's BSUID.
    pub recipient_user_id: Option<String>,
    /// The echo of what we attached at send time (our job or lead id).
    pub biz_opaque_callback_data: Option<String>,
    /// Why a `failed` status failed.
    pub errors: Vec<ApiError>,
    pub raw: Value,
}

impl Status {
    /// Reads one item of `value.statuses[]`. Fails only without a usable
    /// `id`, `status` or `timestamp` (its `index` is 0: the caller knows
    /// where the item was).
    pub fn from_value(item: &Value) -> Result<Self, ItemError> {
        let fail = |reason: &str| ItemError::new(0, item, reason);
        if !item.is_object() {
            return Err(fail("a status must be a JSON object"));
        }
        Ok(Self {
            id: json::text_at(item, "id").ok_or_else(|| fail("status has no `id`"))?,
            status: json::text_at(item, "status").ok_or_else(|| fail("status has no `status`"))?,
            timestamp: json::int_at(item, "timestamp")
                .ok_or_else(|| fail("status has no readable `timestamp`"))?,
            recipient_id: json::text_at(item, "recipient_id"),
            recipient_user_id: json::text_at(item, "recipient_user_id"),
            biz_opaque_callback_data: json::text_at(item, "biz_opaque_callback_data"),
            errors: ApiError::list(json::items_at(item, "errors")),
            raw: item.clone(),
        })
    }

    /// The status as our delivery state machine knows it.
    pub fn message_status(&self) -> MessageStatus {
        MessageStatus::parse(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_status_with_integer_timestamp_and_bsuid() {
        let item = json!({"id": "wamid.S", "status": "played", "timestamp": 1700000000,
                          "recipient_user_id": "US.9"});
        let status = Status::from_value(&item).unwrap();
        assert_eq!(status.timestamp, 1_700_000_000);
        assert_eq!(status.recipient_id, None);
        assert_eq!(status.recipient_user_id.as_deref(), Some("US.9"));
        assert_eq!(status.message_status(), MessageStatus::Played);
    }

    #[test]
    fn keeps_unknown_status_values_verbatim() {
        let item = json!({"id": "wamid.S", "status": "warning", "timestamp": "1"});
        let status = Status::from_value(&item).unwrap();
        assert_eq!(status.status, "warning");
        assert_eq!(
            status.message_status(),
            MessageStatus::Other("WARNING".into())
        );
    }

    #[test]
    fn rejects_items_without_id_status_or_timestamp() {
        for item in [
            json!({"status": "sent", "timestamp": "1"}),
            json!({"id": "wamid.S", "timestamp": "1"}),
            json!({"id": "wamid.S", "status": "sent"}),
            json!(null),
        ] {
            assert!(Status::from_value(&item).is_err(), "{item}");
        }
    }
}
