//! `switchboard sandbox`: the clap types and what they run. The binary owns parsing and
//! logging set-up; it hands [`SandboxArgs`] to [`run`].

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{Value, json};

use crate::config::{
    DEFAULT_DISPLAY_PHONE_NUMBER, DEFAULT_PHONE_NUMBER_ID, DEFAULT_WABA_ID, ErrorKind,
    SandboxConfig,
};
use crate::inbound::post_webhook;
use crate::media::mime_from_extension;
use crate::multipart::{self, Part};
use crate::payloads::{self, Business, MediaRef, Sender};
use crate::{Sandbox, errors};

/// A secret given on the command line (or its environment variable): `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A local stand-in for Meta's WhatsApp Cloud API, for tests, benchmarks and trying
/// Switchboard without a Meta account.
///
/// Without a subcommand it serves the Graph endpoints Switchboard calls (sends, mark-as-read,
/// media, templates) and posts signed status webhooks (sent, delivered, read) for every
/// accepted message, until Ctrl-C or SIGTERM. Counters: GET /sandbox/stats.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: Option<SandboxCommand>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SandboxCommand {
    /// Post one signed inbound message webhook (a user writing to the business) and exit:
    /// 0 when answered 200, non-zero otherwise.
    Inbound(InboundArgs),
}

/// The business webhooks speak for (signed with its app secret), as in Meta's metadata.
#[derive(Debug, Clone, Args)]
pub struct BusinessArgs {
    /// App secret that signs webhooks (X-Hub-Signature-256); give the receiver the same one.
    /// Without it webhooks go out unsigned.
    #[arg(
        long,
        env = "WHATSAPP_APP_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub app_secret: Option<Secret>,

    /// The business number in webhook metadata (metadata.phone_number_id); sends use the one
    /// in their URL.
    #[arg(long, env = "WHATSAPP_PHONE_NUMBER_ID", default_value = DEFAULT_PHONE_NUMBER_ID, value_name = "ID")]
    pub phone_number_id: String,

    /// Display phone number in webhook metadata.
    #[arg(long, default_value = DEFAULT_DISPLAY_PHONE_NUMBER, value_name = "DIGITS")]
    pub display_phone_number: String,

    /// WhatsApp Business Account id: entry[].id of webhooks, and the WABA whose templates are listed.
    #[arg(long, env = "WHATSAPP_WABA_ID", default_value = DEFAULT_WABA_ID, value_name = "ID")]
    pub waba_id: String,
}

