//! The store's errors: what a caller can act on, with the backend's own words kept.

use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database pool: {0}")]
    Pool(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique rule would be broken (a slug, a phone number id, …).
    #[error("{0}")]
    Conflict(String),
    /// The caller gave a value the store cannot accept.
    #[error("{0}")]
    Invalid(String),
    /// Well-formed, but a rule refuses it; `code` names the rule (e.g. OPTED_OUT) for callers
    /// that answer with a stable code.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    /// The database could not commit: the caller should answer "try again later".
    #[error("the database could not commit: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => StoreError::NotFound("record"),
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    /// True when the row broke a unique constraint (a duplicate insert).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}
