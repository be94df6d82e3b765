use proptest::prelude::*;
use serde_json::Value;
use switchboard_runner::jobs::process_webhook::project_event;
use switchboard_runner::replay::replay;
use switchboard_store::db::write_transaction;
use switchboard_store::models::{MessageLog, Organization, new_id, now};
use switchboard_store::repo::{
    contacts, conversations, leads, messages, notes, templates, webhooks,
};
use switchboard_store::testing::{TestDb, webhook_fixtures};

use crate::support::{PHONE_NUMBER_ID, org_with_channel, store_event};

fn project(t: &TestDb, event_id: &str) {
    let mut conn = t.db.conn().unwrap();
    write_transaction(&mut conn, |c| project_event(c, event_id)).unwrap();
}

/// Every message fixture with its own wamid (the public fixtures reuse a few ids).
fn unique_fixtures() -> Vec<(String, Vec<u8>)> {
    webhook_fixtures()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("status-"))
        .map(|(name, bytes)| {
            let mut body: Value = serde_json::from_slice(&bytes).unwrap();
            let tag = name.trim_end_matches(".json");
            for entry in body["entry"].as_array_mut().unwrap() {
                for change in entry["changes"].as_array_mut().unwrap() {
                    if let Some(items) = change["value"]
                        .get_mut("messages")
                        .and_then(Value::as_array_mut)
                    {
                        for (k, item) in items.iter_mut().enumerate() {
                            item["id"] = Value::String(format!("wamid.{tag}.{k}"));
                        }
                    }
                }
            }
            (name, serde_json::to_vec(&body).unwrap())
        })
        .collect()
}

/// A status webhook for `wamid`, built from the fixture of that status.
fn status_body(status: &str, wamid: &str, timestamp: i64) -> Vec<u8> {
    let fixture = format!("status-{status}-01.json");
    let (_, bytes) = webhook_fixtures()
        .into_iter()
        .find(|(n, _)| *n == fixture)
        .unwrap();
    let mut body: Value = serde_json::from_slice(&bytes).unwrap();
    let item = &mut body["entry"][0]["changes"][0]["value"]["statuses"][0];
    item["id"] = Value::String(wamid.into());
    item["timestamp"] = Value::String(timestamp.to_string());
    serde_json::to_vec(&body).unwrap()
}

/// An unknown status value, as Meta may add one.
fn odd_status_body(wamid: &str) -> Vec<u8> {
    let text = String::from_utf8(status_body("delivered", wamid, 1_700_000_500)).unwrap();
    text.replace("\"delivered\"", "\"deleted\"").into_bytes()
}

/// What the send job does once Meta accepted a message: store the wamid, then apply any
/// statuses that arrived first.
fn record_outbound(t: &TestDb, org: &Organization, wamid: &str) {
    let mut conn = t.db.conn().unwrap();
    let at = now();
    let log = MessageLog {
        id: new_id(),
        organization_id: org.id.clone(),
        channel_id: None,
        conversation_id: None,
        lead_id: None,
        provider: "WHATSAPP".into(),
        direction: "OUTBOUND".into(),
        message_type: "text".into(),
        from_phone: None,
        to_phone: Some("972987654321".into()),
        text: Some("hello".into()),
        media_id: None,
        media_mime_type: None,
        media_filename: None,
        details: None,
        context_message_id: None,
        template_name: None,
        template_language: None,
        template_variables: None,
        external_message_id: Some(wamid.into()),
        status: "SENT".into(),
        error_code: None,
        error_message: None,
        status_updated_at: None,
        sent_at: Some(at),
        created_at: at,
        updated_at: at,
        origin: None,
    };
    write_transaction(&mut conn, |c| {
        messages::insert_message_once(c, &log)?;
        messages::apply_status_events(c, &org.id, wamid)
    })
    .unwrap();
}

