//! `SYNC_TEMPLATES` and `SUBMIT_TEMPLATE` against the sandbox standing in for Meta.

use diesel::prelude::*;
use serde_json::{Value, json};
use switchboard_domain::job_kind::{MARK_READ, SUBMIT_TEMPLATE, SYNC_TEMPLATES};
use switchboard_runner::jobs::{self, SubmitTemplate, SyncTemplates};
use switchboard_runner::{JobContext, JobError, JobHandler};
use switchboard_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use switchboard_store::SecretBox;
use switchboard_store::models::{Channel, IntegrationJob, Organization, Template};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::{organizations, templates};
use switchboard_store::schema::templates as templates_table;
use switchboard_store::testing::TestDb;

use crate::support::{WABA_ID, org_with_channel, outbound, queue_job};

async fn sandbox(tweak: impl FnOnce(&mut SandboxConfig)) -> SandboxHandle {
    let mut config = SandboxConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..SandboxConfig::default()
    };
    tweak(&mut config);
    Sandbox::start(config).await.unwrap()
}

/// The sandbox's built-in catalogue, read from its source (not through the code under test).
fn builtin() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sandbox/src/templates.json"
    ))
    .unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn sync(t: &TestDb, api_url: &str, org: &Organization) -> Result<(), JobError> {
    let job = queue_job(t, SYNC_TEMPLATES, org, "{}");
    SyncTemplates::new(outbound(api_url))
        .run(&JobContext { db: t.db.clone() }, &job)
        .await
}

fn submit_job(t: &TestDb, org: &Organization, template: &Template) -> IntegrationJob {
    let payload = json!({ "templateId": template.id }).to_string();
    queue_job(t, SUBMIT_TEMPLATE, org, &payload)
}

async fn run_submit(t: &TestDb, api_url: &str, job: &IntegrationJob) -> Result<(), JobError> {
    SubmitTemplate::new(outbound(api_url))
        .run(&JobContext { db: t.db.clone() }, job)
        .await
}

fn order_ready_components() -> Value {
    json!([
        {"type": "HEADER", "format": "TEXT", "text": "Order update"},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready.",
         "example": {"body_text": [["Ana", "A-1"]]}},
        {"type": "FOOTER", "text": "Acme"},
    ])
}

/// A template written in Switchboard (PENDING, not yet at Meta).
fn local(
    t: &TestDb,
    org: &Organization,
    name: &str,
    language: &str,
    components: &Value,
) -> Template {
    let components = components.to_string();
    templates::insert_template(
        &mut t.db.conn().unwrap(),
        &templates::NewTemplate {
            organization_id: &org.id,
            channel_id: None,
            name,
            language,
            category: "UTILITY",
            parameter_format: "POSITIONAL",
            components: &components,
        },
    )
    .unwrap()
}

fn stored(t: &TestDb, org: &Organization) -> Vec<Template> {
    templates::list_templates(&mut t.db.conn().unwrap(), &org.id).unwrap()
}

fn template(t: &TestDb, org: &Organization, id: &str) -> Template {
    templates::find_template(&mut t.db.conn().unwrap(), &org.id, id)
        .unwrap()
        .unwrap()
}

fn channel(t: &TestDb, org: &Organization, id: &str) -> Channel {
    channels::find_channel(&mut t.db.conn().unwrap(), &org.id, id)
        .unwrap()
        .unwrap()
}

/// What the sandbox lists for the test WABA, as any Graph client would read it.
async fn at_meta(meta: &SandboxHandle) -> Vec<switchboard_graph::RemoteTemplate> {
    outbound(&meta.api_url())
        .graph
        .list_templates("EAAG", WABA_ID)
        .await
        .unwrap()
}

fn components_of(template: &Template) -> Value {
    serde_json::from_str(&template.components).unwrap()
}

