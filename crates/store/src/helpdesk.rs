//! The helpdesk over WhatsApp, as transactions: what an inbound message does in helpdesk mode
//! (commands, the service menu, tickets and their comments), agent replies, status changes,
//! and the notifications they owe the customer. Decisions come from
//! `switchboard_domain::helpdesk`; everything here runs inside the caller's transaction, so a
//! ticket, its comment and the messages it sends commit together or not at all.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde_json::json;
use switchboard_domain::helpdesk::{
    self, Command, MenuItem, Texts, TicketStatus, menu_message, render,
};
use switchboard_domain::job_kind;
use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_domain::settings::{HelpdeskSettings, OrgSettings};
use switchboard_domain::template_def::{self, ParameterFormat};
use switchboard_domain::window::is_window_open;

use crate::db::{AnyConnection, write_transaction};
use crate::error::StoreError;
use crate::models::{
    Channel, Conversation, MessageLog, Service, Template, Ticket, TicketComment,
    TicketNotification, new_id, now,
};
use crate::repo::outbound::{self, NewOutbound};
use crate::repo::services::{self, DESTINATION_JIRA};
use crate::repo::subscriptions::{self, TicketChange};
use crate::repo::tickets::{self, AUTHOR_AGENT, AUTHOR_CUSTOMER, NewComment, NewTicket};
use crate::repo::{channels, conversations, jobs, organizations};

/// An inbound message, projected already, for the helpdesk to act on.
pub struct Inbound<'a> {
    pub channel: &'a Channel,
    pub conversation: &'a Conversation,
    pub message: &'a MessageLog,
    /// The id of a tapped list row or button, when the message is such a reply.
    pub reply_id: Option<&'a str>,
    pub settings: &'a HelpdeskSettings,
}

impl Inbound<'_> {
    fn org(&self) -> &str {
        &self.channel.organization_id
    }

    fn phone(&self) -> &str {
        &self.conversation.contact_phone
    }

    fn text(&self) -> String {
        self.message.text.clone().unwrap_or_default()
    }

    /// When the contact wrote: sessions are measured in the messages' own time, so a replay
    /// of the event log decides as the first pass did.
    fn at(&self) -> NaiveDateTime {
        self.message.sent_at.unwrap_or(self.message.created_at)
    }

    /// Sessions and menus older than this have expired.
    fn since(&self) -> NaiveDateTime {
        self.at() - TimeDelta::hours(i64::from(self.settings.session_hours))
    }
}

/// Handles one inbound message in helpdesk mode. Commands first (never stored as comments),
/// then the contact's open ticket, then the service menu or a new ticket.
pub fn on_inbound(conn: &mut AnyConnection, inbound: &Inbound<'_>) -> Result<(), StoreError> {
    let texts = inbound.settings.texts();
    let session = tickets::active_session(conn, inbound.org(), inbound.phone(), inbound.since())?;
    if let Some(command) = helpdesk::parse_command(&inbound.text()) {
        return run_command(conn, inbound, &texts, command, session);
    }
    if let Some(ticket) = session {
        return add_customer_comment(conn, inbound, &ticket);
    }
    let menu = services::list_active_services(conn, inbound.org())?;
    if menu.is_empty() {
        let subject = helpdesk::subject_from(&comment_body(inbound.message));
        return open_direct_ticket(conn, inbound, &texts, &subject);
    }
    answer_menu(conn, inbound, &texts, &menu)
}

/// A contact without an open ticket is choosing a service: a valid answer to a menu offered
/// within the session time opens the ticket; anything else gets the menu (again, with a hint).
fn answer_menu(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    texts: &Texts,
    services: &[Service],
) -> Result<(), StoreError> {
    let items: Vec<MenuItem> = services
        .iter()
        .map(|s| MenuItem {
            id: s.id.clone(),
            name: s.name.clone(),
        })
        .collect();
    let offered = inbound
        .conversation
        .menu_offered_at
        .is_some_and(|at| at >= inbound.since());
    let chosen = offered
        .then(|| helpdesk::choose(&inbound.text(), inbound.reply_id, &items))
        .flatten()
        .and_then(|item| services.iter().find(|s| s.id == item.id));
    if let Some(service) = chosen {
        let ticket = open_ticket(conn, inbound, Some(service), &service.name)?;
        add_customer_comment(conn, inbound, &ticket)?;
        set_menu_offered(conn, &inbound.conversation.id, None)?;
        let connected = render(&texts.connected, &[("service", &service.name)]);
        return say(conn, inbound, "connected", text(connected));
    }
    let menu = menu_message(texts, &inbound.settings.assistant_name, &items, offered);
    say(conn, inbound, "menu", menu)?;
    set_menu_offered(conn, &inbound.conversation.id, Some(inbound.at()))
}

