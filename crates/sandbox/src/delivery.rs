//! Status webhooks. Each accepted send gets a plan (`sent`, `delivered`, `read` at their delays,
//! or one `failed`); the statuses wait in one time-ordered queue drained by a scheduler task,
//! which posts them through one pooled client with at most `webhook_concurrency` POSTs in
//! flight, batching statuses due at about the same time up to `batch_max` per body.
//!
//! A message's next status is queued only once the previous one's POST is over (answered or
//! given up), so statuses reach the receiver in their plan's order even under load; the
//! reorder option shuffles the plan itself. A POST not answered 2xx is retried with growing
//! delays (the slot is freed meanwhile), then given up and counted.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use ring::hmac;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::SandboxConfig;
use crate::payloads::{self, Business};
use crate::stats::DeliveryCounters;

/// What the plan of one accepted send needs to know.
pub(crate) struct Accepted<'a> {
    pub wamid: &'a str,
    pub recipient_id: &'a str,
    pub phone_number_id: &'a str,
    pub kind: &'a str,
    pub biz_opaque_callback_data: Option<&'a str>,
    /// `Some` for templates: the pricing category.
    pub template_category: Option<&'a str>,
    pub async_failure: Option<i64>,
    pub at: Instant,
    pub unix_ms: i64,
}

struct Step {
    due: Instant,
    status: Value,
}

/// The statuses of one message, in the order they are posted.
pub(crate) struct Flow {
    phone_number_id: String,
    steps: Vec<Step>,
}

impl Flow {
    pub(crate) fn len(&self) -> usize {
        self.steps.len()
    }
}

/// The statuses Meta would report for `message`.
pub(crate) fn plan(config: &SandboxConfig, message: &Accepted<'_>) -> Flow {
    let timestamp = |delay: Duration| {
        (message.unix_ms + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2)) / 1000
    };
    let status = |name: &str, delay: Duration| {
        let mut status = if name == "failed" {
            payloads::failed_status(
                message.wamid,
                message.recipient_id,
                timestamp(delay),
                message.async_failure.unwrap_or(131000),
            )
        } else {
            payloads::status(message.wamid, name, message.recipient_id, timestamp(delay))
        };
        if let Some(data) = message.biz_opaque_callback_data {
            status["biz_opaque_callback_data"] = json!(data);
        }
        // Pricing comes with `sent` and one of delivered/read (reference §6).
        if name == "sent" || name == "delivered" {
            status["pricing"] = message
                .template_category
                .map_or_else(payloads::service_pricing, payloads::template_pricing);
        }
        Step {
            due: message.at + delay,
            status,
        }
    };
    let mut steps = Vec::with_capacity(3);
    if message.async_failure.is_some() {
        steps.push(status("failed", config.sent_after));
    } else {
        steps.push(status("sent", config.sent_after));
        // Reactions only ever get `sent` (reference §6).
        if message.kind != "reaction" {
            steps.push(status("delivered", config.delivered_after));
            if config.send_read {
                steps.push(status("read", config.read_after));
            }
        }
    }
    if steps.len() > 1 && fastrand::f64() < config.reorder_rate {
        // The same moments, the statuses in another order.
        let mut statuses: Vec<Value> = steps.iter_mut().map(|s| s.status.take()).collect();
        let original: Vec<Value> = statuses.iter().map(|s| s["status"].clone()).collect();
        fastrand::shuffle(&mut statuses);
        if statuses.iter().map(|s| &s["status"]).eq(original.iter()) {
            statuses.reverse();
        }
        for (step, status) in steps.iter_mut().zip(statuses) {
            step.status = status;
        }
    }
    Flow {
        phone_number_id: message.phone_number_id.to_string(),
        steps,
    }
}

type Batch = Vec<(Arc<Flow>, usize)>;

/// A body to post (again): `prepared` is filled on the first attempt.
struct Attempt {
    due: Instant,
    phone_number_id: String,
    statuses: Batch,
    prepared: Option<(Bytes, Option<String>)>,
    attempt: u32,
}

enum Job {
    Status {
        flow: Arc<Flow>,
        index: usize,
        due: Instant,
    },
    Retry(Box<Attempt>),
}