/// Everything the projections hold for an organization, without ids and clock times,
/// one sorted line per row: equal snapshots mean equal state.
fn snapshot(t: &TestDb, org: &Organization) -> Vec<String> {
    let mut conn = t.db.conn().unwrap();
    let mut lines = Vec::new();
    for c in contacts::list_contacts(&mut conn, &org.id).unwrap() {
        lines.push(format!(
            "contact {:?} {:?} {:?} {:?}",
            c.wa_id, c.wa_user_id, c.phone, c.profile_name
        ));
    }
    for l in leads::list_leads(&mut conn, &org.id).unwrap() {
        let staged = l.stage_id.is_some();
        lines.push(format!(
            "lead {} {:?} {:?} {} {} staged={staged} {:?}",
            l.name, l.phone, l.wa_user_id, l.status, l.source, l.referral
        ));
        for n in notes::list_notes(&mut conn, &org.id, &l.id).unwrap() {
            lines.push(format!("note {:?} {}", n.source_ref, n.content));
        }
    }
    for c in conversations::list_conversations(&mut conn, &org.id).unwrap() {
        lines.push(format!(
            "conversation {} unread={} last={:?} at={:?} dir={:?} inbound={:?} id={:?}",
            c.contact_phone,
            c.unread_count,
            c.last_message_text,
            c.last_message_at,
            c.last_message_direction,
            c.last_inbound_at,
            c.last_message_external_id
        ));
    }
    for m in messages::list_messages(&mut conn, &org.id).unwrap() {
        lines.push(format!(
            "message {:?} {} {} {:?} {} {:?} {:?} {:?} {:?} {:?}",
            m.external_message_id,
            m.direction,
            m.message_type,
            m.text,
            m.status,
            m.error_code,
            m.error_message,
            m.details,
            m.context_message_id,
            m.status_updated_at
        ));
    }
    for tpl in templates::list_templates(&mut conn, &org.id).unwrap() {
        lines.push(format!(
            "template {} {} {} {:?}",
            tpl.name, tpl.language, tpl.status, tpl.rejection_reason
        ));
    }
    lines.sort();
    lines
}

#[test]
fn every_fixture_is_projected() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let fixtures = unique_fixtures();
        for (_, body) in &fixtures {
            let id = store_event(&t, &org, body);
            project(&t, &id);
        }
        let mut conn = t.db.conn().unwrap();
        for event in webhooks::list_events(&mut conn).unwrap() {
            assert_eq!(event.status, "PROCESSED", "{} ({})", event.id, t.backend);
            assert_eq!(
                event.error,
                None,
                "{}",
                String::from_utf8_lossy(&event.body)
            );
        }
        let logs = messages::list_messages(&mut conn, &org.id).unwrap();
        let by = |wamid: &str| {
            logs.iter()
                .find(|m| m.external_message_id.as_deref() == Some(wamid))
                .unwrap()
        };
        // One log per inbound message of every type.
        let message_fixtures = fixtures
            .iter()
            .filter(|(n, _)| !n.starts_with("template-"))
            .count();
        assert_eq!(logs.len(), message_fixtures, "{}", t.backend);
        assert!(
            logs.iter()
                .all(|m| m.direction == "INBOUND" && m.status == "RECEIVED")
        );
        let image = by("wamid.image-01.0");
        assert_eq!(image.message_type, "image");
        assert!(image.media_id.is_some() && image.media_mime_type.as_deref() == Some("image/jpeg"));
        assert!(
            by("wamid.location-01.0")
                .details
                .as_deref()
                .unwrap()
                .contains("latitude")
        );
        assert_eq!(
            by("wamid.interactive-list-reply-01.0").message_type,
            "interactive"
        );
        assert!(by("wamid.interactive-list-reply-01.0").text.is_some());
        assert!(
            by("wamid.interactive-nfm-reply-01.0")
                .details
                .as_deref()
                .unwrap()
                .contains("response_json")
        );
        assert!(
            by("wamid.reaction-01.0").context_message_id.is_some(),
            "a reaction points at its message"
        );
        assert!(
            by("wamid.text-reply-context-01.0")
                .context_message_id
                .is_some()
        );
        assert_eq!(by("wamid.text-01.0").text.as_deref(), Some("Body Text"));
        assert!(by("wamid.document-01.0").media_filename.is_some());

        // One contact (the fixtures' sender), its lead at the first stage, one conversation.
        let leads = leads::list_leads(&mut conn, &org.id).unwrap();
        assert_eq!(leads.len(), 1, "{}", t.backend);
        assert_eq!(leads[0].name, "Test Name");
        assert_eq!(
            (leads[0].status.as_str(), leads[0].source.as_str()),
            ("ACTIVE", "whatsapp")
        );
        assert!(
            leads[0].stage_id.is_some() && leads[0].referral.is_some(),
            "click-to-WhatsApp referral kept"
        );
        let contact = &contacts::list_contacts(&mut conn, &org.id).unwrap()[0];
        assert_eq!(
            contact.wa_user_id.as_deref(),
            Some("US.13491208655302741918"),
            "BSUID learned from a later webhook"
        );
        assert_eq!(
            contact.phone.as_deref(),
            Some("972912345678"),
            "the number change was recorded"
        );
        let notes = notes::list_notes(&mut conn, &org.id, &leads[0].id).unwrap();
        assert_eq!(notes.len(), message_fixtures);
        assert!(notes.iter().any(|n| n.content.starts_with("[image]")));
        let conversation = &conversations::list_conversations(&mut conn, &org.id).unwrap()[0];
        let reactions = logs.iter().filter(|m| m.message_type == "reaction").count() as i32;
        assert_eq!(
            conversation.unread_count,
            message_fixtures as i32 - reactions,
            "reactions are not unread messages"
        );
        assert!(conversation.last_inbound_at.is_some());
        let templates = templates::list_templates(&mut conn, &org.id).unwrap();
        assert_eq!(
            (templates[0].name.as_str(), templates[0].status.as_str()),
            ("my_message_template", "APPROVED")
        );
    }
}

