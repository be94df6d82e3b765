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
        menu_offered_at: None,
    };
    insert_ignoring_conflicts!(conn, dsl::conversations, &conversation);
    find_conversation_by_key(conn, key)?.ok_or(StoreError::NotFound("conversation"))
}

/// A message joined the conversation. The preview shows the newest message by (time, wamid),
/// so webhooks arriving in any order end with the same preview; `unread` counts it once. One
/// statement decides, column by column, from the row as it is when the update takes it (on
/// PostgreSQL, after any concurrent update of the row), so concurrent projections cannot
/// overwrite newer news.
pub fn record_message(
    conn: &mut AnyConnection,
    conversation_id: &str,
    direction: &str,
    text: &str,
    at: NaiveDateTime,
    wamid: &str,
    unread: bool,
) -> Result<(), StoreError> {
    MessageUpdate {
        conversation_id,
        text,
        at,
        direction,
        wamid,
        inbound_at: (direction == "INBOUND").then_some(at),
        unread: i32::from(unread),
        now: now(),
    }
    .execute(conn)?;
    Ok(())
}

/// A message that notifies nobody (typed in the Business app, or imported by history sync):
/// like [`record_message`] it becomes the preview only when it is the newest by (time, wamid),
/// but it never counts as unread and never moves `last_inbound_at`, so an imported customer
/// message cannot reopen the 24-hour window.
pub fn record_quiet_message(
    conn: &mut AnyConnection,
    conversation_id: &str,
    direction: &str,
    text: &str,
    at: NaiveDateTime,
    wamid: &str,
) -> Result<(), StoreError> {
    let older_preview = dsl::last_message_at
        .is_null()
        .or(dsl::last_message_at.lt(at))
        .or(dsl::last_message_at.eq(at).and(
            dsl::last_message_external_id
                .is_null()
                .or(dsl::last_message_external_id.lt(wamid)),
        ));
    let preview = Preview {
        last_message_text: text,
        last_message_at: at,
        last_message_direction: direction,
        last_message_external_id: wamid,
        last_inbound_at: None,
    };
    diesel::update(
        dsl::conversations
            .filter(dsl::id.eq(conversation_id))
            .filter(older_preview),
    )
    .set((preview, dsl::updated_at.eq(now())))
    .execute(conn)?;
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

/// [`record_message`]'s one statement. Every `SET` expression sees the row as it was, so each
/// preview column changes only when the message is newer, by (time, wamid), than the one shown;
/// the message counts as unread either way; and `last_inbound_at` keeps the newest inbound
/// time. Written out in SQL because it runs for every message projected and diesel prepares
/// each `UPDATE` it builds afresh (parsing and planning it every time); this text never
/// changes, so its prepared statement is cached.
struct MessageUpdate<'a> {
    conversation_id: &'a str,
    text: &'a str,
    at: NaiveDateTime,
    direction: &'a str,
    wamid: &'a str,
    /// Set for an inbound message; `None` leaves `last_inbound_at` as it is.
    inbound_at: Option<NaiveDateTime>,
    unread: i32,
    now: NaiveDateTime,
}

