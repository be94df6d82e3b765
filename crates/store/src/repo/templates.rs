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
            let external_id = change
                .external_id
                .map(str::to_string)
                .or(t.external_id.clone());
            diesel::update(dsl::templates.find(&t.id))
                .set((
                    dsl::status.eq(change.status),
                    dsl::rejection_reason.eq(reason),
                    dsl::external_id.eq(&external_id),
                    dsl::status_changed_at.eq(Some(change.at)),
                    dsl::updated_at.eq(now()),
                ))
                .execute(conn)?;
            if t.status != change.status {
                let changed = Template {
                    status: change.status.to_string(),
                    rejection_reason: reason.map(str::to_string),
                    external_id,
                    status_changed_at: Some(change.at),
                    ..t.clone()
                };
                super::subscriptions::emit_template_status(
                    conn,
                    &changed,
                    Some(&t.status),
                    change.at,
                )?;
            }
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
            super::subscriptions::emit_template_status(conn, &template, None, change.at)?;
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

/// Filters of the template list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct TemplateFilter {
    pub status: Option<String>,
    pub category: Option<String>,
    pub language: Option<String>,
}

fn filtered<'a>(
    org: &'a str,
    filter: &'a TemplateFilter,
) -> crate::schema::templates::BoxedQuery<'a, super::Backend> {
    let mut query = dsl::templates
        .filter(dsl::organization_id.eq(org))
        .into_boxed();
    if let Some(status) = &filter.status {
        query = query.filter(dsl::status.eq(status.to_uppercase()));
    }
    if let Some(category) = &filter.category {
        query = query.filter(dsl::category.eq(category.to_uppercase()));
    }
    if let Some(language) = &filter.language {
        query = query.filter(dsl::language.eq(language));
    }
    query
}

/// One page of the organization's templates by name and language, and how many match.
pub fn list_template_page(
    conn: &mut AnyConnection,
    org: &str,
    filter: &TemplateFilter,
    page: super::Page,
) -> Result<(Vec<Template>, i64), StoreError> {
    let total: i64 = filtered(org, filter).count().get_result(conn)?;
    let found = filtered(org, filter)
        .order((dsl::name.asc(), dsl::language.asc()))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((found, total))
}

pub fn find_template(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<Template>, StoreError> {
    Ok(dsl::templates
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

/// A template written in Switchboard (already validated by the caller).
pub struct NewTemplate<'a> {
    pub organization_id: &'a str,
    pub channel_id: Option<&'a str>,
    pub name: &'a str,
    pub language: &'a str,
    pub category: &'a str,
    pub parameter_format: &'a str,
    /// Meta's `components` list, as JSON text.
    pub components: &'a str,
}

/// Creates a template in PENDING; a name and language the organization has already is a
/// conflict.
pub fn insert_template(
    conn: &mut AnyConnection,
    new: &NewTemplate<'_>,
) -> Result<Template, StoreError> {
    let at = now();
    let template = Template {
        id: new_id(),
        organization_id: new.organization_id.to_string(),
        channel_id: new.channel_id.map(str::to_string),
        external_id: None,
        name: new.name.to_string(),
        language: new.language.to_string(),
        category: new.category.to_string(),
        status: "PENDING".into(),
        parameter_format: new.parameter_format.to_string(),
        components: new.components.to_string(),
        rejection_reason: None,
        deleted_at: None,
        created_at: at,
        updated_at: at,
        status_changed_at: None,
    };
    diesel::insert_into(dsl::templates)
        .values(&template)
        .execute(conn)
        .map_err(|e| {
            let e = StoreError::from(e);
            if e.is_unique_violation() {
                StoreError::Conflict(format!(
                    "a template named '{}' in language {} exists already: change that one (PATCH) or pick another name",
                    new.name, new.language
                ))
            } else {
                e
            }
        })?;
    Ok(template)
}

/// A new definition for a template; it goes back to PENDING (Meta reviews edits again).
pub fn update_template(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    category: &str,
    parameter_format: &str,
    components: &str,
) -> Result<Template, StoreError> {
    let changed = diesel::update(
        dsl::templates
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::id.eq(id)),
    )
    .set((
        dsl::category.eq(category),
        dsl::parameter_format.eq(parameter_format),
        dsl::components.eq(components),
        dsl::status.eq("PENDING"),
        dsl::rejection_reason.eq(None::<String>),
        dsl::deleted_at.eq(None::<NaiveDateTime>),
        dsl::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound("template"));
    }
    find_template(conn, org, id)?.ok_or(StoreError::NotFound("template"))
}

/// Soft delete: the template stays (messages refer to it) with status DISABLED.
pub fn disable_template(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Template, StoreError> {
    let at = now();
    let changed = diesel::update(
        dsl::templates
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::id.eq(id)),
    )
    .set((
        dsl::status.eq("DISABLED"),
        dsl::deleted_at.eq(Some(at)),
        dsl::updated_at.eq(at),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound("template"));
    }
    find_template(conn, org, id)?.ok_or(StoreError::NotFound("template"))
}

/// A template as Meta's template list describes it.
pub struct RemoteTemplate<'a> {
    pub external_id: &'a str,
    pub name: &'a str,
    pub language: &'a str,
    pub category: &'a str,
    pub status: &'a str,
    pub parameter_format: &'a str,
    pub components: &'a str,
    pub rejection_reason: Option<&'a str>,
}

