//! `make bench-ingest`: signed, realistic webhooks at 64 connections against `switchboard start`
//! on a fresh database, then the same load against a no-op actix handler (this machine's ceiling).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use switchboard_e2e::Workdir;
use switchboard_e2e::bench::post_all;
use switchboard_e2e::load::fixture_mix;
use switchboard_e2e::server::Server;
use switchboard_store::repo::{jobs, webhooks};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455667";
const WABA_ID: &str = "57438975935";
const APP_SECRET: &str = "bench-app-secret";

#[derive(Parser)]
#[command(about = "Benchmark the webhook ack path (see docs/benchmarks.md)")]
struct Args {
    /// sqlite (synchronous=FULL) or postgres (SWITCHBOARD_TEST_DATABASE_URL).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// Webhooks posted in the measured run.
    #[arg(long, default_value_t = 50_000)]
    requests: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured rounds (each with fresh bodies); the median round is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Skip the no-op ceiling run.
    #[arg(long)]
    no_ceiling: bool,
    /// Internal: serve the no-op handler on this address and print its port.
    #[arg(long, hide = true)]
    noop_server: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.noop_server {
        return noop_server();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let warmup = 2_000;
    let rounds = args.rounds.max(1);
    let bodies = fixture_mix(
        warmup + rounds * args.requests,
        APP_SECRET,
        PHONE_NUMBER_ID,
        WABA_ID,
        "bench",
    );
    let warm = Arc::new(bodies[..warmup].to_vec());
    let round_bodies: Vec<Arc<Vec<_>>> = bodies[warmup..]
        .chunks(args.requests)
        .map(|chunk| Arc::new(chunk.to_vec()))
        .collect();
    let avg = bodies.iter().map(|b| b.body.len()).sum::<usize>() / bodies.len().max(1);
    println!(
        "machine: {} cores; {} rounds of {} webhooks (fixture mix, every 10th batched; avg {} bytes), {} connections",
        cores(),
        rounds,
        args.requests,
        avg,
        args.concurrency
    );

    let t = match args.backend.as_str() {
        "sqlite" => TestDb::empty_sqlite(),
        "postgres" => TestDb::empty_postgres()
            .context("set SWITCHBOARD_TEST_DATABASE_URL for the postgres benchmark")?,
        other => bail!("--backend must be sqlite or postgres, not {other}"),
    };
    let work = Workdir::new();
    let mut cmd = work.command(&t.url(), &["start"]);
    cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG-bench")
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_WABA_ID", WABA_ID)
        .env("JOB_RUNNER_ENABLED", "false")
        .env("RUST_LOG", "warn,switchboard_cli=info");
    let mut server = Server::start(cmd);
    let url = server.url("/api/webhooks/whatsapp");
    runtime.block_on(post_all(&url, Arc::clone(&warm), args.concurrency));
    let label = match args.backend.as_str() {
        "sqlite" => "switchboard, SQLite synchronous=FULL",
        _ => "switchboard, PostgreSQL",
    };
    let mut reports = Vec::new();
    for (round, bodies) in round_bodies.iter().enumerate() {
        let report = runtime.block_on(post_all(&url, Arc::clone(bodies), args.concurrency));
        println!("  round {}: {}", round + 1, report.line(label));
        reports.push(report);
    }
    server.terminate(Duration::from_secs(30));
    let accepted: usize = reports.iter().map(|r| r.ok).sum();
    let report = median(reports);
    println!("{}", report.line(&format!("{label} (median)")));

    // Every 200 must be a stored event with its job: a benchmark that loses data measures nothing.
    let mut conn = t.db.conn()?;
    let (events, job_count) = (
        webhooks::count_events(&mut conn)?,
        jobs::count_jobs(&mut conn)?,
    );
    let expected = (warmup + accepted) as i64;
    println!("stored: {events} events, {job_count} jobs (expected {expected})");
    if events < expected || job_count != events {
        bail!("stored rows do not match the accepted webhooks");
    }

    if !args.no_ceiling {
        let mut noop = Command::new(std::env::current_exe()?);
        noop.arg("--noop-server");
        let ceiling_server = Server::start(noop);
        let url = ceiling_server.url("/api/webhooks/whatsapp");
        runtime.block_on(post_all(&url, warm, args.concurrency));
        let mut ceilings = Vec::new();
        for bodies in &round_bodies {
            ceilings.push(runtime.block_on(post_all(&url, Arc::clone(bodies), args.concurrency)));
        }
        let ceiling = median(ceilings);
        println!("{}", ceiling.line("no-op actix handler (median)"));
        println!(
            "switchboard reaches {:.0} % of the ceiling",
            100.0 * report.per_second() / ceiling.per_second()
        );
    }
    Ok(())
}

/// The round with the median throughput.
fn median(
    mut reports: Vec<switchboard_e2e::bench::LoadReport>,
) -> switchboard_e2e::bench::LoadReport {
    reports.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    let middle = reports.len() / 2;
    reports.swap_remove(middle)
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// Answers 200 to every POST after reading its body: the fastest a webhook target can be here.
fn noop_server() -> Result<()> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    actix_web::rt::System::new().block_on(async {
        let server = HttpServer::new(|| {
            App::new().default_service(web::to(|_body: web::Bytes| async {
                HttpResponse::Ok().body("{\"status\":\"ok\"}")
            }))
        })
        .bind("127.0.0.1:0")?;
        for address in server.addrs() {
            // The same line `switchboard` logs, so the harness finds the port the same way.
            eprintln!(
                "{}",
                serde_json::json!({ "message": "listening", "address": address.to_string() })
            );
        }
        server.run().await
    })?;
    Ok(())
}