fn open_direct_ticket(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    texts: &Texts,
    subject: &str,
) -> Result<(), StoreError> {
    let ticket = open_ticket(conn, inbound, None, subject)?;
    add_customer_comment(conn, inbound, &ticket)?;
    let created = render(
        &texts.ticket_created,
        &[("number", &ticket.number.to_string())],
    );
    say(conn, inbound, "ticket_created", text(created))
}

fn run_command(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    texts: &Texts,
    command: Command,
    session: Option<Ticket>,
) -> Result<(), StoreError> {
    let language = inbound.settings.language;
    let reply = match (command, session) {
        (Command::Help, _) => texts.help.clone(),
        (Command::Status, session) => {
            let ticket = match session {
                Some(t) => Some(t),
                None => tickets::latest_ticket(conn, inbound.org(), inbound.phone())?,
            };
            match ticket {
                Some(t) => status_text(texts, &t, language),
                None => texts.no_ticket.clone(),
            }
        }
        (Command::New, session) => {
            if let Some(ticket) = session {
                tickets::end_session(conn, &ticket.id)?;
            }
            return start_over(conn, inbound, texts);
        }
        (Command::Cancel, Some(ticket)) => {
            tickets::set_status(conn, &ticket.id, TicketStatus::Cancelled)?;
            let previous = TicketChange::Status {
                previous: &ticket.status,
            };
            subscriptions::emit_ticket_updated(
                conn,
                inbound.org(),
                &ticket.id,
                previous,
                message_key(inbound),
            )?;
            render(&texts.cancelled, &[("number", &ticket.number.to_string())])
        }
        (Command::Cancel, None) => texts.no_ticket.clone(),
    };
    say(conn, inbound, "command", text(reply))
}

/// `/new`: with services, the menu; without, a fresh ticket right away (its subject comes
/// from the first message the contact writes into it).
fn start_over(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    texts: &Texts,
) -> Result<(), StoreError> {
    let services = services::list_active_services(conn, inbound.org())?;
    if !services.is_empty() {
        let items: Vec<MenuItem> = services
            .iter()
            .map(|s| MenuItem {
                id: s.id.clone(),
                name: s.name.clone(),
            })
            .collect();
        let menu = menu_message(texts, &inbound.settings.assistant_name, &items, false);
        say(conn, inbound, "menu", menu)?;
        return set_menu_offered(conn, &inbound.conversation.id, Some(inbound.at()));
    }
    let ticket = open_ticket(conn, inbound, None, NEW_TICKET_SUBJECT)?;
    let created = render(
        &texts.ticket_created,
        &[("number", &ticket.number.to_string())],
    );
    say(conn, inbound, "ticket_created", text(created))
}

/// The subject of a ticket opened by `/new` until its first comment names it.
const NEW_TICKET_SUBJECT: &str = "(new ticket)";

fn status_text(texts: &Texts, ticket: &Ticket, language: helpdesk::Language) -> String {
    let status =
        TicketStatus::parse(&ticket.status).map_or(ticket.status.as_str(), |s| s.label(language));
    let updated = ticket.updated_at.format("%Y-%m-%d %H:%M UTC").to_string();
    render(
        &texts.status,
        &[
            ("number", &ticket.number.to_string()),
            ("status", status),
            ("updated", &updated),
        ],
    )
}