#[test]
fn a_sender_known_only_by_bsuid_gets_a_contact_lead_and_conversation() {
    let t = TestDb::sqlite();
    let (org, _) = org_with_channel(&t);
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"1","phone_number_id":"{PHONE_NUMBER_ID}"}},"contacts":[{{"profile":{{"name":"Ana"}},"user_id":"US.999"}}],"messages":[{{"from_user_id":"US.999","id":"wamid.bsuid","timestamp":"1700000000","type":"text","text":{{"body":"hi"}}}}]}}}}]}}]}}"#
    );
    let id = store_event(&t, &org, body.as_bytes());
    project(&t, &id);
    let mut conn = t.db.conn().unwrap();
    let lead = &leads::list_leads(&mut conn, &org.id).unwrap()[0];
    assert_eq!(
        (
            lead.phone.as_deref(),
            lead.wa_user_id.as_deref(),
            lead.name.as_str()
        ),
        (None, Some("US.999"), "Ana")
    );
    assert_eq!(
        conversations::list_conversations(&mut conn, &org.id).unwrap()[0].contact_phone,
        "US.999"
    );
}

#[test]
fn a_batch_is_projected_whole_and_one_bad_item_does_not_lose_the_others() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let (_, text) = unique_fixtures()
            .into_iter()
            .find(|(n, _)| n == "text-01.json")
            .unwrap();
        let mut body: Value = serde_json::from_slice(&text).unwrap();
        let good = body["entry"][0]["changes"][0]["value"]["messages"][0].clone();
        let mut items: Vec<Value> = (0..5)
            .map(|k| {
                let mut m = good.clone();
                m["id"] = Value::String(format!("wamid.batch.{k}"));
                m
            })
            .collect();
        items.insert(2, serde_json::json!({"id": "wamid.broken", "type": "text"})); // no timestamp, no sender
        body["entry"][0]["changes"][0]["value"]["messages"] = Value::Array(items);
        let id = store_event(&t, &org, &serde_json::to_vec(&body).unwrap());
        project(&t, &id);
        let mut conn = t.db.conn().unwrap();
        assert_eq!(
            messages::list_messages(&mut conn, &org.id).unwrap().len(),
            5,
            "{}",
            t.backend
        );
        let event = webhooks::find_event(&mut conn, &id).unwrap().unwrap();
        assert_eq!(event.status, "PROCESSED");
        assert!(
            event.error.unwrap().contains("problems"),
            "the bad item is recorded on the event"
        );
    }
}

#[test]
fn processing_an_event_twice_changes_nothing() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let ids: Vec<_> = unique_fixtures()
            .iter()
            .map(|(_, b)| store_event(&t, &org, b))
            .collect();
        ids.iter().for_each(|id| project(&t, id));
        let once = snapshot(&t, &org);
        ids.iter().for_each(|id| project(&t, id));
        assert_eq!(snapshot(&t, &org), once, "{}", t.backend);
    }
}