impl Job {
    fn due(&self) -> Instant {
        match self {
            Job::Status { due, .. } => *due,
            Job::Retry(attempt) => attempt.due,
        }
    }
}

/// A queue entry: earliest due first, then first queued.
struct Entry {
    due: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // BinaryHeap is a max-heap: reverse for earliest first.
        other
            .due
            .cmp(&self.due)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// Where the Graph handlers hand plans over.
#[derive(Clone)]
pub(crate) struct Scheduler {
    tx: mpsc::UnboundedSender<Job>,
    counters: Arc<DeliveryCounters>,
}

impl Scheduler {
    pub(crate) fn submit(&self, flow: Flow) {
        let Some(first) = flow.steps.first() else {
            return;
        };
        let due = first.due;
        DeliveryCounters::add(&self.counters.statuses_pending, flow.len() as u64);
        let job = Job::Status {
            flow: Arc::new(flow),
            index: 0,
            due,
        };
        if self.tx.send(job).is_err() {
            tracing::debug!("status webhook dropped: the sandbox is stopping");
        }
    }
}

struct Deliverer {
    client: reqwest::Client,
    url: String,
    key: Option<hmac::Key>,
    waba_id: String,
    display_phone_number: String,
    retries: u32,
    retry_base: Duration,
    duplicate_rate: f64,
    counters: Arc<DeliveryCounters>,
}

enum Outcome {
    /// Delivered or given up: the statuses' successors may go.
    Done(Batch),
    Retry(Box<Attempt>),
}

impl Deliverer {
    fn prepare(&self, phone_number_id: &str, statuses: &Batch) -> (Bytes, Option<String>) {
        let business = Business {
            waba_id: self.waba_id.clone(),
            phone_number_id: phone_number_id.to_string(),
            display_phone_number: self.display_phone_number.clone(),
        };
        let items = statuses
            .iter()
            .map(|(flow, index)| flow.steps[*index].status.clone())
            .collect();
        let body = payloads::to_wire(&payloads::statuses(&business, items));
        let signature = self
            .key
            .as_ref()
            .map(|key| format!("sha256={}", hex::encode(hmac::sign(key, &body).as_ref())));
        (Bytes::from(body), signature)
    }

    async fn post(&self, body: &Bytes, signature: Option<&str>) -> bool {
        let mut request = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                // Read the answer so the connection goes back to the pool.
                let _ = response.bytes().await;
                if !status.is_success() {
                    tracing::debug!(status = status.as_u16(), "webhook POST not accepted");
                }
                status.is_success()
            }
            Err(e) => {
                tracing::debug!(error = %e, "webhook POST failed");
                false
            }
        }
    }

    async fn deliver(self: Arc<Self>, mut attempt: Attempt) -> Outcome {
        let (body, signature) = match attempt.prepared.take() {
            Some(prepared) => prepared,
            None => self.prepare(&attempt.phone_number_id, &attempt.statuses),
        };
        let n = attempt.statuses.len() as u64;
        let counters = &self.counters;
        if self.post(&body, signature.as_deref()).await {
            DeliveryCounters::add(&counters.webhooks_sent, 1);
            DeliveryCounters::add(&counters.statuses_sent, n);
            counters.settle_pending(n);
            if fastrand::f64() < self.duplicate_rate {
                DeliveryCounters::add(&counters.webhooks_duplicated, 1);
                if self.post(&body, signature.as_deref()).await {
                    DeliveryCounters::add(&counters.webhooks_sent, 1);
                }
            }
            return Outcome::Done(attempt.statuses);
        }
        if attempt.attempt < self.retries {
            DeliveryCounters::add(&counters.webhook_retries, 1);
            let factor = 4u32.saturating_pow(attempt.attempt);
            let delay = self
                .retry_base
                .saturating_mul(factor)
                .mul_f64(0.8 + 0.4 * fastrand::f64());
            attempt.due = Instant::now() + delay;
            attempt.attempt += 1;
            attempt.prepared = Some((body, signature));
            return Outcome::Retry(Box::new(attempt));
        }
        DeliveryCounters::add(&counters.webhooks_failed, 1);
        DeliveryCounters::add(&counters.statuses_dropped, n);
        counters.settle_pending(n);
        tracing::warn!(
            url = %self.url,
            statuses = n,
            attempts = attempt.attempt + 1,
            "status webhook given up: never answered 2xx"
        );
        Outcome::Done(attempt.statuses)
    }
}

