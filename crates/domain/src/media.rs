//! What a customer's file may be before we keep it: Meta's size limit and MIME types for each
//! kind of media (reference §8, "Size limits"), the SHA-256 Meta announces for it, and a file
//! name that is safe to hand back to a browser.
//!
//! Meta enforces these limits on what businesses *send*; we check what we download against
//! them too, so a file that is not what the message says it is (a 40 MB "image", an
//! executable in an audio message) is refused rather than stored and served.

use std::fmt;

const KB: u64 = 1024;
const MB: u64 = 1024 * 1024;

/// The kind of an inbound media message, as its `type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Document,
    Image,
    /// Animated stickers may be five times larger than static ones.
    Sticker {
        animated: bool,
    },
    Video,
}

const AUDIO_TYPES: &[&str] = &[
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
];
const IMAGE_TYPES: &[&str] = &["image/jpeg", "image/png"];
const STICKER_TYPES: &[&str] = &["image/webp"];
const VIDEO_TYPES: &[&str] = &["video/mp4", "video/3gpp"];
/// What Meta lists for documents. Customers can attach any file as a document (a zip, a CSV)
/// and Meta delivers it, so these are not required of inbound documents (see
/// [`MediaKind::accepted_types`]); they only tell which documents a browser may preview.
pub const DOCUMENT_TYPES: &[&str] = &[
    "text/plain",
    "application/pdf",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
];

impl MediaKind {
    /// The kind of a message `type`; `None` for types that carry no file.
    pub fn from_message_type(message_type: &str, animated: bool) -> Option<Self> {
        Some(match message_type {
            "audio" => Self::Audio,
            "document" => Self::Document,
            "image" => Self::Image,
            "sticker" => Self::Sticker { animated },
            "video" => Self::Video,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Image => "image",
            Self::Sticker { .. } => "sticker",
            Self::Video => "video",
        }
    }

    /// Meta's largest file of this kind, in bytes (its "MB" and "KB" read as powers of 1024,
    /// the larger reading, so no file Meta accepted is refused here).
    pub fn max_bytes(self) -> u64 {
        match self {
            Self::Audio | Self::Video => 16 * MB,
            Self::Document => 100 * MB,
            Self::Image => 5 * MB,
            Self::Sticker { animated: false } => 100 * KB,
            Self::Sticker { animated: true } => 500 * KB,
        }
    }

    /// The MIME types (without parameters) a file of this kind may have; `None`: any type.
    pub fn accepted_types(self) -> Option<&'static [&'static str]> {
        match self {
            Self::Audio => Some(AUDIO_TYPES),
            Self::Document => None,
            Self::Image => Some(IMAGE_TYPES),
            Self::Sticker { .. } => Some(STICKER_TYPES),
            Self::Video => Some(VIDEO_TYPES),
        }
    }

    /// Refuses a file larger than this kind allows, or of a type it may not have.
    pub fn check(self, mime_type: &str, size_bytes: u64) -> Result<(), MediaProblem> {
        if size_bytes > self.max_bytes() {
            return Err(MediaProblem::TooLarge {
                kind: self,
                size_bytes,
            });
        }
        let essence = mime_essence(mime_type);
        if let Some(accepted) = self.accepted_types()
            && !accepted.contains(&essence.as_str())
        {
            return Err(MediaProblem::WrongType {
                kind: self,
                mime_type: mime_type.to_string(),
            });
        }
        Ok(())
    }
}

/// Why a downloaded file is not kept. The text is what people see on the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaProblem {
    TooLarge { kind: MediaKind, size_bytes: u64 },
    WrongType { kind: MediaKind, mime_type: String },
}

impl fmt::Display for MediaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { kind, size_bytes } => write!(
                f,
                "the {} has {size_bytes} bytes; WhatsApp allows at most {} for this kind of file",
                kind.as_str(),
                kind.max_bytes()
            ),
            Self::WrongType { kind, mime_type } => write!(
                f,
                "the {} is of type '{mime_type}'; WhatsApp allows only {} for this kind of file",
                kind.as_str(),
                kind.accepted_types().unwrap_or_default().join(", ")
            ),
        }
    }
}

impl std::error::Error for MediaProblem {}

/// `audio/ogg; codecs=opus` → `audio/ogg`: the type without parameters, lower case.
pub fn mime_essence(mime_type: &str) -> String {
    mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Types a browser may show in the page rather than download: images only (never HTML, SVG
/// or anything else that could run script in our origin).
pub fn is_inline_image(mime_type: &str) -> bool {
    matches!(
        mime_essence(mime_type).as_str(),
        "image/jpeg" | "image/png" | "image/webp"
    )
}

/// A file name extension for the types WhatsApp carries, for files that came without a name.
pub fn extension_for(mime_type: &str) -> Option<&'static str> {
    Some(match mime_essence(mime_type).as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/ogg" => "ogg",
        "text/plain" => "txt",
        "application/pdf" => "pdf",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-powerpoint" => "ppt",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        _ => return None,
    })
}

/// The 32 bytes of a SHA-256 as Meta writes it: base64 in webhooks (standard or URL-safe,
/// padded or not), lower- or upper-case hex from the media endpoint. `None` when the text is
/// neither (some of Meta's own examples carry placeholders such as `"4654+8g="`).
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            out[i] = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        return Some(out);
    }
    let decoded = decode_base64(text)?;
    decoded.try_into().ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Base64 of either alphabet, padding optional. Small enough to keep the domain free of
