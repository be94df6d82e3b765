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
    let exists = dsl::notes
        .filter(dsl::source_ref.eq(source_ref))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
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
    diesel::insert_into(dsl::notes)
        .values(&note)
        .execute(conn)?;
    Ok(true)
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