#[test]
fn statuses_move_one_way_and_failed_wins_whatever_the_order() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        record_outbound(&t, &org, "wamid.out");
        // read, then a late delivered and a repeated sent: still READ.
        for (status, ts) in [("read", 30), ("delivered", 20), ("sent", 10), ("read", 30)] {
            let id = store_event(
                &t,
                &org,
                &status_body(status, "wamid.out", 1_700_000_000 + ts),
            );
            project(&t, &id);
        }
        let mut conn = t.db.conn().unwrap();
        let message = messages::find_message_by_wamid(&mut conn, &org.id, "wamid.out")
            .unwrap()
            .unwrap();
        assert_eq!(message.status, "READ", "{}", t.backend);
        drop(conn);
        // failed may come at any point and always wins, with Meta's code and reason.
        let id = store_event(&t, &org, &status_body("failed", "wamid.out", 1_700_000_005));
        project(&t, &id);
        let id = store_event(&t, &org, &odd_status_body("wamid.out"));
        project(&t, &id);
        let mut conn = t.db.conn().unwrap();
        let message = messages::find_message_by_wamid(&mut conn, &org.id, "wamid.out")
            .unwrap()
            .unwrap();
        assert_eq!(message.status, "FAILED");
        assert_eq!(message.error_code.as_deref(), Some("130472"));
        assert!(message.error_message.unwrap().contains("experiment"));
        let kept: Vec<String> = messages::list_status_events(&mut conn, "wamid.out")
            .unwrap()
            .into_iter()
            .map(|e| e.status)
            .collect();
        assert!(
            kept.contains(&"DELETED".to_string()),
            "unknown statuses are kept: {kept:?}"
        );
        assert_eq!(kept.len(), 5, "one row per (wamid, status)");
    }
}

#[test]
fn a_status_that_arrives_before_its_message_is_applied_when_the_message_appears() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        for (status, ts) in [("sent", 1), ("delivered", 2)] {
            let id = store_event(
                &t,
                &org,
                &status_body(status, "wamid.early", 1_700_000_000 + ts),
            );
            project(&t, &id);
        }
        record_outbound(&t, &org, "wamid.early");
        let mut conn = t.db.conn().unwrap();
        let message = messages::find_message_by_wamid(&mut conn, &org.id, "wamid.early")
            .unwrap()
            .unwrap();
        assert_eq!(message.status, "DELIVERED", "{}", t.backend);
    }
}

#[test]
fn replay_rebuilds_the_same_state() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        record_outbound(&t, &org, "wamid.out");
        for (_, body) in unique_fixtures() {
            let id = store_event(&t, &org, &body);
            project(&t, &id);
        }
        for (status, ts) in [("sent", 1), ("read", 3), ("delivered", 2)] {
            let id = store_event(
                &t,
                &org,
                &status_body(status, "wamid.out", 1_700_000_000 + ts),
            );
            project(&t, &id);
        }
        let before = snapshot(&t, &org);
        let report = replay(&t.db, &org.id, None).unwrap();
        assert_eq!(report.failed, 0);
        assert!(report.events > 20);
        assert_eq!(snapshot(&t, &org), before, "{}", t.backend);
    }
}

