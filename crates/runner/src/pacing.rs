//! Pacing of sends to Meta's limits, shared by every concurrent send of this runner.
//!
//! - **Per channel**: at most the channel's messages-per-second limit, divided evenly among
//!   the runner processes alive now (they heartbeat in `runner_instances`), so any number of
//!   runners together stay under it. Sends are spaced evenly (no bursts), and a sliding log of
//!   the last second's actual dispatch times is the hard guard: whatever the scheduler does,
//!   no one-second window holds more than the share.
//! - **Per recipient**: Meta's pair limit, about one message every 6 seconds to the same
//!   person after a small burst (GCRA). A send that would have to wait longer than a moment
//!   is deferred instead of holding a handler.
//! - A 130429 (throughput reached) halves the channel's pace for a while; a 131056 (pair
//!   limit) pushes back only that recipient.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// What a send window is measured over: a little over a second, so that jitter between our
/// dispatch and the request's arrival at Meta (up to 25 ms) cannot put one more send in any
/// second Meta counts. Measured: with 10 ms of margin a loaded two-core machine still let the
/// sandbox count 1,001 arrivals in one second at a limit of 1,000. It costs 2.5 % of the rate.
const WINDOW: Duration = Duration::from_millis(1025);

#[derive(Debug, Clone)]
pub struct PacingSettings {
    /// Meta's pair limit: one message per this interval to the same recipient…
    pub pair_interval: Duration,
    /// …after a burst of this many.
    pub pair_burst: u32,
    /// How long a 130429 slows the channel down.
    pub slowdown: Duration,
    /// Waits longer than this are deferred (the job goes back to the queue) instead of slept.
    pub max_wait: Duration,
}

impl Default for PacingSettings {
    fn default() -> Self {
        Self {
            pair_interval: Duration::from_secs(6),
            pair_burst: 10,
            slowdown: Duration::from_secs(60),
            max_wait: Duration::from_secs(5),
        }
    }
}

#[derive(Debug)]
struct ChannelPace {
    /// The earliest instant the next send may go (GCRA's theoretical arrival time).
    next_at: Instant,
    /// Dispatch instants within the last window, oldest first.
    sent: VecDeque<Instant>,
    /// Until when, and by what divisor, a 130429 slowed this channel.
    slow_until: Instant,
    slow_divisor: u32,
}

/// Per-process pacing state. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Pacer {
    settings: PacingSettings,
    /// Runner processes alive, this one included (the channel limit is split among them).
    runners: AtomicUsize,
    /// Sends wait until this instant: a runner joining others gives them one heartbeat to
    /// lower their shares before it takes its own.
    opens_at: Mutex<Instant>,
    channels: Mutex<HashMap<String, ChannelPace>>,
    recipients: Mutex<HashMap<(String, String), Instant>>,
}

/// A send that must wait longer than is worth holding a handler for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    pub after: Duration,
    pub reason: String,
}

impl Pacer {
    pub fn new(settings: PacingSettings) -> Self {
        Self {
            settings,
            runners: AtomicUsize::new(1),
            opens_at: Mutex::new(Instant::now()),
            channels: Mutex::default(),
            recipients: Mutex::default(),
        }
    }

    /// The number of live runners changed (from the heartbeat).
    pub fn set_runners(&self, alive: usize) {
        self.runners.store(alive.max(1), Ordering::Relaxed);
    }

    /// Holds sends back until `instant` (set when this runner joins others).
    pub fn open_at(&self, instant: Instant) {
        if let Ok(mut opens_at) = self.opens_at.lock() {
            *opens_at = instant;
        }
    }

