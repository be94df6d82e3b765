//! Rebuilding an organization's projections from its stored webhook events.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use switchboard_store::db::write_transaction;
use switchboard_store::repo::webhooks;
use switchboard_store::schema::{
    contacts, conversations, message_logs, message_status_events, notes,
};
use switchboard_store::{AnyConnection, Db, StoreError};

use crate::jobs::process_webhook::project_event;
use crate::registry::JobError;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub events: usize,
    pub failed: usize,
}

/// Without `since`: wipes what webhooks produced for the organization (inbound messages,
/// WhatsApp notes, delivery statuses, contacts, conversation previews and unread counts) and
/// projects every stored event again, in the order received. With `since`: projects the events
/// received from then on again, on top of what is there (projections are idempotent).
/// Leads, conversation assignments, templates and everything people entered are kept.
pub fn replay(
    db: &Db,
    organization_id: &str,
    since: Option<NaiveDateTime>,
) -> Result<ReplayReport, StoreError> {
    let mut conn = db.conn()?;
    if since.is_none() {
        write_transaction(&mut conn, |c| wipe_projections(c, organization_id))?;
    }
    let mut report = ReplayReport::default();
    let mut after: Option<String> = None;
    loop {
        let batch = webhooks::list_org_events_since(
            &mut conn,
            organization_id,
            since,
            after.as_deref(),
            500,
        )?;
        let Some(last) = batch.last() else { break };
        after = Some(last.id.clone());
        for event in batch.iter().filter(|e| e.status != "IGNORED") {
            report.events += 1;
            match write_transaction(&mut conn, |c| project_event(c, &event.id)) {
                Ok(()) => {}
                Err(
                    JobError::Permanent(e)
                    | JobError::Retry { message: e, .. }
                    | JobError::Defer { reason: e, .. },
                ) => {
                    report.failed += 1;
                    tracing::warn!(event = %event.id, error = %e, "event could not be replayed");
                }
            }
        }
    }
    Ok(report)
}

fn wipe_projections(conn: &mut AnyConnection, org: &str) -> Result<(), StoreError> {
    diesel::delete(
        notes::table
            .filter(notes::organization_id.eq(org))
            .filter(notes::source.eq("whatsapp")),
    )
    .execute(conn)?;
    diesel::delete(
        message_status_events::table.filter(message_status_events::organization_id.eq(org)),
    )
    .execute(conn)?;
    diesel::delete(
        message_logs::table
            .filter(message_logs::organization_id.eq(org))
            .filter(message_logs::direction.eq("INBOUND")),
    )
    .execute(conn)?;
    // What we sent stays; its delivery status is rebuilt from the status events.
    diesel::update(
        message_logs::table
            .filter(message_logs::organization_id.eq(org))
            .filter(message_logs::external_message_id.is_not_null()),
    )
    .set((
        message_logs::status.eq("SENT"),
        message_logs::error_code.eq(None::<String>),
        message_logs::error_message.eq(None::<String>),
        message_logs::status_updated_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    diesel::update(conversations::table.filter(conversations::organization_id.eq(org)))
        .set((
            conversations::unread_count.eq(0),
            conversations::last_message_text.eq(None::<String>),
            conversations::last_message_at.eq(None::<NaiveDateTime>),
            conversations::last_message_direction.eq(None::<String>),
            conversations::last_message_external_id.eq(None::<String>),
            conversations::last_inbound_at.eq(None::<NaiveDateTime>),
            conversations::contact_id.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::delete(contacts::table.filter(contacts::organization_id.eq(org))).execute(conn)?;
    Ok(())
}
