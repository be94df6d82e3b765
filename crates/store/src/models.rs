//! Rows as Rust structs. JSON columns are TEXT here; callers parse them where they need to.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::schema::{
    api_tokens, channels, integration_jobs, organizations, pipelines, stages, users, webhook_events,
};

/// Now, in UTC, at the microsecond precision both backends store.
pub fn now() -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::microseconds(1)).unwrap_or(now)
}

/// A new time-ordered id (UUIDv7): index-friendly and sortable by creation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = organizations)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub settings: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = users)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub email: Option<String>,
    pub role: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub name: String,
    pub token_hash: String,
    pub token_prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A WhatsApp number of an organization. The `*_sealed` columns hold ciphertext
/// (see `crypto::SecretBox`); read them through `ChannelSecrets`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = channels)]
pub struct Channel {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub waba_id: Option<String>,
    pub access_token_sealed: String,
    pub app_secret_sealed: Option<String>,
    pub verify_token_sealed: Option<String>,
    pub messages_per_second: i32,
    pub default_country_code: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub quality_rating: Option<String>,
    pub account_info: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = pipelines)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = stages)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub id: String,
    pub organization_id: String,
    pub pipeline_id: String,
    pub name: String,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_events)]
pub struct WebhookEvent {
    pub id: String,
    pub organization_id: Option<String>,
    pub channel_id: Option<String>,
    pub provider: String,
    pub body: Vec<u8>,
    pub body_sha256: String,
    pub headers: String,
    pub status: String,
    pub error: Option<String>,
    pub received_at: NaiveDateTime,
    pub processed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = integration_jobs)]
pub struct IntegrationJob {
    pub id: String,
    pub organization_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub idempotency_key: Option<String>,
    pub webhook_event_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::contacts)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: String,
    pub organization_id: String,
    pub wa_id: Option<String>,
    pub wa_user_id: Option<String>,
    pub phone: Option<String>,
    pub profile_name: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::leads)]
#[serde(rename_all = "camelCase")]
pub struct Lead {
    pub id: String,
    pub organization_id: String,
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub name: String,
    pub phone: Option<String>,
    pub wa_user_id: Option<String>,
    pub status: String,
    pub source: String,
    pub assigned_to_id: Option<String>,
    pub referral: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::notes)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: String,
    pub organization_id: String,
    pub lead_id: String,
    pub author_user_id: Option<String>,
    pub content: String,
    pub is_private: bool,
    pub source: String,
    pub source_ref: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::conversations)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub organization_id: String,
    pub channel_id: String,
    pub contact_id: Option<String>,
    pub lead_id: Option<String>,
    pub contact_phone: String,
    pub assigned_to_id: Option<String>,
    pub unread_count: i32,
    pub last_message_text: Option<String>,
    pub last_message_at: Option<NaiveDateTime>,
    pub last_message_direction: Option<String>,
    pub last_inbound_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_message_external_id: Option<String>,
    pub menu_offered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::message_logs)]
#[serde(rename_all = "camelCase")]
pub struct MessageLog {
    pub id: String,
    pub organization_id: String,
    pub channel_id: Option<String>,
    pub conversation_id: Option<String>,
    pub lead_id: Option<String>,
    pub provider: String,
    pub direction: String,
    pub message_type: String,
    pub from_phone: Option<String>,
    pub to_phone: Option<String>,
    pub text: Option<String>,
    pub media_id: Option<String>,
    pub media_mime_type: Option<String>,
    pub media_filename: Option<String>,
    pub details: Option<String>,
    pub context_message_id: Option<String>,
    pub template_name: Option<String>,
    pub template_language: Option<String>,
    pub template_variables: Option<String>,
    pub external_message_id: Option<String>,
    pub status: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub status_updated_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Not through this API nor from the customer: `BUSINESS_APP` (typed in the WhatsApp
    /// Business app on a coexistence number) or `HISTORY` (imported by history sync).
    pub origin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::message_status_events)]
