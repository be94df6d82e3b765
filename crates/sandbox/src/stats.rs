//! What the sandbox counts: `GET /sandbox/stats`, [`crate::SandboxHandle::stats`].

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// The counters. JSON field names are camelCase; times are RFC 3339 with milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Sends answered 200 with a wamid.
    pub accepted_messages: u64,
    /// Sends answered with an error (malformed, refused token, injected error or timeout).
    pub rejected_messages: u64,
    /// Mark-as-read (and typing indicator) calls answered `{"success":true}`.
    pub mark_reads: u64,
    /// The most accepted sends whose arrival fell in one sliding one-second window
    /// (`[t, t + 1 s)`), measured when each request arrived.
    pub max_per_second: u64,
    #[serde(serialize_with = "millis")]
    pub first_accepted_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "millis")]
    pub last_accepted_at: Option<DateTime<Utc>>,
    /// Webhook POSTs answered 2xx (duplicates included).
    pub webhooks_sent: u64,
    /// Webhook bodies given up after every retry.
    pub webhooks_failed: u64,
    /// Retries of webhook POSTs that were not answered 2xx.
    pub webhook_retries: u64,
    /// Webhook bodies delivered a second time on purpose (`duplicate_rate`).
    pub webhooks_duplicated: u64,
    /// Statuses delivered (each once, however many times its body was posted).
    pub statuses_sent: u64,
    /// Statuses of webhook bodies that were given up.
    pub statuses_dropped: u64,
    /// Statuses planned and not yet delivered or given up (not cleared by a reset).
    pub statuses_pending: u64,
    /// Injected synchronous errors by code (`"130429"`, `"500"`, `"timeout"` …).
    pub errors_injected: BTreeMap<String, u64>,
    /// Sends accepted and then reported `failed`, by code.
    pub async_failures_injected: BTreeMap<String, u64>,
}

fn millis<S: Serializer>(value: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => s.serialize_none(),
    }
}

/// The largest number of `arrivals` inside any half-open window `[t, t + window)`.
/// Sorts `arrivals`, then slides two pointers over them: O(n log n).
pub fn max_in_window(arrivals: &mut [Duration], window: Duration) -> u64 {
    arrivals.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..arrivals.len() {
        while arrivals[end] - arrivals[start] >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as u64
}

/// An accepted send, as `GET /sandbox/messages` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedMessage {
    pub wamid: String,
    /// `to` as the client gave it.
    pub to: String,
    /// Its digits (what webhooks call `recipient_id`).
    pub wa_id: String,
    pub phone_number_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The request body as sent.
    pub body: serde_json::Value,
    #[serde(serialize_with = "millis_required")]
    pub accepted_at: DateTime<Utc>,
}

