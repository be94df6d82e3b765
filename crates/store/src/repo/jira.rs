//! Jira connections (one per organization) and the Jira side of tickets: the issue key a ticket
//! got and the Jira id each comment got.
//!
//! The API token is sealed like channel secrets. The webhook secret Jira calls us with is
//! random, shown once, and kept only as its SHA-256, like API tokens: a leaked database does
//! not let anyone post comments to customers.

use diesel::prelude::*;

use crate::crypto::{SecretBox, generate_api_token, hash_api_token};
use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{JiraConnection, Service, Ticket, TicketComment, User, new_id, now};
use crate::repo::services;
use crate::schema::{jira_connections, ticket_comments, tickets, users};

/// The sealing context of `jira_connections.api_token`.
pub const API_TOKEN: &str = "jira_api_token";

/// How every comment Switchboard writes to Jira begins. The webhook skips comments that begin
/// so: Jira may deliver the echo of our own comment before our job has stored its id.
pub const COMMENT_MARKER: &str = "Via Switchboard, ";

/// True for a comment text Switchboard wrote (see [`COMMENT_MARKER`]).
pub fn is_switchboard_comment(body: &str) -> bool {
    body.trim_start().starts_with(COMMENT_MARKER)
}

/// The `external_id` of a comment that went into its Jira issue's description rather than
/// into a Jira comment: it is in Jira, so no comment job copies it again. Jira comment ids are
/// numbers, so this never matches one.
pub fn description_external_id(comment_id: &str) -> String {
    format!("description:{comment_id}")
}

/// Jira keeps issue keys and comment ids short; anything longer is not from Jira.
const MAX_KEY_CHARS: usize = 255;
const MAX_URL_CHARS: usize = 2048;

/// What an administrator gives to connect Jira. Plaintext token.
#[derive(Clone)]
pub struct JiraConnectionInput<'a> {
    pub organization_id: &'a str,
    pub base_url: &'a str,
    pub user_email: &'a str,
    pub api_token: &'a str,
}

impl std::fmt::Debug for JiraConnectionInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraConnectionInput")
            .field("organization_id", &self.organization_id)
            .field("base_url", &self.base_url)
            .field("user_email", &self.user_email)
            .field("api_token", &"[redacted]")
            .finish()
    }
}

/// A connection just saved, with its new webhook secret: the only time it exists in plaintext.
pub struct SavedConnection {
    pub connection: JiraConnection,
    pub webhook_secret: String,
}

impl std::fmt::Debug for SavedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedConnection")
            .field("connection", &self.connection.id)
            .field("webhook_secret", &"[redacted]")
            .finish()
    }
}

impl JiraConnection {
    /// The API token, opened (for the Jira client's basic auth only; never log it).
    pub fn open_api_token(&self, secrets: &SecretBox) -> Result<String, StoreError> {
        Ok(secrets.open(API_TOKEN, &self.api_token)?)
    }
}

/// The base URL as stored: `http(s)://host[/path]` without a trailing slash, so the client
/// appends `/rest/api/2/...` to it.
pub fn normalize_base_url(raw: &str) -> Result<String, StoreError> {
    let url = raw.trim().trim_end_matches('/');
    let invalid = |why: &str| {
        StoreError::Invalid(format!(
            "baseUrl '{url}' {why}: give your Jira site's address, e.g. https://your-company.atlassian.net"
        ))
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// (or http://)"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(invalid("has no host"));
    }
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid("is too long"));
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '@'))
    {
        return Err(invalid(
            "must be a plain address (no spaces, query, fragment or credentials)",
        ));
    }
    Ok(url.to_string())
}

fn validate_email(raw: &str) -> Result<String, StoreError> {
    let email = raw.trim();
    let looks_right = email.len() <= 320
        && !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if !looks_right {
        return Err(StoreError::Invalid(format!(
            "userEmail '{email}' is not an email address: give the email of the Jira account the API token belongs to"
        )));
    }
    Ok(email.to_string())
}

