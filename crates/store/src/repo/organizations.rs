use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Organization, new_id, now};
use crate::repo::pipelines;
use crate::schema::organizations::dsl;

/// Creates an organization with its default pipeline, in one transaction.
/// Without a slug one is derived from the name.
pub fn insert_organization(
    conn: &mut AnyConnection,
    name: &str,
    slug: Option<&str>,
) -> Result<Organization, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid(
            "organization name must not be empty".into(),
        ));
    }
    let slug = match slug {
        Some(s) => validate_slug(s)?,
        None => slugify(name),
    };
    let at = now();
    let org = Organization {
        id: new_id(),
        name: name.to_string(),
        slug,
        settings: "{}".into(),
        created_at: at,
        updated_at: at,
    };
    // BEGIN IMMEDIATE on SQLite: a read that later writes would otherwise fail at once
    // with "database is locked" when a writer (the runner) holds the lock.
    crate::db::write_transaction(conn, |c| {
        if find_organization_by_slug(c, &org.slug)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "an organization with slug '{}' already exists: choose another with --slug",
                org.slug
            )));
        }
        diesel::insert_into(dsl::organizations)
            .values(&org)
            .execute(c)?;
        pipelines::insert_default_pipeline(c, &org.id)?;
        Ok(org)
    })
}

pub fn find_organization(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<Organization>, StoreError> {
    Ok(dsl::organizations.find(id).load(conn)?.into_iter().next())
}

pub fn find_organization_by_slug(
    conn: &mut AnyConnection,
    slug: &str,
) -> Result<Option<Organization>, StoreError> {
    Ok(dsl::organizations
        .filter(dsl::slug.eq(slug))
        .load(conn)?
        .into_iter()
        .next())
}

/// Looks an organization up by id or, failing that, by slug: what the CLI's `--org` accepts.
pub fn find_organization_by_id_or_slug(
    conn: &mut AnyConnection,
    id_or_slug: &str,
) -> Result<Organization, StoreError> {
    match find_organization(conn, id_or_slug)? {
        Some(org) => Ok(org),
        None => {
            find_organization_by_slug(conn, id_or_slug)?.ok_or(StoreError::NotFound("organization"))
        }
    }
}

pub fn list_organizations(conn: &mut AnyConnection) -> Result<Vec<Organization>, StoreError> {
    Ok(dsl::organizations.order(dsl::created_at.asc()).load(conn)?)
}

/// Returns the organization with this slug, creating it (with its default pipeline) if needed.
pub fn ensure_organization(
    conn: &mut AnyConnection,
    name: &str,
    slug: &str,
) -> Result<Organization, StoreError> {
    if let Some(org) = find_organization_by_slug(conn, slug)? {
        return Ok(org);
    }
    match insert_organization(conn, name, Some(slug)) {
        // Another process created it between our read and our insert.
        Err(e) if e.is_unique_violation() || matches!(e, StoreError::Conflict(_)) => {
            find_organization_by_slug(conn, slug)?.ok_or(e)
        }
        other => other,
    }
}

/// Lowercase letters, digits and dashes: safe in URLs and shell commands.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug
        .trim_end_matches('-')
        .chars()
        .take(63)
        .collect::<String>();
    if slug.is_empty() {
        "org".to_string()
    } else {
        slug
    }
}

fn validate_slug(slug: &str) -> Result<String, StoreError> {
    let slug = slug.trim();
    let valid = !slug.is_empty()
        && slug.len() <= 63
        && slug.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(slug.to_string())
    } else {
        Err(StoreError::Invalid(format!(
            "slug '{slug}' is invalid: use 1-63 lowercase letters, digits and dashes, starting with a letter or digit"
        )))
    }
}

/// The organization's settings (defaults for anything never set).
pub fn settings_of(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<switchboard_domain::settings::OrgSettings, StoreError> {
    let stored: String = dsl::organizations
        .find(id)
        .select(dsl::settings)
        .load(conn)?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound("organization"))?;
    Ok(switchboard_domain::settings::OrgSettings::from_stored(
        &stored,
    ))
}

/// Applies `patch` (camelCase fields of `OrgSettings`) and returns the settings now in force.
pub fn update_settings(
    conn: &mut AnyConnection,
    id: &str,
    patch: &serde_json::Value,
) -> Result<switchboard_domain::settings::OrgSettings, StoreError> {
    crate::db::write_transaction(conn, |conn| patch_settings_in(conn, id, patch))
}

/// [`update_settings`] inside the caller's transaction.
pub fn patch_settings_in(
    conn: &mut AnyConnection,
    id: &str,
    patch: &serde_json::Value,
) -> Result<switchboard_domain::settings::OrgSettings, StoreError> {
    let settings = settings_of(conn, id)?
        .patched(patch)
        .map_err(|e| StoreError::Invalid(format!("settings: {e}")))?;
    let json = serde_json::to_string(&settings).map_err(|e| StoreError::Internal(e.to_string()))?;
    diesel::update(dsl::organizations.find(id))
        .set((dsl::settings.eq(json), dsl::updated_at.eq(now())))
        .execute(conn)?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_keeps_letters_and_digits() {
        assert_eq!(slugify("Acme Corp."), "acme-corp");
        assert_eq!(slugify("  Ñandú & Co  2 "), "and-co-2");
        assert_eq!(slugify("!!!"), "org");
    }

    #[test]
    fn validates_explicit_slugs() {
        assert!(validate_slug("acme-2").is_ok());
        assert!(validate_slug("Acme").is_err());
        assert!(validate_slug("-acme").is_err());
        assert!(validate_slug("").is_err());
        assert!(validate_slug("a b").is_err());
    }
}