fn millis_required<S: Serializer>(value: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&value.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A mark-as-read the sandbox answered `{"success":true}`, as `GET /sandbox/reads` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkedRead {
    /// The wamid marked read (and every earlier message of that chat with it).
    pub message_id: String,
    /// The business number of the call's path.
    pub phone_number_id: String,
    /// Whether typing dots were asked for too.
    pub typing_indicator: bool,
    #[serde(serialize_with = "millis_required")]
    pub read_at: DateTime<Utc>,
}

/// Counts kept under one lock by the Graph handlers.
#[derive(Debug)]
pub(crate) struct Book {
    started: Instant,
    accepted: u64,
    rejected: u64,
    mark_reads: u64,
    first_accepted: Option<DateTime<Utc>>,
    last_accepted: Option<DateTime<Utc>>,
    arrivals: Vec<Duration>,
    errors_injected: BTreeMap<String, u64>,
    async_failures: BTreeMap<String, u64>,
    messages: VecDeque<AcceptedMessage>,
    outgoing: HashSet<String>,
    reads: VecDeque<MarkedRead>,
    max_stored: usize,
}

impl Book {
    pub(crate) fn new(started: Instant, max_stored: usize) -> Self {
        Book {
            started,
            accepted: 0,
            rejected: 0,
            mark_reads: 0,
            first_accepted: None,
            last_accepted: None,
            arrivals: Vec::new(),
            errors_injected: BTreeMap::new(),
            async_failures: BTreeMap::new(),
            messages: VecDeque::new(),
            outgoing: HashSet::new(),
            reads: VecDeque::new(),
            max_stored,
        }
    }

    pub(crate) fn accept(&mut self, arrival: Instant, message: AcceptedMessage) {
        self.accepted += 1;
        self.arrivals
            .push(arrival.saturating_duration_since(self.started));
        // Concurrent requests may be booked out of arrival order.
        let at = message.accepted_at;
        self.first_accepted = Some(self.first_accepted.map_or(at, |t| t.min(at)));
        self.last_accepted = Some(self.last_accepted.map_or(at, |t| t.max(at)));
        if self.max_stored == 0 {
            return;
        }
        while self.messages.len() >= self.max_stored {
            if let Some(old) = self.messages.pop_front() {
                self.outgoing.remove(&old.wamid);
            }
        }
        self.outgoing.insert(message.wamid.clone());
        self.messages.push_back(message);
    }

    pub(crate) fn reject(&mut self) {
        self.rejected += 1;
    }

    /// Counts a mark-as-read and keeps it (the oldest go first beyond `max_stored`).
    pub(crate) fn mark_read(&mut self, read: MarkedRead) {
        self.mark_reads += 1;
        if self.max_stored == 0 {
            return;
        }
        while self.reads.len() >= self.max_stored {
            self.reads.pop_front();
        }
        self.reads.push_back(read);
    }

    pub(crate) fn reads(&self) -> Vec<MarkedRead> {
        self.reads.iter().cloned().collect()
    }

    pub(crate) fn injected(&mut self, key: String) {
        *self.errors_injected.entry(key).or_default() += 1;
    }

    pub(crate) fn async_failure(&mut self, code: i64) {
        *self.async_failures.entry(code.to_string()).or_default() += 1;
    }

    /// Whether `wamid` is one the sandbox returned for a send (still stored).
    pub(crate) fn is_outgoing(&self, wamid: &str) -> bool {
        self.outgoing.contains(wamid)
    }

    pub(crate) fn messages(&self, wa_id: Option<&str>) -> Vec<AcceptedMessage> {
        self.messages
            .iter()
            .filter(|m| wa_id.is_none_or(|w| m.wa_id == w))
            .cloned()
            .collect()
    }

    pub(crate) fn reset(&mut self) {
        *self = Book::new(self.started, self.max_stored);
    }

    /// Fills the fields this book owns.
    pub(crate) fn fill(&self, stats: &mut Stats) {
        stats.accepted_messages = self.accepted;
        stats.rejected_messages = self.rejected;
        stats.mark_reads = self.mark_reads;
        stats.first_accepted_at = self.first_accepted;
        stats.last_accepted_at = self.last_accepted;
        stats.errors_injected = self.errors_injected.clone();
        stats.async_failures_injected = self.async_failures.clone();
    }

    pub(crate) fn arrivals(&self) -> Vec<Duration> {
        self.arrivals.clone()
    }
}

/// Counters of the webhook deliverer (lock-free: updated by every delivery task).
#[derive(Debug, Default)]
pub(crate) struct DeliveryCounters {
    pub webhooks_sent: AtomicU64,
    pub webhooks_failed: AtomicU64,
    pub webhook_retries: AtomicU64,
    pub webhooks_duplicated: AtomicU64,
    pub statuses_sent: AtomicU64,
    pub statuses_dropped: AtomicU64,
    pub statuses_pending: AtomicU64,
}

impl DeliveryCounters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn settle_pending(&self, n: u64) {
        // Never below zero, even if a reset raced with a delivery.
        let _ = self
            .statuses_pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(n))
            });
    }

    pub(crate) fn fill(&self, stats: &mut Stats) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        stats.webhooks_sent = get(&self.webhooks_sent);
        stats.webhooks_failed = get(&self.webhooks_failed);
        stats.webhook_retries = get(&self.webhook_retries);
        stats.webhooks_duplicated = get(&self.webhooks_duplicated);
        stats.statuses_sent = get(&self.statuses_sent);
        stats.statuses_dropped = get(&self.statuses_dropped);
        stats.statuses_pending = get(&self.statuses_pending);
    }

    /// Clears the counts (the pending gauge describes work still queued and stays).
    pub(crate) fn reset(&self) {
        for counter in [
            &self.webhooks_sent,
            &self.webhooks_failed,
            &self.webhook_retries,
            &self.webhooks_duplicated,
            &self.statuses_sent,
            &self.statuses_dropped,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(max_in_window(&mut [], Duration::from_secs(1)), 0);
        assert_eq!(max_in_window(&mut ms(&[5]), Duration::from_secs(1)), 1);
    }

    #[test]
    fn window_is_half_open() {
        // 0 and 1000 ms are exactly one second apart: not in the same window.
        assert_eq!(
            max_in_window(&mut ms(&[0, 1000, 2000]), Duration::from_secs(1)),
            1
        );
        assert_eq!(
            max_in_window(&mut ms(&[0, 999, 1000]), Duration::from_secs(1)),
            2
        );
    }

    #[test]
    fn finds_the_densest_window_anywhere() {
        // Calendar seconds hold 5 and 3; the window from 600 ms holds 7.
        let mut arrivals = ms(&[0, 600, 700, 800, 900, 1100, 1200, 1300, 2500]);
        assert_eq!(max_in_window(&mut arrivals, Duration::from_secs(1)), 7);
        // Unsorted input gives the same answer.
        let mut shuffled = ms(&[1300, 900, 0, 1100, 700, 2500, 600, 1200, 800]);
        assert_eq!(max_in_window(&mut shuffled, Duration::from_secs(1)), 7);
    }

    #[test]
    fn a_paced_sender_never_exceeds_its_rate() {
        // 80 per second, evenly spaced at 12.5 ms for 3 seconds: any window holds 80, never 81.
        let mut arrivals: Vec<_> = (0..240)
            .map(|i| Duration::from_micros(i * 12_500))
            .collect();
        assert_eq!(max_in_window(&mut arrivals, Duration::from_secs(1)), 80);
        // One extra send slipped in anywhere makes it 81.
        arrivals.push(Duration::from_micros(1_500_001));
        assert_eq!(max_in_window(&mut arrivals, Duration::from_secs(1)), 81);
    }

    #[test]
    fn agrees_with_brute_force() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let n = rng.usize(0..60);
            let arrivals: Vec<Duration> = (0..n)
                .map(|_| Duration::from_millis(rng.u64(0..4000)))
                .collect();
            let window = Duration::from_millis(rng.u64(1..1500));
            let brute = arrivals
                .iter()
                .map(|t| {
                    arrivals
                        .iter()
                        .filter(|a| **a >= *t && **a - *t < window)
                        .count() as u64
                })
                .max()
                .unwrap_or(0);
            assert_eq!(max_in_window(&mut arrivals.clone(), window), brute);
        }
    }

    #[test]
    fn stats_serialize_in_camel_case_with_millis() {
        let at = DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let stats = Stats {
            accepted_messages: 2,
            first_accepted_at: Some(at),
            ..Stats::default()
        };
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["acceptedMessages"], 2);
        assert_eq!(json["firstAcceptedAt"], "2026-11-21T10:00:00.123Z");
        assert!(json["lastAcceptedAt"].is_null());
        assert!(json["errorsInjected"].is_object());
        let back: Stats = serde_json::from_value(json).unwrap();
        assert_eq!(back.accepted_messages, 2);
    }
}
