use switchboard_domain::outbound::{OutboundContent, Template, Text};
use switchboard_store::AnyConnection;
use switchboard_store::SecretBox;
use switchboard_store::models::{Channel, MessageStatusEvent, Organization, new_id, now};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::outbound::{self, NewOutbound, Sent};
use switchboard_store::repo::{jobs, messages, notes, organizations, runners};
use switchboard_store::testing::TestDb;

fn key() -> SecretBox {
    SecretBox::from_key(&[42; 32]).unwrap()
}

fn setup(conn: &mut AnyConnection) -> (Organization, Channel) {
    let org = organizations::insert_organization(conn, "Acme", None).unwrap();
    let input = ChannelInput {
        organization_id: org.id.clone(),
        phone_number_id: "1122334455667".into(),
        display_phone_number: Some("15550001111".into()),
        access_token: "EAAG-old".into(),
        ..Default::default()
    };
    let channel = channels::insert_channel(conn, &key(), &input).unwrap();
    (org, channel)
}

fn text(org: &Organization, channel: &Channel, body: &str, key: Option<&str>) -> NewOutbound {
    NewOutbound {
        organization_id: org.id.clone(),
        channel: channel.clone(),
        to: "5511999990000".into(),
        content: OutboundContent::Text(Text {
            body: body.into(),
            preview_url: false,
        }),
        lead_id: None,
        reply_to: None,
        idempotency_key: key.map(str::to_string),
        origin: None,
    }
}

/// What the send job records once Meta accepted the message.
fn record_sent(conn: &mut AnyConnection, org: &Organization, message_id: &str, wamid: &str) {
    let sent = Sent {
        organization_id: org.id.clone(),
        message_id: message_id.to_string(),
        wamid: wamid.to_string(),
        at: now(),
    };
    outbound::mark_sent(conn, &sent).unwrap();
}

#[test]
fn queueing_creates_the_message_its_job_and_the_conversation_preview() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "hello", None)).unwrap();
        assert!(queued.created);
        assert_eq!(queued.message.status, "QUEUED");
        assert_eq!(queued.message.direction, "OUTBOUND");
        assert_eq!(queued.message.to_phone.as_deref(), Some("5511999990000"));
        assert_eq!(queued.message.from_phone.as_deref(), Some("15550001111"));
        let job = jobs::find_job(&mut conn, &queued.job.id).unwrap().unwrap();
        assert_eq!(job.kind, "SEND_MESSAGE");
        assert_eq!(job.status, "PENDING");
        assert!(job.payload.contains(&queued.message.id));
        let key = ConversationKey {
            organization_id: &org.id,
            channel_id: &channel.id,
            contact_phone: "5511999990000",
        };
        let conversation = conversations::find_conversation_by_key(&mut conn, &key)
            .unwrap()
            .unwrap();
        assert_eq!(conversation.last_message_text.as_deref(), Some("hello"));
        assert_eq!(
            conversation.last_message_direction.as_deref(),
            Some("OUTBOUND")
        );
        assert_eq!(conversation.unread_count, 0);
        assert_eq!(
            queued.message.conversation_id.as_deref(),
            Some(conversation.id.as_str())
        );
        let content = outbound::content_of(&queued.message).unwrap();
        assert_eq!(content.preview_text().as_deref(), Some("hello"));
        let template = NewOutbound {
            content: OutboundContent::Template(Template::with_variables(
                "order_update",
                "en_US",
                None,
            )),
            ..text(&org, &channel, "", None)
        };
        let queued = outbound::queue_message(&mut conn, &template).unwrap();
        assert_eq!(queued.job.kind, "SEND_MESSAGE_TEMPLATE");
        assert_eq!(
            queued.message.template_name.as_deref(),
            Some("order_update")
        );
    }
}