    /// This runner's share of a channel's limit, in messages per second.
    pub fn share(&self, channel: &str, limit_mps: u32) -> u32 {
        let runners = u32::try_from(self.runners.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        let divisor = self
            .channels
            .lock()
            .ok()
            .and_then(|map| map.get(channel).map(|p| p.divisor(Instant::now())))
            .unwrap_or(1);
        (limit_mps / runners.max(1) / divisor).max(1)
    }

    /// Reserves a pair-limit slot for `to`, or says how long to wait for one.
    pub fn reserve_recipient(&self, channel: &str, to: &str) -> Result<(), Deferred> {
        let interval = self.settings.pair_interval;
        let tolerance = interval * self.settings.pair_burst.saturating_sub(1);
        let now = Instant::now();
        let Ok(mut recipients) = self.recipients.lock() else {
            return Ok(());
        };
        if recipients.len() > 100_000 {
            recipients.retain(|_, tat| *tat > now);
        }
        let tat = recipients
            .entry((channel.to_string(), to.to_string()))
            .or_insert(now);
        let start = (*tat).max(now);
        let ahead = start - now;
        if ahead > tolerance {
            return Err(Deferred {
                after: ahead - tolerance,
                reason: format!(
                    "pair limit: WhatsApp allows about one message every {}s to the same recipient",
                    interval.as_secs()
                ),
            });
        }
        *tat = start + interval;
        Ok(())
    }

    /// Meta answered 131056 for `to`: no more to that recipient until `after` has passed.
    pub fn hold_recipient(&self, channel: &str, to: &str, after: Duration) {
        if let Ok(mut recipients) = self.recipients.lock() {
            let tolerance =
                self.settings.pair_interval * self.settings.pair_burst.saturating_sub(1);
            recipients.insert(
                (channel.to_string(), to.to_string()),
                Instant::now() + after + tolerance,
            );
        }
    }

    /// Meta answered 130429 for this channel: halve its pace for a while (again on each one).
    pub fn slow_down(&self, channel: &str) {
        let now = Instant::now();
        if let Ok(mut channels) = self.channels.lock() {
            let pace = channels
                .entry(channel.to_string())
                .or_insert_with(|| ChannelPace::new(now));
            pace.slow_divisor = (pace.divisor(now) * 2).min(64);
            pace.slow_until = now + self.settings.slowdown;
        }
    }

    /// Waits for this channel's next send slot at `limit_mps` (this runner's share of it).
    /// Returns when the caller may dispatch the request, or defers when the wait is long.
    pub async fn send_slot(&self, channel: &str, limit_mps: u32) -> Result<(), Deferred> {
        let opens_at = self
            .opens_at
            .lock()
            .map(|i| *i)
            .unwrap_or_else(|_| Instant::now());
        if opens_at > Instant::now() {
            tokio::time::sleep_until(opens_at).await;
        }
        let share = self.share(channel, limit_mps);
        let at = self.reserve_spacing(channel, share)?;
        tokio::time::sleep_until(at).await;
        loop {
            match self.admit(channel, share) {
                None => return Ok(()),
                Some(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// GCRA without burst: the next slot is one interval after the last, or now.
    fn reserve_spacing(&self, channel: &str, share: u32) -> Result<Instant, Deferred> {
        let interval = WINDOW / share.max(1);
        let now = Instant::now();
        let Ok(mut channels) = self.channels.lock() else {
            return Ok(now);
        };
        let pace = channels
            .entry(channel.to_string())
            .or_insert_with(|| ChannelPace::new(now));
        let at = pace.next_at.max(now);
        if at - now > self.settings.max_wait {
            return Err(Deferred {
                after: at - now,
                reason: format!("channel send limit: {share} messages per second for this runner"),
            });
        }
        pace.next_at = at + interval;
        Ok(at)
    }

    /// The hard guard: admits a dispatch now unless `share` were dispatched within the last
    /// window, in which case it says when the oldest of them leaves it.
    fn admit(&self, channel: &str, share: u32) -> Option<Instant> {
        let now = Instant::now();
        let mut channels = self.channels.lock().ok()?;
        let pace = channels
            .entry(channel.to_string())
            .or_insert_with(|| ChannelPace::new(now));
        while pace
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            pace.sent.pop_front();
        }
        let cap = usize::try_from(share).unwrap_or(usize::MAX).max(1);
        if pace.sent.len() < cap {
            pace.sent.push_back(now);
            return None;
        }
        pace.sent.front().map(|oldest| *oldest + WINDOW)
    }
}

impl ChannelPace {
    fn new(now: Instant) -> Self {
        Self {
            next_at: now,
            sent: VecDeque::new(),
            slow_until: now,
            slow_divisor: 1,
        }
    }

    fn divisor(&self, now: Instant) -> u32 {
        if now < self.slow_until {
            self.slow_divisor.max(1)
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_limit() {
        let pacer = std::sync::Arc::new(Pacer::new(PacingSettings::default()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..300 {
            let pacer = pacer.clone();
            tasks.push(tokio::spawn(async move {
                pacer.send_slot("c1", 100).await.unwrap();
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        let mut start = 0;
        for end in 0..times.len() {
            while times[end] - times[start] >= Duration::from_secs(1) {
                start += 1;
            }
            assert!(
                end - start < 100,
                "{} sends within one second",
                end - start + 1
            );
        }
        // Spaced evenly: 300 sends at 100/s take about three seconds, not one burst.
        let took = *times.last().unwrap() - started;
        assert!(took >= Duration::from_millis(2900), "took {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_limit_is_split_among_live_runners() {
        let pacer = Pacer::new(PacingSettings::default());
        assert_eq!(pacer.share("c1", 1000), 1000);
        pacer.set_runners(3);
        assert_eq!(pacer.share("c1", 1000), 333);
        pacer.set_runners(2000);
        assert_eq!(pacer.share("c1", 1000), 1, "never zero");
    }

    #[tokio::test(start_paused = true)]
    async fn throughput_errors_halve_the_pace_for_a_while() {
        let pacer = Pacer::new(PacingSettings::default());
        pacer.slow_down("c1");
        assert_eq!(pacer.share("c1", 80), 40);
        pacer.slow_down("c1");
        assert_eq!(pacer.share("c1", 80), 20);
        assert_eq!(pacer.share("c2", 80), 80, "other channels keep their pace");
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(pacer.share("c1", 80), 80);
    }

    #[tokio::test(start_paused = true)]
    async fn pair_limit_allows_a_burst_then_defers_only_that_recipient() {
        let pacer = Pacer::new(PacingSettings::default());
        for _ in 0..10 {
            pacer.reserve_recipient("c1", "5511").unwrap();
        }
        let deferred = pacer.reserve_recipient("c1", "5511").unwrap_err();
        assert!(deferred.after > Duration::ZERO && deferred.after <= Duration::from_secs(6));
        assert!(
            pacer.reserve_recipient("c1", "5522").is_ok(),
            "others unaffected"
        );
        tokio::time::advance(deferred.after).await;
        assert!(pacer.reserve_recipient("c1", "5511").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_131056_holds_back_the_recipient() {
        let pacer = Pacer::new(PacingSettings::default());
        pacer.hold_recipient("c1", "5511", Duration::from_secs(16));
        let deferred = pacer.reserve_recipient("c1", "5511").unwrap_err();
        assert!(deferred.after >= Duration::from_secs(15), "{deferred:?}");
        assert!(pacer.reserve_recipient("c1", "5522").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn long_waits_are_deferred_not_slept() {
        let pacer = Pacer::new(PacingSettings::default());
        // At 1 message per second, the sixth queued send would wait more than five seconds.
        for _ in 0..5 {
            pacer.reserve_spacing("c1", 1).unwrap();
        }
        assert!(pacer.reserve_spacing("c1", 1).is_err());
    }
}
