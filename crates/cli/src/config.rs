//! The one typed configuration: read from the environment (and `.env`) once, validated up
//! front, passed down. A bad value is reported with the variable's name, never a panic.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use switchboard_store::repo::channels::ChannelInput;
use switchboard_store::{DEFAULT_DATABASE_URL, DatabaseUrl, DbSettings, SqliteSynchronous};

/// A configuration problem: which variable, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The one WhatsApp number the `WHATSAPP_*` variables describe (the seeds' single-tenant set-up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultChannel {
    pub phone_number_id: String,
    pub access_token: Secret,
    pub app_secret: Option<Secret>,
    pub verify_token: Option<Secret>,
    pub waba_id: Option<String>,
    pub default_country_code: Option<String>,
    /// The number's throughput tier at Meta (`WHATSAPP_MESSAGES_PER_SECOND`, default 80).
    pub messages_per_second: Option<i32>,
}

impl DefaultChannel {
    pub fn to_input(&self) -> ChannelInput {
        ChannelInput {
            phone_number_id: self.phone_number_id.clone(),
            access_token: self.access_token.0.clone(),
            app_secret: self.app_secret.as_ref().map(|s| s.0.clone()),
            verify_token: self.verify_token.as_ref().map(|s| s.0.clone()),
            waba_id: self.waba_id.clone(),
            default_country_code: self.default_country_code.clone(),
            messages_per_second: self.messages_per_second,
            ..ChannelInput::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// Graph API base URL, e.g. `https://graph.facebook.com` (the sandbox in tests).
    pub api_url: String,
    pub api_version: String,
    /// How long one Graph call may take before it counts as failed (and is retried).
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerConfig {
    pub enabled: bool,
    pub poll_interval: Duration,
    /// Jobs run at once by one process.
    pub concurrency: usize,
    /// DONE jobs are deleted after this long.
    pub retention: Duration,
    /// How long a claimed job is held before another runner may take it (renewed while running).
    pub lease: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub database: DbSettings,
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// Where customers' downloaded files are kept (`SWITCHBOARD_MEDIA_DIR`, default
    /// `<data dir>/media`). `serve` and `runner` processes must see the same directory.
    pub media_dir: PathBuf,
    pub master_key: Option<Secret>,
    pub log_format: LogFormat,
    pub graph: GraphConfig,
    pub default_channel: Option<DefaultChannel>,
    pub default_to: Option<String>,
    pub default_country_code: Option<String>,
    pub internal_api_key: Option<Secret>,
    /// How long a notify call waits for Meta's answer before answering 202 (`NOTIFY_WAIT_MS`,
    /// default 10 s; 0 answers 202 at once).
    pub notify_wait: Duration,
    pub runner: RunnerConfig,
    /// Largest webhook body accepted; Meta sends up to 3 MB.
    pub webhook_max_bytes: usize,
    /// HTTP worker threads (default: one per core).
    pub http_workers: usize,
}

/// Where variables come from: the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, var: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok()
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, var: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == var)
            .map(|(_, v)| v.to_string())
    }
}

/// Reads a variable, treating empty as unset; `aliases` are the seed systems' names for it.
fn read(
    src: &dyn Source,
    var: &'static str,
    aliases: &[&'static str],
) -> Option<(&'static str, String)> {
    std::iter::once(var)
        .chain(aliases.iter().copied())
        .find_map(|name| {
            src.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| (name, v))
        })
}

fn value(src: &dyn Source, var: &'static str) -> Option<String> {
    read(src, var, &[]).map(|(_, v)| v)
}

fn parse_bool(var: &'static str, raw: &str) -> Result<bool, ConfigError> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(bad(var, format!("expected true or false, got '{raw}'"))),
    }
}

