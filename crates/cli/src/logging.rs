//! Tracing set-up: human-readable lines on a terminal, JSON with `LOG_FORMAT=json`.
//! Logs go to stderr so stdout stays clean for what commands print (ids, tokens).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber; nothing to report.
    drop(result);
}

/// Reads LOG_FORMAT before the rest of the configuration, so even a configuration error
/// is reported in the format the operator's log pipeline expects.
pub fn format_from_env() -> LogFormat {
    match std::env::var("LOG_FORMAT") {
        Ok(v) if v.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}
