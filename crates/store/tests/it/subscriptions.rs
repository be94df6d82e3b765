//! Outgoing event webhooks in the store: who gets an event, that repeats queue nothing, the
//! emission points, subscriptions and their sealed secrets, and how attempts are recorded.

use diesel::prelude::*;
use serde_json::{Value, json};
use switchboard_domain::events::EventType;
use switchboard_domain::outbound::{OutboundContent, Text};
use switchboard_store::models::{
    Channel, MessageStatusEvent, Organization, WebhookDelivery, WebhookSubscription, new_id, now,
};
use switchboard_store::repo::channels::{self, ChannelInput};
use switchboard_store::repo::conversations::{self, ConversationKey};
use switchboard_store::repo::leads::{self, LeadFromWhatsApp};
use switchboard_store::repo::outbound::{self, NewOutbound, Sent};
use switchboard_store::repo::subscriptions::{
    self, Attempt, DEAD, DELIVERED, DELIVERY_MAX_ATTEMPTS, Event, FAILED, NewSubscription, PENDING,
    Recorded, SubscriptionChanges,
};
use switchboard_store::repo::templates::{self, TemplateStatusChange};
use switchboard_store::repo::{jobs, messages, organizations, tokens};
use switchboard_store::schema::{integration_jobs, webhook_deliveries, webhook_subscriptions};
use switchboard_store::testing::TestDb;
use switchboard_store::{AnyConnection, SecretBox, StoreError};

const PHONE: &str = "5511999990000";

fn key() -> SecretBox {
    SecretBox::from_key(&[7; 32]).unwrap()
}

fn org(conn: &mut AnyConnection, name: &str) -> Organization {
    organizations::insert_organization(conn, name, None).unwrap()
}

fn subscribe(conn: &mut AnyConnection, org: &str, events: &[&str], enabled: bool) -> String {
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    subscriptions::insert_subscription(
        conn,
        &key(),
        &NewSubscription {
            organization_id: org,
            url: "https://receiver.example/hooks",
            events: &events,
            description: None,
            enabled,
            require_https: false,
        },
    )
    .unwrap()
    .subscription
    .id
}

fn deliveries(conn: &mut AnyConnection, subscription: &str) -> Vec<WebhookDelivery> {
    webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription))
        .order(webhook_deliveries::created_at.asc())
        .select(WebhookDelivery::as_select())
        .load(conn)
        .unwrap()
}

fn all_deliveries(conn: &mut AnyConnection, org: &str) -> Vec<WebhookDelivery> {
    webhook_deliveries::table
        .filter(webhook_deliveries::organization_id.eq(org))
        .order(webhook_deliveries::created_at.asc())
        .select(WebhookDelivery::as_select())
        .load(conn)
        .unwrap()
}

fn subscription(conn: &mut AnyConnection, id: &str) -> WebhookSubscription {
    webhook_subscriptions::table
        .find(id)
        .select(WebhookSubscription::as_select())
        .first(conn)
        .unwrap()
}

fn delivery_jobs(conn: &mut AnyConnection) -> i64 {
    integration_jobs::table
        .filter(integration_jobs::kind.eq("DELIVER_EVENT"))
        .count()
        .get_result(conn)
        .unwrap()
}

fn ticket_event<'a>(org: &'a str, key: &'a str) -> Event<'a> {
    Event {
        organization_id: org,
        kind: EventType::TicketCreated,
        key,
        data: json!({"id": "t1", "number": 1001}),
    }
}

fn body(delivery: &WebhookDelivery) -> Value {
    serde_json::from_str(&delivery.body).unwrap()
}

