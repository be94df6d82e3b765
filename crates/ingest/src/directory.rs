//! Which channel (and organization) a webhook belongs to, and the secrets to check it with.
//! An in-memory snapshot of the channels table, refreshed periodically and on a miss, so the
//! ack path never queries the database to route or verify.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ring::hmac;
use switchboard_store::repo::channels;
use switchboard_store::{Db, SecretBox, StoreError};

use crate::signature;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRoute {
    pub channel_id: String,
    pub organization_id: String,
    pub phone_number_id: String,
    /// Index into [`Snapshot::app_secrets`]; `None` when the channel has no app secret.
    pub app_secret: Option<usize>,
}

/// The channels as of one load.
#[derive(Default)]
pub struct Snapshot {
    by_phone_number_id: HashMap<String, ChannelRoute>,
    by_waba_id: HashMap<String, ChannelRoute>,
    /// Distinct app secrets (numbers of one Meta app share one).
    app_secrets: Vec<hmac::Key>,
    verify_tokens: Vec<String>,
    channels: usize,
}

impl Snapshot {
    pub fn by_phone_number_id(&self, id: &str) -> Option<&ChannelRoute> {
        self.by_phone_number_id.get(id)
    }

    pub fn by_waba_id(&self, id: &str) -> Option<&ChannelRoute> {
        self.by_waba_id.get(id)
    }

    pub fn app_secrets(&self) -> &[hmac::Key] {
        &self.app_secrets
    }

    pub fn verify_tokens(&self) -> &[String] {
        &self.verify_tokens
    }

    pub fn channel_count(&self) -> usize {
        self.channels
    }

    /// Which of the app secrets sign `body` with `tag`.
    pub fn matching_secrets(&self, body: &[u8], tag: &[u8]) -> Vec<usize> {
        (0..self.app_secrets.len())
            .filter(|&i| signature::verifies(&self.app_secrets[i], body, tag))
            .collect()
    }
}

pub struct ChannelDirectory {
    db: Db,
    secret_box: Arc<SecretBox>,
    current: RwLock<Arc<Snapshot>>,
    last_load: Mutex<Instant>,
}

impl ChannelDirectory {
    pub async fn load(db: Db, secret_box: Arc<SecretBox>) -> Result<Arc<Self>, StoreError> {
        let snapshot = read_snapshot(&db, &secret_box).await?;
        Ok(Arc::new(Self {
            db,
            secret_box,
            current: RwLock::new(Arc::new(snapshot)),
            last_load: Mutex::new(Instant::now()),
        }))
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reloads the channels now.
    pub async fn refresh(&self) -> Result<Arc<Snapshot>, StoreError> {
        let snapshot = Arc::new(read_snapshot(&self.db, &self.secret_box).await?);
        match self.current.write() {
            Ok(mut guard) => *guard = Arc::clone(&snapshot),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&snapshot),
        }
        Ok(snapshot)
    }

    /// On a miss (an unknown number, a signature no secret matches): reload, unless that was
    /// done within `min_age`, so a flood of bad requests cannot hammer the database.
    pub async fn refresh_after_miss(&self, min_age: Duration) -> Arc<Snapshot> {
        let due = match self.last_load.lock() {
            Ok(mut last) if last.elapsed() >= min_age => {
                *last = Instant::now();
                true
            }
            _ => false,
        };
        if due && let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "could not reload channels");
        }
        self.snapshot()
    }

    /// Keeps the snapshot fresh for channels added or changed by other processes.
    pub fn spawn_periodic_refresh(self: &Arc<Self>, every: Duration) {
        let directory = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = directory.refresh().await {
                    tracing::warn!(error = %e, "could not reload channels");
                }
                if let Ok(mut last) = directory.last_load.lock() {
                    *last = Instant::now();
                }
            }
        });
    }
}

async fn read_snapshot(db: &Db, secret_box: &Arc<SecretBox>) -> Result<Snapshot, StoreError> {
    let secret_box = Arc::clone(secret_box);
    db.run(move |conn| {
        let mut snapshot = Snapshot::default();
        let mut secret_index: HashMap<String, usize> = HashMap::new();
        for channel in channels::list_all_channels(conn)? {
            let secrets = channel.open_secrets(&secret_box)?;
            let app_secret = secrets.app_secret.map(|secret| {
                let next = secret_index.len();
                *secret_index.entry(secret.clone()).or_insert_with(|| {
                    snapshot.app_secrets.push(signature::key(&secret));
                    next
                })
            });
            if let Some(token) = secrets.verify_token {
                snapshot.verify_tokens.push(token);
            }
            let route = ChannelRoute {
                channel_id: channel.id.clone(),
                organization_id: channel.organization_id.clone(),
                phone_number_id: channel.phone_number_id.clone(),
                app_secret,
            };
            if let Some(waba) = &channel.waba_id {
                snapshot
                    .by_waba_id
                    .entry(waba.clone())
                    .or_insert_with(|| route.clone());
            }
            snapshot
                .by_phone_number_id
                .insert(channel.phone_number_id.clone(), route);
            snapshot.channels += 1;
        }
        Ok(snapshot)
    })
    .await
}