impl diesel::query_builder::QueryId for MessageUpdate<'_> {
    type QueryId = MessageUpdate<'static>;
    // Keyed by type: the SQL below never changes, whatever the values.
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<crate::repo::Backend> for MessageUpdate<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, crate::repo::Backend>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
        out.push_sql("UPDATE conversations SET ");
        for column in [
            "last_message_text",
            "last_message_at",
            "last_message_direction",
            "last_message_external_id",
        ] {
            out.push_sql(column);
            out.push_sql(" = CASE WHEN last_message_at IS NULL OR last_message_at < ");
            out.push_bind_param::<Timestamp, _>(&self.at)?;
            out.push_sql(" OR (last_message_at = ");
            out.push_bind_param::<Timestamp, _>(&self.at)?;
            out.push_sql(" AND (last_message_external_id IS NULL OR last_message_external_id < ");
            out.push_bind_param::<Text, _>(&self.wamid)?;
            out.push_sql(")) THEN ");
            match column {
                "last_message_text" => out.push_bind_param::<Text, _>(&self.text)?,
                "last_message_direction" => out.push_bind_param::<Text, _>(&self.direction)?,
                "last_message_external_id" => out.push_bind_param::<Text, _>(&self.wamid)?,
                _ => out.push_bind_param::<Timestamp, _>(&self.at)?,
            }
            out.push_sql(" ELSE ");
            out.push_sql(column);
            out.push_sql(" END, ");
        }
        out.push_sql("last_inbound_at = CASE WHEN last_inbound_at IS NULL OR last_inbound_at < ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&self.inbound_at)?;
        out.push_sql(" THEN COALESCE(");
        out.push_bind_param::<Nullable<Timestamp>, _>(&self.inbound_at)?;
        out.push_sql(", last_inbound_at) ELSE last_inbound_at END, unread_count = unread_count + ");
        out.push_bind_param::<Integer, _>(&self.unread)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(&self.conversation_id)?;
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for MessageUpdate<'_> {}

pub fn list_conversations(
    conn: &mut AnyConnection,
    org: &str,
) -> Result<Vec<Conversation>, StoreError> {
    Ok(dsl::conversations
        .filter(dsl::organization_id.eq(org))
        .order(dsl::created_at.asc())
        .load(conn)?)
}

/// Who a conversation list shows by assignee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    User(String),
    Nobody,
}

/// Filters of the inbox list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub assigned_to: Option<Assignee>,
    pub unread: Option<bool>,
    /// Part of the contact's phone, of the lead's name or of the contact's WhatsApp name.
    pub search: Option<String>,
}

/// A conversation as the inbox lists it: with its lead's and assignee's names.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub conversation: Conversation,
    pub lead_name: Option<String>,
    pub assigned_to_name: Option<String>,
    /// The name the customer gave WhatsApp (their profile), when Meta sent one.
    pub contact_name: Option<String>,
    /// The conversation's newest ticket (helpdesk mode), open or not.
    pub latest_ticket: Option<TicketSummary>,
}

/// A ticket as the inbox shows it beside a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSummary {
    pub id: String,
    pub number: i64,
    pub status: String,
}

fn filtered<'a>(
    org: &'a str,
    filter: &'a ConversationFilter,
) -> crate::schema::conversations::BoxedQuery<'a, super::Backend> {
    use crate::schema::leads;
    let mut query = dsl::conversations
        .filter(dsl::organization_id.eq(org))
        .into_boxed();
    match &filter.assigned_to {
        Some(Assignee::User(id)) => query = query.filter(dsl::assigned_to_id.eq(id)),
        Some(Assignee::Nobody) => query = query.filter(dsl::assigned_to_id.is_null()),
        None => {}
    }
    match filter.unread {
        Some(true) => query = query.filter(dsl::unread_count.gt(0)),
        Some(false) => query = query.filter(dsl::unread_count.eq(0)),
        None => {}
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let pattern = super::contains_pattern(search);
        let digits: String = search.chars().filter(char::is_ascii_digit).collect();
        let named_leads = leads::table
            .filter(leads::organization_id.eq(org))
            .filter(super::lower(leads::name).like(pattern.clone()).escape('\\'))
            .select(leads::id.nullable());
        // Helpdesk-only organizations have no leads: the WhatsApp profile name is the name.
        let named_contacts = crate::schema::contacts::table
            .filter(crate::schema::contacts::organization_id.eq(org))
            .filter(
                super::lower(crate::schema::contacts::profile_name.assume_not_null())
                    .like(pattern.clone())
                    .escape('\\'),
            )
            .select(crate::schema::contacts::id.nullable());
        let by_phone = if digits.is_empty() {
            pattern
        } else {
            format!("%{digits}%")
        };
        query = query.filter(
            dsl::contact_phone
                .like(by_phone)
                .escape('\\')
                .or(dsl::lead_id.eq_any(named_leads))
                .or(dsl::contact_id.eq_any(named_contacts)),
        );
    }
    query
}

