//! `make bench-runner`: how fast the job runner drains the queue and projects webhooks.
//!
//! - `noop`: 50,000 NOOP jobs enqueued, drained by N `switchboard runner` processes → jobs/s.
//! - `webhooks`: 50,000 stored webhooks (the fixture mix) projected by one runner → events/s.
//! - `latency`: `switchboard start`, webhooks posted at a steady 1,000/s → ack-to-projected
//!   latency p50/p99 (event stored → its projection committed).

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use switchboard_e2e::Workdir;
use switchboard_e2e::load::{SignedBody, fixture_mix};
use switchboard_e2e::server::Server;
use switchboard_store::db::write_transaction;
use switchboard_store::models::{WebhookEvent, new_id, now};
use switchboard_store::repo::{jobs, organizations, webhooks};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455667";
const WABA_ID: &str = "57438975935";
const APP_SECRET: &str = "bench-app-secret";

#[derive(Parser)]
#[command(about = "Benchmark the job runner (see docs/benchmarks.md)")]
struct Args {
    /// noop, webhooks or latency.
    #[arg(long)]
    scenario: String,
    /// sqlite (synchronous=FULL) or postgres (SWITCHBOARD_TEST_DATABASE_URL).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Jobs (or webhooks) in the run.
    #[arg(long, default_value_t = 50_000)]
    count: usize,
    /// Runner processes (noop and webhooks scenarios).
    #[arg(long, default_value_t = 1)]
    runners: usize,
    /// Webhooks per second in the latency scenario.
    #[arg(long, default_value_t = 1_000)]
    rate: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let t = switchboard_e2e::bench::bench_db(&args.backend)?;
    let work = Workdir::new();
    match args.scenario.as_str() {
        "noop" => noop(&t, &work, &args),
        "webhooks" => projected(&t, &work, &args),
        "latency" => latency(&t, &work, &args),
        other => bail!("--scenario must be noop, webhooks or latency, not {other}"),
    }
}

fn runner(work: &Workdir, t: &TestDb) -> Result<Child> {
    let mut cmd = work.command(&t.url(), &["runner"]);
    cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG-bench")
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_WABA_ID", WABA_ID)
        .env("SWITCHBOARD_JOB_CONCURRENCY", "256")
        .stdout(Stdio::null());
    // `BENCH_RUNNER_LOG=warn` (any RUST_LOG filter) shows the runners' logs, to see why a run
    // is slow; by default they are silenced so the figures stay readable.
    match std::env::var("BENCH_RUNNER_LOG") {
        Ok(filter) => cmd.env("RUST_LOG", filter).stderr(Stdio::inherit()),
        Err(_) => cmd.env("RUST_LOG", "error").stderr(Stdio::null()),
    };
    cmd.spawn().context("cannot start `switchboard runner`")
}

fn done(t: &TestDb, kind: &str) -> Result<i64> {
    use diesel::prelude::*;
    use switchboard_store::schema::integration_jobs as j;
    Ok(j::table
        .filter(j::kind.eq(kind))
        .filter(j::status.eq("DONE"))
        .count()
        .get_result(&mut *t.db.conn()?)?)
}

/// True when no job of the measured kind waits or runs: one index probe, cheap enough to poll
/// often. Other kinds the measured jobs queue (DOWNLOAD_MEDIA for media messages, which retry
/// against the unreachable Graph API here) are not part of the measure.
fn drained(t: &TestDb, kind: &str) -> Result<bool> {
    use diesel::prelude::*;
    use switchboard_store::schema::integration_jobs as j;
    let waiting: Option<String> = j::table
        .filter(j::status.eq_any(["PENDING", "RUNNING"]))
        .filter(j::kind.eq(kind))
        .select(j::id)
        .first(&mut *t.db.conn()?)
        .optional()?;
    Ok(waiting.is_none())
}