#[test]
fn an_event_goes_to_each_enabled_subscriber_of_its_type_in_its_organization_once() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let bravo = org(c, "Bravo");
        let tickets = subscribe(c, &acme.id, &["ticket.created"], true);
        let both = subscribe(c, &acme.id, &["lead.created", "ticket.created"], true);
        let disabled = subscribe(c, &acme.id, &["ticket.created"], false);
        let leads_only = subscribe(c, &acme.id, &["lead.created"], true);
        let other_org = subscribe(c, &bravo.id, &["ticket.created"], true);

        let queued = subscriptions::emit_in(c, &ticket_event(&acme.id, "t1")).unwrap();
        assert_eq!(queued, 2, "{}", t.backend);
        for (id, expected) in [
            (&tickets, 1),
            (&both, 1),
            (&disabled, 0),
            (&leads_only, 0),
            (&other_org, 0),
        ] {
            assert_eq!(deliveries(c, id).len(), expected, "{}: {id}", t.backend);
        }
        let sent = &deliveries(c, &tickets)[0];
        assert_eq!(sent.status, PENDING);
        assert_eq!(sent.event_type, "ticket.created");
        let envelope = body(sent);
        assert_eq!(envelope["id"], sent.event_id);
        assert_eq!(envelope["type"], "ticket.created");
        assert_eq!(envelope["organizationId"], acme.id);
        assert_eq!(envelope["data"]["number"], 1001);
        assert!(envelope["createdAt"].as_str().unwrap().ends_with('Z'));
        // Both subscribers got the same event, each with its own job.
        assert_eq!(deliveries(c, &both)[0].event_id, sent.event_id);
        let job = jobs::find_job(c, sent.job_id.as_deref().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(job.kind, "DELIVER_EVENT");
        assert_eq!(job.max_attempts, DELIVERY_MAX_ATTEMPTS);
        assert_eq!(job.organization_id.as_deref(), Some(acme.id.as_str()));
        assert_eq!(
            serde_json::from_str::<Value>(&job.payload).unwrap(),
            json!({"deliveryId": sent.id})
        );

        // The same change projected again queues nothing; another change does.
        assert_eq!(
            subscriptions::emit_in(c, &ticket_event(&acme.id, "t1")).unwrap(),
            0
        );
        assert_eq!(delivery_jobs(c), 2);
        assert_eq!(
            subscriptions::emit_in(c, &ticket_event(&acme.id, "t2")).unwrap(),
            2
        );
        assert_eq!(delivery_jobs(c), 4);
    }
}

#[test]
fn a_change_that_rolls_back_queues_no_event() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let acme = org(&mut conn, "Acme");
        let sub = subscribe(&mut conn, &acme.id, &["ticket.created"], true);
        let failed: Result<(), StoreError> = conn.transaction(|c| {
            subscriptions::emit_in(c, &ticket_event(&acme.id, "t1"))?;
            Err(StoreError::Invalid("the change failed".into()))
        });
        assert!(failed.is_err());
        assert!(deliveries(&mut conn, &sub).is_empty(), "{}", t.backend);
        assert_eq!(delivery_jobs(&mut conn), 0);
    }
}

fn channel(conn: &mut AnyConnection, org: &Organization) -> Channel {
    channels::insert_channel(
        conn,
        &key(),
        &ChannelInput {
            organization_id: org.id.clone(),
            phone_number_id: "1122334455667".into(),
            display_phone_number: Some("15550001111".into()),
            access_token: "EAAG".into(),
            ..Default::default()
        },
    )
    .unwrap()
}

fn of_type(all: &[WebhookDelivery], kind: &str) -> Vec<Value> {
    all.iter()
        .filter(|d| d.event_type == kind)
        .map(body)
        .collect()
}

