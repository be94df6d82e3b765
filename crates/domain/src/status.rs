//! Lifecycle states stored as text in the database.

use std::fmt;

/// A stored webhook's state: the log of record keeps every event, whatever happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventStatus {
    /// Stored, waiting for its PROCESS_WEBHOOK job.
    Pending,
    Processed,
    /// Its job was dead-lettered.
    Failed,
    /// Stored for the record but routed to no channel (unknown phone number id): no job.
    Ignored,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processed => "PROCESSED",
            Self::Failed => "FAILED",
            Self::Ignored => "IGNORED",
        }
    }
}

/// A job's state in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    Pending,
    Running,
    Done,
    Failed,
    /// Dead letter: it will not be retried unless an operator says so.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
            Self::Dead => "DEAD",
        }
    }
}

/// Job kinds, named as the seed systems named them.
pub mod job_kind {
    pub const PROCESS_WEBHOOK: &str = "PROCESS_WEBHOOK";
    /// Sends one queued message (free-form or template) through the Graph API.
    pub const SEND_MESSAGE: &str = "SEND_MESSAGE";
    pub const SEND_MESSAGE_TEMPLATE: &str = "SEND_MESSAGE_TEMPLATE";
    /// Tells Meta a customer's message was read (blue ticks), when an agent opens it.
    pub const MARK_READ: &str = "MARK_READ";
    /// Pulls an organization's templates from Meta (every page) and updates ours.
    pub const SYNC_TEMPLATES: &str = "SYNC_TEMPLATES";
    /// Submits a locally written template to Meta for review.
    pub const SUBMIT_TEMPLATE: &str = "SUBMIT_TEMPLATE";
    /// Downloads a customer's image, document, audio, video or sticker from Meta into the
    /// media directory (the media id in the webhook expires after seven days).
    pub const DOWNLOAD_MEDIA: &str = "DOWNLOAD_MEDIA";
    /// Creates the Jira issue of a ticket whose service sends its tickets to Jira.
    pub const JIRA_CREATE_ISSUE: &str = "JIRA_CREATE_ISSUE";
    /// Adds one ticket comment to the ticket's Jira issue.
    pub const JIRA_ADD_COMMENT: &str = "JIRA_ADD_COMMENT";
    /// POSTs one signed event to one outgoing webhook subscription.
    pub const DELIVER_EVENT: &str = "DELIVER_EVENT";
}

/// Where an outbound message stands, as its delivery statuses report it.
///
/// Meta sends statuses at least once and in no guaranteed order (a late
/// `sent` after `delivered` is a known real-world case), so the stored status
/// only ever moves forward along a rank, and [`fold`] gives the same answer
/// whatever order the same statuses arrive in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    /// Accepted by us, not yet by Meta.
    Queued,
    Sent,
    Delivered,
    Read,
    /// A voice message was played for the first time.
    Played,
    /// Terminal: nothing moves a message out of it.
    Failed,
    /// A value outside Meta's enum (e.g. a BSP's `warning`), held in its
    /// stored, uppercased form. It is recorded as an event but never becomes
    /// the message's status.
    Other(String),
}

