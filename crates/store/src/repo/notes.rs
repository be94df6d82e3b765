use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Note, new_id, now};
use crate::schema::notes::dsl;

/// Adds a note unless one with the same `source_ref` (e.g. the wamid it came from) exists.
pub fn insert_note_once(
    conn: &mut AnyConnection,
    org: &str,
    lead_id: &str,
    content: &str,
    source: &str,
    source_ref: &str,
) -> Result<bool, StoreError> {
    let note = Note {
        id: new_id(),
        organization_id: org.to_string(),
        lead_id: lead_id.to_string(),
        author_user_id: None,
        content: content.to_string(),
        is_private: false,
        source: source.to_string(),
        source_ref: Some(source_ref.to_string()),
        created_at: now(),
    };
    // Unique source_ref: a note for the same message is never written twice, even by two
    // projections racing.
    Ok(insert_ignoring_conflicts!(conn, dsl::notes, &note) == 1)
}

pub fn list_notes(
    conn: &mut AnyConnection,
    org: &str,
    lead_id: &str,
) -> Result<Vec<Note>, StoreError> {
    Ok(dsl::notes
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::lead_id.eq(lead_id))
        .order(dsl::created_at.asc())
        .load(conn)?)
}

/// A note an agent writes on a lead (the lead must be the organization's).
pub fn insert_note(
    conn: &mut AnyConnection,
    org: &str,
    lead_id: &str,
    author_user_id: &str,
    content: &str,
    is_private: bool,
) -> Result<Note, StoreError> {
    crate::db::write_transaction(conn, |conn| {
        if super::leads::find_lead(conn, org, lead_id)?.is_none() {
            return Err(StoreError::NotFound("lead"));
        }
        let note = Note {
            id: new_id(),
            organization_id: org.to_string(),
            lead_id: lead_id.to_string(),
            author_user_id: Some(author_user_id.to_string()),
            content: content.to_string(),
            is_private,
            source: "api".to_string(),
            source_ref: None,
            created_at: now(),
        };
        diesel::insert_into(dsl::notes)
            .values(&note)
            .execute(conn)?;
        Ok(note)
    })
}

/// One page of a lead's notes, newest first, and how many it has.
pub fn list_note_page(
    conn: &mut AnyConnection,
    org: &str,
    lead_id: &str,
    page: super::Page,
) -> Result<(Vec<Note>, i64), StoreError> {
    let of_lead = dsl::notes
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::lead_id.eq(lead_id));
    let total: i64 = of_lead.count().get_result(conn)?;
    let found = of_lead
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((found, total))
}