struct Queue {
    heap: BinaryHeap<Entry>,
    seq: u64,
    batch_max: usize,
    batch_window: Duration,
}

impl Queue {
    fn push(&mut self, job: Job) {
        self.seq += 1;
        self.heap.push(Entry {
            due: job.due(),
            seq: self.seq,
            job,
        });
    }

    fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.due)
    }

    /// The next body to post, if one is due: a retry alone, or statuses of one number.
    fn take_due(&mut self, now: Instant) -> Option<Attempt> {
        if self.heap.peek()?.due > now {
            return None;
        }
        let head = self.heap.pop()?;
        let (flow, index) = match head.job {
            Job::Retry(attempt) => return Some(*attempt),
            Job::Status { flow, index, .. } => (flow, index),
        };
        let phone_number_id = flow.phone_number_id.clone();
        let mut statuses = vec![(flow, index)];
        let horizon = if self.batch_max > 1 {
            now + self.batch_window
        } else {
            now
        };
        let mut skipped = Vec::new();
        while statuses.len() < self.batch_max && self.heap.peek().is_some_and(|e| e.due <= horizon)
        {
            let Some(entry) = self.heap.pop() else { break };
            match entry.job {
                Job::Status { flow, index, .. } if flow.phone_number_id == phone_number_id => {
                    statuses.push((flow, index));
                }
                job => skipped.push(Entry { job, ..entry }),
            }
        }
        self.heap.extend(skipped);
        Some(Attempt {
            due: now,
            phone_number_id,
            statuses,
            prepared: None,
            attempt: 0,
        })
    }

    /// Queues the next status of each message of a finished body.
    fn advance(&mut self, statuses: Batch, now: Instant) {
        for (flow, index) in statuses {
            let next = index + 1;
            if let Some(step) = flow.steps.get(next) {
                let due = step.due.max(now);
                self.push(Job::Status {
                    flow: Arc::clone(&flow),
                    index: next,
                    due,
                });
            }
        }
    }
}

