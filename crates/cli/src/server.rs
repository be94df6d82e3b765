//! The long-running processes: `start` (everything), `serve` (HTTP) and `runner` (jobs).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, Result};
use clap::Args;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use switchboard_api::{Api, ApiSettings};
use switchboard_ingest::{ChannelDirectory, Ingest, IngestSettings};
use switchboard_runner::jobs::Outbound;
use switchboard_runner::pacing::{Pacer, PacingSettings};
use switchboard_runner::{Runner, RunnerHandle, RunnerSettings};
use switchboard_store::bootstrap::ensure_default_tenant;
use switchboard_store::repo::channels;
use switchboard_store::repo::webhooks::EventInsert;
use switchboard_store::writer::{CommitHook, GroupCommit};
use switchboard_store::{Db, SecretBox};
use tokio::sync::Notify;

use crate::admin::open_secret_box;
use crate::config::{Config, Environment};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// HTTP server and job runner in one process.
    All,
    Http,
    Runner,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::All => "start",
            Role::Http => "serve",
            Role::Runner => "runner",
        }
    }

    fn serves_http(self) -> bool {
        matches!(self, Role::All | Role::Http)
    }

    fn runs_jobs(self) -> bool {
        matches!(self, Role::All | Role::Runner)
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Do not apply pending migrations at start (fail instead if any are pending).
    #[arg(long)]
    pub no_migrate: bool,
}

/// Largest number of webhooks committed in one transaction.
const INGEST_MAX_BATCH: usize = 256;
/// How often channels changed by other processes are picked up.
const CHANNEL_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub fn run(config: &Config, role: Role, args: &ServerArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(config, role, args))
}

async fn run_async(config: &Config, role: Role, args: &ServerArgs) -> Result<()> {
    let stop = shutdown_signal();
    let db = prepare_database(config, args)?;
    let secrets = Arc::new(open_secret_box(config)?);
    bootstrap(config, &db, &secrets)?;
    if db.is_sqlite() && role != Role::All {
        tracing::warn!(
            "`switchboard {}` on SQLite: separate serve and runner processes contend for the one SQLite writer; \
             use `switchboard start` on one machine, or PostgreSQL to scale out",
            role.name()
        );
    }
    let runner = match (role.runs_jobs(), config.runner.enabled) {
        (true, true) => Some(start_runner(config, &db, &secrets)?),
        (true, false) => {
            tracing::warn!("JOB_RUNNER_ENABLED=false: jobs are stored but not run by this process");
            None
        }
        (false, _) => None,
    };
    let wake = runner.as_ref().map(|(waker, _)| Arc::clone(waker));
    if role.serves_http() {
        serve_http(config, db, secrets, wake, stop).await?;
    } else {
        tracing::info!(command = role.name(), database = %config.database.url, "running jobs; press Ctrl-C to stop");
        stop.await;
        tracing::info!("shutting down");
    }
    if let Some((_, handle)) = runner {
        handle.shutdown().await;
    }
    Ok(())
}

/// The Graph API client of the runner's sends and of the API's connection check.
fn graph_client(config: &Config) -> Result<switchboard_graph::GraphClient> {
    switchboard_graph::GraphClient::new(switchboard_graph::GraphConfig {
        api_url: config.graph.api_url.clone(),
        api_version: config.graph.api_version.clone(),
        timeout: config.graph.timeout,
        ..switchboard_graph::GraphConfig::default()
    })
    .context("cannot set up the Graph API client")
}

fn start_runner(
    config: &Config,
    db: &Db,
    secrets: &Arc<SecretBox>,
) -> Result<(Arc<Notify>, RunnerHandle)> {
    let settings = RunnerSettings {
        concurrency: config.runner.concurrency,
        poll_interval: config.runner.poll_interval,
        retention: config.runner.retention,
        lease: config.runner.lease,
        ..RunnerSettings::default()
    };
    let graph = graph_client(config)?;
    let pacer = Arc::new(Pacer::new(PacingSettings::default()));
    let outbound = Outbound {
        graph,
        secrets: Arc::clone(secrets),
        pacer: Arc::clone(&pacer),
        media_dir: config.media_dir.clone(),
    };
    let registry = switchboard_runner::jobs::registry(db, Some(outbound))?;
    let runner = Runner::new(db.clone(), registry, settings).with_pacer(pacer);
    let waker = runner.waker();
    switchboard_runner::wake::spawn_listener(db, Arc::clone(&waker));
    Ok((waker, runner.spawn()?))
}

