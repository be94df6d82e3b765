//! Test databases for every crate's tests: SQLite in a temp file, and PostgreSQL in a fresh
//! schema from `SWITCHBOARD_TEST_DATABASE_URL` (dropped afterwards), so tests run in parallel.
//! Compiled only with the `testing` feature.

#![allow(clippy::expect_used)] // test scaffolding: a broken test database should stop the test loudly
use std::path::PathBuf;

use diesel::connection::SimpleConnection;

use crate::db::{ConnectionManager, Db, DbSettings};
use crate::url::DatabaseUrl;

pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_DATABASE_URL";

/// A migrated, empty database that cleans up after itself.
pub struct TestDb {
    pub db: Db,
    pub backend: &'static str,
    sqlite_dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let t = Self::empty_sqlite();
        t.db.migrate().expect("migrate SQLite");
        t
    }

    /// A SQLite file with no tables yet.
    pub fn empty_sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("switchboard.db");
        let db = Db::connect(DbSettings::new(DatabaseUrl::Sqlite(path))).expect("open SQLite");
        TestDb {
            db,
            backend: "sqlite",
            sqlite_dir: Some(dir),
            postgres: None,
        }
    }

    /// A migrated fresh schema on the test server, or `None` (with a loud line) when none is configured.
    pub fn postgres() -> Option<TestDb> {
        let t = Self::empty_postgres()?;
        t.db.migrate().expect("migrate PostgreSQL");
        Some(t)
    }

    /// A fresh, empty schema on the test server, or `None` (with a loud line) when none is configured.
    pub fn empty_postgres() -> Option<TestDb> {
        let Some(base) = postgres_url() else {
            eprintln!("skipped: PostgreSQL ({POSTGRES_ENV} is unset; only SQLite was tested)");
            return None;
        };
        let schema = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            ConnectionManager::new(DbSettings::new(DatabaseUrl::Postgres(base.clone())))
                .establish()
                .expect("connect to SWITCHBOARD_TEST_DATABASE_URL");
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-csearch_path%3D{schema}");
        let db = Db::connect(DbSettings::new(DatabaseUrl::Postgres(url))).expect("open PostgreSQL");
        Some(TestDb {
            db,
            backend: "postgres",
            sqlite_dir: None,
            postgres: Some((base, schema)),
        })
    }

    /// SQLite always, PostgreSQL when configured: run a test body against each.
    pub fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite()];
        dbs.extend(TestDb::postgres());
        dbs
    }

    /// The SQLite file (and its folder), for tests that inspect what is on disk.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.sqlite_dir
            .as_ref()
            .map(|d| d.path().join("switchboard.db"))
    }

    /// The URL a child process (the real binary) should use for this database.
    pub fn url(&self) -> String {
        match self.db.url() {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.postgres
            && let Ok(mut admin) =
                ConnectionManager::new(DbSettings::new(DatabaseUrl::Postgres(base.clone())))
                    .establish()
        {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// `shared/fixtures` beside the repository (`SWITCHBOARD_FIXTURES_DIR` overrides it).
pub fn fixtures_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SWITCHBOARD_FIXTURES_DIR") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
    assert!(
        dir.is_dir(),
        "{} is missing: the shared folder must sit beside the repository",
        dir.display()
    );
    dir
}

/// Every Meta webhook fixture as (file name, raw bytes), sorted by name.
pub fn webhook_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = fixtures_dir().join("meta-webhooks");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .expect("read fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("read fixture"))
        })
        .collect();
    fixtures.sort();
    assert!(!fixtures.is_empty(), "no fixtures in {}", dir.display());
    fixtures
}