#[test]
fn leads_assignments_and_templates_tell_their_subscribers_once() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        subscribe(
            c,
            &acme.id,
            &["lead.created", "conversation.assigned", "template.status"],
            true,
        );
        let from = LeadFromWhatsApp {
            phone: Some(PHONE),
            wa_user_id: None,
            profile_name: Some("Ana"),
            referral: None,
        };
        let lead = leads::find_or_create_lead(c, &acme.id, &from).unwrap();
        leads::find_or_create_lead(c, &acme.id, &from).unwrap();
        let created = of_type(&all_deliveries(c, &acme.id), "lead.created");
        assert_eq!(created.len(), 1, "{}: only the insert", t.backend);
        assert_eq!(created[0]["data"]["leadId"], lead.id);
        assert_eq!(created[0]["data"]["name"], "Ana");
        assert_eq!(created[0]["data"]["phone"], PHONE);

        let ch = channel(c, &acme);
        let key = ConversationKey {
            organization_id: &acme.id,
            channel_id: &ch.id,
            contact_phone: PHONE,
        };
        let conversation = conversations::upsert_conversation(c, &key, None, None).unwrap();
        let user =
            tokens::insert_user_with_token(c, &acme.id, switchboard_domain::Role::Seller, None)
                .unwrap()
                .user;
        conversations::assign_conversation(c, &acme.id, &conversation.id, Some(&user.id)).unwrap();
        conversations::assign_conversation(c, &acme.id, &conversation.id, Some(&user.id)).unwrap();
        conversations::assign_conversation(c, &acme.id, &conversation.id, None).unwrap();
        let assigned = of_type(&all_deliveries(c, &acme.id), "conversation.assigned");
        assert_eq!(
            assigned.len(),
            2,
            "{}: the same assignee again is no change",
            t.backend
        );
        assert_eq!(assigned[0]["data"]["assigneeId"], user.id);
        assert_eq!(assigned[0]["data"]["previousAssigneeId"], Value::Null);
        assert_eq!(assigned[1]["data"]["assigneeId"], Value::Null);
        assert_eq!(assigned[1]["data"]["previousAssigneeId"], user.id);
        assert_eq!(assigned[1]["data"]["conversationId"], conversation.id);

        let at = now();
        let change = |status: &'static str, at| TemplateStatusChange {
            external_id: Some("778"),
            name: Some("order_update"),
            language: Some("en_US"),
            category: Some("UTILITY"),
            status,
            reason: None,
            at,
        };
        templates::apply_template_status(c, &acme.id, &change("PENDING", at)).unwrap();
        let later = at + chrono::TimeDelta::seconds(5);
        templates::apply_template_status(c, &acme.id, &change("APPROVED", later)).unwrap();
        templates::apply_template_status(c, &acme.id, &change("APPROVED", later)).unwrap();
        let statuses = of_type(&all_deliveries(c, &acme.id), "template.status");
        assert_eq!(statuses.len(), 2, "{}", t.backend);
        assert_eq!(statuses[0]["data"]["previousStatus"], Value::Null);
        assert_eq!(statuses[1]["data"]["status"], "APPROVED");
        assert_eq!(statuses[1]["data"]["previousStatus"], "PENDING");
        assert_eq!(statuses[1]["data"]["name"], "order_update");
    }
}

fn status_report(org: &Organization, wamid: &str, status: &str, secs: i64) -> MessageStatusEvent {
    MessageStatusEvent {
        id: new_id(),
        organization_id: org.id.clone(),
        external_message_id: wamid.into(),
        status: status.into(),
        occurred_at: now() + chrono::TimeDelta::seconds(secs),
        recipient_id: Some(PHONE.into()),
        error_code: None,
        error_title: None,
        error_message: None,
        webhook_event_id: None,
        created_at: now(),
        applied: false,
    }
}

#[test]
fn each_status_an_outbound_message_moves_to_is_told_once() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let ch = channel(c, &acme);
        subscribe(c, &acme.id, &["message.status"], true);
        let new = NewOutbound {
            organization_id: acme.id.clone(),
            channel: ch.clone(),
            to: PHONE.into(),
            content: OutboundContent::Text(Text {
                body: "hello".into(),
                preview_url: false,
            }),
            lead_id: None,
            reply_to: None,
            idempotency_key: None,
            origin: None,
        };
        let queued = outbound::queue_message(c, &new).unwrap();
        let wamid = format!("wamid.{}", new_id());
        // Meta's "delivered" arrives before the send's own answer is recorded.
        messages::record_status_event(c, &status_report(&acme, &wamid, "delivered", 2)).unwrap();
        let sent = Sent {
            organization_id: acme.id.clone(),
            message_id: queued.message.id.clone(),
            wamid: wamid.clone(),
            at: now(),
        };
        outbound::mark_sent(c, &sent).unwrap();
        outbound::mark_sent(c, &sent).unwrap();
        messages::record_status_event(c, &status_report(&acme, &wamid, "read", 3)).unwrap();
        messages::apply_status_events(c, &acme.id, &wamid).unwrap();
        messages::record_status_event(c, &status_report(&acme, &wamid, "delivered", 4)).unwrap();
        messages::apply_status_events(c, &acme.id, &wamid).unwrap();

        let told = of_type(&all_deliveries(c, &acme.id), "message.status");
        let moves: Vec<(String, String)> = told
            .iter()
            .map(|b| {
                (
                    b["data"]["previousStatus"].as_str().unwrap().to_string(),
                    b["data"]["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            moves,
            [
                ("QUEUED", "SENT"),
                ("SENT", "DELIVERED"),
                ("DELIVERED", "READ")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string())),
            "{}",
            t.backend
        );
        assert_eq!(told[0]["data"]["wamid"], wamid);
        assert_eq!(told[0]["data"]["messageId"], queued.message.id);
        assert_eq!(told[2]["data"]["direction"], "OUTBOUND");

        // A send Meta refused: FAILED, told once.
        let refused = outbound::queue_message(c, &new).unwrap();
        for _ in 0..2 {
            outbound::mark_failed(
                c,
                &acme.id,
                &refused.message.id,
                Some("131026".into()),
                "undeliverable",
            )
            .unwrap();
        }
        let failed: Vec<Value> = of_type(&all_deliveries(c, &acme.id), "message.status")
            .into_iter()
            .filter(|b| b["data"]["messageId"] == refused.message.id)
            .collect();
        assert_eq!(failed.len(), 1, "{}", t.backend);
        assert_eq!(failed[0]["data"]["status"], "FAILED");
        assert_eq!(failed[0]["data"]["errorCode"], "131026");
        assert_eq!(failed[0]["data"]["previousStatus"], "QUEUED");
    }
}

