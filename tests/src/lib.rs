//! Harness for tests and benchmarks that run the real `switchboard` binary, as an operator would.
#![allow(clippy::expect_used)] // harness: a broken set-up should stop the test loudly

pub mod api;
pub mod bench;
pub mod load;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The WhatsApp number an end-to-end test's server and sandbox agree on.
pub struct TestNumber {
    pub phone_number_id: &'static str,
    pub waba_id: &'static str,
    pub app_secret: &'static str,
}

/// Variables that would leak the developer's own set-up into a test.
const ISOLATED_VARS: &[&str] = &[
    "DATABASE_URL",
    "SWITCHBOARD_BIND",
    "SWITCHBOARD_MASTER_KEY",
    "SWITCHBOARD_ENV",
    "SWITCHBOARD_DATA_DIR",
    "SWITCHBOARD_SQLITE_SYNCHRONOUS",
    "SWITCHBOARD_HTTP_WORKERS",
    "SWITCHBOARD_WEBHOOK_MAX_BYTES",
    "LOG_FORMAT",
    "RUST_LOG",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_WEBHOOK_VERIFY_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_WABA_ID",
    "WHATSAPP_BUSINESS_ACCOUNT_ID",
    "WHATSAPP_API_URL",
    "WHATSAPP_API_VERSION",
    "WHATSAPP_API_TIMEOUT_SECS",
    "WHATSAPP_MESSAGES_PER_SECOND",
    "SWITCHBOARD_SANDBOX_BIND",
    "SWITCHBOARD_SANDBOX_WEBHOOK_URL",
    "SWITCHBOARD_CHANNEL_ACCESS_TOKEN",
    "SWITCHBOARD_CHANNEL_APP_SECRET",
    "JOB_RUNNER_ENABLED",
    "JOB_RUNNER_INTERVAL_MS",
    "SWITCHBOARD_JOB_CONCURRENCY",
    "SWITCHBOARD_JOB_LEASE_SECS",
    "SWITCHBOARD_JOB_RETENTION_DAYS",
    "INTERNAL_API_KEY",
    "WHATSAPP_DEFAULT_TO",
    "DEFAULT_COUNTRY_CODE",
    "SWITCHBOARD_MEDIA_DIR",
];

/// The `switchboard` binary next to this test executable (target/<profile>/switchboard),
/// or `SWITCHBOARD_BIN`. `make test` builds it before the tests run.
pub fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("SWITCHBOARD_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    // Tests run from target/<profile>/deps/, bench binaries from target/<profile>/.
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("switchboard"))
        .collect();
    candidates.iter().find(|bin| bin.exists()).cloned().unwrap_or_else(|| {
        panic!(
            "no switchboard binary at {:?}: build it first with `cargo build --bin switchboard` (make test does)",
            candidates
        )
    })
}

/// reqwest is built without a TLS crypto provider in this workspace: install ring before any
/// client is built (a second install is refused and ignored).
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A blocking HTTP client for tests.
pub fn blocking_client() -> reqwest::blocking::ClientBuilder {
    install_tls();
    reqwest::blocking::Client::builder()
}

/// A scratch folder to run the binary in, with the environment cleaned of the developer's settings.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `switchboard ARGS` in this folder, with DATABASE_URL set to `database_url`.
    pub fn command(&self, database_url: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        for var in ISOLATED_VARS {
            cmd.env_remove(var);
        }
        cmd.current_dir(self.path())
            .env("DATABASE_URL", database_url)
            .args(args);
        cmd
    }

    /// `switchboard start` with the default organization's channel (the seed's `WHATSAPP_*`
    /// variables) set to `number`, calling the Graph API at `graph_url` (a sandbox's).
    pub fn start_command(
        &self,
        database_url: &str,
        number: &TestNumber,
        graph_url: &str,
    ) -> Command {
        let mut cmd = self.command(database_url, &["start"]);
        cmd.env("WHATSAPP_PHONE_NUMBER_ID", number.phone_number_id)
            .env("WHATSAPP_BUSINESS_ACCOUNT_ID", number.waba_id)
            .env("WHATSAPP_ACCESS_TOKEN", "EAAG-e2e")
            .env("WHATSAPP_APP_SECRET", number.app_secret)
            .env("WHATSAPP_API_URL", graph_url);
        cmd
    }

    pub fn run(&self, database_url: &str, args: &[&str]) -> Output {
        self.command(database_url, args)
            .output()
            .expect("run switchboard")
    }

    /// Runs and returns trimmed stdout, failing the test with stderr when the command fails.
    pub fn ok(&self, database_url: &str, args: &[&str]) -> String {
        let out = self.run(database_url, args);
        assert!(
            out.status.success(),
            "switchboard {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8 stdout")
            .trim()
            .to_string()
    }

    pub fn sqlite_url(&self) -> String {
        format!(
            "sqlite://{}",
            self.path().join("data/switchboard.db").display()
        )
    }
}

/// True when `haystack` contains `needle` anywhere: used to prove secrets never reach disk.
pub fn bytes_contain(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The SQLite database file plus its write-ahead log, as bytes.
pub fn sqlite_bytes(db_file: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db_file).expect("read database file");
    let mut wal = db_file.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

/// A port nobody listens on right now (the OS picks it), for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Polls `probe` every 50 ms until it finds something, or fails the test after `within`.
pub fn wait_for<T>(
    within: std::time::Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