/// One page of the organization's conversations, newest message first, and how many match.
pub fn list_inbox(
    conn: &mut AnyConnection,
    org: &str,
    filter: &ConversationFilter,
    page: super::Page,
) -> Result<(Vec<InboxRow>, i64), StoreError> {
    let total: i64 = filtered(org, filter).count().get_result(conn)?;
    let found: Vec<Conversation> = filtered(org, filter)
        .order((
            dsl::last_message_at.is_null(),
            dsl::last_message_at.desc(),
            dsl::id.desc(),
        ))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((with_names(conn, org, found)?, total))
}

/// Adds lead and assignee names with one query each for the whole page.
fn with_names(
    conn: &mut AnyConnection,
    org: &str,
    found: Vec<Conversation>,
) -> Result<Vec<InboxRow>, StoreError> {
    use crate::schema::{leads, users};
    let lead_ids: Vec<&str> = found.iter().filter_map(|c| c.lead_id.as_deref()).collect();
    let user_ids: Vec<&str> = found
        .iter()
        .filter_map(|c| c.assigned_to_id.as_deref())
        .collect();
    let lead_names: std::collections::HashMap<String, String> = leads::table
        .filter(leads::organization_id.eq(org))
        .filter(leads::id.eq_any(&lead_ids))
        .select((leads::id, leads::name))
        .load(conn)?
        .into_iter()
        .collect();
    let user_names: std::collections::HashMap<String, String> = users::table
        .filter(users::organization_id.eq(org))
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::name))
        .load(conn)?
        .into_iter()
        .collect();
    let contact_names = contact_names_of(conn, org, &found)?;
    let mut tickets = latest_tickets_of(conn, org, &found)?;
    Ok(found
        .into_iter()
        .map(|conversation| InboxRow {
            lead_name: conversation
                .lead_id
                .as_ref()
                .and_then(|id| lead_names.get(id).cloned()),
            assigned_to_name: conversation
                .assigned_to_id
                .as_ref()
                .and_then(|id| user_names.get(id).cloned()),
            contact_name: conversation
                .contact_id
                .as_ref()
                .and_then(|id| contact_names.get(id).cloned()),
            latest_ticket: tickets.remove(&conversation.id),
            conversation,
        })
        .collect())
}

/// WhatsApp profile names of the page's contacts, by contact id (one query).
fn contact_names_of(
    conn: &mut AnyConnection,
    org: &str,
    found: &[Conversation],
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    use crate::schema::contacts;
    let ids: Vec<&str> = found
        .iter()
        .filter_map(|c| c.contact_id.as_deref())
        .collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, Option<String>)> = contacts::table
        .filter(contacts::organization_id.eq(org))
        .filter(contacts::id.eq_any(&ids))
        .select((contacts::id, contacts::profile_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name)| Some((id, name?)))
        .collect())
}

/// The newest ticket of each conversation of the page, by conversation id (one query; the rows
/// come newest first, so the first one seen per conversation wins).
fn latest_tickets_of(
    conn: &mut AnyConnection,
    org: &str,
    found: &[Conversation],
) -> Result<std::collections::HashMap<String, TicketSummary>, StoreError> {
    use crate::schema::tickets;
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    if ids.is_empty() {
        return Ok(Default::default());
    }
    // By phone first: tickets are indexed by (organization, contact phone), not conversation.
    let phones: Vec<&str> = found.iter().map(|c| c.contact_phone.as_str()).collect();
    let rows: Vec<(Option<String>, String, i64, String)> = tickets::table
        .filter(tickets::organization_id.eq(org))
        .filter(tickets::contact_phone.eq_any(&phones))
        .filter(tickets::conversation_id.eq_any(&ids))
        .order((tickets::created_at.desc(), tickets::number.desc()))
        .select((
            tickets::conversation_id,
            tickets::id,
            tickets::number,
            tickets::status,
        ))
        .load(conn)?;
    let mut latest = std::collections::HashMap::new();
    for (conversation_id, id, number, status) in rows {
        if let Some(conversation_id) = conversation_id {
            latest
                .entry(conversation_id)
                .or_insert(TicketSummary { id, number, status });
        }
    }
    Ok(latest)
}