async fn serve_http(
    config: &Config,
    db: Db,
    secrets: Arc<SecretBox>,
    wake: Option<Arc<Notify>>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let metrics = install_metrics()?;
    let directory = ChannelDirectory::load(db.clone(), Arc::clone(&secrets)).await?;
    let settings = IngestSettings {
        max_body_bytes: config.webhook_max_bytes,
        production: config.environment == Environment::Production,
    };
    if settings.production && directory.snapshot().app_secrets().is_empty() {
        anyhow::bail!(
            "SWITCHBOARD_ENV=production needs webhook signatures checked, but no channel has an app secret: \
             set WHATSAPP_APP_SECRET or add one with `switchboard channel add --app-secret`"
        );
    }
    switchboard_ingest::log_signature_policy(&directory, &settings);
    directory.spawn_periodic_refresh(CHANNEL_RELOAD_INTERVAL);
    // In `start` the runner shares this process: wake it the moment webhooks are committed.
    let api = web::Data::new(
        Api::start(
            db.clone(),
            ApiSettings {
                default_country_code: config.default_country_code.clone(),
                media_dir: config.media_dir.clone(),
                internal_api_key: config
                    .internal_api_key
                    .as_ref()
                    .map(|k| switchboard_api::notify::InternalKey::new(k.0.clone())),
                default_to: config.default_to.clone(),
                notify_wait: switchboard_api::notify::NotifyWait(config.notify_wait),
                production: config.environment == Environment::Production,
            },
            wake.clone(),
        )?
        .with_secrets(secrets)
        .with_graph(graph_client(config)?),
    );
    let on_commit: Option<CommitHook<EventInsert>> = wake.map(|wake| {
        Arc::new(move |outputs: &[EventInsert]| {
            if outputs.contains(&EventInsert::Stored) {
                wake.notify_one();
            }
        }) as CommitHook<EventInsert>
    });
    let writer = GroupCommit::start(db.clone(), "ingest", INGEST_MAX_BATCH, on_commit)?;
    let ingest = web::Data::new(Ingest {
        directory,
        writer,
        settings,
    });
    let metrics = web::Data::new(metrics);

    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| switchboard_ingest::configure(cfg, ingest.clone()))
            .configure(|cfg| switchboard_api::configure(cfg, api.clone()))
            // The web inbox at `/`: static files only; it calls the API like any frontend.
            .configure(switchboard_web::configure)
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(render_metrics))
    })
    .workers(config.http_workers)
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .bind(config.bind)
    .with_context(|| format!("cannot listen on {} (SWITCHBOARD_BIND)", config.bind))?;
    for address in server.addrs() {
        tracing::info!(address = %address, database = %config.database.url, "listening");
    }
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(async move {
        stop.await;
        tracing::info!("shutting down: finishing in-flight requests");
        handle.stop(true).await;
    });
    server.await.context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

fn install_metrics() -> Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ],
        )
        .context("metrics buckets")?
        .set_buckets_for_metric(
            Matcher::Suffix("_batch_size".into()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        )
        .context("metrics buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    // Histogram samples wait in memory until upkeep folds them into buckets; without it they
    // would grow for as long as nobody scrapes /metrics.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

async fn render_metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

fn prepare_database(config: &Config, args: &ServerArgs) -> Result<Db> {
    let db = Db::connect(config.database.clone())?;
    if args.no_migrate {
        let pending = db.pending_migrations()?;
        anyhow::ensure!(
            pending.is_empty(),
            "the database has {} pending migration(s) ({}); run `switchboard migrate` or start without --no-migrate",
            pending.len(),
            pending.join(", ")
        );
    } else {
        let applied = db.migrate()?;
        if !applied.is_empty() {
            tracing::info!(versions = ?applied, "applied database migrations");
        }
    }
    Ok(db)
}

/// Creates the default organization and channel from `WHATSAPP_*`, and proves the master key
/// opens the stored secrets before anything depends on them.
fn bootstrap(config: &Config, db: &Db, secrets: &SecretBox) -> Result<()> {
    let mut conn = db.conn()?;
    if let Some(channel) = &config.default_channel {
        let (org, channel) = ensure_default_tenant(&mut conn, secrets, channel.to_input())
            .context("cannot set up the default organization from WHATSAPP_* variables")?;
        tracing::info!(org = %org.slug, phone_number_id = %channel.phone_number_id, "default channel ready");
    }
    for channel in channels::list_all_channels(&mut conn)? {
        channel
            .open_secrets(secrets)
            .with_context(|| format!("channel {} ({})", channel.id, channel.phone_number_id))?;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when it
/// is first awaited, so a signal during start-up (migrations, bootstrap) is not lost: it stops
/// the process as soon as it is up, cleanly, instead of killing it mid-way.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                _ => {
                    tracing::error!(
                        "cannot listen for SIGINT/SIGTERM; stop the process with SIGKILL"
                    );
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
