use diesel::prelude::*;
use switchboard_store::models::{new_id, now};
use switchboard_store::repo::jira::{self, JiraConnectionInput};
use switchboard_store::repo::organizations;
use switchboard_store::schema::{ticket_comments, tickets};
use switchboard_store::testing::TestDb;
use switchboard_store::{AnyConnection, SecretBox, StoreError};

fn key() -> SecretBox {
    SecretBox::from_key(&[9; 32]).unwrap()
}

fn input(org: &str) -> JiraConnectionInput<'_> {
    JiraConnectionInput {
        organization_id: org,
        base_url: "https://acme.atlassian.net/",
        user_email: "bot@acme.com",
        api_token: "ATATT-plaintext-jira-token",
    }
}

/// A ticket row with only the columns every version of the table needs.
fn ticket(conn: &mut AnyConnection, org: &str, number: i64) -> String {
    let id = new_id();
    let at = now();
    diesel::insert_into(tickets::table)
        .values((
            tickets::id.eq(&id),
            tickets::organization_id.eq(org),
            tickets::number.eq(number),
            tickets::contact_phone.eq("5511999990000"),
            tickets::subject.eq("Broken order"),
            tickets::status.eq("new"),
            tickets::last_activity_at.eq(at),
            tickets::created_at.eq(at),
            tickets::updated_at.eq(at),
        ))
        .execute(conn)
        .unwrap();
    id
}

fn comment(conn: &mut AnyConnection, org: &str, ticket_id: &str) -> String {
    let id = new_id();
    diesel::insert_into(ticket_comments::table)
        .values((
            ticket_comments::id.eq(&id),
            ticket_comments::organization_id.eq(org),
            ticket_comments::ticket_id.eq(ticket_id),
            ticket_comments::author_type.eq("CUSTOMER"),
            ticket_comments::body.eq("it arrived broken"),
            ticket_comments::created_at.eq(now()),
        ))
        .execute(conn)
        .unwrap();
    id
}

#[test]
fn a_connection_seals_its_token_and_shows_its_webhook_secret_once() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let saved = jira::upsert_connection(&mut conn, &key(), &input(&org.id)).unwrap();
        let stored = jira::find_connection(&mut conn, &org.id).unwrap().unwrap();
        assert_eq!(
            stored.base_url, "https://acme.atlassian.net",
            "{}",
            t.backend
        );
        assert!(!stored.api_token.contains("ATATT"));
        assert_eq!(
            stored.open_api_token(&key()).unwrap(),
            "ATATT-plaintext-jira-token"
        );
        assert_ne!(stored.webhook_secret_hash, saved.webhook_secret);
        let by_secret = jira::find_connection_by_webhook_secret(&mut conn, &saved.webhook_secret)
            .unwrap()
            .unwrap();
        assert_eq!(by_secret.id, stored.id);
        assert!(
            jira::find_connection_by_webhook_secret(&mut conn, "sb_wrong")
                .unwrap()
                .is_none()
        );
        assert!(
            jira::find_connection_by_webhook_secret(&mut conn, "")
                .unwrap()
                .is_none()
        );

        // Saving again keeps the row, replaces the settings and rotates the secret.
        let again = jira::upsert_connection(
            &mut conn,
            &key(),
            &JiraConnectionInput {
                user_email: "other@acme.com",
                ..input(&org.id)
            },
        )
        .unwrap();
        assert_eq!(again.connection.id, stored.id);
        assert_eq!(again.connection.user_email, "other@acme.com");
        assert!(
            jira::find_connection_by_webhook_secret(&mut conn, &saved.webhook_secret)
                .unwrap()
                .is_none(),
            "the old secret stops working"
        );
        assert!(
            jira::find_connection_by_webhook_secret(&mut conn, &again.webhook_secret)
                .unwrap()
                .is_some()
        );

        assert!(jira::delete_connection(&mut conn, &org.id).unwrap());
        assert!(!jira::delete_connection(&mut conn, &org.id).unwrap());
        assert!(jira::find_connection(&mut conn, &org.id).unwrap().is_none());
    }
}

#[test]
fn bad_connection_input_is_refused_and_stores_nothing() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        for bad in [
            JiraConnectionInput {
                base_url: "acme.atlassian.net",
                ..input(&org.id)
            },
            JiraConnectionInput {
                user_email: "bot",
                ..input(&org.id)
            },
            JiraConnectionInput {
                api_token: "  ",
                ..input(&org.id)
            },
        ] {
            let err = jira::upsert_connection(&mut conn, &key(), &bad).unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(_)),
                "{}: {err}",
                t.backend
            );
        }
        assert!(jira::find_connection(&mut conn, &org.id).unwrap().is_none());
    }
}

#[test]
fn a_ticket_gets_one_issue_key_and_a_comment_one_jira_id() {
    for t in TestDb::all() {
        let mut conn = t.db.conn().unwrap();
        let org = organizations::insert_organization(&mut conn, "Acme", None).unwrap();
        let ticket_id = ticket(&mut conn, &org.id, 1);
        assert!(jira::set_issue_key(&mut conn, &ticket_id, "SUP-1").unwrap());
        assert!(!jira::set_issue_key(&mut conn, &ticket_id, "SUP-2").unwrap());
        let source = jira::find_issue_source(&mut conn, &org.id, &ticket_id, 5)
            .unwrap()
            .unwrap();
        assert_eq!(
            source.ticket.jira_issue_key.as_deref(),
            Some("SUP-1"),
            "{}",
            t.backend
        );

        let first = comment(&mut conn, &org.id, &ticket_id);
        let second = comment(&mut conn, &org.id, &ticket_id);
        assert!(jira::set_comment_external_id(&mut conn, &first, "10001").unwrap());
        assert!(!jira::set_comment_external_id(&mut conn, &first, "10002").unwrap());
        // A Jira id belongs to one comment of a ticket.
        let err = jira::set_comment_external_id(&mut conn, &second, "10001").unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let found = switchboard_store::repo::tickets::find_comment_by_external_id(
            &mut conn, &ticket_id, "10001",
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.id, first);

        let source = jira::find_comment_source(&mut conn, &org.id, &second)
            .unwrap()
            .unwrap();
        assert_eq!(source.ticket.id, ticket_id);
        assert!(source.author.is_none());

        // Another organization sees none of it.
        let other = organizations::insert_organization(&mut conn, "Other", None).unwrap();
        assert!(
            jira::find_issue_source(&mut conn, &other.id, &ticket_id, 5)
                .unwrap()
                .is_none()
        );
        assert!(
            jira::find_comment_source(&mut conn, &other.id, &first)
                .unwrap()
                .is_none()
        );
    }
}