#[tokio::test]
async fn sync_pulls_the_catalogue_and_a_second_sync_updates_the_same_rows() {
    let meta = sandbox(|_| {}).await;
    let catalogue = builtin();
    assert_eq!(catalogue.len(), 7);
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        sync(&t, &meta.api_url(), &org).await.unwrap();
        let rows = stored(&t, &org);
        assert_eq!(rows.len(), 7);
        for remote in &catalogue {
            let row = rows
                .iter()
                .find(|r| r.external_id.as_deref() == remote["id"].as_str())
                .unwrap_or_else(|| panic!("{} was not stored", remote["name"]));
            assert_eq!(row.name, remote["name"].as_str().unwrap());
            assert_eq!(row.language, remote["language"].as_str().unwrap());
            assert_eq!(row.status, "APPROVED");
            assert_eq!(row.category, remote["category"].as_str().unwrap());
            assert_eq!(row.parameter_format, "POSITIONAL");
            assert_eq!(components_of(row), remote["components"]);
            assert_eq!(row.channel_id.as_deref(), Some(ch.id.as_str()));
            assert_eq!(row.rejection_reason, None);
        }

        // Our copy drifts (a status webhook lost, a bad edit); the next sync puts it right
        // in the same row, and adds none.
        let hello = rows.iter().find(|r| r.name == "hello_world").unwrap();
        diesel::update(templates_table::table.find(&hello.id))
            .set((
                templates_table::status.eq("PAUSED"),
                templates_table::components.eq("[]"),
            ))
            .execute(&mut *t.db.conn().unwrap())
            .unwrap();
        sync(&t, &meta.api_url(), &org).await.unwrap();
        let again = stored(&t, &org);
        let mut ids: Vec<&str> = again.iter().map(|r| r.id.as_str()).collect();
        let mut before: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        before.sort_unstable();
        assert_eq!(ids, before, "the same rows, none added");
        let hello = template(&t, &org, &hello.id);
        assert_eq!(hello.status, "APPROVED");
        assert_eq!(components_of(&hello), catalogue[0]["components"]);
    }
    meta.stop().await;
}