fn drain(t: &TestDb, work: &Workdir, args: &Args, kind: &str, what: &str) -> Result<()> {
    let started = Instant::now();
    let mut children: Vec<Child> = (0..args.runners.max(1))
        .map(|_| runner(work, t))
        .collect::<Result<_>>()?;
    let deadline = started + Duration::from_secs(600);
    while !drained(t, kind)? {
        if Instant::now() > deadline {
            bail!("not drained within 10 minutes ({} done)", done(t, kind)?);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if done(t, kind)? != args.count as i64 {
        bail!(
            "the queue drained but only {} of {} jobs are DONE",
            done(t, kind)?,
            args.count
        );
    }
    let elapsed = started.elapsed();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "{what}, {}, {} runner process(es): {} in {:.2} s = {:.0}/s (from process start, runner concurrency 256)",
        args.backend,
        args.runners,
        args.count,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}

fn noop(t: &TestDb, work: &Workdir, args: &Args) -> Result<()> {
    let at = now();
    let all: Vec<_> = (0..args.count)
        .map(|_| jobs::new_job("NOOP", None, "{}".into(), at))
        .collect();
    let mut conn = t.db.conn()?;
    for chunk in all.chunks(1000) {
        write_transaction(&mut conn, |c| jobs::insert_jobs(c, chunk))?;
    }
    drop(conn);
    drain(t, work, args, "NOOP", "no-op jobs")
}

fn projected(t: &TestDb, work: &Workdir, args: &Args) -> Result<()> {
    let org = {
        let mut conn = t.db.conn()?;
        organizations::ensure_organization(&mut conn, "Default", "default")?
    };
    // The runner's bootstrap creates the channel; make it exist before events are projected.
    let mut warm = runner(work, t)?;
    std::thread::sleep(Duration::from_secs(2));
    let _ = warm.kill();
    let _ = warm.wait();
    let bodies = fixture_mix(
        args.count,
        APP_SECRET,
        PHONE_NUMBER_ID,
        WABA_ID,
        "projected",
    );
    let mut conn = t.db.conn()?;
    for chunk in bodies.chunks(1000) {
        let events: Vec<WebhookEvent> = chunk.iter().map(|b| event(&org.id, b)).collect();
        write_transaction(&mut conn, |c| webhooks::insert_events_with_jobs(c, &events))?;
    }
    drop(conn);
    drain(
        t,
        work,
        args,
        "PROCESS_WEBHOOK",
        "PROCESS_WEBHOOK events projected",
    )
}

fn event(org: &str, body: &SignedBody) -> WebhookEvent {
    WebhookEvent {
        id: new_id(),
        organization_id: Some(org.to_string()),
        channel_id: None,
        provider: "WHATSAPP".into(),
        body: body.body.clone(),
        body_sha256: sha256_hex(&body.body),
        headers: "{}".into(),
        status: "PENDING".into(),
        error: None,
        received_at: now(),
        processed_at: None,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn latency(t: &TestDb, work: &Workdir, args: &Args) -> Result<()> {
    let mut cmd = work.command(&t.url(), &["start"]);
    cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG-bench")
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_WABA_ID", WABA_ID)
        .env("RUST_LOG", "warn,switchboard_cli=info");
    let server = Server::start(cmd);
    let bodies = Arc::new(fixture_mix(
        args.count,
        APP_SECRET,
        PHONE_NUMBER_ID,
        WABA_ID,
        "latency",
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let url = server.url("/api/webhooks/whatsapp");
    // Open loop: one webhook every 1/rate s whatever the answers, as Meta sends them.
    let sent: HashMap<String, chrono::NaiveDateTime> = runtime.block_on(async {
        switchboard_e2e::install_tls();
        let client = reqwest::Client::new();
        let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
        let mut tasks = Vec::with_capacity(bodies.len());
        for body in bodies.iter().cloned() {
            tick.tick().await;
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let at = now();
                let ok = client
                    .post(&url)
                    .header("x-hub-signature-256", &body.signature)
                    .body(body.body.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                ok.then(|| (sha256_hex(&body.body), at))
            }));
        }
        let mut sent = HashMap::new();
        for task in tasks {
            if let Ok(Some((sha, at))) = task.await {
                sent.insert(sha, at);
            }
        }
        sent
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while done(t, "PROCESS_WEBHOOK")? < sent.len() as i64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut conn = t.db.conn()?;
    let mut latencies: Vec<f64> = webhooks::list_events(&mut conn)?
        .into_iter()
        .filter_map(|e| {
            Some((e.processed_at? - *sent.get(&e.body_sha256)?).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((p / 100.0) * (latencies.len().saturating_sub(1)) as f64).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "ack-to-projected, {}, {}/s for {} webhooks: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} of {} projected)",
        args.backend,
        args.rate,
        args.count,
        pct(50.0),
        pct(99.0),
        latencies.last().copied().unwrap_or(0.0),
        latencies.len(),
        sent.len()
    );
    Ok(())
}
