//! Fresh identifiers that look like Meta's: wamids, numeric object ids, fbtrace ids.
//!
//! Randomness comes from `fastrand` (already in the dependency tree through `tempfile`): these
//! ids only need to be unique and realistic, not unpredictable.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// A wamid for a message the business sends (what `POST /messages` returns).
///
/// Real ones are base64 of a small protobuf-like record: the recipient's number, then an
/// 18-character upper-case hex id (`wamid.HBgLMTM0Mzc3NzI5MTAVAgARGBIyQzU4M0Q4MDc2NDY4ODgwNjUA`
/// decodes to `\x1c\x18\x0b13437772910\x15\x02\x00\x11\x18\x122C583D807646888065\x00`).
/// The hex id here is random, so every call gives a new wamid.
pub fn outgoing_wamid(wa_id: &str) -> String {
    wamid(wa_id, 0x11, 18)
}

/// A wamid for a message a user sends to the business (inbound webhooks): same layout with a
/// 20-character id, as in real inbound wamids.
pub fn incoming_wamid(wa_id: &str) -> String {
    wamid(wa_id, 0x12, 20)
}

fn wamid(wa_id: &str, marker: u8, hex_len: usize) -> String {
    let number = &wa_id.as_bytes()[..wa_id.len().min(64)];
    let mut raw = Vec::with_capacity(number.len() + hex_len + 10);
    raw.extend_from_slice(&[0x1c, 0x18, number.len() as u8]);
    raw.extend_from_slice(number);
    raw.extend_from_slice(&[0x15, 0x02, 0x00, marker, 0x18, hex_len as u8]);
    raw.extend((0..hex_len).map(|_| b"0123456789ABCDEF"[fastrand::usize(..16)]));
    raw.push(0x00);
    format!("wamid.{}", STANDARD.encode(raw))
}

/// A numeric Graph object id (media, templates): 16 digits, no leading zero.
pub fn numeric_id() -> String {
    fastrand::u64(1_000_000_000_000_000..10_000_000_000_000_000).to_string()
}

/// A 23-character trace id like `A37kyQyzvth42JAWv5dja9R`.
pub fn fbtrace_id() -> String {
    let bytes: Vec<u8> = (0..17).map(|_| fastrand::u8(..)).collect();
    let mut id = URL_SAFE_NO_PAD.encode(bytes);
    id.replace_range(..1, "A");
    id
}

/// The digits of a phone number as given (`+1 (650) 555-1234` → `16505551234`).
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_of(wamid: &str) -> Vec<u8> {
        STANDARD.decode(&wamid["wamid.".len()..]).unwrap()
    }

    #[test]
    fn wamids_carry_the_number_and_are_fresh() {
        let a = outgoing_wamid("13437772910");
        let b = outgoing_wamid("13437772910");
        assert_ne!(a, b);
        // The last base64 character before the random id mixes in its first digit.
        assert!(a.starts_with("wamid.HBgLMTM0Mzc3NzI5MTAVAgARGB"), "{a}");
        assert_eq!(&raw_of(&a)[14..20], [0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
        assert_eq!(
            a.len(),
            "wamid.HBgLMTM0Mzc3NzI5MTAVAgARGBIyQzU4M0Q4MDc2NDY4ODgwNjUA".len()
        );
        let raw = STANDARD.decode(&a["wamid.".len()..]).unwrap();
        assert_eq!(&raw[3..14], b"13437772910");
        let inbound = incoming_wamid("5511999990000");
        assert!(inbound.starts_with("wamid.HBg"));
    }

    #[test]
    fn other_ids() {
        let id = numeric_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        let trace = fbtrace_id();
        assert_eq!(trace.len(), 23);
        assert!(trace.starts_with('A'));
        assert_eq!(digits("+1 (650) 555-1234"), "16505551234");
    }
}