pub fn find_conversation(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<Conversation>, StoreError> {
    Ok(dsl::conversations
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

/// The conversation as the inbox shows it, or not found (also for another organization's).
pub fn find_inbox_row(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<InboxRow, StoreError> {
    let found = find_conversation(conn, org, id)?.ok_or(StoreError::NotFound("conversation"))?;
    with_names(conn, org, vec![found])?
        .pop()
        .ok_or(StoreError::NotFound("conversation"))
}

/// Assigns the conversation to a user of the same organization, or to nobody.
pub fn assign_conversation(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    user_id: Option<&str>,
) -> Result<InboxRow, StoreError> {
    crate::db::write_transaction(conn, |conn| {
        if let Some(user) = user_id
            && super::users::find_user(conn, org, user)?.is_none()
        {
            return Err(StoreError::NotFound("user"));
        }
        let before =
            find_conversation(conn, org, id)?.ok_or(StoreError::NotFound("conversation"))?;
        diesel::update(dsl::conversations.find(id))
            .set((dsl::assigned_to_id.eq(user_id), dsl::updated_at.eq(now())))
            .execute(conn)?;
        // Subscribers hear of real changes only, not of the same assignee set again.
        if before.assigned_to_id.as_deref() != user_id {
            super::subscriptions::emit_conversation_assigned(conn, &before, user_id)?;
        }
        find_inbox_row(conn, org, id)
    })
}

/// What marking a conversation read did.
#[derive(Debug, Clone)]
pub struct MarkedRead {
    pub row: InboxRow,
    /// The job sending Meta a read receipt for the last inbound message, when one was queued.
    pub receipt_job_id: Option<String>,
}

/// Sets the unread count to 0 and, when `send_receipt`, queues a MARK_READ job for the last
/// inbound message (read receipts mark every earlier message read too), in one transaction.
pub fn mark_conversation_read(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    send_receipt: bool,
) -> Result<MarkedRead, StoreError> {
    use crate::schema::message_logs as logs;
    crate::db::write_transaction(conn, |conn| {
        let conversation =
            find_conversation(conn, org, id)?.ok_or(StoreError::NotFound("conversation"))?;
        diesel::update(dsl::conversations.find(id))
            .set((dsl::unread_count.eq(0), dsl::updated_at.eq(now())))
            .execute(conn)?;
        let last_inbound: Option<String> = if send_receipt {
            logs::table
                .filter(logs::organization_id.eq(org))
                .filter(logs::conversation_id.eq(id))
                .filter(logs::direction.eq("INBOUND"))
                .filter(logs::external_message_id.is_not_null())
                .order(logs::created_at.desc())
                .select(logs::external_message_id)
                .limit(1)
                .load::<Option<String>>(conn)?
                .into_iter()
                .next()
                .flatten()
        } else {
            None
        };
        let receipt_job_id = match last_inbound {
            Some(wamid) => Some(queue_read_receipt(conn, org, &conversation, &wamid)?),
            None => None,
        };
        Ok(MarkedRead {
            row: find_inbox_row(conn, org, id)?,
            receipt_job_id,
        })
    })
}

/// What a MARK_READ job finds in its payload.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub channel_id: String,
    /// The wamid of the customer's message to mark read.
    pub message_id: String,
}

/// One receipt per message: marking the same conversation read twice queues it once.
fn queue_read_receipt(
    conn: &mut AnyConnection,
    org: &str,
    conversation: &Conversation,
    wamid: &str,
) -> Result<String, StoreError> {
    use crate::schema::integration_jobs as jobs_table;
    let key = format!("mark_read:{org}:{wamid}");
    let existing: Option<String> = jobs_table::table
        .filter(jobs_table::idempotency_key.eq(&key))
        .select(jobs_table::id)
        .load(conn)?
        .into_iter()
        .next();
    if let Some(id) = existing {
        return Ok(id);
    }
    let payload = serde_json::to_string(&ReadReceipt {
        channel_id: conversation.channel_id.clone(),
        message_id: wamid.to_string(),
    })
    .map_err(|e| StoreError::Internal(e.to_string()))?;
    let mut job = super::jobs::new_job(
        switchboard_domain::job_kind::MARK_READ,
        Some(org.to_string()),
        payload,
        now(),
    );
    job.idempotency_key = Some(key);
    super::jobs::insert_jobs(conn, std::slice::from_ref(&job))?;
    Ok(job.id)
}