/// dependencies for the one place it is needed.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for b in text.bytes() {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// A file name safe for a `Content-Disposition` header and any file system: the last path
/// segment of what the sender called it, without control characters or the characters
/// Windows and shells treat specially, at most 120 characters. `None` when nothing is left.
pub fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '*' | ':' | '<' | '>' | '?' | '|' | ';') {
                '_'
            } else {
                c
            }
        })
        .take(120)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_metas_table() {
        assert_eq!(MediaKind::Audio.max_bytes(), 16 * 1024 * 1024);
        assert_eq!(MediaKind::Video.max_bytes(), 16 * 1024 * 1024);
        assert_eq!(MediaKind::Image.max_bytes(), 5 * 1024 * 1024);
        assert_eq!(MediaKind::Document.max_bytes(), 100 * 1024 * 1024);
        assert_eq!(
            MediaKind::Sticker { animated: false }.max_bytes(),
            100 * 1024
        );
        assert_eq!(
            MediaKind::Sticker { animated: true }.max_bytes(),
            500 * 1024
        );
    }

    #[test]
    fn kinds_come_from_message_types() {
        assert_eq!(
            MediaKind::from_message_type("sticker", true),
            Some(MediaKind::Sticker { animated: true })
        );
        assert_eq!(
            MediaKind::from_message_type("image", true),
            Some(MediaKind::Image)
        );
        assert_eq!(MediaKind::from_message_type("text", false), None);
        assert_eq!(MediaKind::from_message_type("location", false), None);
    }

    #[test]
    fn a_file_at_the_limit_passes_and_one_byte_more_does_not() {
        let image = MediaKind::Image;
        assert_eq!(image.check("image/jpeg", 5 * 1024 * 1024), Ok(()));
        let err = image.check("image/jpeg", 5 * 1024 * 1024 + 1).unwrap_err();
        assert!(matches!(err, MediaProblem::TooLarge { .. }));
        assert!(err.to_string().contains("5242881 bytes"), "{err}");
        let sticker = MediaKind::Sticker { animated: false };
        assert!(sticker.check("image/webp", 150 * 1024).is_err());
        let animated = MediaKind::Sticker { animated: true };
        assert_eq!(animated.check("image/webp", 150 * 1024), Ok(()));
    }

    #[test]
    fn types_are_checked_by_their_essence() {
        assert_eq!(MediaKind::Audio.check("audio/ogg; codecs=opus", 10), Ok(()));
        assert_eq!(MediaKind::Image.check("IMAGE/PNG", 10), Ok(()));
        let err = MediaKind::Image.check("text/html", 10).unwrap_err();
        assert!(matches!(err, MediaProblem::WrongType { .. }));
        assert!(err.to_string().contains("text/html"), "{err}");
        assert!(
            MediaKind::Video
                .check("application/x-msdownload", 10)
                .is_err()
        );
        assert!(
            MediaKind::Sticker { animated: false }
                .check("image/png", 10)
                .is_err()
        );
        // Customers attach any file as a document.
        assert_eq!(MediaKind::Document.check("application/zip", 10), Ok(()));
        assert!(
            MediaKind::Document
                .check("application/zip", 100 * 1024 * 1024 + 1)
                .is_err()
        );
    }

    #[test]
    fn only_plain_images_are_shown_inline() {
        assert!(is_inline_image("image/jpeg"));
        assert!(is_inline_image("image/webp"));
        assert!(!is_inline_image("image/svg+xml"));
        assert!(!is_inline_image("text/html"));
        assert!(!is_inline_image("application/pdf"));
    }

    #[test]
    fn extensions_for_files_without_a_name() {
        assert_eq!(extension_for("audio/ogg; codecs=opus"), Some("ogg"));
        assert_eq!(extension_for("image/jpeg"), Some("jpg"));
        assert_eq!(extension_for("application/zip"), None);
    }

    #[test]
    fn sha256_reads_base64_and_hex() {
        // SHA-256 of "abc".
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let expected = parse_sha256(hex).unwrap();
        assert_eq!(expected[0], 0xba);
        assert_eq!(expected[31], 0xad);
        assert_eq!(parse_sha256(&hex.to_uppercase()), Some(expected));
        let base64 = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        assert_eq!(parse_sha256(base64), Some(expected));
        assert_eq!(parse_sha256(base64.trim_end_matches('=')), Some(expected));
        let url_safe = base64.replace('+', "-").replace('/', "_");
        assert_eq!(parse_sha256(&url_safe), Some(expected));
    }

    #[test]
    fn placeholders_are_not_hashes() {
        for text in [
            "4654+8g=",
            "",
            "not base64 at all!",
            "E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA=",
            "a",
        ] {
            assert_eq!(parse_sha256(text), None, "{text}");
        }
    }

    #[test]
    fn file_names_lose_paths_and_dangerous_characters() {
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            safe_file_name("C:\\Users\\ana\\factura.pdf").as_deref(),
            Some("factura.pdf")
        );
        assert_eq!(
            safe_file_name("a\"b;\r\nc.pdf").as_deref(),
            Some("a_b___c.pdf")
        );
        assert_eq!(
            safe_file_name("Cotización ñ.pdf").as_deref(),
            Some("Cotización ñ.pdf")
        );
        assert_eq!(safe_file_name(" .. ").as_deref(), None);
        assert_eq!(safe_file_name("dir/").as_deref(), None);
        assert_eq!(safe_file_name(&"x".repeat(500)).map(|n| n.len()), Some(120));
    }
}
