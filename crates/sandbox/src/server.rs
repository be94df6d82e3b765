//! Starting and stopping a sandbox, its shared state, and the `/sandbox/*` control routes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::SandboxConfig;
use crate::delivery::{self, Scheduler};
use crate::jira::{FakeJira, JiraFailure, JiraIssue};
use crate::media::{self, MediaStore};
use crate::stats::{self, AcceptedMessage, Book, DeliveryCounters, MarkedRead, Stats};
use crate::templates::Catalogue;
use crate::wire::json_response;
use crate::{graph, ids, jira, templates};

/// Largest request body (Meta's largest media: 100 MB documents).
const MAX_BODY_BYTES: usize = 101 * 1024 * 1024;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What every handler shares.
pub(crate) struct State {
    pub config: SandboxConfig,
    book: Mutex<Book>,
    counters: Arc<DeliveryCounters>,
    media: Mutex<MediaStore>,
    catalogue: Mutex<Catalogue>,
    jira: Mutex<FakeJira>,
    pub scheduler: Option<Scheduler>,
    pub shutdown: watch::Receiver<bool>,
}

impl State {
    pub(crate) fn book(&self) -> MutexGuard<'_, Book> {
        lock(&self.book)
    }

    pub(crate) fn media(&self) -> MutexGuard<'_, MediaStore> {
        lock(&self.media)
    }

    pub(crate) fn catalogue(&self) -> MutexGuard<'_, Catalogue> {
        lock(&self.catalogue)
    }

    pub(crate) fn jira(&self) -> MutexGuard<'_, FakeJira> {
        lock(&self.jira)
    }

    fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let mut arrivals = {
            let book = self.book();
            book.fill(&mut stats);
            book.arrivals()
        };
        stats.max_per_second = stats::max_in_window(&mut arrivals, Duration::from_secs(1));
        self.counters.fill(&mut stats);
        stats
    }

    fn reset(&self) {
        self.book().reset();
        self.counters.reset();
        self.catalogue().reset();
        self.jira().reset();
    }
}

/// A local stand-in for Meta's Graph API and webhooks.
pub struct Sandbox;

impl Sandbox {
    /// Validates `config`, listens on `config.bind` and starts delivering webhooks. Must be
    /// called inside a tokio runtime; the server runs until [`SandboxHandle::stop`].
    pub async fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let counters = Arc::new(DeliveryCounters::default());
        let (scheduler, scheduler_task) = match &config.webhook_url {
            Some(url) => {
                let (scheduler, task) =
                    delivery::spawn(&config, url, Arc::clone(&counters), shutdown_rx.clone())?;
                (Some(scheduler), Some(task))
            }
            None => (None, None),
        };
        if config.webhook_url.is_some() && config.app_secret.is_none() {
            tracing::warn!("no app secret: status webhooks go out unsigned");
        }
        let state = web::Data::new(State {
            catalogue: Mutex::new(Catalogue::new(
                config.templates.clone().unwrap_or_else(templates::builtin),
            )),
            book: Mutex::new(Book::new(Instant::now(), config.max_stored_messages)),
            counters,
            media: Mutex::new(MediaStore::default()),
            jira: Mutex::new(FakeJira::default()),
            scheduler,
            shutdown: shutdown_rx,
            config,
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .configure(routes)
        })
        .workers(state.config.http_workers)
        .disable_signals()
        .shutdown_timeout(2)
        .bind(state.config.bind)?;
        let addr = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("the sandbox is not listening anywhere"))?;
        let server = server.run();
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);
        tracing::info!(
            address = %addr,
            webhook_url = state.config.webhook_url.as_deref().unwrap_or("-"),
            "sandbox listening"
        );
        Ok(SandboxHandle {
            addr,
            state,
            server: server_handle,
            server_task,
            scheduler_task,
            shutdown: shutdown_tx,
        })
    }
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sandbox/stats", web::get().to(stats_route))
        .route("/sandbox/messages", web::get().to(messages_route))
        .route("/sandbox/reads", web::get().to(reads_route))
        .route("/sandbox/reset", web::post().to(reset_route))
        .route(media::DOWNLOAD_PATH, web::get().to(media::download))
        // Before the Graph paths below, which would take `/jira/...` for a version and an id.
        .configure(jira::routes)
        .service(web::resource("/{version}/{id}/messages").route(web::post().to(graph::messages)))
        .service(web::resource("/{version}/{id}/media").route(web::post().to(media::upload)))
        .service(
            web::resource("/{version}/{id}/message_templates")
                .route(web::get().to(graph::templates))
                .route(web::post().to(graph::create_template)),
        )
        .service(
            web::resource("/{version}/{id}")
                .route(web::get().to(media::metadata))
                .route(web::delete().to(media::delete)),
        )
        .service(
            web::resource("/{id}")
                .route(web::get().to(media::metadata_unversioned))
                .route(web::delete().to(media::delete_unversioned)),
        )
        .default_service(web::to(graph::unknown_path));
}