/// Serving: where, as which business, with what trouble.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(
        long,
        env = "SWITCHBOARD_SANDBOX_BIND",
        default_value = "127.0.0.1:8090"
    )]
    pub bind: SocketAddr,

    /// Where status webhooks are posted: Switchboard's webhook URL, e.g.
    /// http://127.0.0.1:8080/api/webhooks/whatsapp (http only). Without it, none are sent.
    #[arg(long, env = "SWITCHBOARD_SANDBOX_WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: Option<String>,

    #[command(flatten)]
    pub business: BusinessArgs,

    /// Accept only this bearer token (any other gets error 190, HTTP 401). By default any
    /// non-empty token is accepted; a missing one is always refused.
    #[arg(long, value_name = "TOKEN")]
    pub access_token: Option<Secret>,

    /// Delay added before answering each Graph call.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,

    /// Answer this fraction of sends with an error instead (repeatable; fractions add up to 1
    /// at most). CODE: 130429, 131056, 131047, 131026, 190, 131000 (or another Meta code the
    /// sandbox knows), 500 (HTTP 500, non-JSON body) or timeout (the request is held, see
    /// --timeout-hold-secs). FRACTION: 0.05 or 5%.
    #[arg(long = "error-rate", value_name = "CODE=FRACTION", value_parser = parse_error_rate)]
    pub error_rates: Vec<(ErrorKind, f64)>,

    /// Accept this fraction of sends (200, wamid), then report them with a `failed` status
    /// webhook carrying CODE instead of delivered/read (repeatable), as Meta reports 131047
    /// and 131026.
    #[arg(long = "fail-async", value_name = "CODE=FRACTION", value_parser = parse_async_failure)]
    pub async_failures: Vec<(i64, f64)>,

    /// Delay from acceptance to the `sent` webhook.
    #[arg(long, default_value_t = 20, value_name = "MS")]
    pub sent_after_ms: u64,

    /// Delay from acceptance to the `delivered` webhook.
    #[arg(long, default_value_t = 60, value_name = "MS")]
    pub delivered_after_ms: u64,

    /// Delay from acceptance to the `read` webhook.
    #[arg(long, default_value_t = 150, value_name = "MS")]
    pub read_after_ms: u64,

    /// Stop at `delivered`: no `read` webhooks.
    #[arg(long)]
    pub no_read: bool,

    /// Statuses per webhook body at most: statuses due at about the same time are batched,
    /// as Meta does (up to 1000).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub batch_max: usize,

    /// With --batch-max above 1: statuses due within this long of the first join its body.
    #[arg(long, default_value_t = 10, value_name = "MS")]
    pub batch_window_ms: u64,

    /// Fraction of messages whose statuses arrive in shuffled order (e.g. read before sent).
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", value_parser = parse_fraction)]
    pub reorder_rate: f64,

    /// Fraction of webhook bodies delivered twice.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION", value_parser = parse_fraction)]
    pub duplicate_rate: f64,

    /// How long a media download URL works (Meta: 5 minutes); after that it answers 404.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub media_url_ttl_secs: u64,

    /// Webhook POSTs in flight at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub webhook_concurrency: usize,

    /// Retries of a webhook POST not answered 2xx (after 0.25 s, 1 s, 4 s …) before it is
    /// given up and counted in webhooksFailed.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub webhook_retries: u32,

    /// How long an injected `timeout` holds the request before letting go.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout_hold_secs: u64,

    /// Templates to list instead of the built-in samples: a JSON file holding an array of
    /// templates or a Graph answer with `data`.
    #[arg(long, value_name = "FILE")]
    pub templates: Option<PathBuf>,

    /// HTTP worker threads.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub http_workers: usize,
}

/// One inbound message webhook.
#[derive(Debug, Clone, Args)]
#[command(group(
    ArgGroup::new("content")
        .required(true)
        .args(["text", "image", "button_reply", "list_reply"])
))]
pub struct InboundArgs {
    /// Switchboard's webhook URL.
    #[arg(long, env = "SWITCHBOARD_SANDBOX_WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: String,

    #[command(flatten)]
    pub business: BusinessArgs,

    /// The user's number, digits with country code (wa_id and from).
    #[arg(long, value_name = "DIGITS")]
    pub from: String,

    /// The user's profile name.
    #[arg(long, default_value = "Sandbox User")]
    pub name: String,

    /// Send a text message.
    #[arg(long, value_name = "BODY")]
    pub text: Option<String>,

    /// Send an image: a media id, or a file (.jpg, .png, .webp) whose hash and type are used;
    /// with --api-url the file is uploaded to that sandbox first so the id can be downloaded.
    #[arg(long, value_name = "MEDIA_ID|PATH")]
    pub image: Option<String>,

    /// Caption of the image.
    #[arg(long, requires = "image")]
    pub caption: Option<String>,

    /// Send a tap on a reply button.
    #[arg(long, value_name = "ID:TITLE", value_parser = parse_reply)]
    pub button_reply: Option<(String, String)>,

    /// Send a choice from a list message.
    #[arg(long, value_name = "ID:TITLE", value_parser = parse_reply)]
    pub list_reply: Option<(String, String)>,

    /// The wamid of the business message this answers (context.id); made up for button and
    /// list replies when omitted.
    #[arg(long, value_name = "WAMID")]
    pub context: Option<String>,

    /// A running sandbox (e.g. http://127.0.0.1:8090) to upload an --image file to.
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,

    /// Bearer token for the upload.
    #[arg(long, default_value = "sandbox", value_name = "TOKEN")]
    pub access_token: Secret,

    /// Graph version segment for the upload.
    #[arg(long, default_value = "v25.0", value_name = "VERSION")]
    pub api_version: String,
}

