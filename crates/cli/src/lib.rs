//! The `switchboard` command: argument parsing and the wiring of every process.
//! `main.rs` only calls [`main`].

pub mod admin;
pub mod config;
pub mod logging;
pub mod ops;
pub mod server;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};

/// Switchboard: the bridge between WhatsApp Business (Meta's Cloud API) and your CRM and helpdesk.
///
/// Configuration comes from environment variables (and a `.env` file in the working folder);
/// see config/switchboard.example.env for every variable.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Run everything in one process: HTTP server and job runner (the default for one machine).
    Start(server::ServerArgs),
    /// Run the HTTP server only (stateless: run several behind a load balancer, on PostgreSQL).
    Serve(server::ServerArgs),
    /// Run the job runner only (run several against PostgreSQL).
    Runner(server::ServerArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(admin::OrgCommand),
    /// Manage API tokens (shown once, stored hashed).
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Manage API keys: what an organization's servers send as `x-api-key` to the notify API.
    #[command(subcommand)]
    Apikey(admin::ApiKeyCommand),
    /// Manage WhatsApp numbers (channels) of an organization.
    #[command(subcommand)]
    Channel(admin::ChannelCommand),
    /// Inspect and retry jobs of the queue.
    #[command(subcommand)]
    Jobs(ops::JobsCommand),
    /// Rebuild an organization's leads, conversations and messages from the stored webhook events.
    Replay {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
        /// Only events received from then on (2026-11-21 or 2026-11-21T10:00:00Z), projected
        /// again on top of what exists; without it everything webhooks produced is rebuilt.
        #[arg(long)]
        since: Option<String>,
    },
    /// A local stand-in for Meta (Graph API + signed status webhooks) to try everything
    /// without a Meta account; `sandbox inbound` posts one customer message.
    Sandbox(Box<switchboard_sandbox::cli::SandboxArgs>),
}

/// Why the program stopped: configuration problems exit 2, everything else 1.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("{0:#}")]
    Runtime(#[from] anyhow::Error),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Config(_) => ExitCode::from(2),
            Failure::Runtime(_) => ExitCode::from(1),
        }
    }
}

/// Parses arguments, loads configuration and runs the command.
pub fn main() -> ExitCode {
    // Before parsing: flags that read environment variables see the .env file too.
    // A missing .env is normal; a broken one is worth a line.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("warning: .env was not read: {e}");
    }
    // reqwest carries no TLS crypto provider of its own here: ring is the one (STYLE.md).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    logging::init(logging::format_from_env());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let line = failure.to_string().replace('\n', " ");
            match logging::format_from_env() {
                config::LogFormat::Json => {
                    tracing::error!(exit_code = ?failure.exit_code(), "{line}")
                }
                config::LogFormat::Text => eprintln!("error: {line}"),
            }
            failure.exit_code()
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    // The sandbox plays Meta: it needs none of Switchboard's configuration.
    if let Command::Sandbox(args) = cli.command {
        return run_sandbox(*args).map_err(Failure::from);
    }
    let config = Config::from_env()?;
    match cli.command {
        Command::Migrate => admin::migrate(&config).map_err(Failure::from),
        Command::Start(args) => {
            server::run(&config, server::Role::All, &args).map_err(Failure::from)
        }
        Command::Serve(args) => {
            server::run(&config, server::Role::Http, &args).map_err(Failure::from)
        }
        Command::Runner(args) => {
            server::run(&config, server::Role::Runner, &args).map_err(Failure::from)
        }
        Command::Org(cmd) => admin::org(&config, cmd).map_err(Failure::from),
        Command::Token(cmd) => admin::token(&config, cmd).map_err(Failure::from),
        Command::Apikey(cmd) => admin::apikey(&config, cmd).map_err(Failure::from),
        Command::Channel(cmd) => admin::channel(&config, cmd).map_err(Failure::from),
        Command::Jobs(cmd) => ops::jobs_command(&config, cmd).map_err(Failure::from),
        Command::Replay { org, since } => {
            ops::replay_command(&config, &org, since.as_deref()).map_err(Failure::from)
        }
        Command::Sandbox(_) => Ok(()),
    }
}

fn run_sandbox(args: switchboard_sandbox::cli::SandboxArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sandbox")
        .build()?;
    runtime.block_on(switchboard_sandbox::cli::run(args))
}
