//! Tickets, their comments and the notifications they owed: the rows. The helpdesk's flows
//! over them (the assistant, agent replies, status changes) are in [`crate::helpdesk`].

use chrono::NaiveDateTime;
use diesel::prelude::*;
use switchboard_domain::helpdesk::TicketStatus;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Ticket, TicketComment, TicketNotification, new_id, now};
use crate::repo::conversations::Assignee;
use crate::schema::{ticket_comments, ticket_notifications, tickets};

pub const AUTHOR_CUSTOMER: &str = "customer";
pub const AUTHOR_AGENT: &str = "agent";

/// The statuses a contact's messages still go to.
fn open_statuses() -> Vec<&'static str> {
    TicketStatus::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .map(TicketStatus::as_str)
        .collect()
}

pub fn find_ticket(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<Ticket>, StoreError> {
    Ok(tickets::table
        .filter(tickets::organization_id.eq(org))
        .filter(tickets::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn find_ticket_by_jira_key(
    conn: &mut AnyConnection,
    org: &str,
    key: &str,
) -> Result<Option<Ticket>, StoreError> {
    Ok(tickets::table
        .filter(tickets::organization_id.eq(org))
        .filter(tickets::jira_issue_key.eq(key))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn find_comment(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<TicketComment>, StoreError> {
    Ok(ticket_comments::table
        .filter(ticket_comments::organization_id.eq(org))
        .filter(ticket_comments::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

/// The ticket a contact's messages go to now: open, its session not ended (`/new`), and
/// active since `since` (the session expiry). The newest if several qualify.
pub fn active_session(
    conn: &mut AnyConnection,
    org: &str,
    contact_phone: &str,
    since: NaiveDateTime,
) -> Result<Option<Ticket>, StoreError> {
    Ok(tickets::table
        .filter(tickets::organization_id.eq(org))
        .filter(tickets::contact_phone.eq(contact_phone))
        .filter(tickets::status.eq_any(open_statuses()))
        .filter(tickets::session_ended_at.is_null())
        .filter(tickets::last_activity_at.ge(since))
        .order(tickets::created_at.desc())
        .limit(1)
        .load(conn)?
        .into_iter()
        .next())
}

/// The contact's newest ticket, whatever its state (for `/status` after a session ended).
pub fn latest_ticket(
    conn: &mut AnyConnection,
    org: &str,
    contact_phone: &str,
) -> Result<Option<Ticket>, StoreError> {
    Ok(tickets::table
        .filter(tickets::organization_id.eq(org))
        .filter(tickets::contact_phone.eq(contact_phone))
        .order(tickets::created_at.desc())
        .limit(1)
        .load(conn)?
        .into_iter()
        .next())
}

/// A ticket to open; its number is the organization's next.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    pub organization_id: &'a str,
    pub service_id: Option<&'a str>,
    pub conversation_id: Option<&'a str>,
    pub lead_id: Option<&'a str>,
    pub contact_phone: &'a str,
    pub subject: &'a str,
    /// When the message that opened it was written (the session runs from there).
    pub at: NaiveDateTime,
}

/// Opens a ticket numbered after the organization's last one. Two transactions numbering at
/// once collide on the unique (organization, number) index: the loser's job is retried.
pub fn insert_ticket(conn: &mut AnyConnection, new: &NewTicket<'_>) -> Result<Ticket, StoreError> {
    let last: Option<i64> = tickets::table
        .filter(tickets::organization_id.eq(new.organization_id))
        .select(diesel::dsl::max(tickets::number))
        .first(conn)?;
    let at = now();
    let ticket = Ticket {
        id: new_id(),
        organization_id: new.organization_id.to_string(),
        number: last.unwrap_or(1000) + 1,
        service_id: new.service_id.map(str::to_string),
        conversation_id: new.conversation_id.map(str::to_string),
        lead_id: new.lead_id.map(str::to_string),
        contact_phone: new.contact_phone.to_string(),
        subject: new.subject.to_string(),
        status: TicketStatus::New.as_str().to_string(),
        assigned_to_id: None,
        jira_issue_key: None,
        last_activity_at: new.at,
        closed_at: None,
        created_at: at,
        updated_at: at,
        session_ended_at: None,
    };
    diesel::insert_into(tickets::table)
        .values(&ticket)
        .execute(conn)?;
    super::subscriptions::emit_ticket_created(conn, &ticket)?;
    Ok(ticket)
}

/// A comment to add to a ticket.
#[derive(Debug, Clone)]
pub struct NewComment<'a> {
    pub organization_id: &'a str,
    pub ticket_id: &'a str,
    pub author_type: &'a str,
    pub author_user_id: Option<&'a str>,
    pub body: &'a str,
    pub message_log_id: Option<&'a str>,
    pub media_id: Option<&'a str>,
    pub external_id: Option<&'a str>,
    /// When it was written: the message's time for a customer's comment.
    pub at: NaiveDateTime,
}

/// Adds a comment and counts it as the ticket's latest activity.
pub fn insert_comment(
    conn: &mut AnyConnection,
    new: &NewComment<'_>,
) -> Result<TicketComment, StoreError> {
    let comment = TicketComment {
        id: new_id(),
        organization_id: new.organization_id.to_string(),
        ticket_id: new.ticket_id.to_string(),
        author_type: new.author_type.to_string(),
        author_user_id: new.author_user_id.map(str::to_string),
        body: new.body.to_string(),
        message_log_id: new.message_log_id.map(str::to_string),
        media_id: new.media_id.map(str::to_string),
        created_at: new.at,
        external_id: new.external_id.map(str::to_string),
    };
    diesel::insert_into(ticket_comments::table)
        .values(&comment)
        .execute(conn)?;
    touch(conn, new.ticket_id, new.at)?;
    Ok(comment)
}

/// The comment with this external id (a Jira comment's), if the ticket has it already.
pub fn find_comment_by_external_id(
    conn: &mut AnyConnection,
    ticket_id: &str,
    external_id: &str,
) -> Result<Option<TicketComment>, StoreError> {
    Ok(ticket_comments::table
        .filter(ticket_comments::ticket_id.eq(ticket_id))
        .filter(ticket_comments::external_id.eq(external_id))
        .load(conn)?
        .into_iter()
        .next())
}

/// Activity only moves forward: a late, older message does not shorten the session.
fn touch(conn: &mut AnyConnection, ticket_id: &str, at: NaiveDateTime) -> Result<(), StoreError> {
    diesel::update(
        tickets::table
            .filter(tickets::id.eq(ticket_id))
            .filter(tickets::last_activity_at.lt(at)),
    )
    .set(tickets::last_activity_at.eq(at))
    .execute(conn)?;
    diesel::update(tickets::table.filter(tickets::id.eq(ticket_id)))
        .set(tickets::updated_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// Moves the ticket to `status`; a closing status records when, an open one clears it.
pub fn set_status(
    conn: &mut AnyConnection,
    ticket_id: &str,
    status: TicketStatus,
) -> Result<(), StoreError> {
    let at = now();
    let closed_at = (!status.is_open()).then_some(at);
    diesel::update(tickets::table.filter(tickets::id.eq(ticket_id)))
        .set((
            tickets::status.eq(status.as_str()),
            tickets::closed_at.eq(closed_at),
            tickets::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The contact's next message starts a new ticket; this one stays as it is for the agents.
pub fn end_session(conn: &mut AnyConnection, ticket_id: &str) -> Result<(), StoreError> {
    let at = now();
    diesel::update(tickets::table.filter(tickets::id.eq(ticket_id)))
        .set((tickets::session_ended_at.eq(at), tickets::updated_at.eq(at)))
        .execute(conn)?;
    Ok(())
}

pub fn assign_ticket(
    conn: &mut AnyConnection,
    ticket_id: &str,
    user_id: Option<&str>,
) -> Result<(), StoreError> {
    diesel::update(tickets::table.filter(tickets::id.eq(ticket_id)))
        .set((
            tickets::assigned_to_id.eq(user_id),
            tickets::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Filters of the ticket list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    pub service_id: Option<String>,
    pub assigned_to: Option<Assignee>,
}

fn filtered<'a>(org: &'a str, filter: &'a TicketFilter) -> tickets::BoxedQuery<'a, super::Backend> {
    let mut query = tickets::table
        .filter(tickets::organization_id.eq(org))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(tickets::status.eq(status.as_str()));
    }
    if let Some(service) = &filter.service_id {
        query = query.filter(tickets::service_id.eq(service));
    }
    match &filter.assigned_to {
        Some(Assignee::User(id)) => query = query.filter(tickets::assigned_to_id.eq(id)),
        Some(Assignee::Nobody) => query = query.filter(tickets::assigned_to_id.is_null()),
        None => {}
    }
    query
}

/// One page of the organization's tickets, newest first, and how many match.
pub fn list_ticket_page(
    conn: &mut AnyConnection,
    org: &str,
    filter: &TicketFilter,
    page: super::Page,
) -> Result<(Vec<Ticket>, i64), StoreError> {
    let total: i64 = filtered(org, filter).count().get_result(conn)?;
    let found = filtered(org, filter)
        .order((tickets::created_at.desc(), tickets::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((found, total))
}

/// A ticket's comments, oldest first.
pub fn list_comments(
    conn: &mut AnyConnection,
    org: &str,
    ticket_id: &str,
) -> Result<Vec<TicketComment>, StoreError> {
    Ok(ticket_comments::table
        .filter(ticket_comments::organization_id.eq(org))
        .filter(ticket_comments::ticket_id.eq(ticket_id))
        .order((ticket_comments::created_at.asc(), ticket_comments::id.asc()))
        .load(conn)?)
}

/// The notifications a ticket owed its contact, oldest first.
pub fn list_notifications(
    conn: &mut AnyConnection,
    org: &str,
    ticket_id: &str,
) -> Result<Vec<TicketNotification>, StoreError> {
    Ok(ticket_notifications::table
        .filter(ticket_notifications::organization_id.eq(org))
        .filter(ticket_notifications::ticket_id.eq(ticket_id))
        .order((
            ticket_notifications::created_at.asc(),
            ticket_notifications::id.asc(),
        ))
        .load(conn)?)
}

pub fn insert_notification(
    conn: &mut AnyConnection,
    notification: &TicketNotification,
) -> Result<(), StoreError> {
    diesel::insert_into(ticket_notifications::table)
        .values(notification)
        .execute(conn)?;
    Ok(())
}