/// `0.05`, `5%` → 0.05; must lie in [0, 1].
pub fn parse_fraction(raw: &str) -> Result<f64, String> {
    let raw = raw.trim();
    let value = match raw.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => raw.parse::<f64>(),
    }
    .map_err(|_| format!("`{raw}` is not a fraction (0.05 or 5%)"))?;
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{raw}` is not between 0 and 1"))
    }
}

fn split_rate(raw: &str) -> Result<(&str, f64), String> {
    let (code, fraction) = raw
        .split_once('=')
        .ok_or_else(|| format!("`{raw}` is not CODE=FRACTION (e.g. 130429=0.05)"))?;
    Ok((code.trim(), parse_fraction(fraction)?))
}

/// `130429=0.05`, `500=1%`, `timeout=0.01`.
pub fn parse_error_rate(raw: &str) -> Result<(ErrorKind, f64), String> {
    let (code, fraction) = split_rate(raw)?;
    Ok((code.parse()?, fraction))
}

/// `131047=0.1`: a Meta code that can fail a message after acceptance.
pub fn parse_async_failure(raw: &str) -> Result<(i64, f64), String> {
    let (code, fraction) = split_rate(raw)?;
    match code.parse::<i64>() {
        Ok(n) if n != 190 && errors::lookup(n).is_some() => Ok((n, fraction)),
        _ => Err(format!(
            "`{code}` cannot fail a message after acceptance: use one of {}",
            errors::known_codes().replace("190, ", "")
        )),
    }
}

/// `ID:TITLE` (the title may contain colons).
pub fn parse_reply(raw: &str) -> Result<(String, String), String> {
    match raw.split_once(':') {
        Some((id, title)) if !id.is_empty() && !title.is_empty() => {
            Ok((id.to_string(), title.to_string()))
        }
        _ => Err(format!("`{raw}` is not ID:TITLE (e.g. yes:Yes, please)")),
    }
}

impl ServeArgs {
    pub fn to_config(&self) -> Result<SandboxConfig> {
        let templates = match &self.templates {
            None => None,
            Some(path) => Some(read_templates(path)?),
        };
        let config = SandboxConfig {
            bind: self.bind,
            webhook_url: self.webhook_url.clone(),
            app_secret: self
                .business
                .app_secret
                .as_ref()
                .map(|s| s.expose().to_string()),
            phone_number_id: self.business.phone_number_id.clone(),
            display_phone_number: self.business.display_phone_number.clone(),
            waba_id: self.business.waba_id.clone(),
            access_token: self.access_token.as_ref().map(|s| s.expose().to_string()),
            latency: Duration::from_millis(self.latency_ms),
            error_rates: self.error_rates.clone(),
            async_failures: self.async_failures.clone(),
            sent_after: Duration::from_millis(self.sent_after_ms),
            delivered_after: Duration::from_millis(self.delivered_after_ms),
            read_after: Duration::from_millis(self.read_after_ms),
            send_read: !self.no_read,
            batch_max: self.batch_max,
            batch_window: Duration::from_millis(self.batch_window_ms),
            reorder_rate: self.reorder_rate,
            duplicate_rate: self.duplicate_rate,
            media_url_ttl: Duration::from_secs(self.media_url_ttl_secs),
            webhook_concurrency: self.webhook_concurrency,
            webhook_retries: self.webhook_retries,
            timeout_hold: Duration::from_secs(self.timeout_hold_secs),
            http_workers: self.http_workers,
            templates,
            ..SandboxConfig::default()
        };
        config
            .validate()
            .map_err(|e| anyhow!("sandbox settings: {e}"))?;
        Ok(config)
    }
}

fn read_templates(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --templates {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("--templates {} is not JSON", path.display()))?;
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(mut map) => match map.remove("data") {
            Some(Value::Array(items)) => Ok(items),
            _ => bail!(
                "--templates {}: expected an array of templates or an object with `data`",
                path.display()
            ),
        },
        _ => bail!(
            "--templates {}: expected an array of templates or an object with `data`",
            path.display()
        ),
    }
}

/// Runs `switchboard sandbox [inbound]`.
pub async fn run(args: SandboxArgs) -> Result<()> {
    match args.command {
        Some(SandboxCommand::Inbound(inbound)) => run_inbound(inbound).await,
        None => serve(&args.serve).await,
    }
}

async fn serve(args: &ServeArgs) -> Result<()> {
    let config = args.to_config()?;
    let handle = Sandbox::start(config)
        .await
        .with_context(|| format!("cannot start the sandbox on {}", args.bind))?;
    let api_url = handle.api_url();
    let token = match &args.access_token {
        Some(_) => " WHATSAPP_ACCESS_TOKEN=<the --access-token value>",
        None => "",
    };
    let webhooks = match &args.webhook_url {
        Some(url) => format!("status webhooks go to {url}"),
        None => "no status webhooks (no --webhook-url)".to_string(),
    };
    println!(
        "sandbox listening on {api_url}: set WHATSAPP_API_URL={api_url} WHATSAPP_PHONE_NUMBER_ID={} WHATSAPP_WABA_ID={}{token}; {webhooks}; stats at {api_url}/sandbox/stats",
        args.business.phone_number_id, args.business.waba_id
    );
    shutdown_signal().await;
    tracing::info!("sandbox stopping");
    handle.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run_inbound(args: InboundArgs) -> Result<()> {
    let client = crate::http_client()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build the HTTP client")?;
    let business = Business {
        waba_id: args.business.waba_id.clone(),
        phone_number_id: args.business.phone_number_id.clone(),
        display_phone_number: args.business.display_phone_number.clone(),
    };
    if args.from.is_empty() || !args.from.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "--from `{}` must be digits with the country code, e.g. 5511999990000",
            args.from
        );
    }
    let sender = Sender::new(args.from.clone(), args.name.clone());
    let context = args.context.as_deref();
    let (kind, payload) = if let Some(text) = &args.text {
        let mut message = json!({ "type": "text", "text": { "body": text } });
        if let Some(wamid) = context {
            message["context"] = json!({ "from": business.display_phone_number, "id": wamid });
        }
        (
            "text",
            payloads::inbound_message(&business, &sender, message),
        )
    } else if let Some(image) = &args.image {
        let mut media = image_ref(&client, &args, image).await?;
        media.caption = args.caption.clone();
        ("image", payloads::inbound_image(&business, &sender, &media))
    } else if let Some((id, title)) = &args.button_reply {
        (
            "button reply",
            payloads::inbound_button_reply(&business, &sender, context, id, title),
        )
    } else if let Some((id, title)) = &args.list_reply {
        (
            "list reply",
            payloads::inbound_list_reply(&business, &sender, context, id, title, None),
        )
    } else {
        bail!("say what to send: --text, --image, --button-reply or --list-reply");
    };
    let wamid = payloads::message_id(&payload)
        .unwrap_or_default()
        .to_string();
    match post_webhook(
        &client,
        &args.webhook_url,
        args.business.app_secret.as_ref().map(Secret::expose),
        &payload,
    )
    .await
    {
        Ok(delivered) => {
            println!(
                "posted {kind} {wamid} from {} to {}: HTTP {} {}",
                args.from,
                args.webhook_url,
                delivered.status,
                delivered.body.trim()
            );
            Ok(())
        }
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("inbound {kind} {wamid} not accepted")))
        }
    }
}

/// The image of an inbound message: a given media id, or a file (uploaded when --api-url).
async fn image_ref(client: &reqwest::Client, args: &InboundArgs, image: &str) -> Result<MediaRef> {
    if !image.is_empty() && image.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(MediaRef {
            id: image.to_string(),
            ..MediaRef::fake_jpeg()
        });
    }
    let path = Path::new(image);
    let data = std::fs::read(path).with_context(|| {
        format!("--image `{image}` is neither a media id (digits) nor a readable file")
    })?;
    let mime_type = mime_from_extension(path)
        .filter(|m| m.starts_with("image/"))
        .ok_or_else(|| anyhow!("--image {image}: use a .jpg, .png or .webp file"))?;
    let sha256 = base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, &data));
    let id = match &args.api_url {
        Some(api_url) => upload(client, args, api_url, path, mime_type, data).await?,
        None => crate::ids::numeric_id(),
    };
    Ok(MediaRef {
        id,
        mime_type: mime_type.to_string(),
        sha256,
        caption: None,
    })
}

async fn upload(
    client: &reqwest::Client,
    args: &InboundArgs,
    api_url: &str,
    path: &Path,
    mime_type: &str,
    data: Vec<u8>,
) -> Result<String> {
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let (content_type, body) = multipart::encode(&[
        Part::text("messaging_product", "whatsapp"),
        Part::file("file", &filename, mime_type, data),
    ]);
    let url = format!(
        "{}/{}/{}/media",
        api_url.trim_end_matches('/'),
        args.api_version,
        args.business.phone_number_id
    );
    let response = client
        .post(&url)
        .bearer_auth(args.access_token.expose())
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot upload the image to {url}"))?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .with_context(|| format!("the upload to {url} did not answer JSON"))?;
    match answer["id"].as_str() {
        Some(id) if status.is_success() => Ok(id.to_string()),
        _ => bail!("the upload to {url} answered HTTP {status}: {answer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, Subcommand)]
    enum Top {
        Sandbox(SandboxArgs),
    }

    fn parse(args: &[&str]) -> Result<SandboxArgs, clap::Error> {
        let mut argv = vec!["switchboard", "sandbox"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv).map(|w| match w.command {
            Top::Sandbox(args) => args,
        })
    }

    #[test]
    fn the_command_is_well_formed() {
        Wrapper::command().debug_assert();
    }

    #[test]
    fn serve_flags_become_a_config() {
        let args = parse(&[
            "--bind",
            "127.0.0.1:0",
            "--webhook-url",
            "http://127.0.0.1:8080/api/webhooks/whatsapp",
            "--app-secret",
            "s3cret",
            "--latency-ms",
            "5",
            "--error-rate",
            "130429=0.1",
            "--error-rate",
            "timeout=1%",
            "--fail-async",
            "131047=0.2",
            "--no-read",
            "--batch-max",
            "50",
        ])
        .unwrap();
        assert!(args.command.is_none());
        let config = args.serve.to_config().unwrap();
        assert_eq!(config.latency, Duration::from_millis(5));
        assert_eq!(
            config.error_rates,
            vec![(ErrorKind::Meta(130429), 0.1), (ErrorKind::Timeout, 0.01)]
        );
        assert_eq!(config.async_failures, vec![(131047, 0.2)]);
        assert!(!config.send_read);
        assert_eq!(config.batch_max, 50);
        assert_eq!(config.app_secret.as_deref(), Some("s3cret"));
        let shown = format!("{args:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let err = parse(&["--error-rate", "42=0.1"]).unwrap_err().to_string();
        assert!(err.contains("--error-rate"), "{err}");
        assert!(parse(&["--error-rate", "130429"]).is_err());
        assert!(parse(&["--error-rate", "130429=2"]).is_err());
        assert!(parse(&["--fail-async", "190=0.1"]).is_err());
        assert!(parse(&["--reorder-rate", "-1"]).is_err());
    }

    #[test]
    fn inbound_needs_exactly_one_content() {
        let ok = parse(&[
            "inbound",
            "--webhook-url",
            "http://127.0.0.1:1/webhooks/whatsapp",
            "--from",
            "5511999990000",
            "--button-reply",
            "yes:Yes: please",
        ])
        .unwrap();
        let Some(SandboxCommand::Inbound(inbound)) = ok.command else {
            panic!("not inbound")
        };
        assert_eq!(
            inbound.button_reply,
            Some(("yes".to_string(), "Yes: please".to_string()))
        );
        assert_eq!(inbound.name, "Sandbox User");
        let none = parse(&[
            "inbound",
            "--webhook-url",
            "http://x",
            "--from",
            "5511999990000",
        ]);
        assert!(none.is_err());
        let two = parse(&[
            "inbound",
            "--webhook-url",
            "http://x",
            "--from",
            "1",
            "--text",
            "a",
            "--list-reply",
            "a:b",
        ]);
        assert!(two.is_err());
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        assert_eq!(parse_fraction("5%"), Ok(0.05));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("NaN").is_err());
        assert!(parse_fraction("x").is_err());
    }
}
