//! The job runner: claims due jobs in batches, runs their handlers concurrently (bounded),
//! settles each as done, retried with backoff, or dead-lettered, and keeps the leases of
//! long jobs alive. One claim cycle at a time per process; handlers in parallel, so a slow job
//! never stalls the rest. Several runner processes share a PostgreSQL queue safely.

pub mod jira;
pub mod jobs;
pub mod outcome;
pub mod pacing;
pub mod registry;
pub mod replay;
pub mod wake;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeDelta;
use switchboard_domain::JobStatus;
use switchboard_domain::backoff::Backoff;
use switchboard_store::models::{IntegrationJob, now};
use switchboard_store::repo::jobs as queue;
use switchboard_store::repo::{messages, runners};
use switchboard_store::writer::GroupCommit;
use switchboard_store::{Db, StoreError};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;

pub use outcome::{Outcome, Settle};
pub use registry::{JobContext, JobError, JobHandler, Registry};

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Handlers running at once.
    pub concurrency: usize,
    /// Most jobs taken by one claim.
    pub claim_batch: usize,
    /// Fallback polling when no wake-up arrives (`JOB_RUNNER_INTERVAL_MS`).
    pub poll_interval: Duration,
    /// How long a claim holds a job before another runner may take it (renewed while it runs).
    pub lease: Duration,
    /// On SIGTERM, how long in-flight jobs get to finish before their leases are handed back.
    pub shutdown_grace: Duration,
    /// DONE jobs older than this are deleted (the webhook event log is kept).
    pub retention: Duration,
    pub backoff: Backoff,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            claim_batch: 256,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            retention: Duration::from_secs(7 * 24 * 3600),
            backoff: Backoff::default(),
        }
    }
}

/// A runner, ready to spawn.
pub struct Runner {
    db: Db,
    registry: Arc<Registry>,
    settings: RunnerSettings,
    id: String,
    wake: Arc<Notify>,
    pacer: Option<Arc<pacing::Pacer>>,
}

/// Stops the runner: no more claims, in-flight jobs get the grace period, the rest go back.
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunnerHandle {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the runner task failed");
        }
    }
}

impl Runner {
    pub fn new(db: Db, registry: Registry, settings: RunnerSettings) -> Self {
        let id = format!(
            "runner-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Self {
            db,
            registry: Arc::new(registry),
            settings,
            id,
            wake: Arc::new(Notify::new()),
            pacer: None,
        }
    }