fn digits(var: &'static str, raw: &str, what: &str) -> Result<String, ConfigError> {
    if !raw.is_empty() && raw.chars().all(|c| c.is_ascii_digit()) {
        Ok(raw.to_string())
    } else {
        Err(bad(
            var,
            format!("expected {what} (digits only), got '{raw}'"),
        ))
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(&ProcessEnv)
    }

    pub fn load(src: &dyn Source) -> Result<Self, ConfigError> {
        let environment = match value(src, "SWITCHBOARD_ENV")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(bad(
                    "SWITCHBOARD_ENV",
                    format!("expected development or production, got '{other}'"),
                ));
            }
        };
        let log_format = match value(src, "LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text") | Some("pretty") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("expected text or json, got '{other}'"),
                ));
            }
        };
        let bind_raw = value(src, "SWITCHBOARD_BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_raw.parse().map_err(|_| {
            bad(
                "SWITCHBOARD_BIND",
                format!(
                    "expected HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080, got '{bind_raw}'"
                ),
            )
        })?;
        let data_dir =
            PathBuf::from(value(src, "SWITCHBOARD_DATA_DIR").unwrap_or_else(|| "data".into()));
        let media_dir = value(src, "SWITCHBOARD_MEDIA_DIR")
            .map_or_else(|| data_dir.join("media"), PathBuf::from);
        Ok(Config {
            environment,
            database: database_settings(src)?,
            bind,
            data_dir,
            media_dir,
            master_key: master_key(src)?,
            log_format,
            graph: graph_config(src)?,
            default_channel: default_channel(src)?,
            default_to: value(src, "WHATSAPP_DEFAULT_TO"),
            default_country_code: value(src, "DEFAULT_COUNTRY_CODE")
                .map(|cc| {
                    digits(
                        "DEFAULT_COUNTRY_CODE",
                        cc.trim_start_matches('+'),
                        "a country calling code such as 57",
                    )
                })
                .transpose()?,
            internal_api_key: value(src, "INTERNAL_API_KEY").map(Secret),
            notify_wait: Duration::from_millis(number_in(
                src,
                "NOTIFY_WAIT_MS",
                10_000u64,
                0..=60_000,
                "milliseconds",
            )?),
            runner: runner_config(src)?,
            webhook_max_bytes: webhook_max_bytes(src)?,
            http_workers: http_workers(src)?,
        })
    }
}

fn database_settings(src: &dyn Source) -> Result<DbSettings, ConfigError> {
    let raw = value(src, "DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
    let url = DatabaseUrl::parse(&raw).map_err(|e| bad("DATABASE_URL", e.to_string()))?;
    let mut settings = DbSettings::new(url);
    if let Some(raw) = value(src, "SWITCHBOARD_SQLITE_SYNCHRONOUS") {
        settings.sqlite_synchronous = SqliteSynchronous::parse(&raw).ok_or_else(|| {
            bad(
                "SWITCHBOARD_SQLITE_SYNCHRONOUS",
                format!("expected FULL or NORMAL, got '{raw}'"),
            )
        })?;
    }
    settings.pool_size = number_in(
        src,
        "SWITCHBOARD_DB_POOL_SIZE",
        settings.pool_size,
        1..=200,
        "a number",
    )?;
    Ok(settings)
}

fn master_key(src: &dyn Source) -> Result<Option<Secret>, ConfigError> {
    let Some(raw) = value(src, "SWITCHBOARD_MASTER_KEY") else {
        return Ok(None);
    };
    switchboard_store::SecretBox::from_base64(&raw)
        .map_err(|e| bad("SWITCHBOARD_MASTER_KEY", e.to_string()))?;
    Ok(Some(Secret(raw)))
}

fn graph_config(src: &dyn Source) -> Result<GraphConfig, ConfigError> {
    let api_url =
        value(src, "WHATSAPP_API_URL").unwrap_or_else(|| "https://graph.facebook.com".into());
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        return Err(bad(
            "WHATSAPP_API_URL",
            format!("expected an http(s) URL such as https://graph.facebook.com, got '{api_url}'"),
        ));
    }
    let api_version = value(src, "WHATSAPP_API_VERSION").unwrap_or_else(|| "v25.0".into());
    let valid_version = api_version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && (major.to_owned() + minor)
                    .chars()
                    .all(|c| c.is_ascii_digit())
        });
    if !valid_version {
        return Err(bad(
            "WHATSAPP_API_VERSION",
            format!("expected a Graph API version such as v25.0, got '{api_version}'"),
        ));
    }
    let timeout_secs = number_in(src, "WHATSAPP_API_TIMEOUT_SECS", 15u64, 1..=300, "seconds")?;
    Ok(GraphConfig {
        api_url: api_url.trim_end_matches('/').to_string(),
        api_version,
        timeout: Duration::from_secs(timeout_secs),
    })
}