/// Creates the organization's connection or replaces its settings. Either way a new webhook
/// secret is generated and returned once (the old one stops working): Jira's webhook must be
/// updated with it.
pub fn upsert_connection(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    input: &JiraConnectionInput<'_>,
) -> Result<SavedConnection, StoreError> {
    let base_url = normalize_base_url(input.base_url)?;
    let user_email = validate_email(input.user_email)?;
    let token = input.api_token.trim();
    if token.is_empty() {
        return Err(StoreError::Invalid(
            "apiToken must not be empty: create one at https://id.atlassian.com/manage-profile/security/api-tokens".into(),
        ));
    }
    let sealed = secrets.seal(API_TOKEN, token)?;
    let secret = generate_api_token()?;
    let at = now();
    // BEGIN IMMEDIATE on SQLite: a read that later writes would otherwise fail at once
    // with "database is locked" when a writer (the runner) holds the lock.
    crate::db::write_transaction(conn, |c| {
        let connection = match find_connection(c, input.organization_id)? {
            Some(existing) => {
                diesel::update(jira_connections::table.find(&existing.id))
                    .set((
                        jira_connections::base_url.eq(&base_url),
                        jira_connections::user_email.eq(&user_email),
                        jira_connections::api_token.eq(&sealed),
                        jira_connections::webhook_secret_hash.eq(&secret.hash),
                        jira_connections::updated_at.eq(at),
                    ))
                    .execute(c)?;
                JiraConnection {
                    base_url,
                    user_email,
                    api_token: sealed,
                    webhook_secret_hash: secret.hash,
                    updated_at: at,
                    ..existing
                }
            }
            None => {
                let connection = JiraConnection {
                    id: new_id(),
                    organization_id: input.organization_id.to_string(),
                    base_url,
                    user_email,
                    api_token: sealed,
                    webhook_secret_hash: secret.hash,
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(jira_connections::table)
                    .values(&connection)
                    .execute(c)
                    .map_err(|e| {
                        let e = StoreError::from(e);
                        if e.is_unique_violation() {
                            StoreError::Conflict(
                                "the Jira connection was saved by another request at the same time; try again".into(),
                            )
                        } else {
                            e
                        }
                    })?;
                connection
            }
        };
        Ok(SavedConnection {
            connection,
            webhook_secret: secret.plaintext,
        })
    })
}

pub fn find_connection(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Option<JiraConnection>, StoreError> {
    Ok(jira_connections::table
        .filter(jira_connections::organization_id.eq(organization_id))
        .select(JiraConnection::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// The connection whose webhook secret this is. Looked up by the secret's hash, so the
/// comparison happens on a digest, never on the secret itself.
pub fn find_connection_by_webhook_secret(
    conn: &mut AnyConnection,
    secret: &str,
) -> Result<Option<JiraConnection>, StoreError> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Ok(None);
    }
    let hash = hash_api_token(secret);
    Ok(jira_connections::table
        .filter(jira_connections::webhook_secret_hash.eq(&hash))
        .select(JiraConnection::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// Removes the organization's connection; true when there was one. Tickets keep their keys.
pub fn delete_connection(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<bool, StoreError> {
    let deleted = diesel::delete(
        jira_connections::table.filter(jira_connections::organization_id.eq(organization_id)),
    )
    .execute(conn)?;
    Ok(deleted > 0)
}

/// Records the Jira issue a ticket became, once: true when set now, false when the ticket
/// already had a key (a second create job never moves a ticket to another issue).
pub fn set_issue_key(
    conn: &mut AnyConnection,
    ticket_id: &str,
    key: &str,
) -> Result<bool, StoreError> {
    let key = checked_key("issue key", key)?;
    let updated = diesel::update(
        tickets::table
            .filter(tickets::id.eq(ticket_id))
            .filter(tickets::jira_issue_key.is_null()),
    )
    .set((
        tickets::jira_issue_key.eq(key),
        tickets::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Records the id a comment got in Jira, once: true when set now. This is what makes the
/// webhook skip Jira's echo of a comment Switchboard wrote.
pub fn set_comment_external_id(
    conn: &mut AnyConnection,
    comment_id: &str,
    external_id: &str,
) -> Result<bool, StoreError> {
    let external_id = checked_key("comment id", external_id)?;
    let updated = diesel::update(
        ticket_comments::table
            .filter(ticket_comments::id.eq(comment_id))
            .filter(ticket_comments::external_id.is_null()),
    )
    .set(ticket_comments::external_id.eq(external_id))
    .execute(conn)
    .map_err(|e| {
        let e = StoreError::from(e);
        if e.is_unique_violation() {
            StoreError::Conflict(format!(
                "Jira comment {external_id} is already another comment of this ticket"
            ))
        } else {
            e
        }
    })?;
    Ok(updated == 1)
}

fn checked_key<'a>(what: &str, value: &'a str) -> Result<&'a str, StoreError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_KEY_CHARS {
        return Err(StoreError::Invalid(format!(
            "Jira {what} '{value}' is empty or too long"
        )));
    }
    Ok(value)
}

/// Everything creating a ticket's Jira issue needs, read in one visit.
#[derive(Debug, Clone)]
pub struct IssueSource {
    pub ticket: Ticket,
    pub service: Option<Service>,
    /// The ticket's first comments, oldest first.
    pub comments: Vec<TicketComment>,
}

pub fn find_issue_source(
    conn: &mut AnyConnection,
    organization_id: &str,
    ticket_id: &str,
    first_comments: i64,
) -> Result<Option<IssueSource>, StoreError> {
    let Some(ticket) = tickets::table
        .filter(tickets::organization_id.eq(organization_id))
        .filter(tickets::id.eq(ticket_id))
        .select(Ticket::as_select())
        .load(conn)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let service = match &ticket.service_id {
        Some(id) => services::find_service(conn, organization_id, id)?,
        None => None,
    };
    let comments = ticket_comments::table
        .filter(ticket_comments::organization_id.eq(organization_id))
        .filter(ticket_comments::ticket_id.eq(ticket_id))
        .order((ticket_comments::created_at.asc(), ticket_comments::id.asc()))
        .limit(first_comments.max(0))
        .select(TicketComment::as_select())
        .load(conn)?;
    Ok(Some(IssueSource {
        ticket,
        service,
        comments,
    }))
}

/// A comment to copy to Jira, with its ticket, the ticket's service, and the user who wrote it
/// (for an agent's).
#[derive(Debug, Clone)]
pub struct CommentSource {
    pub comment: TicketComment,
    pub ticket: Ticket,
    pub service: Option<Service>,
    pub author: Option<User>,
}

pub fn find_comment_source(
    conn: &mut AnyConnection,
    organization_id: &str,
    comment_id: &str,
) -> Result<Option<CommentSource>, StoreError> {
    let Some((comment, ticket)) = ticket_comments::table
        .inner_join(tickets::table)
        .filter(ticket_comments::organization_id.eq(organization_id))
        .filter(ticket_comments::id.eq(comment_id))
        .filter(tickets::organization_id.eq(organization_id))
        .select((TicketComment::as_select(), Ticket::as_select()))
        .load::<(TicketComment, Ticket)>(conn)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let author = match &comment.author_user_id {
        Some(user_id) => users::table
            .filter(users::organization_id.eq(organization_id))
            .filter(users::id.eq(user_id))
            .select(User::as_select())
            .load(conn)?
            .into_iter()
            .next(),
        None => None,
    };
    let service = match &ticket.service_id {
        Some(id) => services::find_service(conn, organization_id, id)?,
        None => None,
    };
    Ok(Some(CommentSource {
        comment,
        ticket,
        service,
        author,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_plain_http_addresses_without_a_trailing_slash() {
        assert_eq!(
            normalize_base_url(" https://acme.atlassian.net/ ").unwrap(),
            "https://acme.atlassian.net"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/jira").unwrap(),
            "http://127.0.0.1:8080/jira"
        );
        for bad in [
            "",
            "acme.atlassian.net",
            "ftp://acme",
            "https://",
            "https:///path",
            "https://acme.atlassian.net?x=1",
            "https://user:pw@acme.atlassian.net",
            "https://acme atlassian.net",
        ] {
            assert!(
                matches!(normalize_base_url(bad), Err(StoreError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert_eq!(validate_email(" a@b.co ").unwrap(), "a@b.co");
        for bad in ["", "a@b", "@b.co", "a b@c.co", "nobody"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