#[tokio::test]
async fn sync_reads_every_page_and_keeps_metas_statuses_and_formats() {
    // More than one page of the client's 100.
    let catalogue: Vec<Value> = (0..130)
        .map(|i| {
            let mut template = json!({
                "name": format!("bulk_{i:03}"),
                "language": if i % 2 == 0 { "en_US" } else { "es" },
                "status": "APPROVED",
                "category": "UTILITY",
                "components": [{"type": "BODY", "text": format!("Message {i}")}],
                "id": format!("{}", 9_000_000_000_000u64 + i),
            });
            if i % 10 == 3 {
                template["status"] = json!("REJECTED");
                template["rejected_reason"] = json!("INVALID_FORMAT");
            }
            if i % 10 == 7 {
                template["parameter_format"] = json!("NAMED");
                template["components"] = json!([{"type": "BODY", "text": "Hi {{first_name}}"}]);
            }
            template
        })
        .collect();
    let meta = sandbox(|c| c.templates = Some(catalogue.clone())).await;
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        sync(&t, &meta.api_url(), &org).await.unwrap();
        let rows = stored(&t, &org);
        assert_eq!(rows.len(), 130, "both pages");
        let by_name = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
        let last = by_name("bulk_129");
        assert_eq!(last.external_id.as_deref(), Some("9000000000129"));
        assert_eq!(last.language, "es");
        let rejected = by_name("bulk_013");
        assert_eq!(rejected.status, "REJECTED");
        assert_eq!(rejected.rejection_reason.as_deref(), Some("INVALID_FORMAT"));
        let named = by_name("bulk_107");
        assert_eq!(named.parameter_format, "NAMED");
        assert_eq!(
            components_of(named),
            json!([{"type": "BODY", "text": "Hi {{first_name}}"}])
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn sync_without_a_waba_id_says_how_to_set_one() {
    let meta = sandbox(|_| {}).await;
    for t in TestDb::all() {
        let org = {
            let mut conn = t.db.conn().unwrap();
            let org = organizations::insert_organization(&mut conn, "NoWaba", None).unwrap();
            let input = ChannelInput {
                organization_id: org.id.clone(),
                phone_number_id: "99887766".into(),
                waba_id: None,
                access_token: "EAAG".into(),
                ..Default::default()
            };
            channels::insert_channel(&mut conn, &SecretBox::from_key(&[3; 32]).unwrap(), &input)
                .unwrap();
            org
        };
        let err = sync(&t, &meta.api_url(), &org).await.unwrap_err();
        let JobError::Permanent(message) = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("--waba-id"), "{message}");
        assert!(message.contains("WHATSAPP_WABA_ID"), "{message}");
        assert!(stored(&t, &org).is_empty());
        // Submitting has the same need.
        let draft = local(&t, &org, "order_ready", "en_US", &order_ready_components());
        let err = run_submit(&t, &meta.api_url(), &submit_job(&t, &org, &draft))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, JobError::Permanent(m) if m.contains("--waba-id")),
            "{err:?}"
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_refused_token_pauses_the_channel_instead_of_syncing_or_submitting() {
    let meta = sandbox(|c| c.access_token = Some("another-token".into())).await;
    for t in TestDb::all() {
        let (org, ch) = org_with_channel(&t);
        let err = sync(&t, &meta.api_url(), &org).await.unwrap_err();
        assert!(matches!(err, JobError::Defer { .. }), "{err:?}");
        let paused = channel(&t, &org, &ch.id);
        assert_eq!(paused.status, channels::PAUSED);
        assert!(paused.status_reason.unwrap().contains("190"));
        assert!(stored(&t, &org).is_empty());

        // Resumed, a submission meets the same refusal: the template is not rejected for it.
        channels::resume_channel(&mut t.db.conn().unwrap(), &org.id, &ch.id).unwrap();
        let draft = local(&t, &org, "order_ready", "en_US", &order_ready_components());
        let job = submit_job(&t, &org, &draft);
        let err = run_submit(&t, &meta.api_url(), &job).await.unwrap_err();
        assert!(matches!(err, JobError::Defer { .. }), "{err:?}");
        assert_eq!(channel(&t, &org, &ch.id).status, channels::PAUSED);
        let waiting = template(&t, &org, &draft.id);
        assert_eq!(
            (
                waiting.status.as_str(),
                waiting.rejection_reason,
                waiting.external_id
            ),
            ("PENDING", None, None)
        );
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_submitted_template_gets_metas_id_and_a_later_sync_finds_it() {
    let meta = sandbox(|_| {}).await;
    for t in TestDb::all() {
        meta.reset();
        let (org, ch) = org_with_channel(&t);
        let draft = local(&t, &org, "order_ready", "en_US", &order_ready_components());
        let job = submit_job(&t, &org, &draft);
        run_submit(&t, &meta.api_url(), &job).await.unwrap();

        let submitted = template(&t, &org, &draft.id);
        assert_eq!(submitted.status, "PENDING");
        assert_eq!(submitted.rejection_reason, None);
        let external_id = submitted.external_id.clone().expect("Meta's id recorded");
        let remote = at_meta(&meta).await;
        let theirs = remote.iter().find(|r| r.id == external_id).unwrap();
        assert_eq!(
            (
                theirs.name.as_str(),
                theirs.language.as_str(),
                theirs.status.as_str()
            ),
            ("order_ready", "en_US", "PENDING")
        );
        assert_eq!(theirs.category.as_deref(), Some("UTILITY"));
        assert_eq!(theirs.parameter_format.as_deref(), Some("POSITIONAL"));
        assert_eq!(theirs.components, order_ready_components());

        // The job running again does not submit twice.
        run_submit(&t, &meta.api_url(), &job).await.unwrap();
        assert_eq!(at_meta(&meta).await.len(), 8);
        assert_eq!(
            template(&t, &org, &draft.id).external_id,
            Some(external_id.clone())
        );

        // A sync lists it with the catalogue and updates our row, adding no other.
        sync(&t, &meta.api_url(), &org).await.unwrap();
        let rows = stored(&t, &org);
        assert_eq!(rows.len(), 8);
        let ours: Vec<&Template> = rows.iter().filter(|r| r.name == "order_ready").collect();
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].id, draft.id);
        assert_eq!(ours[0].external_id.as_deref(), Some(external_id.as_str()));
        assert_eq!(ours[0].status, "PENDING");
        assert_eq!(ours[0].channel_id.as_deref(), Some(ch.id.as_str()));
        assert_eq!(components_of(ours[0]), order_ready_components());
    }
    meta.stop().await;
}

#[tokio::test]
async fn an_acceptance_lost_before_it_was_recorded_is_recovered_not_rejected() {
    let meta = sandbox(|_| {}).await;
    for t in TestDb::all() {
        meta.reset();
        let (org, _) = org_with_channel(&t);
        let draft = local(&t, &org, "order_ready", "en_US", &order_ready_components());
        let job = submit_job(&t, &org, &draft);
        run_submit(&t, &meta.api_url(), &job).await.unwrap();
        let external_id = template(&t, &org, &draft.id).external_id.unwrap();
        // As if the process died between Meta's answer and our commit.
        diesel::update(templates_table::table.find(&draft.id))
            .set(templates_table::external_id.eq(None::<String>))
            .execute(&mut *t.db.conn().unwrap())
            .unwrap();
        run_submit(&t, &meta.api_url(), &job).await.unwrap();
        let recovered = template(&t, &org, &draft.id);
        assert_eq!(recovered.external_id, Some(external_id));
        assert_eq!(recovered.status, "PENDING");
        assert_eq!(recovered.rejection_reason, None);
        assert_eq!(at_meta(&meta).await.len(), 8, "not created twice");
    }
    meta.stop().await;
}

#[tokio::test]
async fn a_template_meta_refuses_ends_rejected_with_metas_reason() {
    let meta = sandbox(|_| {}).await;
    for t in TestDb::all() {
        meta.reset();
        let (org, _) = org_with_channel(&t);
        // A name Meta does not take.
        let bad = local(&t, &org, "Order Ready", "en_US", &order_ready_components());
        run_submit(&t, &meta.api_url(), &submit_job(&t, &org, &bad))
            .await
            .expect("a refusal is the job's result, not a failure");
        let refused = template(&t, &org, &bad.id);
        assert_eq!(refused.status, "REJECTED");
        assert_eq!(refused.external_id, None);
        let reason = refused.rejection_reason.unwrap();
        assert!(reason.contains("(#100)"), "{reason}");
        assert!(reason.contains("\"Order Ready\" is not valid"), "{reason}");

        // A name and language Meta has already, with other content.
        let taken = local(&t, &org, "hello_world", "en_US", &order_ready_components());
        run_submit(&t, &meta.api_url(), &submit_job(&t, &org, &taken))
            .await
            .unwrap();
        let duplicate = template(&t, &org, &taken.id);
        assert_eq!(duplicate.status, "REJECTED");
        assert_eq!(duplicate.external_id, None);
        assert!(
            duplicate
                .rejection_reason
                .unwrap()
                .contains("Content in this language already exists")
        );
        assert_eq!(at_meta(&meta).await.len(), 7, "nothing was created");
    }
    meta.stop().await;
}

#[tokio::test]
async fn an_unreachable_meta_is_retried_and_the_last_attempt_says_so() {
    // A port nothing listens on any more.
    let gone = sandbox(|_| {}).await;
    let api_url = gone.api_url();
    gone.stop().await;
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let draft = local(&t, &org, "order_ready", "en_US", &order_ready_components());
        let mut job = submit_job(&t, &org, &draft);
        job.attempts = 1;
        let err = run_submit(&t, &api_url, &job).await.unwrap_err();
        assert!(matches!(err, JobError::Retry { .. }), "{err:?}");
        assert_eq!(template(&t, &org, &draft.id).status, "PENDING");
        assert!(matches!(
            sync(&t, &api_url, &org).await,
            Err(JobError::Retry { .. })
        ));

        job.attempts = job.max_attempts;
        let err = run_submit(&t, &api_url, &job).await.unwrap_err();
        assert!(matches!(err, JobError::Permanent(_)), "{err:?}");
        let given_up = template(&t, &org, &draft.id);
        assert_eq!(given_up.status, "REJECTED");
        assert!(
            given_up
                .rejection_reason
                .unwrap()
                .starts_with("not submitted: gave up after"),
        );
    }
}

#[tokio::test]
async fn the_meta_jobs_are_registered_only_with_a_graph_client() {
    let meta = sandbox(|_| {}).await;
    let t = TestDb::sqlite();
    let with = jobs::registry(&t.db, Some(outbound(&meta.api_url()))).unwrap();
    for kind in [MARK_READ, SYNC_TEMPLATES, SUBMIT_TEMPLATE] {
        assert!(with.get(kind).is_some(), "{kind}");
    }
    let without = jobs::registry(&t.db, None).unwrap();
    for kind in [MARK_READ, SYNC_TEMPLATES, SUBMIT_TEMPLATE] {
        assert!(without.get(kind).is_none(), "{kind}");
    }
    meta.stop().await;
}
