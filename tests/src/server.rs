//! A `switchboard` process on a loopback port chosen by the OS.
#![allow(clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub address: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cmd` (a `switchboard start|serve` command) on 127.0.0.1:0 and waits until it
    /// logs the address it listens on.
    pub fn start(cmd: Command) -> Server {
        Self::start_at(cmd, "127.0.0.1:0")
    }

    /// Starts `cmd` listening on `bind` (when the address must be known before it starts).
    pub fn start_at(mut cmd: Command, bind: &str) -> Server {
        cmd.env("SWITCHBOARD_BIND", bind)
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn switchboard");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = listening_address(&line) {
                    let _ = tx.send(address);
                }
                if let Ok(mut logs) = sink.lock() {
                    logs.push(line);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(address) = rx.recv_timeout(Duration::from_millis(100)) {
                return Server {
                    child,
                    address,
                    logs,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let logs = logs.lock().map(|l| l.join("\n")).unwrap_or_default();
                panic!("switchboard exited ({status}) before listening:\n{logs}");
            }
            assert!(
                Instant::now() < deadline,
                "switchboard did not start listening within 60 s"
            );
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `within` for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill_9();
        }
    }
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    if json.get("message")?.as_str()? != "listening" {
        return None;
    }
    json.get("address")?.as_str()?.parse().ok()
}