#[test]
fn subscriptions_keep_their_secret_sealed_and_validate_what_they_are_given() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let events = vec!["ticket.created".to_string()];
        let created = subscriptions::insert_subscription(
            c,
            &key(),
            &NewSubscription {
                organization_id: &acme.id,
                url: " https://receiver.example/hooks ",
                events: &events,
                description: Some("CRM"),
                enabled: true,
                require_https: true,
            },
        )
        .unwrap();
        let stored = subscription(c, &created.subscription.id);
        assert!(created.secret.starts_with("whsec_"));
        assert!(
            !stored.secret_sealed.contains(&created.secret),
            "{}",
            t.backend
        );
        assert_eq!(stored.open_secret(&key()).unwrap(), created.secret);
        assert_eq!(stored.url, "https://receiver.example/hooks");

        let rotated = subscriptions::rotate_secret(c, &key(), &acme.id, &stored.id).unwrap();
        assert_ne!(rotated.secret, created.secret);
        assert_eq!(
            subscription(c, &stored.id).open_secret(&key()).unwrap(),
            rotated.secret
        );

        let refused = subscriptions::insert_subscription(
            c,
            &key(),
            &NewSubscription {
                organization_id: &acme.id,
                url: "http://receiver.example/hooks",
                events: &events,
                description: None,
                enabled: true,
                require_https: true,
            },
        );
        assert!(matches!(refused, Err(StoreError::Invalid(m)) if m.contains("https")));
        let unknown = subscriptions::update_subscription(
            c,
            &acme.id,
            &stored.id,
            &SubscriptionChanges {
                events: Some(vec!["ticket.deleted".into()]),
                ..Default::default()
            },
        );
        assert!(matches!(unknown, Err(StoreError::Invalid(m)) if m.contains("ticket.updated")));
        assert_eq!(subscription(c, &stored.id).events, r#"["ticket.created"]"#);

        // Another organization's id is not found, for reading and for changing.
        let bravo = org(c, "Bravo");
        assert!(
            subscriptions::find_subscription(c, &bravo.id, &stored.id)
                .unwrap()
                .is_none()
        );
        assert!(!subscriptions::delete_subscription(c, &bravo.id, &stored.id).unwrap());
        assert!(matches!(
            subscriptions::rotate_secret(c, &key(), &bravo.id, &stored.id),
            Err(StoreError::NotFound(_))
        ));
    }
}

fn attempt<'a>(delivery: &'a WebhookDelivery, delivered: bool, last: bool) -> Attempt<'a> {
    Attempt {
        delivery_id: &delivery.id,
        job_id: delivery.job_id.as_deref().unwrap(),
        response_status: Some(if delivered { 200 } else { 500 }),
        response_body: Some("ok".into()),
        error: (!delivered).then(|| "the receiver answered HTTP 500".to_string()),
        delivered,
        last,
    }
}

