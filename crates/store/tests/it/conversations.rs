use chrono::{Duration, NaiveDateTime};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use std::sync::{Arc, Mutex};
use switchboard_store::SecretBox;
use switchboard_store::models::now;
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::organizations;
use switchboard_store::testing::TestDb;

/// The statements diesel prepared and put into its cache (it reports each once).
#[derive(Clone, Default)]
struct Cached(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Cached {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::CacheQuery { sql, .. } = event
            && let Ok(mut seen) = self.0.lock()
        {
            seen.push(sql.to_string());
        }
    }
}

#[test]
fn the_newest_message_is_the_preview_in_any_order_and_each_counts_once() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let input = ChannelInput {
            organization_id: org.id.clone(),
            phone_number_id: "1122334455667".into(),
            access_token: "EAAG".into(),
            ..Default::default()
        };
        let key = SecretBox::from_key(&[42; 32]).unwrap();
        let channel = channels::insert_channel(&mut conn, &key, &input).unwrap();
        let conversation = conversations::upsert_conversation(
            &mut conn,
            &ConversationKey {
                organization_id: &org.id,
                channel_id: &channel.id,
                contact_phone: "5511999990000",
            },
            None,
            None,
        )
        .unwrap();
        let base = now() - Duration::hours(1);
        let at = |minutes: i64| base + Duration::minutes(minutes);
        let cached = Cached::default();
        conn.set_instrumentation(cached.clone());
        // (direction, text, time, wamid, unread), deliberately out of order.
        let messages: [(&str, &str, NaiveDateTime, &str, bool); 5] = [
            ("INBOUND", "second", at(2), "wamid.b", true),
            ("OUTBOUND", "third, ours", at(3), "wamid.c", false),
            ("INBOUND", "first", at(1), "wamid.a", true),
            ("INBOUND", "third too, same second", at(3), "wamid.d", true),
            ("INBOUND", "third, older wamid", at(3), "wamid.0", true),
        ];
        for (direction, text, time, wamid, unread) in messages {
            conversations::record_message(
                &mut conn,
                &conversation.id,
                direction,
                text,
                time,
                wamid,
                unread,
            )
            .unwrap();
        }
        let got = conversations::find_conversation(&mut conn, &org.id, &conversation.id)
            .unwrap()
            .unwrap();
        assert_eq!(
            got.last_message_text.as_deref(),
            Some("third too, same second"),
            "{}",
            t.backend
        );
        assert_eq!(got.last_message_external_id.as_deref(), Some("wamid.d"));
        assert_eq!(got.last_message_direction.as_deref(), Some("INBOUND"));
        assert_eq!(got.unread_count, 4, "{}", t.backend);
        assert_eq!(got.last_inbound_at, Some(at(3)), "{}", t.backend);
        // The preview statement runs for every message projected: it must be prepared once.
        let previews = cached
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|sql| sql.starts_with("UPDATE conversations SET last_message_text"))
            .count();
        assert_eq!(previews, 1, "{}: prepared once, then reused", t.backend);
    }
}
