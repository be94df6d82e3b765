//! Switchboard's storage: the diesel schema, connections and pools over SQLite and PostgreSQL,
//! migrations, secrets at rest, and the repositories every other crate goes through.

pub mod bootstrap;
pub mod crypto;
pub mod db;
pub mod error;
pub mod helpdesk;
pub mod models;
pub mod repo;
pub mod schema;
pub mod url;
pub mod writer;

pub use crypto::SecretBox;
pub use db::{AnyConnection, Db, DbSettings, SqliteSynchronous};
pub use error::StoreError;
pub use url::{DEFAULT_DATABASE_URL, DatabaseUrl};

#[cfg(feature = "testing")]
pub mod testing;
