//! The Jira jobs against the sandbox's fake Jira: issues, comments, idempotence, retries.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use switchboard_domain::backoff::Backoff;
use switchboard_domain::job_kind::{JIRA_ADD_COMMENT, JIRA_CREATE_ISSUE};
use switchboard_runner::jira::{JiraClient, JiraConfig};
use switchboard_runner::jobs::jira::{AddComment, CreateIssue, Jira};
use switchboard_runner::{JobContext, JobError, JobHandler, Registry, Runner, RunnerSettings};
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::models::{IntegrationJob, Organization, TicketComment, new_id, now};
use switchboard_store::repo::jira::{self as jira_repo, JiraConnectionInput};
use switchboard_store::repo::{organizations, users};
use switchboard_store::schema::{services, ticket_comments, tickets};
use switchboard_store::testing::TestDb;
use switchboard_store::{AnyConnection, SecretBox};

use crate::support::{eventually, job, queue_job};

const PHONE: &str = "5511999990000";

fn secrets() -> Arc<SecretBox> {
    Arc::new(SecretBox::from_key(&[3; 32]).unwrap())
}

async fn jira_sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn jira() -> Jira {
    let client = JiraClient::new(JiraConfig {
        timeout: Duration::from_secs(2),
        ..JiraConfig::default()
    })
    .unwrap();
    Jira::new(secrets(), client)
}

/// An organization connected to the sandbox's Jira, with a service whose tickets go to
/// project SUP. Returns the organization and the service id.
fn connected(t: &TestDb, sandbox: &SandboxHandle) -> (Organization, String) {
    let mut conn = t.db.conn().unwrap();
    let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
    jira_repo::upsert_connection(
        &mut conn,
        &secrets(),
        &JiraConnectionInput {
            organization_id: &org.id,
            base_url: &sandbox.jira_url(),
            user_email: "bot@acme.com",
            api_token: "jira-token",
        },
    )
    .unwrap();
    let service = insert_service(&mut conn, &org.id, "jira", Some("SUP"));
    (org, service)
}

fn insert_service(
    conn: &mut AnyConnection,
    org: &str,
    destination: &str,
    project: Option<&str>,
) -> String {
    let id = new_id();
    diesel::insert_into(services::table)
        .values((
            services::id.eq(&id),
            services::organization_id.eq(org),
            services::name.eq("Returns"),
            services::position.eq(1),
            services::active.eq(true),
            services::destination.eq(destination),
            services::jira_project_key.eq(project),
            services::created_at.eq(now()),
            services::updated_at.eq(now()),
        ))
        .execute(conn)
        .unwrap();
    id
}

/// A ticket row with only the columns every version of the table needs.
fn ticket(t: &TestDb, org: &str, service_id: &str, number: i64) -> String {
    let id = new_id();
    let at = now();
    diesel::insert_into(tickets::table)
        .values((
            tickets::id.eq(&id),
            tickets::organization_id.eq(org),
            tickets::number.eq(number),
            tickets::service_id.eq(service_id),
            tickets::contact_phone.eq(PHONE),
            tickets::subject.eq("Order arrived\nbroken"),
            tickets::status.eq("new"),
            tickets::last_activity_at.eq(at),
            tickets::created_at.eq(at),
            tickets::updated_at.eq(at),
        ))
        .execute(&mut t.db.conn().unwrap())
        .unwrap();
    id
}

fn comment(t: &TestDb, org: &str, ticket_id: &str, author: Option<&str>, body: &str) -> String {
    let id = new_id();
    let author_type = if author.is_some() {
        "AGENT"
    } else {
        "CUSTOMER"
    };
    diesel::insert_into(ticket_comments::table)
        .values((
            ticket_comments::id.eq(&id),
            ticket_comments::organization_id.eq(org),
            ticket_comments::ticket_id.eq(ticket_id),
            ticket_comments::author_type.eq(author_type),
            ticket_comments::author_user_id.eq(author),
            ticket_comments::body.eq(body),
            ticket_comments::created_at.eq(now()),
        ))
        .execute(&mut t.db.conn().unwrap())
        .unwrap();
    id
}

fn issue_key(t: &TestDb, ticket_id: &str) -> Option<String> {
    tickets::table
        .find(ticket_id)
        .select(tickets::jira_issue_key)
        .first::<Option<String>>(&mut t.db.conn().unwrap())
        .unwrap()
}

fn stored_comment(t: &TestDb, id: &str) -> TicketComment {
    ticket_comments::table
        .find(id)
        .select(TicketComment::as_select())
        .first(&mut t.db.conn().unwrap())
        .unwrap()
}

