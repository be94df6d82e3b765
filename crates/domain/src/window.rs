//! The 24-hour customer-service window.
//!
//! Free-form (non-template) messages may only be sent while the window is
//! open: it opens with each message (or call) from the customer and lasts
//! 24 hours. Sending outside it is accepted by the API and then fails
//! asynchronously with 131047, so we check before sending instead.

use chrono::{NaiveDateTime, TimeDelta};

/// How long after the customer's last message free-form replies are allowed.
pub const CUSTOMER_SERVICE_WINDOW: TimeDelta = TimeDelta::hours(24);

/// The instant the window closes; `None` when the customer never wrote.
///
/// Times are UTC, as everywhere in our storage.
pub fn window_open_until(last_inbound_at: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    last_inbound_at.map(|at| {
        at.checked_add_signed(CUSTOMER_SERVICE_WINDOW)
            .unwrap_or(NaiveDateTime::MAX)
    })
}

/// True while a free-form message may be sent: strictly less than 24 h
/// after the last inbound message (at exactly 24 h the window is closed).
pub fn is_window_open(last_inbound_at: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    window_open_until(last_inbound_at).is_some_and(|until| now < until)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 1)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn window_lasts_exactly_24_hours() {
        assert_eq!(CUSTOMER_SERVICE_WINDOW.num_seconds(), 86_400);
        let last = at(10, 0, 0);
        let until = window_open_until(Some(last)).unwrap();
        assert_eq!(until, last + TimeDelta::days(1));
    }

    #[test]
    fn open_until_the_last_instant_and_closed_at_24_hours() {
        let last = at(10, 0, 0);
        let until = last + CUSTOMER_SERVICE_WINDOW;
        assert!(is_window_open(Some(last), last));
        assert!(is_window_open(Some(last), until - TimeDelta::seconds(1)));
        assert!(is_window_open(
            Some(last),
            until - TimeDelta::nanoseconds(1)
        ));
        assert!(!is_window_open(Some(last), until));
        assert!(!is_window_open(Some(last), until + TimeDelta::seconds(1)));
    }

    #[test]
    fn closed_when_the_customer_never_wrote() {
        assert_eq!(window_open_until(None), None);
        assert!(!is_window_open(None, at(0, 0, 0)));
    }

    #[test]
    fn a_message_from_the_future_keeps_the_window_open() {
        // Clock skew between Meta and us must not close a fresh window.
        let now = at(10, 0, 0);
        assert!(is_window_open(Some(now + TimeDelta::minutes(5)), now));
    }

    #[test]
    fn saturates_at_the_end_of_time() {
        let last = NaiveDateTime::MAX - TimeDelta::hours(1);
        assert_eq!(window_open_until(Some(last)), Some(NaiveDateTime::MAX));
        assert!(is_window_open(Some(last), last));
    }
}
