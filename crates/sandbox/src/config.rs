//! What a sandbox answers for, the trouble it injects and how it delivers webhooks.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::errors;

pub const DEFAULT_PHONE_NUMBER_ID: &str = "1122334455667";
pub const DEFAULT_DISPLAY_PHONE_NUMBER: &str = "15550001111";
pub const DEFAULT_WABA_ID: &str = "57438975935";

/// A failure `--error-rate` injects into `POST /{version}/{phone_number_id}/messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// A Meta error code of the catalogue (`130429`, `131056`, `190`, …): its Graph error body.
    Meta(i64),
    /// HTTP 500 with a non-JSON body.
    Http500,
    /// No answer: the request is held for [`SandboxConfig::timeout_hold`] or until shutdown.
    Timeout,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Meta(code) => write!(f, "{code}"),
            ErrorKind::Http500 => f.write_str("500"),
            ErrorKind::Timeout => f.write_str("timeout"),
        }
    }
}

impl FromStr for ErrorKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("timeout") {
            return Ok(ErrorKind::Timeout);
        }
        if s == "500" {
            return Ok(ErrorKind::Http500);
        }
        match s.parse::<i64>() {
            Ok(code) if errors::lookup(code).is_some() => Ok(ErrorKind::Meta(code)),
            _ => Err(format!(
                "unknown error `{s}`: use 500, timeout or a Meta code ({})",
                errors::known_codes()
            )),
        }
    }
}

/// A sandbox's settings. `Default` gives a quiet, fast Meta on a free loopback port.
#[derive(Clone)]
pub struct SandboxConfig {
    /// Where the Graph endpoints listen (`127.0.0.1:0` picks a free port).
    pub bind: SocketAddr,
    /// Where status webhooks go (`http://` only); `None` sends none.
    pub webhook_url: Option<String>,
    /// Signs webhooks (`X-Hub-Signature-256`); `None` sends them unsigned.
    pub app_secret: Option<String>,
    /// The number named in webhooks' `metadata` (sends name their own in the path).
    pub phone_number_id: String,
    pub display_phone_number: String,
    /// `entry[].id` of webhooks; the WABA whose templates are listed.
    pub waba_id: String,
    /// When set, the only bearer token accepted; otherwise any non-empty one is.
    pub access_token: Option<String>,
    /// Added before answering each Graph call.
    pub latency: Duration,
    /// Fractions of sends answered with an injected error (they must add up to 1 at most).
    pub error_rates: Vec<(ErrorKind, f64)>,
    /// Fractions of sends accepted (200) and then reported `failed` with this code.
    pub async_failures: Vec<(i64, f64)>,
    /// Delays from acceptance to each status webhook.
    pub sent_after: Duration,
    pub delivered_after: Duration,
    pub read_after: Duration,
    /// Whether a `read` follows `delivered`.
    pub send_read: bool,
    /// Statuses per webhook body at most (Meta batches up to 1,000).
    pub batch_max: usize,
    /// With `batch_max > 1`, statuses due within this much of the first due one join its batch.
    pub batch_window: Duration,
    /// Fraction of messages whose statuses are delivered in shuffled order.
    pub reorder_rate: f64,
    /// Fraction of webhook bodies delivered twice.
    pub duplicate_rate: f64,
    /// How long a media download URL works (Meta: 5 minutes).
    pub media_url_ttl: Duration,
    /// Webhook POSTs in flight at once.
    pub webhook_concurrency: usize,
    /// Retries of a webhook POST not answered 2xx, before it is given up and counted.
    pub webhook_retries: u32,
    /// First retry delay; each next one is 4 times longer.
    pub webhook_retry_base: Duration,
    /// Time limit of one webhook POST.
    pub webhook_timeout: Duration,
    /// How long an injected `timeout` holds the request.
    pub timeout_hold: Duration,
    /// Accepted messages kept for `GET /sandbox/messages` (the oldest go first; counts stay exact).
    pub max_stored_messages: usize,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Templates listed by `GET /{waba_id}/message_templates`; `None` = the built-in samples.
    pub templates: Option<Vec<serde_json::Value>>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            webhook_url: None,
            app_secret: None,
            phone_number_id: DEFAULT_PHONE_NUMBER_ID.into(),
            display_phone_number: DEFAULT_DISPLAY_PHONE_NUMBER.into(),
            waba_id: DEFAULT_WABA_ID.into(),
            access_token: None,
            latency: Duration::ZERO,
            error_rates: Vec::new(),
            async_failures: Vec::new(),
            sent_after: Duration::from_millis(20),
            delivered_after: Duration::from_millis(60),
            read_after: Duration::from_millis(150),
            send_read: true,
            batch_max: 1,
            batch_window: Duration::from_millis(10),
            reorder_rate: 0.0,
            duplicate_rate: 0.0,
            media_url_ttl: Duration::from_secs(300),
            webhook_concurrency: 64,
            webhook_retries: 3,
            webhook_retry_base: Duration::from_millis(250),
            webhook_timeout: Duration::from_secs(10),
            timeout_hold: Duration::from_secs(120),
            max_stored_messages: 100_000,
            http_workers: 2,
            templates: None,
        }
    }
}