fn create_job(t: &TestDb, org: &Organization, ticket_id: &str) -> IntegrationJob {
    queue_job(
        t,
        JIRA_CREATE_ISSUE,
        org,
        &format!(r#"{{"ticketId":"{ticket_id}"}}"#),
    )
}

fn comment_job(t: &TestDb, org: &Organization, comment_id: &str) -> IntegrationJob {
    queue_job(
        t,
        JIRA_ADD_COMMENT,
        org,
        &format!(r#"{{"commentId":"{comment_id}"}}"#),
    )
}

async fn run(t: &TestDb, handler: &impl JobHandler, job: &IntegrationJob) -> Result<(), JobError> {
    handler.run(&JobContext { db: t.db.clone() }, job).await
}

#[tokio::test]
async fn creating_the_issue_stores_its_key_once() {
    for t in TestDb::all() {
        let sandbox = jira_sandbox().await;
        let (org, service) = connected(&t, &sandbox);
        let ticket_id = ticket(&t, &org.id, &service, 12);
        let first = comment(&t, &org.id, &ticket_id, None, "the box was crushed");
        let create = CreateIssue::new(jira());
        let job = create_job(&t, &org, &ticket_id);
        run(&t, &create, &job).await.unwrap();

        assert_eq!(
            issue_key(&t, &ticket_id).as_deref(),
            Some("SUP-1"),
            "{}",
            t.backend
        );
        let issues = sandbox.jira_issues();
        assert_eq!(issues.len(), 1);
        let issue = &issues[0];
        assert_eq!(issue.project_key, "SUP");
        assert_eq!(issue.summary, "Order arrived broken", "one line for Jira");
        assert_eq!(issue.issue_type, "Task");
        assert_eq!(issue.reporter, "bot@acme.com");
        let description = issue.description.clone().unwrap();
        for part in ["#12", "+5511999990000", "Returns", "the box was crushed"] {
            assert!(description.contains(part), "{part} in {description}");
        }
        // The quoted comment is in Jira now: its own comment job posts nothing.
        assert!(stored_comment(&t, &first).external_id.is_some());
        run(&t, &AddComment::new(jira()), &comment_job(&t, &org, &first))
            .await
            .unwrap();
        assert!(sandbox.jira_issues()[0].comments.is_empty());

        // The job running again (a crash before it was marked done) creates no second issue.
        run(&t, &create, &job).await.unwrap();
        assert_eq!(sandbox.jira_issues().len(), 1);
        assert_eq!(issue_key(&t, &ticket_id).as_deref(), Some("SUP-1"));
        sandbox.stop().await;
    }
}

#[tokio::test]
async fn a_comment_waits_for_the_issue_then_is_added_once_with_its_jira_id() {
    for t in TestDb::all() {
        let sandbox = jira_sandbox().await;
        let (org, service) = connected(&t, &sandbox);
        let agent = users::insert_user(
            &mut t.db.conn().unwrap(),
            &org.id,
            "Ana",
            None,
            switchboard_domain::Role::Seller,
        )
        .unwrap();
        let ticket_id = ticket(&t, &org.id, &service, 3);
        let add = AddComment::new(jira());
        let reply = comment(
            &t,
            &org.id,
            &ticket_id,
            Some(&agent.id),
            "we send a new one",
        );
        let job = comment_job(&t, &org, &reply);

        // No issue yet: the comment waits without using up an attempt.
        let waiting = run(&t, &add, &job).await.unwrap_err();
        assert!(
            matches!(&waiting, JobError::Defer { reason, .. } if reason.contains("#3")),
            "{}: {waiting:?}",
            t.backend
        );

        jira_repo::set_issue_key(&mut t.db.conn().unwrap(), &ticket_id, "SUP-1").unwrap();
        // The issue must exist in Jira for the comment: create it there directly.
        sandbox_issue(&sandbox).await;
        run(&t, &add, &job).await.unwrap();
        let comments = sandbox.jira_issues()[0].comments.clone();
        assert_eq!(comments.len(), 1);
        assert_eq!(
            comments[0].body,
            "Via Switchboard, agent Ana wrote:\n\nwe send a new one"
        );
        let stored = stored_comment(&t, &reply);
        assert_eq!(stored.external_id.as_deref(), Some(comments[0].id.as_str()));
        assert!(jira_repo::is_switchboard_comment(&comments[0].body));

        // Again (a crash before it was marked done): nothing more in Jira.
        run(&t, &add, &job).await.unwrap();
        assert_eq!(sandbox.jira_issues()[0].comments.len(), 1);

        // A customer's comment says who wrote it too.
        let customer = comment(&t, &org.id, &ticket_id, None, "thanks!");
        run(&t, &add, &comment_job(&t, &org, &customer))
            .await
            .unwrap();
        assert_eq!(
            sandbox.jira_issues()[0].comments[1].body,
            "Via Switchboard, customer +5511999990000 wrote:\n\nthanks!"
        );
        sandbox.stop().await;
    }
}

/// Creates issue SUP-1 in the fake Jira as someone working in Jira would.
async fn sandbox_issue(sandbox: &SandboxHandle) {
    let client = JiraClient::new(JiraConfig::default()).unwrap();
    let site = switchboard_runner::jira::JiraSite {
        base_url: sandbox.jira_url(),
        user_email: "person@acme.com".into(),
        api_token: "t".into(),
    };
    let key = client
        .create_issue(&site, "SUP", "made in Jira", "")
        .await
        .unwrap();
    assert_eq!(key, "SUP-1");
}

#[tokio::test]
async fn jira_s_refusals_are_retried_or_given_up_by_their_status() {
    for t in TestDb::all() {
        let sandbox = jira_sandbox().await;
        let (org, service) = connected(&t, &sandbox);
        let ticket_id = ticket(&t, &org.id, &service, 1);
        let create = CreateIssue::new(jira());
        let job = create_job(&t, &org, &ticket_id);

        sandbox.fail_jira(429, 1, Some(7));
        let limited = run(&t, &create, &job).await.unwrap_err();
        assert!(
            matches!(&limited, JobError::Retry { after: Some(after), .. } if *after == Duration::from_secs(7)),
            "{}: {limited:?}",
            t.backend
        );

        sandbox.require_jira_credentials("bot@acme.com", "another-token");
        let refused = run(&t, &create, &job).await.unwrap_err();
        let JobError::Permanent(message) = refused else {
            panic!("401 is permanent: {refused:?}");
        };
        assert!(message.contains("HTTP 401"), "{message}");
        assert!(message.contains("API token"), "{message}");
        assert!(!message.contains("jira-token"), "no secret in errors");

        // A project Jira does not know: Jira's own words, given up.
        sandbox.require_jira_credentials("bot@acme.com", "jira-token");
        diesel::update(services::table.find(&service))
            .set(services::jira_project_key.eq(""))
            .execute(&mut t.db.conn().unwrap())
            .unwrap();
        let unset = run(&t, &create, &job).await.unwrap_err();
        assert!(
            matches!(&unset, JobError::Permanent(m) if m.contains("no Jira project key")),
            "{unset:?}"
        );
        assert!(sandbox.jira_issues().is_empty());
        assert_eq!(issue_key(&t, &ticket_id), None);
        sandbox.stop().await;
    }
}

fn fast_settings() -> RunnerSettings {
    RunnerSettings {
        poll_interval: Duration::from_millis(20),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(40)),
        ..RunnerSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_by_the_runner_and_no_connection_is_dead_with_what_to_do() {
    for t in TestDb::all() {
        let sandbox = jira_sandbox().await;
        let (org, service) = connected(&t, &sandbox);
        let ticket_id = ticket(&t, &org.id, &service, 1);
        sandbox.fail_jira(503, 2, None);
        let created = create_job(&t, &org, &ticket_id);

        // An organization without a connection.
        let mut conn = t.db.conn().unwrap();
        let lone = organizations::insert_organization(&mut conn, "Lone", None).unwrap();
        let lone_service = insert_service(&mut conn, &lone.id, "jira", Some("OPS"));
        drop(conn);
        let lone_ticket = ticket(&t, &lone.id, &lone_service, 1);
        let orphan = create_job(&t, &lone, &lone_ticket);

        let registry = Registry::new()
            .register(JIRA_CREATE_ISSUE, CreateIssue::new(jira()))
            .register(JIRA_ADD_COMMENT, AddComment::new(jira()));
        let runner = Runner::new(t.db.clone(), registry, fast_settings())
            .spawn()
            .unwrap();
        eventually(Duration::from_secs(20), "both jobs are settled", || {
            job(&t, &created.id).status == "DONE" && job(&t, &orphan.id).status == "DEAD"
        })
        .await;
        runner.shutdown().await;

        let done = job(&t, &created.id);
        assert_eq!(done.attempts, 3, "{}: two 503s, then created", t.backend);
        assert_eq!(sandbox.jira_issues().len(), 1);
        assert_eq!(issue_key(&t, &ticket_id).as_deref(), Some("SUP-1"));

        let dead = job(&t, &orphan.id);
        let error = dead.last_error.unwrap_or_default();
        assert!(
            error.contains("no Jira connection") && error.contains("PUT /api/integrations/jira"),
            "{error}"
        );
        assert_eq!(issue_key(&t, &lone_ticket), None);
        sandbox.stop().await;
    }
}