#[test]
fn the_same_idempotency_key_gives_the_same_message_and_job() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let first =
            outbound::queue_message(&mut conn, &text(&org, &channel, "once", Some("k-1"))).unwrap();
        let again =
            outbound::queue_message(&mut conn, &text(&org, &channel, "once", Some("k-1"))).unwrap();
        assert!(!again.created);
        assert_eq!(first.job.id, again.job.id);
        assert_eq!(first.message.id, again.message.id);
        assert_eq!(
            messages::list_messages(&mut conn, &org.id).unwrap().len(),
            1
        );
        // Keys are per organization: another org's identical key is its own message.
        let other = organizations::insert_organization(&mut conn, "Other", None).unwrap();
        let other_channel = channels::insert_channel(
            &mut conn,
            &key(),
            &ChannelInput {
                organization_id: other.id.clone(),
                phone_number_id: "998877".into(),
                access_token: "t".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let theirs = outbound::queue_message(
            &mut conn,
            &text(&other, &other_channel, "once", Some("k-1")),
        )
        .unwrap();
        assert!(theirs.created);
        assert_ne!(theirs.message.id, first.message.id);
    }
}

fn status_event(
    org: &Organization,
    wamid: &str,
    status: &str,
    at_offset_secs: i64,
) -> MessageStatusEvent {
    MessageStatusEvent {
        id: new_id(),
        organization_id: org.id.clone(),
        external_message_id: wamid.into(),
        status: status.into(),
        occurred_at: now() + chrono::TimeDelta::seconds(at_offset_secs),
        recipient_id: Some("5511999990000".into()),
        error_code: None,
        error_title: None,
        error_message: None,
        webhook_event_id: None,
        created_at: now(),
        applied: false,
    }
}

#[test]
fn statuses_that_beat_the_send_response_are_applied_when_it_is_recorded() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "fast", None)).unwrap();
        // Meta's delivered webhook arrives before the send's HTTP response is recorded.
        messages::record_status_event(&mut conn, &status_event(&org, "wamid.fast", "DELIVERED", 1))
            .unwrap();
        let sent = Sent {
            organization_id: org.id.clone(),
            message_id: queued.message.id.clone(),
            wamid: "wamid.fast".into(),
            at: now(),
        };
        outbound::mark_sent(&mut conn, &sent).unwrap();
        let message = outbound::find_message(&mut conn, &org.id, &queued.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(message.status, "DELIVERED");
        assert_eq!(message.external_message_id.as_deref(), Some("wamid.fast"));
        assert!(message.sent_at.is_some());
        // Recording it again (the job ran twice) changes nothing.
        outbound::mark_sent(
            &mut conn,
            &Sent {
                wamid: "wamid.other".into(),
                ..sent
            },
        )
        .unwrap();
        let again = outbound::find_message(&mut conn, &org.id, &queued.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(again.external_message_id.as_deref(), Some("wamid.fast"));
        assert_eq!(again.status, "DELIVERED");
    }
}

#[test]
fn a_sent_message_is_noted_on_its_lead() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let lead = switchboard_store::repo::leads::find_or_create_lead(
            &mut conn,
            &org.id,
            &switchboard_store::repo::leads::LeadFromWhatsApp {
                phone: Some("5511999990000"),
                wa_user_id: None,
                profile_name: Some("Ana"),
                referral: None,
            },
        );
        let Ok(lead) = lead else {
            panic!("lead: {lead:?}")
        };
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "your order shipped", None))
                .unwrap();
        assert_eq!(
            queued.message.lead_id.as_deref(),
            Some(lead.id.as_str()),
            "found by phone"
        );
        record_sent(&mut conn, &org, &queued.message.id, "wamid.n");
        let notes = notes::list_notes(&mut conn, &org.id, &lead.id).unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n.content.contains("your order shipped")),
            "{notes:?}"
        );
    }
}

