//! The REST API the company's frontend and servers call. Every route but the health checks
//! needs an org-scoped bearer token ([`auth::Caller`]); the notify route also takes a server's
//! `x-api-key` ([`notify`]). Every query is scoped to its organization, so an id from another
//! organization answers 404 like one that does not exist.

pub mod api_keys;
pub mod auth;
pub mod channels;
pub mod checks;
pub mod error;
pub mod helpdesk;
pub mod inbox;
pub mod jira;
pub mod leads;
pub mod me;
pub mod media;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod opt_outs;
pub mod page;
pub mod people;
pub mod qr;
pub mod send;
pub mod stats;
pub mod status;
pub mod templates;
pub mod tickets;
pub mod webhook_subscriptions;

use std::sync::Arc;

use actix_web::web;
use diesel::Connection;
use switchboard_store::repo::jobs;
use switchboard_store::repo::outbound::{self, NewOutbound, Queued};
use switchboard_store::writer::{Batch, CommitHook, GroupCommit};
use switchboard_store::{AnyConnection, Db, SecretBox, StoreError};
use tokio::sync::Notify;

pub use error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Prepended to numbers typed without a country code when the channel has none of its own
    /// (`DEFAULT_COUNTRY_CODE`).
    pub default_country_code: Option<String>,
    /// Where the DOWNLOAD_MEDIA job stores customers' files (`SWITCHBOARD_MEDIA_DIR`), read by
    /// `GET /api/media/{id}`; the runner's directory, shared when they are separate processes.
    pub media_dir: std::path::PathBuf,
    /// `SWITCHBOARD_ENV=production`: outgoing webhook subscriptions must use https.
    pub production: bool,
    /// The shared `x-api-key` of the notify API, acting for the default organization
    /// (`INTERNAL_API_KEY`); None: only organizations' API keys and bearer tokens.
    pub internal_api_key: Option<notify::InternalKey>,
    /// The recipient of notify calls that name none (`WHATSAPP_DEFAULT_TO`).
    pub default_to: Option<String>,
    /// How long a notify call waits for Meta's answer before answering 202 (`NOTIFY_WAIT_MS`).
    pub notify_wait: notify::NotifyWait,
}

/// What the handlers share.
pub struct Api {
    pub db: Db,
    pub settings: ApiSettings,
    /// Sends are queued through group-commit writers: many requests, one commit. SQLite has
    /// one writer anyway; on PostgreSQL several commit side by side (sends to different
    /// people rarely touch the same rows, and racing ones are resolved by unique keys).
    queues: Vec<GroupCommit<QueueSend>>,
    next: std::sync::atomic::AtomicUsize,
    /// The runner of this process, told when jobs were queued (None: a separate runner).
    wake: Option<Arc<Notify>>,
    /// The master key, to seal integration secrets (a Jira connection's API token); see
    /// [`Api::with_secrets`].
    secrets: Option<Arc<SecretBox>>,
    /// The Graph API client the connection check calls Meta with; see [`Api::with_graph`].
    graph: Option<switchboard_graph::GraphClient>,
    /// How long the connection check waits for its test message to reach Meta.
    test_send_wait: std::time::Duration,
}

impl Api {
    /// `wake` is told when sends were committed, so a runner in this process starts at once.
    pub fn start(
        db: Db,
        settings: ApiSettings,
        wake: Option<Arc<Notify>>,
    ) -> Result<Self, StoreError> {
        let on_commit = wake.clone().map(|wake| {
            Arc::new(move |outputs: &[Result<Queued, ApiError>]| {
                if outputs.iter().any(|o| o.as_ref().is_ok_and(|q| q.created)) {
                    wake.notify_one();
                }
            }) as CommitHook<Result<Queued, ApiError>>
        });
        let writers = if db.is_sqlite() { 1 } else { 4 };
        let queues = (0..writers)
            .map(|_| GroupCommit::start(db.clone(), "api-sends", 256, on_commit.clone()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            db,
            settings,
            queues,
            next: Default::default(),
            wake,
            secrets: None,
            graph: None,
            test_send_wait: checks::TEST_SEND_WAIT,
        })
    }