/// Makes our copy match Meta's (a sync): found by Meta's id, else by name and language, else
/// created. A template disabled here stays disabled.
pub fn upsert_remote_template(
    conn: &mut AnyConnection,
    org: &str,
    channel_id: Option<&str>,
    remote: &RemoteTemplate<'_>,
) -> Result<(), StoreError> {
    let at = now();
    let existing = match find_by_external_id(conn, org, remote.external_id)? {
        Some(t) => Some(t),
        None => dsl::templates
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::name.eq(remote.name))
            .filter(dsl::language.eq(remote.language))
            .load::<Template>(conn)?
            .into_iter()
            .next(),
    };
    let reason = remote
        .rejection_reason
        .filter(|r| !r.is_empty() && *r != "NONE");
    match existing {
        Some(t) => {
            let status = if t.deleted_at.is_some() {
                "DISABLED"
            } else {
                remote.status
            };
            diesel::update(dsl::templates.find(&t.id))
                .set((
                    dsl::external_id.eq(remote.external_id),
                    dsl::category.eq(remote.category),
                    dsl::status.eq(status),
                    dsl::parameter_format.eq(remote.parameter_format),
                    dsl::components.eq(remote.components),
                    dsl::rejection_reason.eq(reason),
                    dsl::channel_id.eq(t.channel_id.as_deref().or(channel_id)),
                    dsl::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        None => {
            let template = Template {
                id: new_id(),
                organization_id: org.to_string(),
                channel_id: channel_id.map(str::to_string),
                external_id: Some(remote.external_id.to_string()),
                name: remote.name.to_string(),
                language: remote.language.to_string(),
                category: remote.category.to_string(),
                status: remote.status.to_string(),
                parameter_format: remote.parameter_format.to_string(),
                components: remote.components.to_string(),
                rejection_reason: reason.map(str::to_string),
                deleted_at: None,
                created_at: at,
                updated_at: at,
                status_changed_at: None,
            };
            insert_ignoring_conflicts!(conn, dsl::templates, &template);
        }
    }
    Ok(())
}

/// Meta accepted a submitted template: remember its id and the status it answered with.
pub fn record_submission(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    external_id: &str,
    status: &str,
) -> Result<(), StoreError> {
    diesel::update(
        dsl::templates
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::id.eq(id)),
    )
    .set((
        dsl::external_id.eq(external_id),
        dsl::status.eq(status),
        dsl::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Meta refused a submitted template: REJECTED with Meta's reason.
pub fn record_rejection(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    reason: &str,
) -> Result<(), StoreError> {
    diesel::update(
        dsl::templates
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::id.eq(id)),
    )
    .set((
        dsl::status.eq("REJECTED"),
        dsl::rejection_reason.eq(reason),
        dsl::updated_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(())
}
