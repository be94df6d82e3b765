//! Message templates, as far as webhooks tell about them (the API manages the rest).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Template, new_id, now};
use crate::schema::templates::dsl;

/// What a `message_template_status_update` webhook says.
pub struct TemplateStatusChange<'a> {
    pub external_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub language: Option<&'a str>,
    pub category: Option<&'a str>,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub at: NaiveDateTime,
}

/// Applies a template status change unless a newer one was applied already; a template Meta
/// knows but we do not is recorded so the inbox can show it (a sync fills in its components).
pub fn apply_template_status(
    conn: &mut AnyConnection,
    org: &str,
    change: &TemplateStatusChange<'_>,
) -> Result<(), StoreError> {
    let existing: Option<Template> = match (change.external_id, change.name, change.language) {
        (Some(id), _, _) if find_by_external_id(conn, org, id)?.is_some() => {
            find_by_external_id(conn, org, id)?
        }
        (_, Some(name), Some(language)) => dsl::templates
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::name.eq(name))
            .filter(dsl::language.eq(language))
            .load(conn)?
            .into_iter()
            .next(),
        _ => None,
    };
    let reason = change.reason.filter(|r| !r.is_empty() && *r != "NONE");
    match existing {
        // Newest wins; on a tie the greater status, so any delivery order ends the same.
        Some(t)
            if t.status_changed_at
                .is_some_and(|last| (last, t.status.as_str()) >= (change.at, change.status)) =>
        {
            Ok(())
        }
        Some(t) => {
            diesel::update(dsl::templates.find(&t.id))
                .set((
                    dsl::status.eq(change.status),
                    dsl::rejection_reason.eq(reason),
                    dsl::external_id.eq(change.external_id.map(str::to_string).or(t.external_id)),
                    dsl::status_changed_at.eq(Some(change.at)),
                    dsl::updated_at.eq(now()),
                ))
                .execute(conn)?;
            Ok(())
        }
        None => {
            let (Some(name), Some(language)) = (change.name, change.language) else {
                return Err(StoreError::Invalid(
                    "a template status update without name and language".into(),
                ));
            };
            let at = now();
            let template = Template {
                id: new_id(),
                organization_id: org.to_string(),
                channel_id: None,
                external_id: change.external_id.map(str::to_string),
                name: name.to_string(),
                language: language.to_string(),
                category: change.category.unwrap_or("UTILITY").to_uppercase(),
                status: change.status.to_string(),
                parameter_format: "POSITIONAL".into(),
                components: "[]".into(),
                rejection_reason: reason.map(str::to_string),
                deleted_at: None,
                created_at: at,
                updated_at: at,
                status_changed_at: Some(change.at),
            };
            if insert_ignoring_conflicts!(conn, dsl::templates, &template) == 0 {
                // Created meanwhile by a concurrent projection: apply the change to that row.
                return apply_template_status(conn, org, change);
            }
            Ok(())
        }
    }
}

fn find_by_external_id(
    conn: &mut AnyConnection,
    org: &str,
    external_id: &str,
) -> Result<Option<Template>, StoreError> {
    Ok(dsl::templates
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::external_id.eq(external_id))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn list_templates(conn: &mut AnyConnection, org: &str) -> Result<Vec<Template>, StoreError> {
    Ok(dsl::templates
        .filter(dsl::organization_id.eq(org))
        .order(dsl::created_at.asc())
        .load(conn)?)
}