fn open_ticket(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    service: Option<&Service>,
    subject: &str,
) -> Result<Ticket, StoreError> {
    let ticket = tickets::insert_ticket(
        conn,
        &NewTicket {
            organization_id: inbound.org(),
            service_id: service.map(|s| s.id.as_str()),
            conversation_id: Some(&inbound.conversation.id),
            lead_id: inbound.conversation.lead_id.as_deref(),
            contact_phone: inbound.phone(),
            subject,
            at: inbound.at(),
        },
    )?;
    if service.is_some_and(|s| s.destination == DESTINATION_JIRA) {
        queue_job(
            conn,
            inbound.org(),
            job_kind::JIRA_CREATE_ISSUE,
            json!({"ticketId": ticket.id}),
        )?;
    }
    Ok(ticket)
}

/// The message as a comment: its text, or what it is (`[image] invoice.pdf`) when it has none.
fn comment_body(message: &MessageLog) -> String {
    match (&message.text, &message.media_filename) {
        (Some(text), _) if !text.trim().is_empty() => text.clone(),
        (_, Some(file)) => format!("[{}] {file}", message.message_type),
        _ => format!("[{}]", message.message_type),
    }
}

fn add_customer_comment(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    ticket: &Ticket,
) -> Result<(), StoreError> {
    use crate::schema::media;
    let media_id: Option<String> = media::table
        .filter(media::message_log_id.eq(&inbound.message.id))
        .select(media::id)
        .load(conn)?
        .into_iter()
        .next();
    let body = comment_body(inbound.message);
    let comment = tickets::insert_comment(
        conn,
        &NewComment {
            organization_id: inbound.org(),
            ticket_id: &ticket.id,
            author_type: AUTHOR_CUSTOMER,
            author_user_id: None,
            body: &body,
            message_log_id: Some(&inbound.message.id),
            media_id: media_id.as_deref(),
            external_id: None,
            at: inbound.at(),
        },
    )?;
    if ticket.subject == NEW_TICKET_SUBJECT {
        name_ticket(conn, &ticket.id, &helpdesk::subject_from(&body))?;
    }
    // The customer answered: the ball is back with the agents.
    if ticket.status == TicketStatus::WaitingCustomer.as_str() {
        tickets::set_status(conn, &ticket.id, TicketStatus::InProgress)?;
        let previous = TicketChange::Status {
            previous: &ticket.status,
        };
        subscriptions::emit_ticket_updated(
            conn,
            inbound.org(),
            &ticket.id,
            previous,
            message_key(inbound),
        )?;
    }
    subscriptions::emit_ticket_updated(
        conn,
        inbound.org(),
        &ticket.id,
        TicketChange::Comment(&comment),
        message_key(inbound),
    )?;
    push_to_jira(conn, ticket, &comment)
}

/// What makes events of a customer's message unique: its wamid, so a replay repeats none.
fn message_key<'a>(inbound: &'a Inbound<'_>) -> &'a str {
    inbound
        .message
        .external_message_id
        .as_deref()
        .unwrap_or(&inbound.message.id)
}

fn name_ticket(conn: &mut AnyConnection, ticket_id: &str, subject: &str) -> Result<(), StoreError> {
    use crate::schema::tickets::dsl;
    diesel::update(dsl::tickets.filter(dsl::id.eq(ticket_id)))
        .set(dsl::subject.eq(subject))
        .execute(conn)?;
    Ok(())
}

/// Comments on a Jira-bound ticket follow to its Jira issue (by a job that retries).
fn push_to_jira(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    comment: &TicketComment,
) -> Result<(), StoreError> {
    let Some(service_id) = &ticket.service_id else {
        return Ok(());
    };
    let service = services::find_service(conn, &ticket.organization_id, service_id)?;
    if service.is_some_and(|s| s.destination == DESTINATION_JIRA) {
        queue_job(
            conn,
            &ticket.organization_id,
            job_kind::JIRA_ADD_COMMENT,
            json!({"commentId": comment.id}),
        )?;
    }
    Ok(())
}

fn queue_job(
    conn: &mut AnyConnection,
    org: &str,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let job = jobs::new_job(kind, Some(org.to_string()), payload.to_string(), now());
    jobs::insert_jobs(conn, std::slice::from_ref(&job))
}