    /// Gives the API the master key, which saving a Jira connection needs (without it that
    /// route answers 500 and logs why).
    pub fn with_secrets(mut self, secrets: Arc<SecretBox>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    pub fn secrets(&self) -> Option<Arc<SecretBox>> {
        self.secrets.clone()
    }

    /// Gives the API a Graph client (the runner's base URL and version), which the connection
    /// check needs to ask Meta (without it the check reports that it cannot).
    pub fn with_graph(mut self, graph: switchboard_graph::GraphClient) -> Self {
        self.graph = Some(graph);
        self
    }

    /// How long the connection check waits for its test send to be accepted by Meta before
    /// answering with the queued ids (default [`checks::TEST_SEND_WAIT`]).
    pub fn with_test_send_wait(mut self, wait: std::time::Duration) -> Self {
        self.test_send_wait = wait;
        self
    }

    pub(crate) fn graph(&self) -> Option<&switchboard_graph::GraphClient> {
        self.graph.as_ref()
    }

    pub(crate) fn test_send_wait(&self) -> std::time::Duration {
        self.test_send_wait
    }

    /// Whether a job runner shares this process.
    pub(crate) fn runs_jobs(&self) -> bool {
        self.wake.is_some()
    }

    /// Jobs were committed: start a runner in this process now rather than at its next poll
    /// (runners elsewhere hear PostgreSQL's NOTIFY).
    pub fn wake(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }

    pub async fn queue(&self, new: NewOutbound) -> Result<Queued, ApiError> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queue = &self.queues[i % self.queues.len()];
        queue.write(QueueSend(new)).await?
    }
}

/// One send to queue, as an item of the writer's batches (each in its own savepoint).
struct QueueSend(NewOutbound);

