//! The REST API the company's frontend and servers call. Every route but the health checks
//! needs an org-scoped bearer token ([`auth::Caller`]); every query is scoped to its
//! organization, so an id from another organization answers 404 like one that does not exist.

pub mod auth;
pub mod channels;
pub mod error;
pub mod send;

use std::sync::Arc;

use actix_web::web;
use diesel::Connection;
use switchboard_store::repo::jobs;
use switchboard_store::repo::outbound::{self, NewOutbound, Queued};
use switchboard_store::writer::{Batch, CommitHook, GroupCommit};
use switchboard_store::{AnyConnection, Db, StoreError};
use tokio::sync::Notify;

pub use error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Prepended to numbers typed without a country code when the channel has none of its own
    /// (`DEFAULT_COUNTRY_CODE`).
    pub default_country_code: Option<String>,
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
}

impl Api {
    /// `wake` is told when sends were committed, so a runner in this process starts at once.
    pub fn start(
        db: Db,
        settings: ApiSettings,
        wake: Option<Arc<Notify>>,
    ) -> Result<Self, StoreError> {
        let on_commit = wake.map(|wake| {
            Arc::new(move |outputs: &[Result<Queued, String>]| {
                if outputs.iter().any(|o| o.as_ref().is_ok_and(|q| q.created)) {
                    wake.notify_one();
                }
            }) as CommitHook<Result<Queued, String>>
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
        })
    }

    pub async fn queue(&self, new: NewOutbound) -> Result<Queued, ApiError> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queue = &self.queues[i % self.queues.len()];
        match queue.write(QueueSend(new)).await? {
            Ok(queued) => Ok(queued),
            Err(message) => Err(ApiError::Validation(message)),
        }
    }
}

/// One send to queue, as an item of the writer's batches (each in its own savepoint).
struct QueueSend(NewOutbound);

impl Batch for QueueSend {
    type Output = Result<Queued, String>;

    fn write(conn: &mut AnyConnection, items: &[Self]) -> Result<Vec<Self::Output>, StoreError> {
        let outputs = items
            .iter()
            .map(
                |item| match conn.transaction(|c| outbound::queue_message_in(c, &item.0)) {
                    Ok(queued) => Ok(Ok(queued)),
                    Err(StoreError::Invalid(m) | StoreError::Conflict(m)) => Ok(Err(m)),
                    Err(e) => Err(e),
                },
            )
            .collect::<Result<Vec<_>, _>>()?;
        jobs::announce_jobs(conn)?;
        Ok(outputs)
    }
}

/// Mounts the API's routes.
pub fn configure(cfg: &mut web::ServiceConfig, api: web::Data<Api>) {
    cfg.app_data(api)
        .app_data(web::JsonConfig::default().error_handler(error::json_error))
        .route(
            "/api/integrations/whatsapp/send",
            web::post().to(send::send),
        )
        .route(
            "/api/integrations/whatsapp/channels",
            web::get().to(channels::list),
        );
}
