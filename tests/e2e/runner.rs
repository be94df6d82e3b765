//! The job runner through the real binary: webhooks projected, a runner killed mid-batch.

use std::process::Command;
use std::time::{Duration, Instant};

use switchboard_e2e::Workdir;
use switchboard_e2e::load::fixture_mix;
use switchboard_e2e::server::Server;
use switchboard_store::repo::{jobs, messages, organizations};
use switchboard_store::testing::TestDb;

const PHONE_NUMBER_ID: &str = "1122334455667";
const WABA_ID: &str = "57438975935";
const APP_SECRET: &str = "runner-e2e-secret";

fn with_channel(cmd: &mut Command) -> &mut Command {
    cmd.env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("WHATSAPP_ACCESS_TOKEN", "EAAG-e2e")
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_WABA_ID", WABA_ID)
}

fn post_all(server: &Server, bodies: &[switchboard_e2e::load::SignedBody]) {
    let client = switchboard_e2e::blocking_client().build().unwrap();
    for body in bodies {
        let status = client
            .post(server.url("/api/webhooks/whatsapp"))
            .header("x-hub-signature-256", &body.signature)
            .body(body.body.clone())
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
}

fn wait_until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn done_jobs(t: &TestDb) -> i64 {
    jobs::count_jobs_by_status(&mut t.db.conn().unwrap())
        .unwrap()
        .into_iter()
        .find(|(s, _)| s == "DONE")
        .map_or(0, |(_, n)| n)
}

#[test]
fn start_projects_a_webhook_moments_after_acknowledging_it() {
    for t in TestDb::all() {
        let work = Workdir::new();
        let mut cmd = work.command(&t.url(), &["start"]);
        with_channel(&mut cmd);
        let server = Server::start(cmd);
        let bodies = fixture_mix(20, APP_SECRET, PHONE_NUMBER_ID, WABA_ID, "moments");
        let sent = Instant::now();
        post_all(&server, &bodies);
        wait_until(
            Duration::from_secs(20),
            "all 20 webhooks are projected",
            || done_jobs(&t) == 20,
        );
        eprintln!(
            "{}: 20 webhooks acknowledged and projected in {:?}",
            t.backend,
            sent.elapsed()
        );
        let mut conn = t.db.conn().unwrap();
        let org = organizations::find_organization_by_slug(&mut conn, "default")
            .unwrap()
            .unwrap();
        assert!(
            !messages::list_messages(&mut conn, &org.id)
                .unwrap()
                .is_empty(),
            "{}",
            t.backend
        );
    }
}

/// kill -9 a runner in the middle of thousands of jobs, start another: every job ends DONE,
/// and no message or note is written twice.
#[test]
fn a_runner_killed_mid_batch_loses_and_duplicates_nothing() {
    for t in TestDb::all() {
        let work = Workdir::new();
        // Store the webhooks with the runner off, so thousands of jobs wait.
        let bodies = fixture_mix(2_000, APP_SECRET, PHONE_NUMBER_ID, WABA_ID, "crash");
        {
            let mut cmd = work.command(&t.url(), &["start"]);
            with_channel(&mut cmd).env("JOB_RUNNER_ENABLED", "false");
            let mut server = Server::start(cmd);
            post_all(&server, &bodies);
            server.terminate(Duration::from_secs(20));
        }
        let runner = |work: &Workdir| {
            let mut cmd = work.command(&t.url(), &["runner"]);
            with_channel(&mut cmd)
                .env("SWITCHBOARD_JOB_LEASE_SECS", "2")
                .env("JOB_RUNNER_INTERVAL_MS", "100");
            cmd.stderr(std::process::Stdio::null()).spawn().unwrap()
        };
        let mut first = runner(&work);
        wait_until(
            Duration::from_secs(60),
            "the first runner is under way",
            || done_jobs(&t) >= 200,
        );
        first.kill().unwrap(); // SIGKILL, mid-batch
        first.wait().unwrap();
        let killed_at = done_jobs(&t);
        assert!(
            killed_at < bodies.len() as i64,
            "the runner finished before it could be killed"
        );

        let mut second = runner(&work);
        wait_until(Duration::from_secs(120), "every job is DONE", || {
            done_jobs(&t) == bodies.len() as i64
        });
        second.kill().unwrap();
        second.wait().unwrap();

        let mut conn = t.db.conn().unwrap();
        let org = organizations::find_organization_by_slug(&mut conn, "default")
            .unwrap()
            .unwrap();
        let logs = messages::list_messages(&mut conn, &org.id).unwrap();
        let expected_messages: usize = bodies
            .iter()
            .map(|b| {
                let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
                v["entry"][0]["changes"][0]["value"]["messages"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .sum();
        let problems: Vec<String> = switchboard_store::repo::webhooks::list_events(&mut conn)
            .unwrap()
            .into_iter()
            .filter_map(|e| e.error)
            .take(5)
            .collect();
        assert_eq!(
            logs.len(),
            expected_messages,
            "{}: killed at {killed_at} done; problems: {problems:?}",
            t.backend
        );
        let notes: i64 = diesel::RunQueryDsl::get_result(
            diesel::QueryDsl::count(switchboard_store::schema::notes::table),
            &mut *conn,
        )
        .unwrap();
        assert_eq!(
            notes as usize, expected_messages,
            "one note per message, none twice ({})",
            t.backend
        );
    }
}

#[test]
fn the_jobs_commands_list_show_and_refuse_bad_input() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    work.ok(&url, &["migrate"]);
    let listing = work.ok(&url, &["jobs", "list"]);
    assert!(listing.starts_with("ID"), "{listing}");
    let out = work.run(&url, &["jobs", "list", "--status", "BOGUS"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PENDING, RUNNING, DONE, FAILED, DEAD"));
    let out = work.run(&url, &["jobs", "retry", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jobs list"));
    let out = work.run(&url, &["jobs", "show", "no-such-job"]);
    assert_eq!(out.status.code(), Some(1));
    let out = work.run(&url, &["replay", "--org", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let out = work.run(
        &url,
        &["replay", "--org", "default", "--since", "last tuesday"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}