fn default_channel(src: &dyn Source) -> Result<Option<DefaultChannel>, ConfigError> {
    let Some(raw_id) = value(src, "WHATSAPP_PHONE_NUMBER_ID") else {
        return Ok(None);
    };
    let phone_number_id = digits(
        "WHATSAPP_PHONE_NUMBER_ID",
        &raw_id,
        "the numeric phone number id from Meta's API Setup page",
    )?;
    let (_, access_token) =
        read(src, "WHATSAPP_ACCESS_TOKEN", &["WHATSAPP_TOKEN"]).ok_or_else(|| {
            bad(
                "WHATSAPP_ACCESS_TOKEN",
                "required when WHATSAPP_PHONE_NUMBER_ID is set (alias WHATSAPP_TOKEN)",
            )
        })?;
    let waba_id = read(src, "WHATSAPP_WABA_ID", &["WHATSAPP_BUSINESS_ACCOUNT_ID"])
        .map(|(var, raw)| {
            digits(
                if var == "WHATSAPP_WABA_ID" {
                    "WHATSAPP_WABA_ID"
                } else {
                    "WHATSAPP_BUSINESS_ACCOUNT_ID"
                },
                &raw,
                "the numeric WhatsApp Business Account id",
            )
        })
        .transpose()?;
    let default_country_code = value(src, "DEFAULT_COUNTRY_CODE")
        .map(|cc| {
            digits(
                "DEFAULT_COUNTRY_CODE",
                cc.trim_start_matches('+'),
                "a country calling code such as 57",
            )
        })
        .transpose()?;
    Ok(Some(DefaultChannel {
        phone_number_id,
        access_token: Secret(access_token),
        app_secret: value(src, "WHATSAPP_APP_SECRET").map(Secret),
        verify_token: read(
            src,
            "WHATSAPP_VERIFY_TOKEN",
            &["WHATSAPP_WEBHOOK_VERIFY_TOKEN"],
        )
        .map(|(_, v)| Secret(v)),
        waba_id,
        default_country_code,
        messages_per_second: value(src, "WHATSAPP_MESSAGES_PER_SECOND")
            .map(|_| {
                number_in(
                    src,
                    "WHATSAPP_MESSAGES_PER_SECOND",
                    80i32,
                    1..=1000,
                    "messages per second",
                )
            })
            .transpose()?,
    }))
}

/// A whole number within `range`, or `default` when the variable is unset. `unit` names what
/// the number counts, for the error message.
fn number_in<T>(
    src: &dyn Source,
    var: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = value(src, var) else {
        return Ok(default);
    };
    raw.parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            bad(
                var,
                format!(
                    "expected {unit} from {} to {}, got '{raw}'",
                    range.start(),
                    range.end()
                ),
            )
        })
}

fn webhook_max_bytes(src: &dyn Source) -> Result<usize, ConfigError> {
    number_in(
        src,
        "SWITCHBOARD_WEBHOOK_MAX_BYTES",
        switchboard_ingest::DEFAULT_MAX_BODY_BYTES,
        1024..=64 * 1024 * 1024,
        "a byte count",
    )
}

fn http_workers(src: &dyn Source) -> Result<usize, ConfigError> {
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2);
    number_in(src, "SWITCHBOARD_HTTP_WORKERS", cores, 1..=256, "a number")
}