#[test]
fn a_failed_message_keeps_metas_code_and_reason_but_a_sent_one_is_not_failed() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "late", None)).unwrap();
        outbound::mark_failed(
            &mut conn,
            &org.id,
            &queued.message.id,
            Some("131047".into()),
            "the 24-hour window is closed: send an approved template",
        )
        .unwrap();
        let failed = outbound::find_message(&mut conn, &org.id, &queued.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, "FAILED");
        assert_eq!(failed.error_code.as_deref(), Some("131047"));
        assert!(failed.error_message.unwrap().contains("approved template"));
        let sent = outbound::queue_message(&mut conn, &text(&org, &channel, "ok", None)).unwrap();
        record_sent(&mut conn, &org, &sent.message.id, "wamid.ok");
        outbound::mark_failed(
            &mut conn,
            &org.id,
            &sent.message.id,
            Some("131000".into()),
            "late failure",
        )
        .unwrap();
        let still = outbound::find_message(&mut conn, &org.id, &sent.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(still.status, "SENT");
    }
}

#[test]
fn pausing_and_resuming_a_channel_wakes_its_waiting_sends() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "wait", None)).unwrap();
        assert!(channels::pause_channel(&mut conn, &channel.id, "(#190) token expired").unwrap());
        assert!(
            !channels::pause_channel(&mut conn, &channel.id, "again").unwrap(),
            "already paused"
        );
        let paused = channels::find_channel(&mut conn, &org.id, &channel.id)
            .unwrap()
            .unwrap();
        assert_eq!(paused.status, channels::PAUSED);
        assert_eq!(
            paused.status_reason.as_deref(),
            Some("(#190) token expired")
        );
        // The job waits far in the future, as a deferred send does.
        let later = now() + chrono::TimeDelta::minutes(10);
        diesel::RunQueryDsl::execute(
            diesel::update(switchboard_store::schema::integration_jobs::table)
                .set(switchboard_store::schema::integration_jobs::run_at.eq(later)),
            &mut conn,
        )
        .unwrap();
        channels::set_access_token(&mut conn, &key(), &channel.id, "EAAG-new").unwrap();
        let resumed = channels::resume_channel(&mut conn, &org.id, &channel.id).unwrap();
        assert_eq!(resumed.status, channels::ACTIVE);
        assert_eq!(resumed.status_reason, None);
        assert_eq!(
            resumed.open_secrets(&key()).unwrap().access_token,
            "EAAG-new"
        );
        let job = jobs::find_job(&mut conn, &queued.job.id).unwrap().unwrap();
        assert!(job.run_at <= now(), "the waiting send is due again");
    }
}

use diesel::ExpressionMethods;

#[test]
fn runners_count_themselves_and_forget_the_silent() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let at = now();
        let stale = at - runners::STALE_AFTER;
        assert_eq!(
            runners::heartbeat(&mut conn, "r1", "h", at, stale).unwrap(),
            1
        );
        assert_eq!(
            runners::heartbeat(&mut conn, "r2", "h", at, stale).unwrap(),
            2
        );
        assert_eq!(
            runners::heartbeat(&mut conn, "r1", "h", at, stale).unwrap(),
            2,
            "a beat is not a new runner"
        );
        // r2 falls silent: 11 s later only r1 is counted.
        let later = at + chrono::TimeDelta::seconds(11);
        assert_eq!(
            runners::heartbeat(&mut conn, "r1", "h", later, later - runners::STALE_AFTER).unwrap(),
            1
        );
        runners::unregister(&mut conn, "r1").unwrap();
        assert_eq!(
            runners::heartbeat(&mut conn, "r3", "h", later, later - runners::STALE_AFTER).unwrap(),
            1
        );
    }
}

