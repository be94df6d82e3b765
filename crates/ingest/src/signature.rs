//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw request bytes under the Meta app secret.
//! Checked over the bytes exactly as received, never a re-serialization, in constant time.

use ring::hmac;

pub const HEADER: &str = "x-hub-signature-256";

/// What the request's signature header holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    Missing,
    /// Present but not `sha256=<64 hex digits>`.
    Malformed,
    Present(Vec<u8>),
}

impl Signature {
    pub fn parse(header: Option<&[u8]>) -> Signature {
        let Some(raw) = header else {
            return Signature::Missing;
        };
        let Ok(text) = std::str::from_utf8(raw) else {
            return Signature::Malformed;
        };
        let text = text.trim();
        if text.is_empty() {
            return Signature::Missing;
        }
        let Some(hex_digest) = text.strip_prefix("sha256=") else {
            return Signature::Malformed;
        };
        match hex::decode(hex_digest) {
            Ok(tag) if tag.len() == 32 => Signature::Present(tag),
            _ => Signature::Malformed,
        }
    }
}

/// The HMAC key of one app secret.
pub fn key(app_secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes())
}

/// True when `tag` is the HMAC of `body` under `key` (ring compares in constant time).
pub fn verifies(key: &hmac::Key, body: &[u8], tag: &[u8]) -> bool {
    hmac::verify(key, body, tag).is_ok()
}

/// `sha256=<hex>` for `body` under `app_secret`: what Meta sends (used by tests, the sandbox and benchmarks).
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac::sign(&key(app_secret), body).as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_header_forms() {
        let good = format!("sha256={}", "ab".repeat(32));
        assert!(
            matches!(Signature::parse(Some(good.as_bytes())), Signature::Present(t) if t.len() == 32)
        );
        assert_eq!(Signature::parse(None), Signature::Missing);
        assert_eq!(Signature::parse(Some(b"")), Signature::Missing);
        assert_eq!(Signature::parse(Some(b"sha1=abcd")), Signature::Malformed);
        assert_eq!(Signature::parse(Some(b"sha256=zz")), Signature::Malformed);
        assert_eq!(Signature::parse(Some(b"sha256=abcd")), Signature::Malformed);
        assert_eq!(Signature::parse(Some(&[0xff, 0xfe])), Signature::Malformed);
    }

    #[test]
    fn verifies_only_the_exact_bytes_under_the_right_secret() {
        let body = br#"{"object":"whatsapp_business_account","text":"J'ai mang\u00e9 \/ @"}"#;
        let Signature::Present(tag) = Signature::parse(Some(sign("s3cret", body).as_bytes()))
        else {
            panic!("sign produced an unparsable header")
        };
        assert!(verifies(&key("s3cret"), body, &tag));
        assert!(!verifies(&key("other"), body, &tag));
        // Decoding the escapes (what a re-serializer does) breaks the signature.
        let reserialized = "{\"object\":\"whatsapp_business_account\",\"text\":\"J'ai mangé / @\"}";
        assert!(!verifies(&key("s3cret"), reserialized.as_bytes(), &tag));
    }
}