impl MessageStatus {
    /// Reads Meta's lowercase value or our stored uppercase one; never fails,
    /// since unknown values must be kept, not rejected.
    pub fn parse(meta_or_db: &str) -> MessageStatus {
        let value = meta_or_db.trim();
        let known = [
            Self::Queued,
            Self::Sent,
            Self::Delivered,
            Self::Read,
            Self::Played,
            Self::Failed,
        ];
        known
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(value))
            .unwrap_or_else(|| Self::Other(value.to_uppercase()))
    }

    /// The form stored in the database.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Queued => "QUEUED",
            Self::Sent => "SENT",
            Self::Delivered => "DELIVERED",
            Self::Read => "READ",
            Self::Played => "PLAYED",
            Self::Failed => "FAILED",
            Self::Other(value) => value,
        }
    }

    /// Position along the delivery path; `None` for `Failed` (which is off
    /// the path and absorbing) and `Other` (which never moves a message).
    pub fn rank(&self) -> Option<u8> {
        match self {
            Self::Queued => Some(0),
            Self::Sent => Some(1),
            Self::Delivered => Some(2),
            Self::Read => Some(3),
            Self::Played => Some(4),
            Self::Failed | Self::Other(_) => None,
        }
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MessageStatus {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

/// True when a message now at `current` should move to `incoming`.
///
/// `FAILED` wins over everything and, once reached, is never left; `Other`
/// values never move a message; otherwise only a strictly higher rank does,
/// so a late `sent` cannot downgrade `delivered`. A stored `Other` (from
/// older data) is below every known status.
pub fn advance(current: &MessageStatus, incoming: &MessageStatus) -> bool {
    use MessageStatus::{Failed, Other};
    match (current, incoming) {
        (Failed, _) | (_, Other(_)) => false,
        (_, Failed) | (Other(_), _) => true,
        _ => incoming.rank() > current.rank(),
    }
}

/// The status a message reaches from `start` after all of `statuses`.
///
/// [`advance`] is a join on a total order with `FAILED` on top, so the result
/// does not depend on the order or repetition of the statuses.
pub fn fold(
    statuses: impl IntoIterator<Item = MessageStatus>,
    start: MessageStatus,
) -> MessageStatus {
    statuses.into_iter().fold(start, |current, incoming| {
        if advance(&current, &incoming) {
            incoming
        } else {
            current
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MessageStatus::*;

    fn alphabet() -> Vec<MessageStatus> {
        vec![
            Queued,
            Sent,
            Delivered,
            Read,
            Played,
            Failed,
            Other("WARNING".into()),
            Other("DELETED".into()),
        ]
    }

    /// Every sequence of indices into `alphabet()` of length `0..=max_len`.
    fn sequences(symbols: usize, max_len: u32) -> Vec<Vec<usize>> {
        let mut all = vec![vec![]];
        let mut frontier = vec![vec![]];
        for _ in 0..max_len {
            let next: Vec<Vec<usize>> = frontier
                .iter()
                .flat_map(|seq: &Vec<usize>| {
                    (0..symbols).map(move |s| [seq.as_slice(), &[s]].concat())
                })
                .collect();
            all.extend(next.iter().cloned());
            frontier = next;
        }
        all
    }

    fn statuses(indices: &[usize]) -> Vec<MessageStatus> {
        let alphabet = alphabet();
        indices.iter().map(|&i| alphabet[i].clone()).collect()
    }

    /// What the fold must equal, stated without any ordering.
    fn expected(start: &MessageStatus, all: &[MessageStatus]) -> MessageStatus {
        if *start == Failed || all.contains(&Failed) {
            return Failed;
        }
        let best = all
            .iter()
            .filter(|s| s.rank().is_some())
            .max_by_key(|s| s.rank());
        match best {
            Some(best) if start.rank().is_none() || best.rank() > start.rank() => best.clone(),
            _ => start.clone(),
        }
    }

    #[test]
    fn parses_meta_and_stored_forms() {
        for (input, status) in [
            ("sent", Sent),
            ("SENT", Sent),
            ("delivered", Delivered),
            (" Read ", Read),
            ("played", Played),
            ("failed", Failed),
            ("QUEUED", Queued),
        ] {
            assert_eq!(MessageStatus::parse(input), status, "{input}");
            assert_eq!(MessageStatus::parse(status.as_str()), status);
        }
        let other = MessageStatus::parse("warning");
        assert_eq!(other, Other("WARNING".into()));
        assert_eq!(other.as_str(), "WARNING");
        assert_eq!(other.to_string(), "WARNING");
        assert_eq!(
            "deleted".parse::<MessageStatus>(),
            Ok(Other("DELETED".into()))
        );
    }

    #[test]
    fn ranks_follow_the_delivery_path() {
        let ranks: Vec<Option<u8>> = alphabet().iter().map(MessageStatus::rank).collect();
        assert_eq!(ranks[..5], [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(Failed.rank(), None);
        assert_eq!(Other("X".into()).rank(), None);
    }

    #[test]
    fn advance_never_goes_backwards() {
        assert!(advance(&Sent, &Delivered));
        assert!(advance(&Sent, &Read), "read may come without delivered");
        assert!(!advance(&Delivered, &Sent), "late sent must not downgrade");
        assert!(!advance(&Read, &Read));
        assert!(advance(&Read, &Played));
        assert!(advance(&Queued, &Sent));
    }

    #[test]
    fn failed_wins_and_is_terminal() {
        for status in alphabet() {
            assert_eq!(advance(&status, &Failed), status != Failed, "{status}");
            assert!(!advance(&Failed, &status), "{status}");
        }
    }

    #[test]
    fn other_values_never_move_a_message() {
        let warning = Other("WARNING".into());
        for status in alphabet() {
            assert!(!advance(&status, &warning), "{status}");
        }
        assert!(
            advance(&warning, &Sent),
            "a stored unknown value yields to a known one"
        );
    }

    #[test]
    fn fold_is_order_and_duplicate_independent() {
        let all = sequences(alphabet().len(), 5);
        assert_eq!(all.len(), (0..=5).map(|n| 8usize.pow(n)).sum::<usize>());
        for start in alphabet() {
            for indices in &all {
                let mut canonical = indices.clone();
                canonical.sort_unstable();
                canonical.dedup();
                let seq = statuses(indices);
                let result = fold(seq.clone(), start.clone());
                assert_eq!(result, fold(statuses(&canonical), start.clone()), "{seq:?}");
                assert_eq!(result, expected(&start, &seq), "{start} {seq:?}");
            }
        }
    }

    #[test]
    fn fold_of_nothing_is_the_start() {
        assert_eq!(fold([], Delivered), Delivered);
        assert_eq!(fold([Sent, Delivered, Sent], Queued), Delivered);
        assert_eq!(fold([Read, Failed, Played], Sent), Failed);
    }
}