#[test]
fn attempts_count_failures_and_a_dead_delivery_disables_a_receiver_that_is_down() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let sub = subscribe(c, &acme.id, &["ticket.created"], true);
        subscriptions::emit_in(c, &ticket_event(&acme.id, "t1")).unwrap();
        let first = deliveries(c, &sub).remove(0);

        let recorded = subscriptions::record_attempt(c, &attempt(&first, false, false)).unwrap();
        assert_eq!(recorded, Recorded::Status(FAILED), "{}", t.backend);
        assert_eq!(subscription(c, &sub).consecutive_failures, 1);
        let now_failed = deliveries(c, &sub).remove(0);
        assert_eq!(
            (now_failed.attempts, now_failed.response_status),
            (1, Some(500))
        );

        // A redeliver hands the delivery to a new job: the old one records nothing more.
        let redelivered = subscriptions::redeliver(c, &acme.id, &sub, &first.id).unwrap();
        assert_eq!(redelivered.status, PENDING);
        assert_ne!(redelivered.job_id, first.job_id);
        assert_eq!(
            subscriptions::record_attempt(c, &attempt(&first, true, false)).unwrap(),
            Recorded::Superseded
        );

        // The last attempt fails, nothing reached the URL since: DEAD, and disabled saying so.
        let recorded =
            subscriptions::record_attempt(c, &attempt(&redelivered, false, true)).unwrap();
        let Recorded::DeadAndDisabled(reason) = recorded else {
            panic!("{}: {recorded:?}", t.backend);
        };
        assert!(reason.contains("\"enabled\": true"), "{reason}");
        let disabled = subscription(c, &sub);
        assert!(!disabled.enabled);
        assert_eq!(disabled.disabled_reason.as_deref(), Some(reason.as_str()));
        assert_eq!(deliveries(c, &sub)[0].status, DEAD);
        assert_eq!(deliveries(c, &sub)[0].attempts, 2);
        // Disabled: no new deliveries, and no redelivery until enabled.
        assert_eq!(
            subscriptions::emit_in(c, &ticket_event(&acme.id, "t2")).unwrap(),
            0
        );
        assert!(matches!(
            subscriptions::redeliver(c, &acme.id, &sub, &first.id),
            Err(StoreError::Conflict(_))
        ));

        // Enabled again: failures and reason cleared; a success resets the count.
        let enabled = subscriptions::update_subscription(
            c,
            &acme.id,
            &sub,
            &SubscriptionChanges {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(enabled.enabled && enabled.disabled_reason.is_none());
        assert_eq!(enabled.consecutive_failures, 0);
        subscriptions::emit_in(c, &ticket_event(&acme.id, "t3")).unwrap();
        let third = deliveries(c, &sub).pop().unwrap();
        subscriptions::record_attempt(c, &attempt(&third, false, false)).unwrap();
        assert_eq!(
            subscriptions::record_attempt(c, &attempt(&third, true, false)).unwrap(),
            Recorded::Status(DELIVERED)
        );
        assert_eq!(subscription(c, &sub).consecutive_failures, 0);
        assert!(deliveries(c, &sub).last().unwrap().delivered_at.is_some());
    }
}

#[test]
fn a_receiver_that_takes_other_events_keeps_its_subscription_when_one_dies() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let sub = subscribe(c, &acme.id, &["ticket.created"], true);
        subscriptions::emit_in(c, &ticket_event(&acme.id, "refused")).unwrap();
        subscriptions::emit_in(c, &ticket_event(&acme.id, "taken")).unwrap();
        let all = deliveries(c, &sub);
        let (refused, taken) = (&all[0], &all[1]);
        subscriptions::record_attempt(c, &attempt(taken, true, false)).unwrap();
        let recorded = subscriptions::record_attempt(c, &attempt(refused, false, true)).unwrap();
        assert_eq!(recorded, Recorded::Status(DEAD), "{}", t.backend);
        assert!(subscription(c, &sub).enabled);
    }
}

#[test]
fn a_ping_goes_to_its_subscription_only_and_pages_list_newest_first() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let sub = subscribe(c, &acme.id, &["ticket.created"], true);
        let other = subscribe(c, &acme.id, &["ticket.created"], true);
        subscriptions::emit_in(c, &ticket_event(&acme.id, "t1")).unwrap();
        let ping = subscriptions::queue_ping(c, &acme.id, &sub).unwrap();
        assert_eq!(ping.event_type, "ping");
        assert_eq!(body(&ping)["data"]["subscriptionId"], sub);
        assert_eq!(deliveries(c, &other).len(), 1, "{}", t.backend);
        let page = switchboard_store::repo::Page {
            limit: 1,
            offset: 0,
        };
        let (rows, total) =
            subscriptions::list_delivery_page(c, &acme.id, &sub, None, page).unwrap();
        assert_eq!(total, 2);
        assert_eq!(rows[0].id, ping.id, "newest first");
        let (rows, total) =
            subscriptions::list_delivery_page(c, &acme.id, &sub, Some("delivered"), page).unwrap();
        assert_eq!((rows.len(), total), (0, 0));
        let bravo = org(c, "Bravo");
        let (rows, total) =
            subscriptions::list_delivery_page(c, &bravo.id, &sub, None, page).unwrap();
        assert_eq!((rows.len(), total), (0, 0));
    }
}