/// One step of a stream: a webhook, or the send job storing an outbound wamid.
#[derive(Debug, Clone)]
enum Step {
    Webhook(usize),
    Sent(&'static str),
}

fn stream() -> (Vec<Vec<u8>>, Vec<Step>) {
    let mut bodies: Vec<Vec<u8>> = unique_fixtures().into_iter().map(|(_, b)| b).collect();
    let statuses = [
        ("sent", "wamid.o1", 1),
        ("delivered", "wamid.o1", 2),
        ("read", "wamid.o1", 3),
        ("sent", "wamid.o2", 4),
        ("failed", "wamid.o2", 5),
        ("delivered", "wamid.o3", 6),
    ];
    for (status, wamid, ts) in statuses {
        bodies.push(status_body(status, wamid, 1_700_000_000 + ts));
    }
    bodies.push(odd_status_body("wamid.o3"));
    let mut steps: Vec<Step> = vec![
        Step::Sent("wamid.o1"),
        Step::Sent("wamid.o2"),
        Step::Sent("wamid.o3"),
    ];
    steps.extend((0..bodies.len()).map(Step::Webhook));
    (bodies, steps)
}

fn run_steps(steps: &[Step], bodies: &[Vec<u8>]) -> Vec<String> {
    let t = TestDb::sqlite();
    let (org, _) = org_with_channel(&t);
    let mut stored: std::collections::HashMap<usize, String> = Default::default();
    for step in steps {
        match step {
            Step::Sent(wamid) => record_outbound(&t, &org, wamid),
            Step::Webhook(i) => {
                // A repeated delivery is the same stored event processed again.
                let id = stored
                    .entry(*i)
                    .or_insert_with(|| store_event(&t, &org, &bodies[*i]))
                    .clone();
                project(&t, &id);
            }
        }
    }
    snapshot(&t, &org)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// Shuffled and duplicated deliveries end in the state of one in-order pass.
    #[test]
    fn any_order_and_any_duplicates_end_in_the_same_state(seed in any::<u64>(), duplicates in proptest::collection::vec(0usize..40, 0..12)) {
        let (bodies, in_order) = stream();
        let expected = run_steps(&in_order, &bodies);
        let mut shuffled = in_order.clone();
        for i in duplicates {
            shuffled.push(in_order[i % in_order.len()].clone());
        }
        // Fisher–Yates with a small deterministic generator seeded by proptest.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(run_steps(&shuffled, &bodies), expected);
    }
}

/// Two jobs projecting the first messages of the same new customer at the same moment (what
/// several runner processes do on PostgreSQL) both succeed, and the customer exists once.
#[test]
fn racing_projections_of_one_new_customer_both_succeed() {
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        for round in 0..8 {
            let (_, text) = unique_fixtures()
                .into_iter()
                .find(|(n, _)| n == "text-01.json")
                .unwrap();
            let ids: Vec<String> = (0..2)
                .map(|k| {
                    let body = String::from_utf8(text.clone())
                        .unwrap()
                        .replace("972987654321", &format!("5511988{round:06}"))
                        .replace("wamid.text-01.0", &format!("wamid.race.{round}.{k}"));
                    store_event(&t, &org, body.as_bytes())
                })
                .collect();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let results: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = ids
                    .iter()
                    .map(|id| {
                        let (db, barrier) = (t.db.clone(), barrier.clone());
                        s.spawn(move || {
                            let mut conn = db.conn().unwrap();
                            barrier.wait();
                            db.with_write_lock(|| {
                                write_transaction(&mut conn, |c| project_event(c, id))
                            })
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for result in results {
                assert!(result.is_ok(), "{}: {:?}", t.backend, result.err());
            }
        }
        let mut conn = t.db.conn().unwrap();
        assert_eq!(
            leads::list_leads(&mut conn, &org.id).unwrap().len(),
            8,
            "{}",
            t.backend
        );
        assert_eq!(
            contacts::list_contacts(&mut conn, &org.id).unwrap().len(),
            8
        );
        assert_eq!(
            conversations::list_conversations(&mut conn, &org.id)
                .unwrap()
                .len(),
            8
        );
        assert_eq!(
            messages::list_messages(&mut conn, &org.id).unwrap().len(),
            16
        );
        let unread: i32 = conversations::list_conversations(&mut conn, &org.id)
            .unwrap()
            .iter()
            .map(|c| c.unread_count)
            .sum();
        assert_eq!(unread, 16, "every message counted once");
    }
}

/// A PROCESS_WEBHOOK job for `event`, as a claim hands it to the handler (without a lease
/// owner: nothing to complete, the handler only projects).
fn job_for(org: &Organization, event: &str) -> switchboard_store::models::IntegrationJob {
    let mut job = switchboard_store::repo::jobs::new_job(
        "PROCESS_WEBHOOK",
        Some(org.id.clone()),
        "{}".into(),
        now(),
    );
    job.webhook_event_id = Some(event.to_string());
    job
}

#[tokio::test]
async fn the_job_marks_each_event_of_a_shared_batch_processed_with_its_own_problems() {
    use switchboard_runner::jobs::process_webhook::ProcessWebhook;
    use switchboard_runner::{JobContext, JobHandler};
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let fixtures = unique_fixtures();
        let (_, text) = fixtures.iter().find(|(n, _)| n == "text-01.json").unwrap();
        let mut broken: Value = serde_json::from_slice(text).unwrap();
        broken["entry"][0]["changes"][0]["value"]["messages"][0] =
            serde_json::json!({"id": "wamid.broken", "type": "text"});
        let clean = store_event(&t, &org, text);
        let with_problem = store_event(&t, &org, &serde_json::to_vec(&broken).unwrap());
        let handler = ProcessWebhook::start(&t.db).unwrap();
        let ctx = JobContext { db: t.db.clone() };
        let (a, b) = (job_for(&org, &clean), job_for(&org, &with_problem));
        // Run together, so the projector's writer may take both into one batch.
        let (ra, rb) = tokio::join!(handler.run(&ctx, &a), handler.run(&ctx, &b));
        ra.unwrap();
        rb.unwrap();
        let mut conn = t.db.conn().unwrap();
        let clean = webhooks::find_event(&mut conn, &clean).unwrap().unwrap();
        assert_eq!(
            (clean.status.as_str(), clean.error.as_deref()),
            ("PROCESSED", None),
            "{}",
            t.backend
        );
        assert!(clean.processed_at.is_some(), "{}", t.backend);
        let with_problem = webhooks::find_event(&mut conn, &with_problem)
            .unwrap()
            .unwrap();
        assert_eq!(with_problem.status, "PROCESSED", "{}", t.backend);
        assert!(
            with_problem
                .error
                .as_deref()
                .unwrap_or("")
                .contains("problems"),
            "{}: {:?}",
            t.backend,
            with_problem.error
        );
    }
}

#[tokio::test]
async fn an_event_that_fails_in_a_shared_batch_does_not_fail_or_undo_its_neighbours() {
    use switchboard_runner::jobs::process_webhook::ProcessWebhook;
    use switchboard_runner::{JobContext, JobError, JobHandler};
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let fixtures = unique_fixtures();
        let (_, text) = fixtures.iter().find(|(n, _)| n == "text-01.json").unwrap();
        let clean = store_event(&t, &org, text);
        let handler = ProcessWebhook::start(&t.db).unwrap();
        let ctx = JobContext { db: t.db.clone() };
        let (missing_first, good, missing_last) = (
            job_for(&org, "no-such-event-1"),
            job_for(&org, &clean),
            job_for(&org, "no-such-event-2"),
        );
        // Run together: the missing events fail on their own, before the projector's writer,
        // and the good one, projected in a batch with whatever else is waiting, lands.
        let (r1, r2, r3) = tokio::join!(
            handler.run(&ctx, &missing_first),
            handler.run(&ctx, &good),
            handler.run(&ctx, &missing_last)
        );
        assert!(
            matches!(r1, Err(JobError::Permanent(ref m)) if m.contains("does not exist")),
            "{}: {r1:?}",
            t.backend
        );
        assert!(matches!(r3, Err(JobError::Permanent(_))), "{}", t.backend);
        r2.unwrap();
        let mut conn = t.db.conn().unwrap();
        let event = webhooks::find_event(&mut conn, &clean).unwrap().unwrap();
        assert_eq!(event.status, "PROCESSED", "{}", t.backend);
        assert_eq!(
            messages::list_messages(&mut conn, &org.id).unwrap().len(),
            1,
            "{}: the good event's message is projected once",
            t.backend
        );
        assert_eq!(leads::list_leads(&mut conn, &org.id).unwrap().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_finds_each_projected_event_processed_and_its_job_done_once() {
    use std::time::Duration;
    use switchboard_runner::jobs::process_webhook::ProcessWebhook;
    use switchboard_runner::{Registry, Runner, RunnerSettings};
    use switchboard_store::repo::jobs;
    for t in TestDb::all() {
        let (org, _) = org_with_channel(&t);
        let events: Vec<_> = unique_fixtures()
            .iter()
            .map(|(_, body)| store_event(&t, &org, body))
            .collect();
        let registry =
            Registry::new().register("PROCESS_WEBHOOK", ProcessWebhook::start(&t.db).unwrap());
        let settings = RunnerSettings {
            poll_interval: Duration::from_millis(20),
            ..RunnerSettings::default()
        };
        let runner = Runner::new(t.db.clone(), registry, settings)
            .spawn()
            .unwrap();
        crate::support::eventually(Duration::from_secs(60), "every job is DONE", || {
            crate::support::count_status(&t, "DONE") >= events.len()
        })
        .await;
        runner.shutdown().await;
        let mut conn = t.db.conn().unwrap();
        for id in &events {
            let event = webhooks::find_event(&mut conn, id).unwrap().unwrap();
            assert_eq!(event.status, "PROCESSED", "{}: {id}", t.backend);
            let job = jobs::list_jobs_for_event(&mut conn, id).unwrap();
            assert_eq!(job.len(), 1, "{}", t.backend);
            // Marked DONE by the projection's own transaction: finished, lease let go.
            assert_eq!(job[0].status, "DONE", "{}", t.backend);
            assert_eq!(job[0].attempts, 1, "{}: ran once", t.backend);
            assert!(job[0].finished_at.is_some(), "{}", t.backend);
            assert_eq!(job[0].lease_owner, None, "{}", t.backend);
        }
    }
}