fn set_menu_offered(
    conn: &mut AnyConnection,
    conversation_id: &str,
    at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    use crate::schema::conversations::dsl;
    diesel::update(dsl::conversations.filter(dsl::id.eq(conversation_id)))
        .set(dsl::menu_offered_at.eq(at))
        .execute(conn)?;
    Ok(())
}

fn text(body: String) -> OutboundContent {
    OutboundContent::Text(Text {
        body,
        preview_url: false,
    })
}

/// The assistant answers the contact. Keyed by the inbound message, so projecting it again
/// (a replay) queues nothing twice. A message older than the 24-hour window (delivered late,
/// or replayed) gets no answer: Meta would refuse a free-form message then.
fn say(
    conn: &mut AnyConnection,
    inbound: &Inbound<'_>,
    purpose: &str,
    content: OutboundContent,
) -> Result<(), StoreError> {
    if !is_window_open(Some(inbound.at()), now()) {
        tracing::info!(message = %inbound.message.id, purpose, "the message is older than the 24-hour window: the assistant does not answer");
        return Ok(());
    }
    let wamid = inbound
        .message
        .external_message_id
        .as_deref()
        .unwrap_or(&inbound.message.id);
    outbound::queue_message_in(
        conn,
        &NewOutbound {
            organization_id: inbound.org().to_string(),
            channel: inbound.channel.clone(),
            to: inbound.phone().to_string(),
            content,
            lead_id: inbound.conversation.lead_id.clone(),
            reply_to: None,
            idempotency_key: Some(format!("assistant:{wamid}:{purpose}")),
            origin: Some(crate::repo::messages::origin::ASSISTANT),
        },
    )?;
    jobs::announce_jobs(conn)
}

/// An agent's answer on a ticket, from the API or from Jira.
#[derive(Debug, Clone)]
pub struct AgentReply<'a> {
    pub organization_id: &'a str,
    pub ticket_id: &'a str,
    pub author_user_id: Option<&'a str>,
    pub body: &'a str,
    /// The comment's id in Jira, when it came from there (it is not sent back to Jira).
    pub external_id: Option<&'a str>,
}

/// What an agent reply did; `created` is false when a comment with its external id existed.
#[derive(Debug, Clone)]
pub struct Reply {
    pub comment: TicketComment,
    pub notification: Option<TicketNotification>,
    pub created: bool,
}

/// Adds the agent's comment and notifies the customer, in one transaction.
pub fn agent_reply(conn: &mut AnyConnection, reply: &AgentReply<'_>) -> Result<Reply, StoreError> {
    write_transaction(conn, |conn| {
        let org = reply.organization_id;
        let ticket = tickets::find_ticket(conn, org, reply.ticket_id)?
            .ok_or(StoreError::NotFound("ticket"))?;
        if let Some(external) = reply.external_id
            && let Some(comment) = tickets::find_comment_by_external_id(conn, &ticket.id, external)?
        {
            return Ok(Reply {
                comment,
                notification: None,
                created: false,
            });
        }
        let comment = tickets::insert_comment(
            conn,
            &NewComment {
                organization_id: org,
                ticket_id: &ticket.id,
                author_type: AUTHOR_AGENT,
                author_user_id: reply.author_user_id,
                body: reply.body,
                message_log_id: None,
                media_id: None,
                external_id: reply.external_id,
                at: now(),
            },
        )?;
        subscriptions::emit_ticket_updated(
            conn,
            org,
            &ticket.id,
            TicketChange::Comment(&comment),
            &comment.id,
        )?;
        let settings = organizations::settings_of(conn, org)?;
        let notification = notify(
            conn,
            &ticket,
            &settings,
            Notice {
                event: EVENT_AGENT_REPLY,
                text: reply.body.to_string(),
                detail: reply.body.to_string(),
                template: settings.helpdesk.templates.agent_reply.clone(),
            },
        )?;
        if reply.external_id.is_none() {
            push_to_jira(conn, &ticket, &comment)?;
        }
        Ok(Reply {
            comment,
            notification: Some(notification),
            created: true,
        })
    })
}

