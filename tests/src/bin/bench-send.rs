//! `make bench-send`: messages through the API, out to the sandbox (playing Meta with added
//! latency), paced to the channel's limit, and back as sent/delivered/read webhooks.
//!
//! Reports the sustained send rate measured at the sandbox (accepted ÷ time from first to
//! last acceptance), the most sends Meta saw in any one-second window (must not exceed the
//! channel's limit), and the time from the first API call until every message is READ.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use diesel::prelude::*;
use serde_json::json;
use switchboard_e2e::Workdir;
use switchboard_e2e::server::Server;
use switchboard_sandbox::{Sandbox, SandboxConfig};
use switchboard_store::schema::message_logs;
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455667";
const APP_SECRET: &str = "bench-app-secret";

#[derive(Parser)]
#[command(about = "Benchmark outbound sending (see docs/benchmarks.md)")]
struct Args {
    /// sqlite (synchronous=FULL) or postgres (SWITCHBOARD_TEST_DATABASE_URL).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Messages sent through the API.
    #[arg(long, default_value_t = 20_000)]
    count: usize,
    /// The channel's messages-per-second limit.
    #[arg(long, default_value_t = 1_000)]
    limit: u32,
    /// Latency the sandbox adds to every Graph call, in milliseconds.
    #[arg(long, default_value_t = 150)]
    latency_ms: u64,
    /// Statuses per webhook body at most (Meta batches them).
    #[arg(long, default_value_t = 50)]
    batch_max: usize,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t = switchboard_e2e::bench::bench_db(&args.backend)?;
    switchboard_e2e::install_tls();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(run(&t, &args))
}

async fn run(t: &TestDb, args: &Args) -> Result<()> {
    let work = Workdir::new();
    let bind = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port()
    );
    let sandbox = Sandbox::start(SandboxConfig {
        webhook_url: Some(format!("http://{bind}/api/webhooks/whatsapp")),
        app_secret: Some(APP_SECRET.into()),
        latency: Duration::from_millis(args.latency_ms),
        batch_max: args.batch_max,
        ..SandboxConfig::default()
    })
    .await?;
    let mut cmd = work.command(&t.url(), &["start"]);
    cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG-bench")
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_API_URL", sandbox.api_url())
        .env("WHATSAPP_MESSAGES_PER_SECOND", args.limit.to_string())
        .env("RUST_LOG", "warn,switchboard_cli=info");
    let mut server = Server::start_at(cmd, &bind);
    let token = work.ok(
        &t.url(),
        &["token", "create", "--org", "default", "--role", "ADMIN"],
    );

    let started = Instant::now();
    post_all(&server, &token, args).await?;
    let queued_in = started.elapsed();
    wait_all_read(t, args.count, Duration::from_secs(600)).await?;
    let read_in = started.elapsed();
    let stats = sandbox.stats();
    let (Some(first), Some(last)) = (stats.first_accepted_at, stats.last_accepted_at) else {
        bail!("the sandbox accepted nothing");
    };
    let span = (last - first).num_milliseconds().max(1) as f64 / 1000.0;
    let sustained = stats.accepted_messages as f64 / span;
    println!(
        "bench-send backend={} count={} limit={} latency={}ms batch_max={}",
        args.backend, args.count, args.limit, args.latency_ms, args.batch_max
    );
    println!(
        "  queued through the API in {:.2}s ({:.0}/s)",
        queued_in.as_secs_f64(),
        args.count as f64 / queued_in.as_secs_f64()
    );
    println!(
        "  sent: {} accepted by Meta in {span:.2}s = {sustained:.0} mps sustained; rejected {}",
        stats.accepted_messages, stats.rejected_messages
    );
    println!(
        "  most sends in any one-second window: {} (limit {}: {})",
        stats.max_per_second,
        args.limit,
        if stats.max_per_second <= u64::from(args.limit) {
            "never exceeded"
        } else {
            "EXCEEDED"
        }
    );
    println!(
        "  every message READ {:.2}s after the first API call",
        read_in.as_secs_f64()
    );
    server.terminate(Duration::from_secs(30));
    sandbox.stop().await;
    if stats.max_per_second > u64::from(args.limit) {
        bail!("the channel limit was exceeded");
    }
    Ok(())
}

/// Posts `count` template sends (bulk notifications go to people outside the 24-hour window)
/// to distinct recipients from `clients` connections.
async fn post_all(server: &Server, token: &str, args: &Args) -> Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let url = server.url("/api/integrations/whatsapp/send");
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, next, url, token) =
            (client.clone(), next.clone(), url.clone(), token.to_string());
        let count = args.count;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = json!({
                    "toPhone": format!("+55119{i:08}"),
                    "template": {"name": "order_update", "language": "pt_BR", "variables": [format!("#{i}")]},
                });
                let response = client.post(&url).bearer_auth(&token).json(&body).send().await?;
                if response.status() != 202 {
                    bail!("send {i}: {} {}", response.status(), response.text().await.unwrap_or_default());
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn wait_all_read(t: &TestDb, count: usize, within: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let db = t.db.clone();
        let read: i64 = tokio::task::spawn_blocking(move || -> Result<i64> {
            Ok(message_logs::table
                .filter(message_logs::status.eq("READ"))
                .count()
                .get_result(&mut *db.conn()?)?)
        })
        .await??;
        if read as usize >= count {
            return Ok(());
        }
        if started.elapsed() > within {
            bail!("only {read} of {count} messages were READ after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