impl Batch for QueueSend {
    /// The caller's error when the send itself is refused (the batch goes on without it).
    type Output = Result<Queued, ApiError>;

    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<Self::Output>, StoreError> {
        let outputs = items
            .iter()
            .map(
                |item| match conn.transaction(|c| outbound::queue_message_in(c, &item.0)) {
                    Ok(queued) => Ok(Ok(queued)),
                    Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => {
                        Ok(Err(ApiError::Validation(m)))
                    }
                    // A rule with its own code (OPTED_OUT): 422 with that code.
                    Err(StoreError::Refused { code, message }) => {
                        Ok(Err(ApiError::Rule { code, message }))
                    }
                    Err(e) => Err(e),
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        jobs::announce_jobs(conn)?;
        Ok(outputs)
    }
}

/// Times are stored as UTC without a zone; answers say so (`…Z`).
pub(crate) fn utc(at: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    at.and_utc()
}

/// Largest JSON body the API reads (a template with its components is the biggest).
const MAX_JSON_BYTES: usize = 256 * 1024;

/// Mounts the API's routes. Literal paths come before `{id}` ones that could match them.
pub fn configure(cfg: &mut web::ServiceConfig, api: web::Data<Api>) {
    const WA: &str = "/api/integrations/whatsapp";
    const CONVERSATIONS: &str = "/api/integrations/conversations";
    const HOOKS: &str = "/api/webhook-subscriptions";
    cfg.app_data(api)
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON_BYTES)
                .error_handler(error::json_error),
        )
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/api/openapi.json", web::get().to(openapi::document))
        .route("/docs", web::get().to(openapi::page))
        // Access
        .route("/api/tokens", web::get().to(people::list_tokens))
        .route("/api/tokens", web::post().to(people::create_token))
        .route("/api/tokens/{id}", web::delete().to(people::revoke_token))
        .route("/api/api-keys", web::get().to(api_keys::list))
        .route("/api/api-keys", web::post().to(api_keys::create))
        .route("/api/api-keys/{id}", web::delete().to(api_keys::revoke))
        .route("/api/me", web::get().to(me::me))
        .route("/api/users", web::get().to(people::list_users))
        .route("/api/users", web::post().to(people::create_user))
        .route("/api/settings", web::get().to(people::get_settings))
        .route("/api/settings", web::patch().to(people::update_settings))
        // Marketing consent
        .route(
            "/api/contacts/{phone}/opt-outs",
            web::get().to(opt_outs::get_opt_outs),
        )
        .route(
            "/api/contacts/{phone}/opt-out",
            web::put().to(opt_outs::set_opt_out),
        )
        // Inbox
        .route(CONVERSATIONS, web::get().to(inbox::list_conversations))
        .route(
            &format!("{CONVERSATIONS}/{{id}}"),
            web::get().to(inbox::get_conversation),
        )
        .route(
            &format!("{CONVERSATIONS}/{{id}}/messages"),
            web::get().to(inbox::conversation_messages),
        )
        .route(
            &format!("{CONVERSATIONS}/{{id}}/assign"),
            web::patch().to(inbox::assign),
        )
        .route(
            &format!("{CONVERSATIONS}/{{id}}/mark-read"),
            web::patch().to(inbox::mark_read),
        )
        .route(
            "/api/integrations/messages",
            web::get().to(inbox::list_messages),
        )
        .route("/api/media/{id}", web::get().to(media::get_media))
        // Sending and templates
        .route(&format!("{WA}/send"), web::post().to(send::send))
        .route("/api/whatsapp/notify", web::post().to(notify::notify))
        .route("/api/whatsapp/qr", web::get().to(qr::qr))
        // Stats and checks
        .route(&format!("{WA}/stats"), web::get().to(stats::stats))
        .route("/api/whatsapp/status", web::get().to(status::status))
        .route(
            &format!("{WA}/test"),
            web::post().to(checks::test_connection),
        )
        .route(&format!("{WA}/channels"), web::get().to(channels::list))
        .route(
            &format!("{WA}/channels/{{id}}/webhook-setup"),
            web::get().to(channels::webhook_setup),
        )
        .route(&format!("{WA}/templates"), web::get().to(templates::list))
        .route(
            &format!("{WA}/templates"),
            web::post().to(templates::create),
        )
        .route(
            &format!("{WA}/templates/send"),
            web::post().to(templates::send_template),
        )
        .route(
            &format!("{WA}/templates/sync"),
            web::post().to(templates::sync),
        )
        .route(
            &format!("{WA}/templates/{{id}}"),
            web::get().to(templates::get),
        )
        .route(
            &format!("{WA}/templates/{{id}}"),
            web::patch().to(templates::update),
        )
        .route(
            &format!("{WA}/templates/{{id}}"),
            web::delete().to(templates::disable),
        )
        .route(
            &format!("{WA}/templates/{{id}}/submit"),
            web::post().to(templates::submit),
        )
        .route(
            &format!("{WA}/templates/register-defaults"),
            web::post().to(helpdesk::register_defaults),
        )
        // Helpdesk
        .route("/api/services", web::get().to(helpdesk::list))
        .route("/api/services", web::post().to(helpdesk::create))
        .route("/api/services/{id}", web::get().to(helpdesk::get))
        .route("/api/services/{id}", web::patch().to(helpdesk::update))
        .route("/api/services/{id}", web::delete().to(helpdesk::delete))
        .route("/api/tickets", web::get().to(tickets::list))
        .route("/api/tickets/{id}", web::get().to(tickets::get))
        .route("/api/tickets/{id}/replies", web::post().to(tickets::reply))
        .route(
            "/api/tickets/{id}/status",
            web::put().to(tickets::set_status),
        )
        .route("/api/tickets/{id}/assign", web::patch().to(tickets::assign))
        // Leads
        .route("/api/leads", web::get().to(leads::list))
        .route("/api/leads/{id}", web::get().to(leads::get))
        .route("/api/leads/{id}", web::patch().to(leads::update))
        .route("/api/leads/{id}/notes", web::get().to(leads::list_notes))
        .route("/api/leads/{id}/notes", web::post().to(leads::create_note))
        .route("/api/pipelines", web::get().to(leads::list_pipelines))
        // Jira: the connection, and the webhook Jira calls (its secret authenticates it)
        .route(
            "/api/integrations/jira",
            web::put().to(jira::put_connection),
        )
        .route(
            "/api/integrations/jira",
            web::get().to(jira::get_connection),
        )
        .route(
            "/api/integrations/jira",
            web::delete().to(jira::delete_connection),
        )
        .service(
            web::resource(jira::WEBHOOK_PATH)
                .app_data(web::PayloadConfig::new(jira::MAX_WEBHOOK_BYTES))
                .route(web::post().to(jira::webhook)),
        )
        // Outgoing event webhooks
        .route(HOOKS, web::get().to(webhook_subscriptions::list))
        .route(HOOKS, web::post().to(webhook_subscriptions::create))
        .route(
            &format!("{HOOKS}/{{id}}"),
            web::get().to(webhook_subscriptions::get),
        )
        .route(
            &format!("{HOOKS}/{{id}}"),
            web::patch().to(webhook_subscriptions::update),
        )
        .route(
            &format!("{HOOKS}/{{id}}"),
            web::delete().to(webhook_subscriptions::delete),
        )
        .route(
            &format!("{HOOKS}/{{id}}/rotate-secret"),
            web::post().to(webhook_subscriptions::rotate_secret),
        )
        .route(
            &format!("{HOOKS}/{{id}}/test"),
            web::post().to(webhook_subscriptions::test),
        )
        .route(
            &format!("{HOOKS}/{{id}}/deliveries"),
            web::get().to(webhook_subscriptions::deliveries),
        )
        .route(
            &format!("{HOOKS}/{{id}}/deliveries/{{deliveryId}}/redeliver"),
            web::post().to(webhook_subscriptions::redeliver),
        )
        // Operations
        .route("/api/integrations/jobs", web::get().to(ops::list_jobs))
        .route(
            "/api/integrations/jobs/{id}/retry",
            web::post().to(ops::retry_job),
        );
}