#[serde(rename_all = "camelCase")]
pub struct MessageStatusEvent {
    pub id: String,
    pub organization_id: String,
    pub external_message_id: String,
    pub status: String,
    pub occurred_at: NaiveDateTime,
    pub recipient_id: Option<String>,
    pub error_code: Option<String>,
    pub error_title: Option<String>,
    pub error_message: Option<String>,
    pub webhook_event_id: Option<String>,
    pub created_at: NaiveDateTime,
    /// The message's status has taken this one into account (false while it waits for it).
    pub applied: bool,
}

/// A customer's file: PENDING while the DOWNLOAD_MEDIA job fetches it from Meta, then
/// DOWNLOADED (the file is at `storage_path`, relative to the media directory) or FAILED
/// (`error` says why, and the message shows it).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::media)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub id: String,
    pub organization_id: String,
    pub message_log_id: Option<String>,
    /// Meta's media id, from the webhook.
    pub external_media_id: Option<String>,
    pub mime_type: Option<String>,
    /// What the sender called the file (documents); never used as a path.
    pub file_name: Option<String>,
    pub size_bytes: Option<i64>,
    /// Hex SHA-256 of the stored file.
    pub sha256: Option<String>,
    pub storage_path: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::templates)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub organization_id: String,
    pub channel_id: Option<String>,
    pub external_id: Option<String>,
    pub name: String,
    pub language: String,
    pub category: String,
    pub status: String,
    pub parameter_format: String,
    pub components: String,
    pub rejection_reason: Option<String>,
    pub deleted_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub status_changed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::services)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub position: i32,
    pub active: bool,
    pub destination: String,
    pub jira_project_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::tickets)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: String,
    pub organization_id: String,
    pub number: i64,
    pub service_id: Option<String>,
    pub conversation_id: Option<String>,
    pub lead_id: Option<String>,
    pub contact_phone: String,
    pub subject: String,
    pub status: String,
    pub assigned_to_id: Option<String>,
    pub jira_issue_key: Option<String>,
    pub last_activity_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub session_ended_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::ticket_comments)]
#[serde(rename_all = "camelCase")]
pub struct TicketComment {
    pub id: String,
    pub organization_id: String,
    pub ticket_id: String,
    pub author_type: String,
    pub author_user_id: Option<String>,
    pub body: String,
    pub message_log_id: Option<String>,
    pub media_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::ticket_notifications)]
#[serde(rename_all = "camelCase")]
pub struct TicketNotification {
    pub id: String,
    pub organization_id: String,
    pub ticket_id: String,
    pub event: String,
    pub via: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub message_log_id: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::jira_connections)]
pub struct JiraConnection {
    pub id: String,
    pub organization_id: String,
    pub base_url: String,
    pub user_email: String,
    /// Sealed with the store's `SecretBox` (context "jira_api_token").
    pub api_token: String,
    pub webhook_secret_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A server's key for `x-api-key` (the notify API); only its hash is stored.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::api_keys)]
pub struct ApiKey {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub key_hash: String,
    /// The first characters of the key, shown in lists so people can tell keys apart.
    pub key_prefix: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A URL an organization's systems want events POSTed to.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::webhook_subscriptions)]
pub struct WebhookSubscription {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub description: Option<String>,
    /// A JSON array of event types (`["message.received", ...]`).
    pub events: String,
    /// Sealed with the store's `SecretBox` (context "webhook_subscription_secret").
    pub secret_sealed: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One event for one subscription: the body as signed and sent, and how its delivery went.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::webhook_deliveries)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: String,
    pub organization_id: String,
    pub subscription_id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    /// PENDING, DELIVERED, FAILED (retrying) or DEAD.
    pub status: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub job_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// One change of a contact's marketing consent (the current state is the latest by time).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = crate::schema::opt_out_events)]
#[serde(rename_all = "camelCase")]
pub struct OptOutEvent {
    pub id: String,
    pub organization_id: String,
    pub phone: String,
    pub opted_out: bool,
    /// KEYWORD, WEBHOOK (Meta's user_preferences), API or META_ERROR (131050).
    pub source: String,
    pub detail: Option<String>,
    pub external_ref: String,
    pub occurred_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}
