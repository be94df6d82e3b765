//! Connections, pools and migrations: one code path over SQLite and PostgreSQL.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::StoreError;
use crate::url::DatabaseUrl;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Any key works as long as every Switchboard process uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x5357_4254_4348_4244; // "SWBTCHBD"

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// How durable each SQLite commit is. `Full` survives power loss; `Normal` in WAL mode
/// may lose the last commits on power loss (never on a process crash) and is faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSynchronous {
    #[default]
    Full,
    Normal,
}

impl SqliteSynchronous {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "FULL" => Some(Self::Full),
            "NORMAL" => Some(Self::Normal),
            _ => None,
        }
    }

    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Everything needed to open connections.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: DatabaseUrl,
    pub pool_size: u32,
    pub sqlite_synchronous: SqliteSynchronous,
    /// How long a SQLite connection waits for the write lock before failing.
    pub sqlite_busy_timeout: Duration,
}

impl DbSettings {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            pool_size: 8,
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// What a connection is for; on SQLite the group-commit writer's is tuned differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRole {
    Pooled,
    Writer,
    Checkpointer,
}

/// Opens connections for r2d2, keeping the real error of the backend the URL names
/// (diesel's generic manager would try every backend and report the last failure).
#[derive(Debug)]
pub struct ConnectionManager {
    settings: DbSettings,
}

impl ConnectionManager {
    pub fn new(settings: DbSettings) -> Self {
        Self { settings }
    }

    pub fn establish(&self) -> Result<AnyConnection, StoreError> {
        self.establish_for(ConnectionRole::Pooled)
    }

    pub fn establish_for(&self, role: ConnectionRole) -> Result<AnyConnection, StoreError> {
        match &self.settings.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)
                    .map_err(|e| StoreError::Connect(first_line(&e.to_string())))?;
                // Plan each execution with its real values. Every query names the tenant, and
                // most tenants' rows share one organization id: a cached generic plan then
                // prefers an index led by organization_id over the unique key the query also
                // names (measured: lookups by message id scanned the whole organization, 30 ms
                // instead of 0.05). Planning these small queries costs microseconds.
                conn.batch_execute("SET plan_cache_mode = force_custom_plan")?;
                Ok(AnyConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                let path_str = path.to_str().ok_or_else(|| {
                    StoreError::Connect(format!("SQLite path {} is not UTF-8", path.display()))
                })?;
                let mut conn = SqliteConnection::establish(path_str)
                    .map_err(|e| StoreError::Connect(format!("{}: {e}", path.display())))?;
                let pragmas = format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
                    self.settings.sqlite_busy_timeout.as_millis(),
                    self.settings.sqlite_synchronous.pragma()
                );
                set_pragmas(&mut conn, &pragmas)?;
                if role == ConnectionRole::Writer {
                    // Its checkpoints are done by the checkpointer thread, off the commit path.
                    // Its page cache stays at SQLite's default (2 MiB), the OS caching the rest:
                    // with 64 MiB every commit got slower, as SQLite walks the cache's hash table
                    // at the end of each transaction (`pcache1TruncateUnsafe`, 13 % of the ingest
                    // writer's time); 2 MiB took ingest from ~21,000 to ~23,000 webhooks/s.
                    conn.batch_execute("PRAGMA wal_autocheckpoint = 0;")?;
                }
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// Switching a brand-new file to WAL needs a moment alone with it; when several processes
/// open it at once, retry briefly instead of failing.
fn set_pragmas(conn: &mut SqliteConnection, pragmas: &str) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match conn.batch_execute(pragmas) {
            Err(e) if attempt < 50 && e.to_string().contains("locked") => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other.map_err(StoreError::from),
        }
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<AnyConnection, StoreError> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        conn.batch_execute("SELECT 1").map_err(StoreError::from)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        // A connection left inside a failed transaction must not go back to the pool.
        use diesel::r2d2::R2D2Connection;
        match conn {
            AnyConnection::Postgres(c) => c.is_broken(),
            AnyConnection::Sqlite(c) => c.is_broken(),
        }
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The handle every other crate holds: a pool plus a way to run blocking
/// diesel work off the async threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    url: DatabaseUrl,
    manager: Arc<ConnectionManager>,
    /// SQLite takes one writer at a time. Writers of this process queue here, in order and
    /// without sleeping, instead of in SQLite's busy handler (which backs off in sleeps of up
    /// to 100 ms); the busy timeout is left for other processes.
    sqlite_writer: Arc<std::sync::Mutex<()>>,
    /// The SQLite checkpoint thread's liveness: it runs while a writer holds a share.
    checkpoints: Arc<std::sync::Mutex<std::sync::Weak<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("url", &self.url).finish()
    }
}

