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