    /// The pacer of this runner's sends: the runner keeps it told how many runners share
    /// each channel's limit (by heartbeat).
    pub fn with_pacer(mut self, pacer: Arc<pacing::Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Notify it when work is enqueued in this process, so it claims at once instead of at the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn spawn(self) -> Result<RunnerHandle, StoreError> {
        let settle = GroupCommit::<Settle>::start(self.db.clone(), "runner", 1024, None)?;
        let (stop, stopped) = watch::channel(false);
        tracing::info!(runner = %self.id, kinds = ?self.registry.kinds(), concurrency = self.settings.concurrency, "job runner started");
        let task = tokio::spawn(self.run(settle, stopped));
        Ok(RunnerHandle { stop, task })
    }

    async fn run(self, settle: GroupCommit<Settle>, mut stopped: watch::Receiver<bool>) {
        let shared = Arc::new(Shared {
            db: self.db.clone(),
            registry: Arc::clone(&self.registry),
            settings: self.settings.clone(),
            owner: self.id.clone(),
            in_flight: Mutex::new(HashSet::new()),
            freed: Notify::new(),
            settle,
        });
        let permits = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let maintenance = tokio::spawn(maintain(Arc::clone(&shared), stopped.clone()));
        let heartbeat = self
            .pacer
            .clone()
            .map(|pacer| tokio::spawn(heartbeat(Arc::clone(&shared), pacer, stopped.clone())));
        let concurrency = self.settings.concurrency.max(1);
        // Claim again only once a quarter of the slots (or of a claim) is free: one claim per
        // finished job would cost a round trip per job.
        let low_water = (self.settings.claim_batch.min(concurrency) / 4).max(1);
        while !*stopped.borrow() {
            let available = permits.available_permits();
            if available >= low_water || available == concurrency {
                let want = available.min(self.settings.claim_batch.max(1));
                match claim(&shared, want).await {
                    Ok(jobs) => {
                        let more_due = jobs.len() == want;
                        for job in jobs {
                            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                                break;
                            };
                            dispatch(Arc::clone(&shared), job, permit);
                        }
                        if more_due && permits.available_permits() >= low_water {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming jobs failed; retrying after the poll interval")
                    }
                }
            }
            tokio::select! {
                () = self.wake.notified(), if permits.available_permits() >= low_water => {}
                () = shared.freed.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stopped.changed() => {}
            }
        }
        maintenance.abort();
        drain(&shared, &permits).await;
        if let Some(heartbeat) = heartbeat {
            heartbeat.abort();
            let owner = shared.owner.clone();
            if let Err(e) = shared
                .db
                .run_write(move |c| runners::unregister(c, &owner))
                .await
            {
                tracing::warn!(error = %e, "could not unregister this runner; it expires on its own");
            }
        }
    }
}

/// State the dispatched jobs share with the loop.
struct Shared {
    db: Db,
    registry: Arc<Registry>,
    settings: RunnerSettings,
    owner: String,
    in_flight: Mutex<HashSet<String>>,
    freed: Notify,
    settle: GroupCommit<Settle>,
}

impl Shared {
    fn in_flight_ids(&self) -> Vec<String> {
        self.in_flight
            .lock()
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }
}

async fn claim(shared: &Shared, limit: usize) -> Result<Vec<IntegrationJob>, StoreError> {
    let owner = shared.owner.clone();
    let lease = to_delta(shared.settings.lease);
    shared
        .db
        .run_write(move |c| {
            let at = now();
            queue::claim_due_jobs(c, &owner, limit as i64, at, at + lease)
        })
        .await
}

fn dispatch(shared: Arc<Shared>, job: IntegrationJob, permit: OwnedSemaphorePermit) {
    if let Ok(mut set) = shared.in_flight.lock() {
        set.insert(job.id.clone());
    }
    tokio::spawn(async move {
        let id = job.id.clone();
        let outcome = execute(&shared, job).await;
        let settled = match outcome {
            Outcome::Completed { .. } => Ok(()),
            outcome => {
                shared
                    .settle
                    .write(Settle {
                        owner: shared.owner.clone(),
                        outcome,
                    })
                    .await
            }
        };
        if let Err(e) = settled {
            // The lease will expire and another claim will run the job again (handlers are idempotent).
            tracing::error!(job = %id, error = %e, "could not record a job's outcome");
        }
        if let Ok(mut set) = shared.in_flight.lock() {
            set.remove(&id);
        }
        drop(permit);
        shared.freed.notify_one();
    });
}

/// Runs the handler (catching panics) and decides what becomes of the job.
async fn execute(shared: &Shared, job: IntegrationJob) -> Outcome {
    let started = std::time::Instant::now();
    let kind = job.kind.clone();
    let Some(handler) = shared.registry.get(&job.kind) else {
        return dead(&job, format!("no handler for job kind {}", job.kind));
    };
    let ctx = JobContext {
        db: shared.db.clone(),
    };
    let running = job.clone();
    let completes = handler.completes_its_jobs() && job.lease_owner.is_some();
    let result = tokio::spawn(async move { handler.run(&ctx, &running).await }).await;
    let outcome = match result {
        Ok(Ok(())) if completes => Outcome::Completed { id: job.id.clone() },
        Ok(Ok(())) => Outcome::Done { id: job.id.clone() },
        Ok(Err(JobError::Permanent(message))) => dead(&job, message),
        Ok(Err(JobError::Retry { message, after })) => retry(shared, &job, message, after),
        Ok(Err(JobError::Defer { reason, after })) => Outcome::Defer {
            id: job.id.clone(),
            run_at: now() + to_delta(after),
            reason,
        },
        Err(join) if join.is_panic() => retry(
            shared,
            &job,
            format!("the handler panicked: {}", panic_message(join)),
            None,
        ),
        Err(join) => retry(
            shared,
            &job,
            format!("the handler was cancelled: {join}"),
            None,
        ),
    };
    let label = match &outcome {
        Outcome::Done { .. } | Outcome::Completed { .. } => "done",
        Outcome::Retry { .. } => "retry",
        Outcome::Defer { .. } => "deferred",
        Outcome::Dead { .. } => "dead",
    };
    metrics::counter!("switchboard_jobs_total", "kind" => kind.clone(), "outcome" => label)
        .increment(1);
    metrics::histogram!("switchboard_job_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
    outcome
}

fn dead(job: &IntegrationJob, error: String) -> Outcome {
    tracing::warn!(job = %job.id, kind = %job.kind, error = %error, "job dead-lettered");
    Outcome::Dead {
        id: job.id.clone(),
        error,
        webhook_event_id: job.webhook_event_id.clone(),
    }
}

fn retry(shared: &Shared, job: &IntegrationJob, error: String, after: Option<Duration>) -> Outcome {
    if job.attempts >= job.max_attempts {
        return dead(
            job,
            format!("gave up after {} attempts: {error}", job.attempts),
        );
    }
    let attempt = u32::try_from(job.attempts).unwrap_or(1).max(1);
    let delay = shared
        .settings
        .backoff
        .retry_after(attempt, jitter(), after);
    tracing::info!(job = %job.id, kind = %job.kind, attempt, retry_in = ?delay, error = %error, "job will be retried");
    Outcome::Retry {
        id: job.id.clone(),
        run_at: now() + to_delta(delay),
        error,
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// A uniform number in [0, 1) from the system's random source, for backoff jitter.
fn jitter() -> f64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// Background duties: keep leases of running jobs alive, recover jobs of runners that died,
/// prune old finished jobs.
async fn maintain(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let renew_every = (shared.settings.lease / 3).max(Duration::from_millis(100));
    let mut renew = tokio::time::interval(renew_every);
    let mut recover = tokio::time::interval(Duration::from_secs(5));
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    let mut sweep = tokio::time::interval(STATUS_SWEEP);
    let mut depth = tokio::time::interval(QUEUE_DEPTH_EVERY);
    loop {
        tokio::select! {
            _ = depth.tick() => report_queue_depth(&shared).await,
            _ = renew.tick() => {
                let ids = shared.in_flight_ids();
                if ids.is_empty() { continue; }
                let (owner, until) = (shared.owner.clone(), now() + to_delta(shared.settings.lease));
                if let Err(e) = shared.db.run_write(move |c| queue::renew_leases(c, &owner, &ids, until)).await {
                    tracing::warn!(error = %e, "could not renew job leases");
                }
            }
            _ = recover.tick() => {
                match shared.db.run_write(|c| queue::recover_expired_leases(c, now())).await {
                    Ok((0, 0)) => {}
                    Ok((requeued, dead)) => tracing::warn!(requeued, dead, "recovered jobs whose runner stopped holding them"),
                    Err(e) => tracing::warn!(error = %e, "could not recover expired leases"),
                }
            }
            _ = sweep.tick() => {
                if let Err(e) = sweep_waiting_statuses(&shared).await {
                    tracing::warn!(error = %e, "could not apply waiting statuses");
                }
            }
            _ = prune.tick() => {
                let before = now() - to_delta(shared.settings.retention);
                match shared.db.run_write(move |c| queue::prune_finished_jobs(c, before)).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned finished jobs"),
                    Err(e) => tracing::warn!(error = %e, "could not prune finished jobs"),
                }
            }
            _ = stopped.changed() => return,
        }
    }
}

/// How often the queue's depth is read for `/metrics`.
const QUEUE_DEPTH_EVERY: Duration = Duration::from_secs(5);

/// Sets `switchboard_jobs_open{status}`: jobs waiting, running and dead, across all runners.
async fn report_queue_depth(shared: &Shared) {
    match shared.db.run(queue::count_open_jobs).await {
        Ok(counts) => {
            for status in [JobStatus::Pending, JobStatus::Running, JobStatus::Dead] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("switchboard_jobs_open", "status" => status.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::debug!(error = %e, "could not read the queue depth"),
    }
}

/// Applies statuses that waited for their message (see `messages::apply_waiting_statuses`);
/// reads first, and writes only when there is something to apply.
async fn sweep_waiting_statuses(shared: &Shared) -> Result<(), StoreError> {
    let since = now() - TimeDelta::days(1);
    let waiting = shared
        .db
        .run(move |c| messages::find_waiting_statuses(c, since, 500))
        .await?;
    if waiting.is_empty() {
        return Ok(());
    }
    let n = shared
        .db
        .run_write(move |c| messages::apply_statuses_of(c, &waiting))
        .await?;
    tracing::debug!(
        messages = n,
        "applied statuses that had waited for their message"
    );
    Ok(())
}

/// How often statuses that arrived before their message are looked at again.
const STATUS_SWEEP: Duration = Duration::from_millis(500);

/// How often a runner says it is alive; others count it for this long after its last beat.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// Keeps this runner registered as alive and the pacer told how many runners share each
/// channel's limit. A runner that finds others gives them one beat to shrink their shares
/// before it sends, so together they never exceed a limit, not even while one joins.
async fn heartbeat(
    shared: Arc<Shared>,
    pacer: Arc<pacing::Pacer>,
    mut stopped: watch::Receiver<bool>,
) {
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into());
    let mut beat = tokio::time::interval(HEARTBEAT);
    let mut first = true;
    loop {
        tokio::select! {
            _ = beat.tick() => {
                let (owner, host) = (shared.owner.clone(), hostname.clone());
                let at = now();
                match shared.db.run_write(move |c| runners::heartbeat(c, &owner, &host, at, at - runners::STALE_AFTER)).await {
                    Ok(alive) => {
                        if first && alive > 1 {
                            pacer.open_at(tokio::time::Instant::now() + HEARTBEAT + Duration::from_millis(500));
                        }
                        first = false;
                        pacer.set_runners(alive);
                    }
                    Err(e) => tracing::warn!(error = %e, "runner heartbeat failed"),
                }
            }
            _ = stopped.changed() => return,
        }
    }
}

/// After a stop: wait up to the grace period for in-flight jobs, then hand back the leases of
/// whatever is still running so another runner can take them at once.
async fn drain(shared: &Arc<Shared>, permits: &Arc<Semaphore>) {
    let all = u32::try_from(shared.settings.concurrency.max(1)).unwrap_or(u32::MAX);
    let finished =
        tokio::time::timeout(shared.settings.shutdown_grace, permits.acquire_many(all)).await;
    let leftover = shared.in_flight_ids();
    if finished.is_err() && !leftover.is_empty() {
        let owner = shared.owner.clone();
        let count = leftover.len();
        match shared
            .db
            .run_write(move |c| queue::release_leases(c, &owner, &leftover, now()))
            .await
        {
            Ok(_) => tracing::warn!(
                count,
                "handed back jobs that did not finish within the grace period"
            ),
            Err(e) => {
                tracing::error!(error = %e, "could not hand back job leases; they will expire")
            }
        }
    }
    tracing::info!(runner = %shared.owner, "job runner stopped");
}
