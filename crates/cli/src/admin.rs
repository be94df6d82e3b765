//! Administration commands: migrations, organizations, API tokens, API keys, channels.
//! Results go to stdout (ids and tokens alone, so scripts can capture them); logs to stderr.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use switchboard_domain::Role;
use switchboard_store::models::Organization;
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::{api_keys, organizations, tokens};
use switchboard_store::{AnyConnection, Db, SecretBox, StoreError};

use crate::config::Config;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization (with its default sales pipeline); prints its id.
    Create {
        /// Display name, e.g. "Acme Corp".
        #[arg(long)]
        name: String,
        /// URL-safe short name (lowercase letters, digits, dashes); derived from the name when omitted.
        #[arg(long)]
        slug: Option<String>,
    },
    /// List organizations.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and the user it belongs to; prints the token once (it is stored hashed).
    Create {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
        /// OWNER, ADMIN, MANAGER or SELLER.
        #[arg(long)]
        role: Role,
        /// A name to recognize the token (and its user) by.
        #[arg(long)]
        name: Option<String>,
    },
    /// List an organization's tokens (never the tokens themselves).
    List {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
    },
    /// Revoke a token by its id (from `token list`); it stops working at once.
    Revoke {
        /// The token's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for an organization's servers (the `x-api-key` header of the notify
    /// API); prints the key once (it is stored hashed).
    Create {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
        /// What the key is for, e.g. "billing server".
        #[arg(long)]
        name: String,
    },
    /// List an organization's API keys (never the keys themselves).
    List {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
    },
    /// Revoke an API key by its id (from `apikey list`); it stops working at once.
    Revoke {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
        /// The key's id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Add a WhatsApp number to an organization; prints the channel id. Secrets are stored encrypted.
    Add(ChannelAddArgs),
    /// List an organization's numbers (secrets are never printed).
    List {
        /// Organization id or slug.
        #[arg(long)]
        org: String,
    },
    /// Let a paused number send again (Meta refused it: expired token, missing permission…),
    /// optionally with a new access token; its waiting messages go out at once.
    Resume(ChannelResumeArgs),
}

#[derive(Debug, Args)]
pub struct ChannelResumeArgs {
    /// Organization id or slug.
    #[arg(long)]
    org: String,
    /// The channel's id or its phone number id.
    channel: String,
    /// A new access token, when the old one expired or lost its permissions.
    #[arg(long, env = "SWITCHBOARD_CHANNEL_ACCESS_TOKEN", hide_env_values = true)]
    access_token: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChannelAddArgs {
    /// Organization id or slug.
    #[arg(long)]
    org: String,
    /// Meta's phone number id (WhatsApp > API Setup), not the phone number itself.
    #[arg(long)]
    phone_number_id: String,
    /// A system user access token with whatsapp_business_messaging permission.
    #[arg(long, env = "SWITCHBOARD_CHANNEL_ACCESS_TOKEN", hide_env_values = true)]
    access_token: String,
    /// The Meta app's secret (App settings > Basic), used to check webhook signatures.
    #[arg(long, env = "SWITCHBOARD_CHANNEL_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// The string you type as "Verify token" in Meta's webhook settings.
    #[arg(long, hide_env_values = true)]
    verify_token: Option<String>,
    /// WhatsApp Business Account id (needed for templates).
    #[arg(long)]
    waba_id: Option<String>,
    /// The number as people see it, e.g. +57 300 1234567.
    #[arg(long)]
    display_phone_number: Option<String>,
    /// A name for the channel.
    #[arg(long)]
    name: Option<String>,
    /// Messages per second Meta allows this number (80 by default, up to 1000).
    #[arg(long)]
    mps: Option<i32>,
    /// Country calling code prepended to local numbers, e.g. 57.
    #[arg(long)]
    country_code: Option<String>,
}

/// Opens the database and applies pending migrations, so every command works on a fresh file.
pub fn open_db(config: &Config) -> Result<Db> {
    let db = Db::connect(config.database.clone())?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(versions = ?applied, "applied database migrations");
    }
    Ok(db)
}

/// Loads the master key (generating data/master.key on first use, with a warning).
pub fn open_secret_box(config: &Config) -> Result<SecretBox> {
    let (secrets, source) = SecretBox::load(
        config.master_key.as_ref().map(|k| k.0.as_str()),
        &config.data_dir,
    )?;
    if let switchboard_store::crypto::KeySource::Generated(path) = source {
        tracing::warn!(
            path = %path.display(),
            "generated a new master key for secrets at rest; back this file up, or set SWITCHBOARD_MASTER_KEY in production"
        );
    }
    Ok(secrets)
}

pub fn migrate(config: &Config) -> Result<()> {
    let db = Db::connect(config.database.clone())?;
    let applied = db.migrate()?;
    if applied.is_empty() {
        tracing::info!(database = %config.database.url, "database is up to date");
    } else {
        tracing::info!(database = %config.database.url, versions = ?applied, "applied migrations");
    }
    Ok(())
}

fn with_conn<T>(db: &Db, f: impl FnOnce(&mut AnyConnection) -> Result<T>) -> Result<T> {
    let mut conn = db.conn()?;
    f(&mut conn)
}

/// The organization named by id or slug, or an error that says where to look.
pub fn find_org(conn: &mut AnyConnection, id_or_slug: &str) -> Result<Organization> {
    organizations::find_organization_by_id_or_slug(conn, id_or_slug).map_err(|e| match e {
        StoreError::NotFound(_) => {
            anyhow::anyhow!(
                "no organization with id or slug '{id_or_slug}': see `switchboard org list`"
            )
        }
        other => other.into(),
    })
}

pub fn time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

pub fn org(config: &Config, cmd: OrgCommand) -> Result<()> {
    let db = open_db(config)?;
    with_conn(&db, |conn| match cmd {
        OrgCommand::Create { name, slug } => {
            let org = organizations::insert_organization(conn, &name, slug.as_deref())?;
            tracing::info!(id = %org.id, slug = %org.slug, "created organization");
            println!("{}", org.id);
            Ok(())
        }
        OrgCommand::List => {
            let mut table = Table::new(&["ID", "SLUG", "NAME", "CREATED"]);
            for org in organizations::list_organizations(conn)? {
                table.row(vec![org.id, org.slug, org.name, time(org.created_at)]);
            }
            print!("{}", table.render());
            Ok(())
        }
    })
}

pub fn token(config: &Config, cmd: TokenCommand) -> Result<()> {
    let db = open_db(config)?;
    with_conn(&db, |conn| match cmd {
        TokenCommand::Create { org, role, name } => {
            let org = find_org(conn, &org)?;
            let issued = tokens::insert_user_with_token(conn, &org.id, role, name.as_deref())?;
            tracing::info!(token_id = %issued.token.id, user_id = %issued.user.id, %role, "created API token; it is shown once");
            println!("{}", issued.plaintext);
            Ok(())
        }
        TokenCommand::List { org } => {
            let org = find_org(conn, &org)?;
            let mut table = Table::new(&[
                "ID",
                "PREFIX",
                "NAME",
                "ROLE",
                "CREATED",
                "LAST USED",
                "REVOKED",
            ]);
            for (token, user) in tokens::list_api_tokens(conn, &org.id)? {
                table.row(vec![
                    token.id,
                    format!("{}…", token.token_prefix),
                    token.name,
                    user.role,
                    time(token.created_at),
                    token.last_used_at.map(time).unwrap_or_else(|| "-".into()),
                    token.revoked_at.map(time).unwrap_or_else(|| "-".into()),
                ]);
            }
            print!("{}", table.render());
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            let token = tokens::revoke_api_token(conn, &id).map_err(|e| match e {
                StoreError::NotFound(_) => anyhow::anyhow!(
                    "no API token with id '{id}': see `switchboard token list --org ORG`"
                ),
                other => other.into(),
            })?;
            tracing::info!(token_id = %token.id, "revoked API token");
            Ok(())
        }
    })
}

pub fn apikey(config: &Config, cmd: ApiKeyCommand) -> Result<()> {
    let db = open_db(config)?;
    with_conn(&db, |conn| match cmd {
        ApiKeyCommand::Create { org, name } => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 200,
                "--name must be 1 to 200 characters"
            );
            let org = find_org(conn, &org)?;
            let issued = api_keys::insert_api_key(conn, &org.id, name)?;
            tracing::info!(key_id = %issued.key.id, org = %org.slug, "created API key; it is shown once");
            println!("{}", issued.plaintext);
            Ok(())
        }
        ApiKeyCommand::List { org } => {
            let org = find_org(conn, &org)?;
            let mut table =
                Table::new(&["ID", "PREFIX", "NAME", "CREATED", "LAST USED", "REVOKED"]);
            for key in api_keys::list_api_keys(conn, &org.id)? {
                table.row(vec![
                    key.id,
                    format!("{}…", key.key_prefix),
                    key.name,
                    time(key.created_at),
                    key.last_used_at.map(time).unwrap_or_else(|| "-".into()),
                    key.revoked_at.map(time).unwrap_or_else(|| "-".into()),
                ]);
            }
            print!("{}", table.render());
            Ok(())
        }
        ApiKeyCommand::Revoke { org, id } => {
            let org = find_org(conn, &org)?;
            let key = api_keys::revoke_api_key(conn, &org.id, &id).map_err(|e| match e {
                StoreError::NotFound(_) => anyhow::anyhow!(
                    "organization {} has no API key with id '{id}': see `switchboard apikey list --org {}`",
                    org.slug,
                    org.slug
                ),
                other => other.into(),
            })?;
            tracing::info!(key_id = %key.id, "revoked API key");
            Ok(())
        }
    })
}

