//! The administration commands and the process lifecycle.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use switchboard_e2e::{Workdir, bytes_contain, sqlite_bytes};
use switchboard_store::db::list_columns;
use switchboard_store::schema::api_tokens;
use switchboard_store::testing::TestDb;

#[test]
fn migrate_builds_the_same_schema_on_sqlite_and_postgres() {
    let work = Workdir::new();
    let sqlite = TestDb::empty_sqlite();
    work.ok(&sqlite.url(), &["migrate"]);
    let Some(postgres) = TestDb::empty_postgres() else {
        return;
    };
    work.ok(&postgres.url(), &["migrate"]);
    let on_sqlite = list_columns(&mut sqlite.db.conn().unwrap()).unwrap();
    let on_postgres = list_columns(&mut postgres.db.conn().unwrap()).unwrap();
    assert!(on_sqlite.iter().any(|c| c.table_name == "integration_jobs"));
    assert_eq!(on_sqlite, on_postgres);
}

#[test]
fn the_default_database_is_created_under_data() {
    let work = Workdir::new();
    let mut cmd = work.command("", &["migrate"]);
    cmd.env_remove("DATABASE_URL");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(work.path().join("data/switchboard.db").exists());
}

#[test]
fn org_then_token_prints_a_token_whose_hash_alone_is_stored() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    let org_id = work.ok(&url, &["org", "create", "--name", "Acme"]);
    assert_eq!(org_id.lines().count(), 1, "only the id on stdout: {org_id}");
    let token = work.ok(
        &url,
        &["token", "create", "--org", &org_id, "--role", "ADMIN"],
    );
    assert!(token.starts_with("sb_") && token.len() >= 40, "{token}");
    assert_eq!(token.lines().count(), 1);

    let expected_hash = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ));
    let db_file = work.path().join("data/switchboard.db");
    let db = switchboard_store::Db::connect(switchboard_store::DbSettings::new(
        switchboard_store::DatabaseUrl::Sqlite(db_file.clone()),
    ))
    .unwrap();
    let hashes: Vec<String> = api_tokens::table
        .select(api_tokens::token_hash)
        .load(&mut *db.conn().unwrap())
        .unwrap();
    assert_eq!(hashes, vec![expected_hash]);
    assert!(
        !bytes_contain(&sqlite_bytes(&db_file), token.as_bytes()),
        "plaintext token found in the database file"
    );

    // The slug works wherever an id does, and the listing never shows the token.
    let listing = work.ok(&url, &["token", "list", "--org", "acme"]);
    assert!(
        listing.contains("ADMIN") && !listing.contains(&token),
        "{listing}"
    );
}

#[test]
fn channel_add_keeps_secrets_encrypted_and_list_never_prints_them() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    work.ok(&url, &["org", "create", "--name", "Acme", "--slug", "acme"]);
    let channel_id = work.ok(
        &url,
        &[
            "channel",
            "add",
            "--org",
            "acme",
            "--phone-number-id",
            "1122334455667",
            "--access-token",
            "EAAGplaintextAccessToken",
            "--app-secret",
            "plainAppSecret",
            "--verify-token",
            "plainVerifyToken",
            "--mps",
            "250",
            "--country-code",
            "57",
        ],
    );
    assert_eq!(channel_id.lines().count(), 1);
    let bytes = sqlite_bytes(&work.path().join("data/switchboard.db"));
    for secret in [
        "EAAGplaintextAccessToken",
        "plainAppSecret",
        "plainVerifyToken",
    ] {
        assert!(
            !bytes_contain(&bytes, secret.as_bytes()),
            "{secret} stored in plaintext"
        );
    }
    let master_key = work.path().join("data/master.key");
    assert!(
        master_key.exists(),
        "a master key is generated on first use"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&master_key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let listing = work.ok(&url, &["channel", "list", "--org", "acme"]);
    assert!(
        listing.contains("1122334455667") && listing.contains("250"),
        "{listing}"
    );
    for secret in [
        "EAAGplaintextAccessToken",
        "plainAppSecret",
        "plainVerifyToken",
    ] {
        assert!(!listing.contains(secret));
    }
}

#[test]
fn a_wrong_master_key_is_a_clear_error_not_garbage() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    work.ok(&url, &["org", "create", "--name", "Acme"]);
    work.ok(
        &url,
        &[
            "channel",
            "add",
            "--org",
            "acme",
            "--phone-number-id",
            "1",
            "--access-token",
            "t",
        ],
    );
    let mut cmd = work.command(&url, &["serve"]);
    cmd.env(
        "SWITCHBOARD_MASTER_KEY",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("master key"), "{stderr}");
}

