//! Conversations of the inbox: one per organization, channel and contact.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Conversation, new_id, now};
use crate::schema::conversations::dsl;

pub struct ConversationKey<'a> {
    pub organization_id: &'a str,
    pub channel_id: &'a str,
    /// The contact's phone (wa_id), or its BSUID when Meta gave no phone.
    pub contact_phone: &'a str,
}

pub fn find_conversation_by_key(
    conn: &mut AnyConnection,
    key: &ConversationKey<'_>,
) -> Result<Option<Conversation>, StoreError> {
    Ok(dsl::conversations
        .filter(dsl::organization_id.eq(key.organization_id))
        .filter(dsl::channel_id.eq(key.channel_id))
        .filter(dsl::contact_phone.eq(key.contact_phone))
        .load(conn)?
        .into_iter()
        .next())
}

/// Finds or creates the conversation, linking the contact and lead when it has none yet.
pub fn upsert_conversation(
    conn: &mut AnyConnection,
    key: &ConversationKey<'_>,
    contact_id: Option<&str>,
    lead_id: Option<&str>,
) -> Result<Conversation, StoreError> {
    let at = now();
    if let Some(mut found) = find_conversation_by_key(conn, key)? {
        if (found.contact_id.is_none() && contact_id.is_some())
            || (found.lead_id.is_none() && lead_id.is_some())
        {
            found.contact_id = found.contact_id.or(contact_id.map(str::to_string));
            found.lead_id = found.lead_id.or(lead_id.map(str::to_string));
            diesel::update(dsl::conversations.find(&found.id))
                .set((
                    dsl::contact_id.eq(&found.contact_id),
                    dsl::lead_id.eq(&found.lead_id),
                    dsl::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        return Ok(found);
    }
    let conversation = Conversation {
        id: new_id(),
        organization_id: key.organization_id.to_string(),
        channel_id: key.channel_id.to_string(),
        contact_id: contact_id.map(str::to_string),
        lead_id: lead_id.map(str::to_string),
        contact_phone: key.contact_phone.to_string(),
        assigned_to_id: None,
        unread_count: 0,
        last_message_text: None,
        last_message_at: None,
        last_message_direction: None,
        last_inbound_at: None,
        created_at: at,
        updated_at: at,
        last_message_external_id: None,
    };
    insert_ignoring_conflicts!(conn, dsl::conversations, &conversation);
    find_conversation_by_key(conn, key)?.ok_or(StoreError::NotFound("conversation"))
}

/// A message joined the conversation. The preview shows the newest message by (time, wamid),
/// so webhooks arriving in any order end with the same preview; `unread` counts it once. Each
/// update decides in its WHERE clause, so concurrent projections cannot overwrite newer news.
pub fn record_message(
    conn: &mut AnyConnection,
    conversation_id: &str,
    direction: &str,
    text: &str,
    at: NaiveDateTime,
    wamid: &str,
    unread: bool,
) -> Result<(), StoreError> {
    let this = dsl::conversations.filter(dsl::id.eq(conversation_id));
    let inbound = direction == "INBOUND";
    let older_preview = dsl::last_message_at
        .is_null()
        .or(dsl::last_message_at.lt(at))
        .or(dsl::last_message_at.eq(at).and(
            dsl::last_message_external_id
                .is_null()
                .or(dsl::last_message_external_id.lt(wamid)),
        ));
    // The newest message is also the newest inbound one when it is inbound: one statement.
    let preview = Preview {
        last_message_text: text,
        last_message_at: at,
        last_message_direction: direction,
        last_message_external_id: wamid,
        last_inbound_at: inbound.then_some(at),
    };
    let previewed = diesel::update(this.filter(older_preview))
        .set((
            preview,
            dsl::unread_count.eq(dsl::unread_count + i32::from(unread)),
            dsl::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if previewed == 1 {
        return Ok(());
    }
    // An older message: it only counts, and may still be the newest inbound one.
    diesel::update(this)
        .set((
            dsl::unread_count.eq(dsl::unread_count + i32::from(unread)),
            dsl::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if inbound {
        diesel::update(
            this.filter(
                dsl::last_inbound_at
                    .is_null()
                    .or(dsl::last_inbound_at.lt(at)),
            ),
        )
        .set(dsl::last_inbound_at.eq(Some(at)))
        .execute(conn)?;
    }
    Ok(())
}

/// The preview columns a newer message sets (`last_inbound_at` only when it is inbound: a `None`
/// field is left out of the UPDATE).
#[derive(diesel::AsChangeset)]
#[diesel(table_name = crate::schema::conversations)]
struct Preview<'a> {
    last_message_text: &'a str,
    last_message_at: NaiveDateTime,
    last_message_direction: &'a str,
    last_message_external_id: &'a str,
    last_inbound_at: Option<NaiveDateTime>,
}

pub fn list_conversations(
    conn: &mut AnyConnection,
    org: &str,
) -> Result<Vec<Conversation>, StoreError> {
    Ok(dsl::conversations
        .filter(dsl::organization_id.eq(org))
        .order(dsl::created_at.asc())
        .load(conn)?)
}