#[test]
fn a_status_that_raced_past_the_send_record_is_applied_by_the_sweep() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "race", None)).unwrap();
        // The send recorded its wamid without seeing the READ that another transaction was
        // committing at that moment (as two PostgreSQL transactions can).
        diesel::RunQueryDsl::execute(
            diesel::update(switchboard_store::schema::message_logs::table).set((
                switchboard_store::schema::message_logs::external_message_id.eq("wamid.race"),
                switchboard_store::schema::message_logs::status.eq("SENT"),
            )),
            &mut conn,
        )
        .unwrap();
        messages::record_status_event(&mut conn, &status_event(&org, "wamid.race", "READ", 2))
            .unwrap();
        // A status for a message that is not ours waits too, and stays waiting.
        messages::record_status_event(
            &mut conn,
            &status_event(&org, "wamid.not-ours", "DELIVERED", 1),
        )
        .unwrap();
        let since = now() - chrono::TimeDelta::days(1);
        assert_eq!(
            messages::apply_waiting_statuses(&mut conn, since, 100).unwrap(),
            1
        );
        let message = outbound::find_message(&mut conn, &org.id, &queued.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(message.status, "READ");
        assert_eq!(
            messages::apply_waiting_statuses(&mut conn, since, 100).unwrap(),
            0,
            "applied once"
        );
    }
}

#[test]
fn folding_never_moves_a_message_back() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let queued =
            outbound::queue_message(&mut conn, &text(&org, &channel, "fwd", None)).unwrap();
        record_sent(&mut conn, &org, &queued.message.id, "wamid.fwd");
        messages::record_status_event(&mut conn, &status_event(&org, "wamid.fwd", "DELIVERED", 1))
            .unwrap();
        // A snapshot taken before READ was stored (a concurrent projection) folds to DELIVERED…
        let stale = outbound::find_message(&mut conn, &org.id, &queued.message.id)
            .unwrap()
            .unwrap();
        messages::record_status_event(&mut conn, &status_event(&org, "wamid.fwd", "READ", 2))
            .unwrap();
        messages::apply_status_events(&mut conn, &org.id, "wamid.fwd").unwrap();
        assert_eq!(
            outbound::find_message(&mut conn, &org.id, &queued.message.id)
                .unwrap()
                .unwrap()
                .status,
            "READ"
        );
        // …and writing it now changes nothing: the UPDATE only moves forward.
        diesel::RunQueryDsl::execute(
            diesel::delete(switchboard_store::schema::message_status_events::table)
                .filter(switchboard_store::schema::message_status_events::status.eq("READ")),
            &mut conn,
        )
        .unwrap();
        assert!(!messages::fold_into(&mut conn, &stale).unwrap());
        assert_eq!(
            outbound::find_message(&mut conn, &org.id, &queued.message.id)
                .unwrap()
                .unwrap()
                .status,
            "READ"
        );
    }
}

#[test]
fn a_send_whose_runner_died_on_its_last_attempt_fails_instead_of_staying_queued() {
    use diesel::prelude::*;
    use switchboard_store::schema::integration_jobs;
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let (org, channel) = setup(&mut conn);
        let last = outbound::queue_message(&mut conn, &text(&org, &channel, "last", None)).unwrap();
        let more = outbound::queue_message(&mut conn, &text(&org, &channel, "more", None)).unwrap();
        let expired = now() - chrono::TimeDelta::minutes(5);
        for (queued, attempts) in [(&last, last.job.max_attempts), (&more, 1)] {
            diesel::update(integration_jobs::table.find(&queued.job.id))
                .set((
                    integration_jobs::status.eq("RUNNING"),
                    integration_jobs::attempts.eq(attempts),
                    integration_jobs::lease_owner.eq(Some("gone")),
                    integration_jobs::lease_expires_at.eq(Some(expired)),
                ))
                .execute(&mut conn)
                .unwrap();
        }

        assert_eq!(
            jobs::recover_expired_leases(&mut conn, now()).unwrap(),
            (1, 1)
        );
        let failed = outbound::find_message(&mut conn, &org.id, &last.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(failed.status, "FAILED", "{}", t.backend);
        assert!(
            failed
                .error_message
                .as_deref()
                .unwrap_or("")
                .contains("no attempts are left"),
            "{}: {:?}",
            t.backend,
            failed.error_message
        );
        let waiting = outbound::find_message(&mut conn, &org.id, &more.message.id)
            .unwrap()
            .unwrap();
        assert_eq!(waiting.status, "QUEUED", "{}", t.backend);
    }
}
