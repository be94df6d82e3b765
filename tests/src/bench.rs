//! Shared pieces of the benchmark binaries: closed-loop HTTP load and its report.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::load::SignedBody;

/// What one load run measured.
pub struct LoadReport {
    pub requests: usize,
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted latencies of every request, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl LoadReport {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us[rank.min(self.latencies_us.len() - 1)] as f64 / 1000.0
    }

    pub fn line(&self, label: &str) -> String {
        format!(
            "{label:<34} {:>9.0} accepted/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {}  ({} requests in {:.2} s)",
            self.per_second(),
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
            self.errors,
            self.requests,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Posts every body once to `url` from `concurrency` connections, each sending its next
/// request as soon as the previous one is answered (closed loop), and measures.
pub async fn post_all(url: &str, bodies: Arc<Vec<SignedBody>>, concurrency: usize) -> LoadReport {
    crate::install_tls();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, bodies, next, url) = (
                client.clone(),
                Arc::clone(&bodies),
                Arc::clone(&next),
                url.to_string(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut ok, mut errors) = (0, 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let sent = Instant::now();
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", &body.signature)
                        .body(body.body.clone())
                        .send()
                        .await;
                    let success = match answer {
                        Ok(response) => {
                            response.status().is_success() && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed().as_micros() as u64);
                    if success { ok += 1 } else { errors += 1 }
                }
                (latencies, ok, errors)
            })
        })
        .collect();
    let mut report = LoadReport {
        requests: bodies.len(),
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
    };
    for task in tasks {
        if let Ok((latencies, ok, errors)) = task.await {
            report.latencies_us.extend(latencies);
            report.ok += ok;
            report.errors += errors;
        }
    }
    report.elapsed = started.elapsed();
    report.latencies_us.sort_unstable();
    report
}

/// The database a benchmark runs on: `sqlite` (a temp file, synchronous=FULL) or `postgres`
/// (a fresh schema under SWITCHBOARD_TEST_DATABASE_URL).
pub fn bench_db(backend: &str) -> anyhow::Result<switchboard_store::testing::TestDb> {
    use anyhow::Context;
    use switchboard_store::testing::TestDb;
    match backend {
        "sqlite" => Ok(TestDb::sqlite()),
        "postgres" => TestDb::postgres()
            .context("set SWITCHBOARD_TEST_DATABASE_URL for the postgres benchmark"),
        other => anyhow::bail!("--backend must be sqlite or postgres, not {other}"),
    }
}
