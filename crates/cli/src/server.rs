//! The long-running processes: `start` (everything), `serve` (HTTP) and `runner` (jobs).

use anyhow::{Context, Result};
use clap::Args;
use switchboard_store::bootstrap::ensure_default_tenant;
use switchboard_store::repo::channels;
use switchboard_store::{Db, SecretBox};

use crate::admin::open_secret_box;
use crate::config::Config;

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
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Do not apply pending migrations at start (fail instead if any are pending).
    #[arg(long)]
    pub no_migrate: bool,
}

pub fn run(config: &Config, role: Role, args: &ServerArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(config, role, args))
}

async fn run_async(config: &Config, role: Role, args: &ServerArgs) -> Result<()> {
    let db = prepare_database(config, args)?;
    let secrets = open_secret_box(config)?;
    bootstrap(config, &db, &secrets)?;
    if db.is_sqlite() && role != Role::All {
        tracing::warn!(
            "`switchboard {}` on SQLite: separate serve and runner processes contend for the one SQLite writer; \
             use `switchboard start` on one machine, or PostgreSQL to scale out",
            role.name()
        );
    }
    tracing::info!(
        command = role.name(),
        database = %config.database.url,
        "Switchboard is up; webhook ingest, the REST API and the job runner are not part of this build yet, \
         so there is nothing to serve: press Ctrl-C to stop"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    Ok(())
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

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