impl Db {
    /// Opens the pool, creating the SQLite file's folder when needed, and checks that
    /// one connection can be made so a bad URL fails here with the backend's own error.
    pub fn connect(settings: DbSettings) -> Result<Self, StoreError> {
        if let DatabaseUrl::Sqlite(path) = &settings.url {
            create_parent_dir(path)?;
        }
        let url = settings.url.clone();
        let manager = ConnectionManager::new(settings.clone());
        // Fail fast with the real reason instead of r2d2's generic time-out.
        drop(manager.establish()?);
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            url,
            manager: Arc::new(ConnectionManager::new(settings)),
            sqlite_writer: Arc::new(std::sync::Mutex::new(())),
            checkpoints: Arc::new(std::sync::Mutex::new(std::sync::Weak::new())),
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.url, DatabaseUrl::Sqlite(_))
    }

    /// A pooled connection for synchronous callers (the CLI, tests, job bodies on their own threads).
    pub fn conn(&self) -> Result<PooledConnection, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// A connection of its own, outside the pool, for a long-lived thread.
    pub fn dedicated_connection(&self, role: ConnectionRole) -> Result<AnyConnection, StoreError> {
        self.manager.establish_for(role)
    }

    /// Runs `f` with a pooled connection on tokio's blocking threads.
    pub async fn run<F, T>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` in a write transaction (see [`write_transaction`]) on tokio's blocking threads.
    pub async fn run_write<F, T, E>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + From<StoreError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.conn()?;
            db.with_write_lock(|| write_transaction(&mut conn, f))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `f` holding this process's SQLite write turn (a no-op on PostgreSQL).
    pub fn with_write_lock<T>(&self, f: impl FnOnce() -> T) -> T {
        if !self.is_sqlite() {
            return f();
        }
        let _turn = self
            .sqlite_writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f()
    }

    /// A share in this database's checkpoint thread (SQLite only). Group-commit writers leave
    /// WAL checkpoints (each with its own fsync) off their commits; one thread per database
    /// runs a PASSIVE checkpoint, which never blocks a writer, every second instead. It starts
    /// with the first share and stops, after truncating the WAL, when the last one is dropped.
    pub fn checkpoint_share(&self) -> Result<Option<Arc<()>>, StoreError> {
        if !self.is_sqlite() {
            return Ok(None);
        }
        let mut slot = self
            .checkpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(share) = slot.upgrade() {
            return Ok(Some(share));
        }
        let share = Arc::new(());
        let alive = Arc::downgrade(&share);
        let mut conn = self.dedicated_connection(ConnectionRole::Checkpointer)?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while alive.upgrade().is_some() {
                    std::thread::sleep(Duration::from_secs(1));
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                    }
                }
                let _ = conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)");
            })
            .map_err(|e| {
                StoreError::Internal(format!("cannot start the checkpoint thread: {e}"))
            })?;
        *slot = Arc::downgrade(&share);
        Ok(Some(share))
    }

    /// Applies every pending migration; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        run_migrations(&mut conn)
    }

    /// Versions embedded in this binary that the database has not applied yet.
    pub fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let versions = match &mut *conn {
            AnyConnection::Sqlite(c) => c
                .pending_migrations(SQLITE_MIGRATIONS)
                .map(|p| p.iter().map(|m| m.name().version().to_string()).collect()),
            AnyConnection::Postgres(c) => c
                .pending_migrations(POSTGRES_MIGRATIONS)
                .map(|p| p.iter().map(|m| m.name().version().to_string()).collect()),
        };
        versions.map_err(|e| StoreError::Migration(e.to_string()))
    }
}

fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Connect(format!(
                "cannot create folder {} for the SQLite file: {e}",
                dir.display()
            ))
        }),
        _ => Ok(()),
    }
}

/// Runs the embedded migrations of the connection's backend. On PostgreSQL an advisory
/// lock serializes processes that start at the same moment.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    let applied = match conn {
        // Nothing pending (the usual case): no write lock, so every admin command does not
        // queue behind a busy server. Otherwise BEGIN IMMEDIATE takes SQLite's write lock
        // first: a second process starting at the same moment waits, then finds nothing
        // pending (each migration becomes a savepoint).
        AnyConnection::Sqlite(sqlite) => {
            let pending = sqlite
                .pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| StoreError::Migration(e.to_string()))?;
            if pending.is_empty() {
                return Ok(Vec::new());
            }
            return write_transaction(conn, |c| {
                let AnyConnection::Sqlite(sqlite) = c else {
                    return Err(StoreError::Internal(
                        "the connection changed backend".into(),
                    ));
                };
                sqlite
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(versions)
                    .map_err(|e| StoreError::Migration(e.to_string()))
            });
        }
        AnyConnection::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
            let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(versions);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
            result
        }
    };
    applied.map_err(|e| StoreError::Migration(e.to_string()))
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}

/// One column of one table, as the database itself reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, diesel::QueryableByName)]
pub struct ColumnInfo {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub column_name: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub nullable: bool,
}

/// The application's tables and columns (migration bookkeeping left out), sorted: lets a test
/// prove both backends' migrations build the same schema.
pub fn list_columns(conn: &mut AnyConnection) -> Result<Vec<ColumnInfo>, StoreError> {
    let mut columns: Vec<ColumnInfo> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, (p.\"notnull\" = 0 AND p.pk = 0) AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
        AnyConnection::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, (is_nullable = 'YES') AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '__diesel_schema_migrations'",
        )
        .load(c)?,
    };
    columns.sort();
    Ok(columns)
}

/// Runs `f` in a write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that upgrades later can fail at once with
/// SQLITE_BUSY instead of waiting. Nested `transaction` calls inside `f` become savepoints.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if !matches!(conn, AnyConnection::Sqlite(_)) {
        return conn.transaction(f);
    }
    on_sqlite(conn, |c| {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
    })?;
    match f(conn) {
        Ok(value) => match on_sqlite(conn, AnsiTransactionManager::commit_transaction) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                // A failed COMMIT may leave the transaction open; close it before reporting.
                let _ = on_sqlite(conn, AnsiTransactionManager::rollback_transaction);
                Err(commit_error.into())
            }
        },
        Err(e) => {
            on_sqlite(conn, AnsiTransactionManager::rollback_transaction)?;
            Err(e)
        }
    }
}

fn on_sqlite(
    conn: &mut AnyConnection,
    op: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => op(c),
        AnyConnection::Postgres(_) => Ok(()),
    }
}
