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
    let bodies = Arc::new(fixture_mix(
        warmup + args.requests,
        APP_SECRET,
        PHONE_NUMBER_ID,
        WABA_ID,
        "bench",
    ));
    let (warm, measured) = (
        Arc::new(bodies[..warmup].to_vec()),
        Arc::new(bodies[warmup..].to_vec()),
    );
    let avg = measured.iter().map(|b| b.body.len()).sum::<usize>() / measured.len().max(1);
    println!(
        "machine: {} cores; {} webhooks (fixture mix, every 10th batched; avg {} bytes), {} connections",
        cores(),
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
    runtime.block_on(post_all(&url, warm, args.concurrency));
    let report = runtime.block_on(post_all(&url, Arc::clone(&measured), args.concurrency));
    let label = match args.backend.as_str() {
        "sqlite" => "switchboard, SQLite synchronous=FULL",
        _ => "switchboard, PostgreSQL",
    };
    println!("{}", report.line(label));
    server.terminate(Duration::from_secs(30));

    // Every 200 must be a stored event with its job: a benchmark that loses data measures nothing.
    let mut conn = t.db.conn()?;
    let (events, job_count) = (
        webhooks::count_events(&mut conn)?,
        jobs::count_jobs(&mut conn)?,
    );
    let expected = (warmup + report.ok) as i64;
    println!("stored: {events} events, {job_count} jobs (expected {expected})");
    if events < expected || job_count != events {
        bail!("stored rows do not match the accepted webhooks");
    }

    if !args.no_ceiling {
        let mut noop = Command::new(std::env::current_exe()?);
        noop.arg("--noop-server");
        let ceiling_server = Server::start(noop);
        let url = ceiling_server.url("/api/webhooks/whatsapp");
        runtime.block_on(post_all(
            &url,
            Arc::new(bodies[..warmup].to_vec()),
            args.concurrency,
        ));
        let ceiling = runtime.block_on(post_all(&url, measured, args.concurrency));
        println!("{}", ceiling.line("no-op actix handler (ceiling)"));
        println!(
            "switchboard reaches {:.0} % of the ceiling",
            100.0 * report.per_second() / ceiling.per_second()
        );
    }
    Ok(())
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