/// Starts the scheduler task for `webhook_url`.
pub(crate) fn spawn(
    config: &SandboxConfig,
    webhook_url: &str,
    counters: Arc<DeliveryCounters>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<(Scheduler, JoinHandle<()>)> {
    let client = crate::http_client()
        .timeout(config.webhook_timeout)
        .pool_max_idle_per_host(config.webhook_concurrency)
        .user_agent("facebookexternalua")
        .build()
        .map_err(std::io::Error::other)?;
    let deliverer = Arc::new(Deliverer {
        client,
        url: webhook_url.to_string(),
        key: config
            .app_secret
            .as_ref()
            .map(|secret| hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())),
        waba_id: config.waba_id.clone(),
        display_phone_number: config.display_phone_number.clone(),
        retries: config.webhook_retries,
        retry_base: config.webhook_retry_base,
        duplicate_rate: config.duplicate_rate,
        counters: Arc::clone(&counters),
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let concurrency = config.webhook_concurrency;
    let mut queue = Queue {
        heap: BinaryHeap::new(),
        seq: 0,
        batch_max: config.batch_max,
        batch_window: config.batch_window,
    };
    let task = tokio::spawn(async move {
        let mut in_flight: JoinSet<Outcome> = JoinSet::new();
        loop {
            while in_flight.len() < concurrency {
                let Some(attempt) = queue.take_due(Instant::now()) else {
                    break;
                };
                in_flight.spawn(Arc::clone(&deliverer).deliver(attempt));
            }
            let wake_at = if in_flight.len() < concurrency {
                queue.next_due()
            } else {
                None
            };
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    match done {
                        Ok(Outcome::Done(statuses)) => queue.advance(statuses, Instant::now()),
                        Ok(Outcome::Retry(attempt)) => queue.push(Job::Retry(attempt)),
                        Err(e) => tracing::error!(error = %e, "a webhook delivery task failed"),
                    }
                }
                job = rx.recv() => match job {
                    Some(job) => {
                        queue.push(job);
                        while let Ok(job) = rx.try_recv() {
                            queue.push(job);
                        }
                    }
                    None => break,
                },
                _ = sleep_until(wake_at), if wake_at.is_some() => {}
            }
        }
        in_flight.abort_all();
    });
    Ok((Scheduler { tx, counters }, task))
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(kind: &str, failure: Option<i64>) -> Accepted<'_> {
        Accepted {
            wamid: "wamid.A",
            recipient_id: "16505551234",
            phone_number_id: "1122334455667",
            kind,
            biz_opaque_callback_data: Some("job-1"),
            template_category: None,
            async_failure: failure,
            at: Instant::now(),
            unix_ms: 1_700_000_000_000,
        }
    }

    fn names(flow: &Flow) -> Vec<String> {
        flow.steps
            .iter()
            .map(|s| s.status["status"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn plans_follow_meta() {
        let config = SandboxConfig::default();
        let flow = plan(&config, &accepted("text", None));
        assert_eq!(names(&flow), ["sent", "delivered", "read"]);
        assert!(flow.steps[0].status["pricing"].is_object());
        assert!(flow.steps[1].status["pricing"].is_object());
        assert!(flow.steps[2].status.get("pricing").is_none());
        assert_eq!(flow.steps[0].status["biz_opaque_callback_data"], "job-1");
        assert_eq!(flow.steps[0].status["timestamp"], "1700000000");
        assert!(flow.steps[0].due < flow.steps[1].due && flow.steps[1].due < flow.steps[2].due);
        assert_eq!(names(&plan(&config, &accepted("reaction", None))), ["sent"]);
        let failed = plan(&config, &accepted("text", Some(131047)));
        assert_eq!(names(&failed), ["failed"]);
        assert_eq!(failed.steps[0].status["errors"][0]["code"], 131047);
        let no_read = SandboxConfig {
            send_read: false,
            ..SandboxConfig::default()
        };
        assert_eq!(
            names(&plan(&no_read, &accepted("text", None))),
            ["sent", "delivered"]
        );
    }

    #[test]
    fn reorder_always_changes_the_order() {
        let config = SandboxConfig {
            reorder_rate: 1.0,
            ..SandboxConfig::default()
        };
        for _ in 0..20 {
            let flow = plan(&config, &accepted("text", None));
            assert_ne!(names(&flow), ["sent", "delivered", "read"]);
            let mut sorted = names(&flow);
            sorted.sort();
            assert_eq!(sorted, ["delivered", "read", "sent"]);
            // The moments stay in order.
            assert!(flow.steps[0].due <= flow.steps[1].due);
        }
    }

    #[test]
    fn queue_batches_one_number_and_respects_due_times() {
        let config = SandboxConfig::default();
        let now = Instant::now();
        let mut queue = Queue {
            heap: BinaryHeap::new(),
            seq: 0,
            batch_max: 3,
            batch_window: Duration::from_millis(10),
        };
        let mut flow_for = |phone: &str, offset_ms: u64| {
            let mut a = accepted("text", None);
            a.phone_number_id = phone;
            a.at = now;
            let mut flow = plan(&config, &a);
            flow.steps[0].due = now + Duration::from_millis(offset_ms);
            let due = flow.steps[0].due;
            queue.push(Job::Status {
                flow: Arc::new(flow),
                index: 0,
                due,
            });
        };
        flow_for("1", 0);
        flow_for("2", 1);
        flow_for("1", 2);
        flow_for("1", 3);
        flow_for("1", 5);
        flow_for("1", 500);
        assert!(queue.take_due(now - Duration::from_millis(1)).is_none());
        let later = now + Duration::from_millis(20);
        let first = queue.take_due(later).unwrap();
        assert_eq!(first.phone_number_id, "1");
        assert_eq!(first.statuses.len(), 3);
        let second = queue.take_due(later).unwrap();
        assert_eq!(second.phone_number_id, "2");
        assert_eq!(second.statuses.len(), 1);
        let third = queue.take_due(later).unwrap();
        assert_eq!(third.statuses.len(), 1);
        assert!(queue.take_due(later).is_none(), "the 500 ms one is not due");
        queue.advance(first.statuses, now);
        assert_eq!(queue.heap.len(), 4);
    }
}