/// Moves a ticket to `status` and tells the customer; the same status again changes nothing
/// and notifies no one.
pub fn change_status(
    conn: &mut AnyConnection,
    org: &str,
    ticket_id: &str,
    status: TicketStatus,
) -> Result<(Ticket, Option<TicketNotification>), StoreError> {
    write_transaction(conn, |conn| {
        let ticket =
            tickets::find_ticket(conn, org, ticket_id)?.ok_or(StoreError::NotFound("ticket"))?;
        if ticket.status == status.as_str() {
            return Ok((ticket, None));
        }
        tickets::set_status(conn, &ticket.id, status)?;
        let previous = TicketChange::Status {
            previous: &ticket.status,
        };
        subscriptions::emit_ticket_updated(conn, org, &ticket.id, previous, &new_id())?;
        let settings = organizations::settings_of(conn, org)?;
        let language = settings.helpdesk.language;
        let label = status.label(language).to_string();
        let texts = settings.helpdesk.texts();
        let number = ticket.number.to_string();
        let notification = notify(
            conn,
            &ticket,
            &settings,
            Notice {
                event: EVENT_STATUS_CHANGED,
                text: render(
                    &texts.status_changed,
                    &[("number", &number), ("status", &label)],
                ),
                detail: label,
                template: settings.helpdesk.templates.status_changed.clone(),
            },
        )?;
        let ticket =
            tickets::find_ticket(conn, org, ticket_id)?.ok_or(StoreError::NotFound("ticket"))?;
        Ok((ticket, Some(notification)))
    })
}

pub const EVENT_AGENT_REPLY: &str = "agent_reply";
pub const EVENT_STATUS_CHANGED: &str = "status_changed";
pub const NOTIFICATION_QUEUED: &str = "QUEUED";
pub const NOTIFICATION_SKIPPED: &str = "SKIPPED";

/// What to tell the customer: `text` inside the window; outside it `template` with the
/// ticket number and `detail` (the status, or the reply).
struct Notice {
    event: &'static str,
    text: String,
    detail: String,
    template: Option<String>,
}

/// Queues the notification or records why it could not be sent. It never fails the ticket
/// change: a refusal is recorded as SKIPPED, and a failing queue is rolled back to a savepoint.
fn notify(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    settings: &OrgSettings,
    notice: Notice,
) -> Result<TicketNotification, StoreError> {
    let planned = conn.transaction(|c| plan_and_queue(c, ticket, settings, &notice));
    let (via, status, reason, message_log_id) = match planned {
        Ok(Planned::Queued {
            via,
            message_log_id,
        }) => (Some(via), NOTIFICATION_QUEUED, None, Some(message_log_id)),
        Ok(Planned::Skipped(reason)) => (None, NOTIFICATION_SKIPPED, Some(reason), None),
        Err(StoreError::Invalid(reason)) => (None, NOTIFICATION_SKIPPED, Some(reason), None),
        Err(e) => return Err(e),
    };
    let notification = TicketNotification {
        id: new_id(),
        organization_id: ticket.organization_id.clone(),
        ticket_id: ticket.id.clone(),
        event: notice.event.to_string(),
        via: via.map(str::to_string),
        status: status.to_string(),
        reason,
        message_log_id,
        created_at: now(),
    };
    if notification.status == NOTIFICATION_SKIPPED {
        tracing::info!(ticket = %ticket.id, event = notice.event, reason = ?notification.reason, "ticket notification skipped");
    }
    tickets::insert_notification(conn, &notification)?;
    Ok(notification)
}

enum Planned {
    Queued {
        via: &'static str,
        message_log_id: String,
    },
    Skipped(String),
}

fn plan_and_queue(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    settings: &OrgSettings,
    notice: &Notice,
) -> Result<Planned, StoreError> {
    let org = ticket.organization_id.as_str();
    let Some(conversation) = ticket
        .conversation_id
        .as_deref()
        .map(|id| conversations::find_conversation(conn, org, id))
        .transpose()?
        .flatten()
    else {
        return Ok(Planned::Skipped(
            "the ticket has no WhatsApp conversation to notify".into(),
        ));
    };
    let Some(channel) = channels::find_channel(conn, org, &conversation.channel_id)? else {
        return Ok(Planned::Skipped(
            "the conversation's channel no longer exists".into(),
        ));
    };
    let (via, content) = if is_window_open(conversation.last_inbound_at, now()) {
        ("text", text(notice.text.clone()))
    } else {
        match template_notice(conn, ticket, settings, notice)? {
            Ok(content) => ("template", content),
            Err(reason) => return Ok(Planned::Skipped(reason)),
        }
    };
    let queued = outbound::queue_message_in(
        conn,
        &NewOutbound {
            organization_id: org.to_string(),
            channel,
            to: conversation.contact_phone.clone(),
            content,
            lead_id: ticket.lead_id.clone(),
            reply_to: None,
            idempotency_key: None,
            origin: None,
        },
    )?;
    jobs::announce_jobs(conn)?;
    Ok(Planned::Queued {
        via,
        message_log_id: queued.message.id,
    })
}

