//! WhatsApp contacts: who wrote, by phone (wa_id) or, for username-only users, by BSUID.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Contact, new_id, now};
use crate::schema::contacts::dsl;

pub fn find_contact(
    conn: &mut AnyConnection,
    org: &str,
    wa_id: Option<&str>,
    wa_user_id: Option<&str>,
) -> Result<Option<Contact>, StoreError> {
    if let Some(wa_id) = wa_id {
        let found = dsl::contacts
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::wa_id.eq(wa_id))
            .load(conn)?
            .into_iter()
            .next();
        if found.is_some() {
            return Ok(found);
        }
    }
    match wa_user_id {
        Some(user) => Ok(dsl::contacts
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::wa_user_id.eq(user))
            .load(conn)?
            .into_iter()
            .next()),
        None => Ok(None),
    }
}

/// Finds or creates the contact, filling in what this webhook knows that the row does not.
pub fn upsert_contact(
    conn: &mut AnyConnection,
    org: &str,
    wa_id: Option<&str>,
    wa_user_id: Option<&str>,
    profile_name: Option<&str>,
) -> Result<Contact, StoreError> {
    if wa_id.is_none() && wa_user_id.is_none() {
        return Err(StoreError::Invalid(
            "a contact needs a wa_id or a user id".into(),
        ));
    }
    let at = now();
    let Some(mut contact) = find_contact(conn, org, wa_id, wa_user_id)? else {
        let contact = Contact {
            id: new_id(),
            organization_id: org.to_string(),
            wa_id: wa_id.map(str::to_string),
            wa_user_id: wa_user_id.map(str::to_string),
            phone: wa_id.map(str::to_string),
            profile_name: profile_name.map(str::to_string),
            created_at: at,
            updated_at: at,
        };
        // Another transaction may be inserting the same contact right now: the loser of the
        // race keeps the winner's row instead of failing.
        insert_ignoring_conflicts!(conn, dsl::contacts, &contact);
        return find_contact(conn, org, wa_id, wa_user_id)?.ok_or(StoreError::NotFound("contact"));
    };
    let mut changed = false;
    let mut fill = |field: &mut Option<String>, value: Option<&str>| {
        if let Some(v) = value
            && field.as_deref() != Some(v)
        {
            *field = Some(v.to_string());
            changed = true;
        }
    };
    fill(&mut contact.profile_name, profile_name);
    // Link the other identity only when no other contact already holds it (one BSUID, one phone).
    let wa_id = wa_id.filter(|_| contact.wa_id.is_none());
    let wa_id = match wa_id {
        Some(w) if find_contact(conn, org, Some(w), None)?.is_none() => Some(w),
        _ => None,
    };
    let wa_user_id = wa_user_id.filter(|_| contact.wa_user_id.is_none());
    let wa_user_id = match wa_user_id {
        Some(u) if find_contact(conn, org, None, Some(u))?.is_none() => Some(u),
        _ => None,
    };
    let mut fill = |field: &mut Option<String>, value: Option<&str>| {
        if let Some(v) = value {
            *field = Some(v.to_string());
            changed = true;
        }
    };
    fill(&mut contact.wa_id, wa_id);
    if wa_id.is_some() {
        fill(&mut contact.phone, wa_id);
    }
    fill(&mut contact.wa_user_id, wa_user_id);
    if changed {
        contact.updated_at = at;
        diesel::update(dsl::contacts.find(&contact.id))
            .set((
                dsl::wa_id.eq(&contact.wa_id),
                dsl::wa_user_id.eq(&contact.wa_user_id),
                dsl::phone.eq(&contact.phone),
                dsl::profile_name.eq(&contact.profile_name),
                dsl::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(contact)
}

/// A customer changed number (system message): the contact keeps its identity (its wa_id, which
/// earlier and later webhooks may still carry) and records the new number as its phone.
pub fn set_contact_phone(
    conn: &mut AnyConnection,
    org: &str,
    wa_id: &str,
    new_phone: &str,
) -> Result<(), StoreError> {
    diesel::update(
        dsl::contacts
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::wa_id.eq(wa_id)),
    )
    .set((dsl::phone.eq(new_phone), dsl::updated_at.eq(now())))
    .execute(conn)?;
    Ok(())
}

pub fn list_contacts(conn: &mut AnyConnection, org: &str) -> Result<Vec<Contact>, StoreError> {
    Ok(dsl::contacts
        .filter(dsl::organization_id.eq(org))
        .order(dsl::created_at.asc())
        .load(conn)?)
}
