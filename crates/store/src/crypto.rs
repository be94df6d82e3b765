//! Secrets at rest and API tokens.
//!
//! Channel secrets are sealed with AES-256-GCM under the master key; the column name is the
//! associated data, so a sealed access token cannot be passed off as an app secret. API tokens
//! are random and only their SHA-256 is stored.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const SEALED_PREFIX: &str = "v1.";
const KEY_LEN: usize = 32;
const TOKEN_PREFIX: &str = "sb_";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "SWITCHBOARD_MASTER_KEY must be 32 bytes encoded as base64 (generate one with: openssl rand -base64 32)"
    )]
    BadMasterKey,
    #[error(
        "cannot decrypt a stored secret ({0}): the master key is not the one it was encrypted with; \
         set SWITCHBOARD_MASTER_KEY (or data/master.key) back to the original key"
    )]
    WrongKey(&'static str),
    #[error("stored secret ({0}) is not in Switchboard's sealed format")]
    Malformed(&'static str),
    #[error("master key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("the system random generator failed")]
    Random,
}

/// Seals and opens secrets with the master key.
pub struct SecretBox {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// Where the master key came from, so start-up can warn about a generated one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

impl SecretBox {
    pub fn from_key(bytes: &[u8]) -> Result<Self, CryptoError> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// Parses the base64 text of `SWITCHBOARD_MASTER_KEY`.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadMasterKey)?;
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadMasterKey);
        }
        Self::from_key(&bytes)
    }

    /// Uses `SWITCHBOARD_MASTER_KEY` when given, else `<data_dir>/master.key`, generating
    /// that file (mode 0600) the first time.
    pub fn load(env_key: Option<&str>, data_dir: &Path) -> Result<(Self, KeySource), CryptoError> {
        if let Some(text) = env_key {
            return Ok((Self::from_base64(text)?, KeySource::Environment));
        }
        let path = data_dir.join("master.key");
        let key_file_error = |reason: String| CryptoError::KeyFile {
            path: path.clone(),
            reason,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = Self::from_base64(&text)
                    .map_err(|_| key_file_error("is not 32 bytes of base64".into()))?;
                Ok((key, KeySource::File(path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; KEY_LEN];
                SystemRandom::new()
                    .fill(&mut bytes)
                    .map_err(|_| CryptoError::Random)?;
                write_private_file(&path, STANDARD.encode(bytes).as_bytes())
                    .map_err(|e| key_file_error(e.to_string()))?;
                Ok((Self::from_key(&bytes)?, KeySource::Generated(path)))
            }
            Err(e) => Err(key_file_error(e.to_string())),
        }
    }

    /// Encrypts `plaintext`; `context` names the column it is stored in.
    pub fn seal(&self, context: &'static str, plaintext: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut buffer = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Random)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// Decrypts what `seal` produced for the same `context`. A wrong key is an error, never garbage.
    pub fn open(&self, context: &'static str, sealed: &str) -> Result<String, CryptoError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(CryptoError::Malformed(context))?;
        let mut bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError::Malformed(context))?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::Malformed(context));
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes)
            .map_err(|_| CryptoError::Malformed(context))?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut ciphertext)
            .map_err(|_| CryptoError::WrongKey(context))?;
        String::from_utf8(plain.to_vec()).map_err(|_| CryptoError::Malformed(context))
    }
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// A freshly generated API token: the plaintext is shown once, only the hash is stored.
pub struct GeneratedToken {
    pub plaintext: String,
    pub hash: String,
    /// The first characters, kept so people can tell their tokens apart in a list.
    pub prefix: String,
}

pub fn generate_api_token() -> Result<GeneratedToken, CryptoError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    let plaintext = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_api_token(&plaintext);
    let prefix = plaintext.chars().take(TOKEN_PREFIX.len() + 6).collect();
    Ok(GeneratedToken {
        plaintext,
        hash,
        prefix,
    })
}

/// The hex SHA-256 of a token: what the database keeps and looks tokens up by.
pub fn hash_api_token(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// Compares two secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // HMAC both sides under a random key: equal-length digests compared by ring in constant time.
    let mut key_bytes = [0u8; 32];
    if SystemRandom::new().fill(&mut key_bytes).is_err() {
        return false;
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes);
    let tag = ring::hmac::sign(&key, a);
    ring::hmac::verify(&key, b, tag.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretBox {
        SecretBox::from_key(&[byte; 32]).unwrap()
    }

    #[test]
    fn seals_and_opens_round_trip_without_leaking_plaintext() {
        let sb = key(7);
        let sealed = sb
            .seal("channels.access_token", "EAAG-secret-token")
            .unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("EAAG"));
        assert_eq!(
            sb.open("channels.access_token", &sealed).unwrap(),
            "EAAG-secret-token"
        );
        // Fresh nonce every time.
        assert_ne!(
            sealed,
            sb.seal("channels.access_token", "EAAG-secret-token")
                .unwrap()
        );
    }

    #[test]
    fn wrong_key_or_wrong_column_is_an_error_not_garbage() {
        let sealed = key(1).seal("channels.app_secret", "abc").unwrap();
        assert!(matches!(
            key(2).open("channels.app_secret", &sealed),
            Err(CryptoError::WrongKey(_))
        ));
        assert!(matches!(
            key(1).open("channels.access_token", &sealed),
            Err(CryptoError::WrongKey(_))
        ));
        assert!(matches!(
            key(1).open("channels.app_secret", "plain"),
            Err(CryptoError::Malformed(_))
        ));
        assert!(matches!(
            key(1).open("channels.app_secret", "v1.AA"),
            Err(CryptoError::Malformed(_))
        ));
    }

    #[test]
    fn master_key_must_be_32_base64_bytes() {
        assert!(SecretBox::from_base64(&STANDARD.encode([0u8; 32])).is_ok());
        assert!(matches!(
            SecretBox::from_base64(&STANDARD.encode([0u8; 16])),
            Err(CryptoError::BadMasterKey)
        ));
        assert!(matches!(
            SecretBox::from_base64("not base64!"),
            Err(CryptoError::BadMasterKey)
        ));
    }

    #[test]
    fn generates_the_key_file_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = SecretBox::load(None, dir.path()).unwrap();
        let path = dir.path().join("master.key");
        assert_eq!(source, KeySource::Generated(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let sealed = first.seal("x", "hello").unwrap();
        let (second, source) = SecretBox::load(None, dir.path()).unwrap();
        assert_eq!(source, KeySource::File(path));
        assert_eq!(second.open("x", &sealed).unwrap(), "hello");
    }

    #[test]
    fn api_tokens_are_long_random_and_hashed() {
        let a = generate_api_token().unwrap();
        let b = generate_api_token().unwrap();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.len() >= 3 + 43, "32 random bytes in base64");
        assert_eq!(a.hash, hash_api_token(&a.plaintext));
        assert_eq!(a.hash.len(), 64);
        assert!(a.plaintext.starts_with(&a.prefix));
        assert!(constant_time_eq(
            a.hash.as_bytes(),
            hash_api_token(&a.plaintext).as_bytes()
        ));
        assert!(!constant_time_eq(a.hash.as_bytes(), b.hash.as_bytes()));
        assert!(!constant_time_eq(b"short", b"longer value"));
    }
}