/// Secrets stay out of `Debug`.
impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("SandboxConfig")
            .field("bind", &self.bind)
            .field("webhook_url", &self.webhook_url)
            .field("app_secret", &hidden(&self.app_secret))
            .field("phone_number_id", &self.phone_number_id)
            .field("display_phone_number", &self.display_phone_number)
            .field("waba_id", &self.waba_id)
            .field("access_token", &hidden(&self.access_token))
            .field("latency", &self.latency)
            .field("error_rates", &self.error_rates)
            .field("async_failures", &self.async_failures)
            .field("sent_after", &self.sent_after)
            .field("delivered_after", &self.delivered_after)
            .field("read_after", &self.read_after)
            .field("send_read", &self.send_read)
            .field("batch_max", &self.batch_max)
            .field("batch_window", &self.batch_window)
            .field("reorder_rate", &self.reorder_rate)
            .field("duplicate_rate", &self.duplicate_rate)
            .field("media_url_ttl", &self.media_url_ttl)
            .field("webhook_concurrency", &self.webhook_concurrency)
            .field("webhook_retries", &self.webhook_retries)
            .field("webhook_retry_base", &self.webhook_retry_base)
            .field("webhook_timeout", &self.webhook_timeout)
            .field("timeout_hold", &self.timeout_hold)
            .field("max_stored_messages", &self.max_stored_messages)
            .field("http_workers", &self.http_workers)
            .field("templates", &self.templates.as_ref().map(Vec::len))
            .finish()
    }
}

/// A setting that cannot work: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

fn bad(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

fn fraction(setting: &'static str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(bad(
            setting,
            format!("{value} is not a fraction between 0 and 1"),
        ))
    }
}

impl SandboxConfig {
    /// Checks every setting; [`crate::Sandbox::start`] refuses a config that fails.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.webhook_url {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| bad("webhook_url", format!("`{url}` is not a URL: {e}")))?;
            if parsed.scheme() != "http" {
                return Err(bad(
                    "webhook_url",
                    format!("`{url}`: the sandbox posts plain http:// only (it runs on loopback)"),
                ));
            }
        }
        for (setting, id) in [
            ("phone_number_id", &self.phone_number_id),
            ("waba_id", &self.waba_id),
            ("display_phone_number", &self.display_phone_number),
        ] {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(setting, format!("`{id}` is not a string of digits")));
            }
        }
        if self.access_token.as_deref() == Some("") {
            return Err(bad("access_token", "is empty"));
        }
        let mut total = 0.0;
        for (kind, rate) in &self.error_rates {
            fraction("error_rates", *rate)?;
            if let ErrorKind::Meta(code) = kind
                && errors::lookup(*code).is_none()
            {
                return Err(bad("error_rates", format!("unknown Meta code {code}")));
            }
            total += rate;
        }
        if total > 1.0 + 1e-9 {
            return Err(bad(
                "error_rates",
                format!("the fractions add up to {total}, more than 1"),
            ));
        }
        let mut total = 0.0;
        for (code, rate) in &self.async_failures {
            fraction("async_failures", *rate)?;
            if errors::lookup(*code).is_none() || *code == 190 {
                return Err(bad(
                    "async_failures",
                    format!(
                        "{code} cannot fail a message after acceptance: use one of {}",
                        errors::known_codes().replace("190, ", "")
                    ),
                ));
            }
            total += rate;
        }
        if total > 1.0 + 1e-9 {
            return Err(bad(
                "async_failures",
                format!("the fractions add up to {total}, more than 1"),
            ));
        }
        fraction("reorder_rate", self.reorder_rate)?;
        fraction("duplicate_rate", self.duplicate_rate)?;
        if !(1..=1000).contains(&self.batch_max) {
            return Err(bad(
                "batch_max",
                "must be between 1 and 1000 (Meta's maximum)",
            ));
        }
        if self.webhook_concurrency == 0 {
            return Err(bad("webhook_concurrency", "must be at least 1"));
        }
        if self.http_workers == 0 {
            return Err(bad("http_workers", "must be at least 1"));
        }
        if self.media_url_ttl.is_zero() {
            return Err(bad("media_url_ttl", "must be longer than zero"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_parse_and_print() {
        assert_eq!("130429".parse(), Ok(ErrorKind::Meta(130429)));
        assert_eq!("500".parse(), Ok(ErrorKind::Http500));
        assert_eq!("Timeout".parse(), Ok(ErrorKind::Timeout));
        assert!("12".parse::<ErrorKind>().unwrap_err().contains("130429"));
        assert_eq!(ErrorKind::Meta(190).to_string(), "190");
        assert_eq!(ErrorKind::Timeout.to_string(), "timeout");
    }

    #[test]
    fn default_is_valid_and_bad_settings_are_named() {
        SandboxConfig::default().validate().unwrap();
        let err = SandboxConfig {
            error_rates: vec![(ErrorKind::Meta(130429), 0.7), (ErrorKind::Http500, 0.5)],
            ..SandboxConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.setting, "error_rates");
        let err = SandboxConfig {
            webhook_url: Some("https://example.com/hook".into()),
            ..SandboxConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.setting, "webhook_url");
        let err = SandboxConfig {
            async_failures: vec![(190, 0.1)],
            ..SandboxConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.setting, "async_failures");
        let err = SandboxConfig {
            batch_max: 0,
            ..SandboxConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.setting, "batch_max");
    }

    #[test]
    fn debug_hides_secrets() {
        let config = SandboxConfig {
            app_secret: Some("s3cret".into()),
            access_token: Some("EAAG-token".into()),
            ..SandboxConfig::default()
        };
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret") && !text.contains("EAAG-token"));
    }
}