/// The configured template filled for this ticket, or why there is none to send.
fn template_notice(
    conn: &mut AnyConnection,
    ticket: &Ticket,
    settings: &OrgSettings,
    notice: &Notice,
) -> Result<Result<OutboundContent, String>, StoreError> {
    let setting = match notice.event {
        EVENT_AGENT_REPLY => "agentReply",
        _ => "statusChanged",
    };
    let Some(name) = notice.template.as_deref() else {
        return Ok(Err(format!(
            "the customer last wrote more than 24 hours ago and no template is configured: set helpdesk.templates.{setting} in /api/settings"
        )));
    };
    let language = settings.helpdesk.language.template_code();
    let Some(template) = approved_template(conn, &ticket.organization_id, name, language)? else {
        return Ok(Err(format!(
            "the customer last wrote more than 24 hours ago and template '{name}' has no APPROVED version (language {language} preferred); sync or submit it"
        )));
    };
    let number = ticket.number.to_string();
    let variables = [
        ("1", number.as_str()),
        ("2", notice.detail.as_str()),
        ("ticket_number", number.as_str()),
        ("status", notice.detail.as_str()),
        ("message", notice.detail.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let components: serde_json::Value =
        serde_json::from_str(&template.components).unwrap_or_else(|_| json!([]));
    let format = if template.parameter_format.eq_ignore_ascii_case("NAMED") {
        ParameterFormat::Named
    } else {
        ParameterFormat::Positional
    };
    Ok(template_def::fill(
        &template.name,
        &template.language,
        format,
        &components,
        &variables,
    )
    .map(OutboundContent::Template)
    .map_err(|missing| {
        format!(
            "template '{name}' needs values the helpdesk does not have: {}",
            missing.join(", ")
        )
    }))
}

/// The APPROVED template of that name: in `language` when there is one, else any language.
fn approved_template(
    conn: &mut AnyConnection,
    org: &str,
    name: &str,
    language: &str,
) -> Result<Option<Template>, StoreError> {
    use crate::schema::templates::dsl;
    let mut found: Vec<Template> = dsl::templates
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::name.eq(name))
        .filter(dsl::status.eq("APPROVED"))
        .filter(dsl::deleted_at.is_null())
        .load(conn)?;
    found.sort_by_key(|t| t.language != language);
    Ok(found.into_iter().next())
}

/// Assigns a ticket to a user of its organization, or to nobody.
pub fn assign(
    conn: &mut AnyConnection,
    org: &str,
    ticket_id: &str,
    user_id: Option<&str>,
) -> Result<Ticket, StoreError> {
    write_transaction(conn, |conn| {
        let before =
            tickets::find_ticket(conn, org, ticket_id)?.ok_or(StoreError::NotFound("ticket"))?;
        if let Some(user) = user_id
            && crate::repo::users::find_user(conn, org, user)?.is_none()
        {
            return Err(StoreError::Invalid(format!(
                "assignedToId: no user {user} in this organization"
            )));
        }
        tickets::assign_ticket(conn, ticket_id, user_id)?;
        if before.assigned_to_id.as_deref() != user_id {
            let previous = TicketChange::Assignee {
                previous: before.assigned_to_id.as_deref(),
            };
            subscriptions::emit_ticket_updated(conn, org, ticket_id, previous, &new_id())?;
        }
        tickets::find_ticket(conn, org, ticket_id)?.ok_or(StoreError::NotFound("ticket"))
    })
}