pub fn channel(config: &Config, cmd: ChannelCommand) -> Result<()> {
    let db = open_db(config)?;
    match cmd {
        ChannelCommand::Add(args) => {
            let secrets = open_secret_box(config)?;
            with_conn(&db, |conn| {
                let org = find_org(conn, &args.org)?;
                let input = ChannelInput {
                    organization_id: org.id,
                    name: args.name,
                    phone_number_id: args.phone_number_id,
                    display_phone_number: args.display_phone_number,
                    waba_id: args.waba_id,
                    access_token: args.access_token,
                    app_secret: args.app_secret,
                    verify_token: args.verify_token,
                    messages_per_second: args.mps,
                    default_country_code: args
                        .country_code
                        .map(|cc| cc.trim_start_matches('+').to_string()),
                };
                let channel = channels::insert_channel(conn, &secrets, &input)?;
                if channel.app_secret_sealed.is_none() {
                    tracing::warn!(
                        "no --app-secret: webhooks for this number cannot be signature-checked"
                    );
                }
                tracing::info!(id = %channel.id, phone_number_id = %channel.phone_number_id, "added channel");
                println!("{}", channel.id);
                Ok(())
            })
        }
        ChannelCommand::Resume(args) => {
            let secrets = open_secret_box(config)?;
            with_conn(&db, |conn| {
                let org = find_org(conn, &args.org)?;
                let channel = channels::list_channels(conn, &org.id)?
                    .into_iter()
                    .find(|c| c.id == args.channel || c.phone_number_id == args.channel)
                    .with_context(|| {
                        format!(
                            "organization {} has no channel {} (see `switchboard channel list --org {}`)",
                            org.slug, args.channel, org.slug
                        )
                    })?;
                if let Some(token) = args.access_token {
                    channels::set_access_token(conn, &secrets, &channel.id, &token)?;
                }
                let channel = channels::resume_channel(conn, &org.id, &channel.id)?;
                tracing::info!(id = %channel.id, phone_number_id = %channel.phone_number_id, "channel resumed: its waiting sends run now");
                println!("{} {}", channel.id, channel.status);
                Ok(())
            })
        }
        ChannelCommand::List { org } => with_conn(&db, |conn| {
            let org = find_org(conn, &org)?;
            let mut table = Table::new(&[
                "ID",
                "PHONE NUMBER ID",
                "DISPLAY",
                "WABA",
                "MPS",
                "CC",
                "STATUS",
                "APP SECRET",
                "VERIFY TOKEN",
            ]);
            let set = |v: &Option<String>| if v.is_some() { "set" } else { "unset" }.to_string();
            for ch in channels::list_channels(conn, &org.id)? {
                let status = match &ch.status_reason {
                    Some(reason) => format!("{} ({reason})", ch.status),
                    None => ch.status.clone(),
                };
                table.row(vec![
                    ch.id.clone(),
                    ch.phone_number_id.clone(),
                    ch.display_phone_number
                        .clone()
                        .unwrap_or_else(|| "-".into()),
                    ch.waba_id.clone().unwrap_or_else(|| "-".into()),
                    ch.messages_per_second.to_string(),
                    ch.default_country_code
                        .clone()
                        .unwrap_or_else(|| "-".into()),
                    status,
                    set(&ch.app_secret_sealed),
                    set(&ch.verify_token_sealed),
                ]);
            }
            print!("{}", table.render());
            Ok(())
        }),
    }
}