fn runner_config(src: &dyn Source) -> Result<RunnerConfig, ConfigError> {
    let enabled = value(src, "JOB_RUNNER_ENABLED")
        .map(|raw| parse_bool("JOB_RUNNER_ENABLED", &raw))
        .transpose()?
        .unwrap_or(true);
    let interval_ms = number_in(
        src,
        "JOB_RUNNER_INTERVAL_MS",
        1000u64,
        10..=3_600_000,
        "milliseconds",
    )?;
    let concurrency = number_in(
        src,
        "SWITCHBOARD_JOB_CONCURRENCY",
        256usize,
        1..=4096,
        "a number",
    )?;
    let retention_days = number_in(
        src,
        "SWITCHBOARD_JOB_RETENTION_DAYS",
        7u64,
        1..=3650,
        "days",
    )?;
    let lease_secs = number_in(
        src,
        "SWITCHBOARD_JOB_LEASE_SECS",
        60u64,
        1..=3600,
        "seconds",
    )?;
    Ok(RunnerConfig {
        enabled,
        poll_interval: Duration::from_millis(interval_ms),
        concurrency,
        retention: Duration::from_secs(retention_days * 24 * 3600),
        lease: Duration::from_secs(lease_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_variables() {
        let c = Config::load(&[]).unwrap();
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(
            c.database.url,
            DatabaseUrl::Sqlite("data/switchboard.db".into())
        );
        assert_eq!(c.database.sqlite_synchronous, SqliteSynchronous::Full);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.graph.api_url, "https://graph.facebook.com");
        assert_eq!(c.graph.api_version, "v25.0");
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.runner.enabled);
        assert!(c.default_channel.is_none());
        assert_eq!(c.media_dir, PathBuf::from("data/media"));
    }

    #[test]
    fn the_media_directory_follows_the_data_directory_unless_set() {
        let c = Config::load(&[("SWITCHBOARD_DATA_DIR", "/var/lib/switchboard")]).unwrap();
        assert_eq!(c.media_dir, PathBuf::from("/var/lib/switchboard/media"));
        let c = Config::load(&[
            ("SWITCHBOARD_DATA_DIR", "/var/lib/switchboard"),
            ("SWITCHBOARD_MEDIA_DIR", "/mnt/shared/media"),
        ])
        .unwrap();
        assert_eq!(c.media_dir, PathBuf::from("/mnt/shared/media"));
    }

    #[test]
    fn the_seed_systems_names_work_as_aliases() {
        let c = Config::load(&[
            ("WHATSAPP_PHONE_NUMBER_ID", "1122334455667"),
            ("WHATSAPP_TOKEN", "EAAG"),
            ("WHATSAPP_WEBHOOK_VERIFY_TOKEN", "vt"),
            ("WHATSAPP_BUSINESS_ACCOUNT_ID", "998877"),
            ("WHATSAPP_APP_SECRET", "shh"),
            ("DEFAULT_COUNTRY_CODE", "+57"),
        ])
        .unwrap();
        let ch = c.default_channel.unwrap();
        assert_eq!(ch.phone_number_id, "1122334455667");
        assert_eq!(ch.access_token.0, "EAAG");
        assert_eq!(ch.verify_token.unwrap().0, "vt");
        assert_eq!(ch.waba_id.as_deref(), Some("998877"));
        assert_eq!(ch.default_country_code.as_deref(), Some("57"));
        assert_eq!(c.default_country_code.as_deref(), Some("57"));
    }

    #[test]
    fn the_primary_name_wins_over_its_alias() {
        let c = Config::load(&[
            ("WHATSAPP_PHONE_NUMBER_ID", "1"),
            ("WHATSAPP_ACCESS_TOKEN", "primary"),
            ("WHATSAPP_TOKEN", "alias"),
        ])
        .unwrap();
        assert_eq!(c.default_channel.unwrap().access_token.0, "primary");
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases: [(&str, &str); 17] = [
            ("SWITCHBOARD_JOB_LEASE_SECS", "0"),
            ("SWITCHBOARD_JOB_CONCURRENCY", "0"),
            ("SWITCHBOARD_JOB_RETENTION_DAYS", "forever"),
            ("SWITCHBOARD_HTTP_WORKERS", "0"),
            ("SWITCHBOARD_WEBHOOK_MAX_BYTES", "3MB"),
            ("DATABASE_URL", "mysql://x"),
            ("SWITCHBOARD_BIND", "localhost"),
            ("SWITCHBOARD_ENV", "staging"),
            ("LOG_FORMAT", "xml"),
            ("SWITCHBOARD_SQLITE_SYNCHRONOUS", "OFF"),
            ("SWITCHBOARD_MASTER_KEY", "short"),
            ("WHATSAPP_API_URL", "graph.facebook.com"),
            ("WHATSAPP_API_VERSION", "25"),
            ("JOB_RUNNER_ENABLED", "maybe"),
            ("JOB_RUNNER_INTERVAL_MS", "fast"),
            ("DEFAULT_COUNTRY_CODE", "CO"),
            ("SWITCHBOARD_DB_POOL_SIZE", "0"),
        ];
        for (var, raw) in cases {
            let err = Config::load(&[(var, raw)]).unwrap_err();
            assert_eq!(err.var, var, "{err}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn a_phone_number_id_needs_an_access_token() {
        let err = Config::load(&[("WHATSAPP_PHONE_NUMBER_ID", "123")]).unwrap_err();
        assert_eq!(err.var, "WHATSAPP_ACCESS_TOKEN");
        let err = Config::load(&[
            ("WHATSAPP_PHONE_NUMBER_ID", "12-3"),
            ("WHATSAPP_ACCESS_TOKEN", "x"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "WHATSAPP_PHONE_NUMBER_ID");
    }

    #[test]
    fn the_notify_wait_is_ten_seconds_unless_set() {
        assert_eq!(
            Config::load(&[]).unwrap().notify_wait,
            Duration::from_secs(10)
        );
        let c = Config::load(&[("NOTIFY_WAIT_MS", "250")]).unwrap();
        assert_eq!(c.notify_wait, Duration::from_millis(250));
        for bad in ["-1", "ten", "60001"] {
            let err = Config::load(&[("NOTIFY_WAIT_MS", bad)]).unwrap_err();
            assert_eq!(err.var, "NOTIFY_WAIT_MS", "{bad}");
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = Config::load(&[
            ("WHATSAPP_PHONE_NUMBER_ID", "1"),
            ("WHATSAPP_ACCESS_TOKEN", "EAAG-very-secret"),
            ("WHATSAPP_APP_SECRET", "app-very-secret"),
            ("INTERNAL_API_KEY", "key-very-secret"),
            ("DATABASE_URL", "postgres://u:pw-very-secret@h/db"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