#[test]
fn tickets_tell_when_they_open_and_each_time_they_change() {
    use switchboard_domain::helpdesk::TicketStatus;
    use switchboard_store::helpdesk::{self, AgentReply};
    use switchboard_store::repo::tickets::{self, NewTicket};
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        subscribe(c, &acme.id, &["ticket.created", "ticket.updated"], true);
        let ticket = tickets::insert_ticket(
            c,
            &NewTicket {
                organization_id: &acme.id,
                service_id: None,
                conversation_id: None,
                lead_id: None,
                contact_phone: PHONE,
                subject: "Broken order",
                at: now(),
            },
        )
        .unwrap();
        let agent =
            tokens::insert_user_with_token(c, &acme.id, switchboard_domain::Role::Seller, None)
                .unwrap()
                .user;
        helpdesk::change_status(c, &acme.id, &ticket.id, TicketStatus::InProgress).unwrap();
        helpdesk::change_status(c, &acme.id, &ticket.id, TicketStatus::InProgress).unwrap();
        helpdesk::assign(c, &acme.id, &ticket.id, Some(&agent.id)).unwrap();
        helpdesk::assign(c, &acme.id, &ticket.id, Some(&agent.id)).unwrap();
        helpdesk::agent_reply(
            c,
            &AgentReply {
                organization_id: &acme.id,
                ticket_id: &ticket.id,
                author_user_id: Some(&agent.id),
                body: "We are sending a new one",
                external_id: None,
            },
        )
        .unwrap();

        let all = all_deliveries(c, &acme.id);
        let created = of_type(&all, "ticket.created");
        assert_eq!(created.len(), 1, "{}", t.backend);
        assert_eq!(created[0]["data"]["id"], ticket.id);
        assert_eq!(created[0]["data"]["number"], ticket.number);
        assert_eq!(created[0]["data"]["status"], "new");
        assert_eq!(created[0]["data"]["contactPhone"], PHONE);
        let updated = of_type(&all, "ticket.updated");
        let changes: Vec<(&str, Value)> = updated
            .iter()
            .map(|b| {
                (
                    b["data"]["change"].as_str().unwrap(),
                    b["data"]["previous"].clone(),
                )
            })
            .collect();
        assert_eq!(
            changes,
            vec![
                ("status", json!("new")),
                ("assignee", Value::Null),
                ("comment", Value::Null)
            ],
            "{}: repeats of the same status or assignee are no change",
            t.backend
        );
        assert_eq!(updated[0]["data"]["status"], "in_progress");
        assert_eq!(updated[1]["data"]["assignedToId"], agent.id);
        assert_eq!(
            updated[2]["data"]["comment"]["body"],
            "We are sending a new one"
        );
        assert_eq!(updated[2]["data"]["comment"]["authorUserId"], agent.id);
    }
}

#[test]
fn a_delivery_whose_runner_died_on_its_last_attempt_ends_dead_not_pending() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let c = &mut conn;
        let acme = org(c, "Acme");
        let last = subscribe(c, &acme.id, &["ticket.created"], true);
        subscriptions::emit_in(c, &ticket_event(&acme.id, "t1")).unwrap();
        let other = subscribe(c, &acme.id, &["ticket.created"], true);
        subscriptions::emit_in(c, &ticket_event(&acme.id, "t2")).unwrap();
        // Both jobs were claimed by a runner that then stopped: one on its last attempt.
        let expired = now() - chrono::TimeDelta::minutes(5);
        for (subscription, attempts) in [(&last, DELIVERY_MAX_ATTEMPTS), (&other, 1)] {
            let job = deliveries(c, subscription)[0].job_id.clone().unwrap();
            diesel::update(integration_jobs::table.find(&job))
                .set((
                    integration_jobs::status.eq("RUNNING"),
                    integration_jobs::attempts.eq(attempts),
                    integration_jobs::lease_owner.eq(Some("gone")),
                    integration_jobs::lease_expires_at.eq(Some(expired)),
                ))
                .execute(c)
                .unwrap();
        }

        let (requeued, dead) = jobs::recover_expired_leases(c, now()).unwrap();
        assert_eq!((requeued, dead), (1, 1), "{}", t.backend);
        let settled = &deliveries(c, &last)[0];
        assert_eq!(settled.status, DEAD, "{}", t.backend);
        assert!(
            settled
                .error
                .as_deref()
                .unwrap_or("")
                .contains("no attempts are left"),
            "{}: {:?}",
            t.backend,
            settled.error
        );
        // The one with attempts left goes on as before.
        assert_eq!(deliveries(c, &other)[0].status, PENDING, "{}", t.backend);
    }
}
