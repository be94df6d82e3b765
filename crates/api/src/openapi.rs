//! The API's contract: an OpenAPI 3 document generated from the handlers and types (so it
//! cannot drift from the code), and a reference page that reads it, served from the binary.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::webhook_subscriptions;
use crate::{api_keys, notify, opt_outs, qr};
use crate::{checks, stats, status};

use crate::{
    channels, helpdesk, inbox, jira, leads, me, media, ops, people, send, templates, tickets,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "WhatsApp Business for your CRM, helpdesk and servers. Every route under /api \
            needs `Authorization: Bearer <token>` (create one with `switchboard token create` or \
            POST /api/tokens). Errors are `{\"errorCode\", \"message\"}`; lists are \
            `{\"data\", \"total\", \"page\", \"limit\"}`. An id of another organization answers \
            404, like one that does not exist.",
        license(name = "Apache-2.0")
    ),
    paths(
        inbox::list_conversations, inbox::get_conversation, inbox::conversation_messages,
        inbox::assign, inbox::mark_read, inbox::list_messages, media::get_media,
        send::send, channels::list, channels::webhook_setup, me::me,
        templates::list, templates::create, templates::get, templates::update,
        templates::disable, templates::send_template, templates::sync, templates::submit,
        leads::list, leads::get, leads::update, leads::list_notes, leads::create_note,
        leads::list_pipelines,
        people::list_users, people::create_user, people::list_tokens, people::create_token,
        people::revoke_token, people::get_settings, people::update_settings,
        opt_outs::get_opt_outs, opt_outs::set_opt_out,
        api_keys::list, api_keys::create, api_keys::revoke, notify::notify, qr::qr,
        ops::list_jobs, ops::retry_job, ops::healthz, ops::readyz,
        stats::stats, status::status, checks::test_connection,
        jira::put_connection, jira::get_connection, jira::delete_connection, jira::webhook,
        helpdesk::list, helpdesk::create, helpdesk::get, helpdesk::update, helpdesk::delete,
        helpdesk::register_defaults,
        tickets::list, tickets::get, tickets::reply, tickets::set_status, tickets::assign,
        webhook_subscriptions::list, webhook_subscriptions::create, webhook_subscriptions::get,
        webhook_subscriptions::update, webhook_subscriptions::delete,
        webhook_subscriptions::rotate_secret, webhook_subscriptions::deliveries,
        webhook_subscriptions::redeliver, webhook_subscriptions::test,
    ),
    tags(
        (name = "inbox", description = "Conversations and their messages"),
        (name = "sending", description = "Messages to customers, and the numbers they go from"),
        (name = "templates", description = "Message templates: written, submitted, synced, sent"),
        (name = "leads", description = "Leads, notes and pipelines"),
        (name = "helpdesk", description = "Services the assistant offers"),
        (name = "tickets", description = "Tickets, their comments, replies and statuses"),
        (name = "jira", description = "The Jira connection, and the webhook that brings Jira comments to customers"),
        (name = "access", description = "Users, API tokens and settings"),
        (name = "opt-outs", description = "Contacts' marketing consent: stop keywords, Meta's preferences, changes by people"),
        (name = "webhooks", description = "Outgoing event webhooks: subscriptions, signing secrets, deliveries"),
        (name = "operations", description = "Jobs, health and readiness"),
        (name = "checks", description = "Stats, each number's status, and the connection check against Meta"),
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token of a user of the organization"))
                    .build(),
            ),
        );
        // The notify API also takes a server's key: INTERNAL_API_KEY or an organization's.
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "INTERNAL_API_KEY, or an API key of the organization (POST /api/api-keys)",
            ))),
        );
    }
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
    })
}

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json())
}

/// `/docs`: a page that renders `/api/openapi.json` (no CDN: it is all in this file).
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../assets/docs.html"))
}
