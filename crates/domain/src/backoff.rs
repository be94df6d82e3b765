//! Retry delays: exponential backoff with "equal jitter".
//!
//! Retries of rate-limited sends (130429, 131056) must spread out, or every
//! worker hits Meta again at the same instant. Equal jitter keeps half of the
//! exponential delay fixed (so a retry is never immediate) and randomizes the
//! other half. The randomness comes from the caller, which keeps this crate
//! free of I/O and makes every schedule reproducible in tests.

use std::time::Duration;

/// An exponential schedule: `base`, `2·base`, `4·base`, … never above `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
}

impl Default for Backoff {
    /// 5 s doubling up to 1 h: about ten tries before reaching the cap.
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(3600))
    }
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    pub const fn base(&self) -> Duration {
        self.base
    }

    pub const fn cap(&self) -> Duration {
        self.cap
    }

    /// The largest delay of `attempt` (1-based; 0 counts as 1):
    /// `min(cap, base · 2^(attempt-1))`, saturating instead of overflowing.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        1u32.checked_shl(doublings)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.cap, |delay| delay.min(self.cap))
    }

    /// The delay before retry number `attempt`: half of [`Self::ceiling`]
    /// fixed, plus the other half scaled by `jitter` (a uniform draw in
    /// `[0, 1)` supplied by the caller; values outside are clamped, NaN
    /// counts as 0). The result lies in `[ceiling/2, ceiling]`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let fixed = ceiling / 2;
        let spread = ceiling - fixed;
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let random = Duration::try_from_secs_f64(spread.as_secs_f64() * jitter)
            .unwrap_or(Duration::ZERO)
            .min(spread);
        fixed + random
    }

    /// The delay before retry number `attempt` when the server also said how
    /// long to wait: the longer of the two, but never more than `cap` (a
    /// hint of days must not park a job beyond our own schedule).
    pub fn retry_after(&self, attempt: u32, jitter: f64, hint: Option<Duration>) -> Duration {
        let delay = self.delay(attempt, jitter);
        hint.map_or(delay, |hint| hint.max(delay)).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn default_doubles_from_five_seconds_up_to_an_hour() {
        let backoff = Backoff::default();
        let ceilings: Vec<u64> = (1..=11).map(|a| backoff.ceiling(a).as_secs()).collect();
        assert_eq!(
            ceilings,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
        );
        assert_eq!(backoff.ceiling(0), secs(5), "attempt 0 counts as the first");
        assert_eq!((backoff.base(), backoff.cap()), (secs(5), secs(3600)));
    }

    #[test]
    fn equal_jitter_keeps_half_fixed() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(2500));
        assert_eq!(backoff.delay(1, 0.5), Duration::from_millis(3750));
        assert_eq!(backoff.delay(3, 0.0), secs(10));
        assert_eq!(backoff.delay(3, 0.25), Duration::from_millis(12_500));
        assert_eq!(backoff.delay(20, 0.0), secs(1800));
    }

    #[test]
    fn delays_stay_within_half_and_full_ceiling() {
        let backoff = Backoff::new(Duration::from_millis(333), secs(100));
        for attempt in 0..200 {
            let ceiling = backoff.ceiling(attempt);
            for step in 0..=20 {
                let jitter = f64::from(step) / 20.0;
                let delay = backoff.delay(attempt, jitter);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "{attempt} {jitter}"
                );
            }
        }
    }

    #[test]
    fn odd_jitter_values_are_clamped() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(2, -3.0), secs(5));
        assert_eq!(backoff.delay(2, f64::NAN), secs(5));
        assert_eq!(backoff.delay(2, 7.0), secs(10));
        assert_eq!(backoff.delay(2, f64::INFINITY), secs(10));
    }

    #[test]
    fn ceilings_never_decrease() {
        let backoff = Backoff::new(Duration::from_millis(7), secs(86_400));
        let ceilings: Vec<Duration> = (0..=1000).map(|a| backoff.ceiling(a)).collect();
        assert!(ceilings.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(ceilings.last(), Some(&secs(86_400)));
    }

    #[test]
    fn huge_attempts_and_bases_saturate_at_the_cap() {
        let backoff = Backoff::default();
        for attempt in [32, 33, 64, 1000, u32::MAX] {
            assert_eq!(backoff.ceiling(attempt), secs(3600), "{attempt}");
            let delay = backoff.delay(attempt, 0.999_999);
            assert!(delay >= secs(1800) && delay <= secs(3600));
        }
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert_eq!(huge.ceiling(64), Duration::MAX);
        assert!(huge.delay(64, 0.5) >= Duration::MAX / 2);
    }

    #[test]
    fn cap_below_base_wins() {
        let backoff = Backoff::new(secs(60), secs(10));
        assert_eq!(backoff.ceiling(1), secs(10));
        assert_eq!(backoff.delay(1, 0.0), secs(5));
    }

    #[test]
    fn retry_after_honours_the_hint_up_to_the_cap() {
        let backoff = Backoff::default();
        assert_eq!(
            backoff.retry_after(1, 0.0, None),
            Duration::from_millis(2500)
        );
        assert_eq!(backoff.retry_after(1, 0.0, Some(secs(60))), secs(60));
        assert_eq!(backoff.retry_after(5, 0.0, Some(secs(1))), secs(40));
        assert_eq!(backoff.retry_after(1, 0.0, Some(secs(86_400))), secs(3600));
    }
}