#[test]
fn an_unsupported_database_url_exits_2_with_one_line() {
    let work = Workdir::new();
    let out = work.run("mysql://x", &["migrate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn an_unreachable_postgres_exits_non_zero_with_one_line() {
    let work = Workdir::new();
    let out = work.run("postgres://postgres@127.0.0.1:1/test", &["migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
}

#[test]
fn bad_configuration_names_the_variable_and_exits_2() {
    let work = Workdir::new();
    let mut cmd = work.command(&work.sqlite_url(), &["migrate"]);
    cmd.env("WHATSAPP_API_VERSION", "latest");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WHATSAPP_API_VERSION") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn unknown_orgs_roles_and_tokens_are_clear_errors() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    let out = work.run(
        &url,
        &["token", "create", "--org", "nope", "--role", "ADMIN"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("org list"));
    let out = work.run(
        &url,
        &["token", "create", "--org", "nope", "--role", "ROOT"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OWNER, ADMIN, MANAGER, SELLER"));
    let out = work.run(&url, &["token", "revoke", "missing"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn token_revoke_marks_the_token_revoked() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    work.ok(&url, &["org", "create", "--name", "Acme"]);
    work.ok(
        &url,
        &[
            "token", "create", "--org", "acme", "--role", "SELLER", "--name", "temp",
        ],
    );
    let listing = work.ok(&url, &["token", "list", "--org", "acme"]);
    let id = listing
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    work.ok(&url, &["token", "revoke", &id]);
    let listing = work.ok(&url, &["token", "list", "--org", "acme"]);
    let row = listing.lines().nth(1).unwrap();
    assert!(
        !row.trim_end().ends_with('-'),
        "revoked column filled: {row}"
    );
}

#[test]
fn apikey_create_prints_a_key_whose_hash_alone_is_stored_and_revoke_ends_it() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    work.ok(&url, &["org", "create", "--name", "Acme"]);
    let key = work.ok(
        &url,
        &[
            "apikey",
            "create",
            "--org",
            "acme",
            "--name",
            "billing server",
        ],
    );
    assert!(key.starts_with("sbk_") && key.len() > 40, "{key}");
    assert_eq!(key.lines().count(), 1, "only the key on stdout: {key}");
    let db_file = work.path().join("data/switchboard.db");
    assert!(
        !bytes_contain(&sqlite_bytes(&db_file), key.as_bytes()),
        "plaintext API key found in the database file"
    );
    let listing = work.ok(&url, &["apikey", "list", "--org", "acme"]);
    assert!(
        listing.contains("billing server")
            && listing.contains(&key[..10])
            && !listing.contains(&key),
        "{listing}"
    );
    let id = listing
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // Another organization cannot revoke it.
    work.ok(&url, &["org", "create", "--name", "Bravo"]);
    let out = work.run(&url, &["apikey", "revoke", "--org", "bravo", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("apikey list"));
    work.ok(&url, &["apikey", "revoke", "--org", "acme", &id]);
    let listing = work.ok(&url, &["apikey", "list", "--org", "acme"]);
    let row = listing.lines().nth(1).unwrap();
    assert!(
        !row.trim_end().ends_with('-'),
        "revoked column filled: {row}"
    );
    let out = work.run(&url, &["apikey", "create", "--org", "acme", "--name", " "]);
    assert_eq!(out.status.code(), Some(1));
    for args in [
        &["apikey", "--help"][..],
        &["apikey", "create", "--help"],
        &["apikey", "list", "--help"],
        &["apikey", "revoke", "--help"],
    ] {
        let out = work.run(&url, args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn every_command_has_help() {
    let work = Workdir::new();
    let commands: [&[&str]; 14] = [
        &["--help"],
        &["migrate", "--help"],
        &["start", "--help"],
        &["serve", "--help"],
        &["runner", "--help"],
        &["org", "--help"],
        &["org", "create", "--help"],
        &["org", "list", "--help"],
        &["token", "create", "--help"],
        &["token", "list", "--help"],
        &["token", "revoke", "--help"],
        &["channel", "--help"],
        &["channel", "add", "--help"],
        &["channel", "list", "--help"],
    ];
    for args in commands {
        let out = work.run(&work.sqlite_url(), args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn start_bootstraps_the_default_channel_and_stops_cleanly_on_sigterm() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    let mut child = work
        .command(&url, &["start"])
        .env("SWITCHBOARD_BIND", "127.0.0.1:0")
        .env("WHATSAPP_PHONE_NUMBER_ID", "1122334455667")
        .env("WHATSAPP_ACCESS_TOKEN", "EAAGbootstrap")
        .env("WHATSAPP_APP_SECRET", "bootstrap-secret")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the default channel exists, then ask the process to stop.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listing = work.run(&url, &["channel", "list", "--org", "default"]);
        if String::from_utf8_lossy(&listing.stdout).contains("1122334455667") {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "default channel never appeared; switchboard start said:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

#[test]
fn processes_starting_together_migrate_once_without_failing() {
    let work = Workdir::new();
    let url = work.sqlite_url();
    let children: Vec<_> = (0..6)
        .map(|_| {
            work.command(&url, &["migrate"])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let Some(postgres) = TestDb::empty_postgres() else {
        return;
    };
    let handles: Vec<_> = (0..4)
        .map(|_| work.command(&postgres.url(), &["migrate"]).spawn().unwrap())
        .collect();
    for mut child in handles {
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn no_migrate_refuses_a_database_with_pending_migrations() {
    let work = Workdir::new();
    let out = work.run(&work.sqlite_url(), &["serve", "--no-migrate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pending migration") && stderr.contains("switchboard migrate"),
        "{stderr}"
    );
}