async fn stats_route(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(state.stats())
}

async fn messages_route(
    state: web::Data<State>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let to = query.get("to").map(|to| ids::digits(to));
    let messages = state.book().messages(to.as_deref());
    HttpResponse::Ok().json(json!({ "data": messages }))
}

async fn reads_route(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": state.book().reads() }))
}

async fn reset_route(state: web::Data<State>) -> HttpResponse {
    state.reset();
    json_response(StatusCode::OK, &json!({ "success": true }))
}

/// A running sandbox.
pub struct SandboxHandle {
    addr: SocketAddr,
    state: web::Data<State>,
    server: actix_web::dev::ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    scheduler_task: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl SandboxHandle {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Graph base URL to give a client (`WHATSAPP_API_URL`): `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.state.config
    }

    /// The counters, as `GET /sandbox/stats` gives them.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Accepted sends still stored, oldest first; `to` (any phone format) filters by recipient.
    pub fn messages(&self, to: Option<&str>) -> Vec<AcceptedMessage> {
        let to = to.map(ids::digits);
        self.state.book().messages(to.as_deref())
    }

    /// Mark-as-read calls answered `{"success":true}` (still stored), oldest first
    /// (`GET /sandbox/reads`).
    pub fn reads(&self) -> Vec<MarkedRead> {
        self.state.book().reads()
    }

    /// Clears counts, stored messages and reads, and forgets the templates created through
    /// the API (`POST /sandbox/reset`).
    pub fn reset(&self) {
        self.state.reset();
    }

    /// The base URL of the fake Jira, for a Jira connection: `http://127.0.0.1:PORT/jira`.
    pub fn jira_url(&self) -> String {
        format!("http://{}{}", self.addr, jira::PREFIX)
    }

    /// Issues the fake Jira created, with their comments, oldest first
    /// (`GET /sandbox/jira/issues`).
    pub fn jira_issues(&self) -> Vec<JiraIssue> {
        self.state.jira().issues()
    }

    /// The next `times` Jira calls answer HTTP `status` (with `Retry-After` when given)
    /// instead of doing their work (`POST /sandbox/jira/fail`).
    pub fn fail_jira(&self, status: u16, times: u32, retry_after: Option<u64>) {
        self.state.jira().fail(JiraFailure {
            status,
            times,
            retry_after,
        });
    }

    /// Jira accepts only this email and API token from now on (by default any non-empty pair).
    pub fn require_jira_credentials(&self, email: &str, api_token: &str) {
        self.state.jira().require_credentials(email, api_token);
    }

    /// Stores a file as if uploaded and returns its media id (e.g. for an inbound image
    /// webhook whose media the client under test downloads).
    pub fn add_media(&self, data: Vec<u8>, mime_type: &str) -> String {
        self.state.media().insert(web::Bytes::from(data), mime_type)
    }

    /// Stores a file a customer sends and returns the media object of its inbound webhook
    /// (`{id, mime_type, sha256}`, the hash in base64 as Meta writes it), for
    /// [`crate::payloads::inbound_image`] and the like.
    pub fn add_inbound_media(&self, data: Vec<u8>, mime_type: &str) -> crate::payloads::MediaRef {
        use base64::Engine;
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        let sha256 = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        crate::payloads::MediaRef {
            id: self.add_media(data, mime_type),
            mime_type: mime_type.to_string(),
            sha256,
            caption: None,
        }
    }

    /// Stops serving: held requests are released, webhooks still queued are dropped.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.server.stop(true).await;
        if let Some(task) = self.scheduler_task {
            let _ = task.await;
        }
        match self.server_task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the sandbox server stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the sandbox server task failed"),
        }
    }
}
