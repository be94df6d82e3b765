//! Services: the menu the helpdesk assistant offers, and where each one's tickets go.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Service, new_id, now};
use crate::schema::services::dsl;

pub const DESTINATION_LOCAL: &str = "local";
pub const DESTINATION_JIRA: &str = "jira";

/// A service's fields as given by an administrator; checked by [`check`].
#[derive(Debug, Clone)]
pub struct ServiceInput {
    pub name: String,
    pub position: Option<i32>,
    pub active: bool,
    pub destination: String,
    pub jira_project_key: Option<String>,
}

/// Every service of the organization in menu order (inactive ones included).
pub fn list_services(conn: &mut AnyConnection, org: &str) -> Result<Vec<Service>, StoreError> {
    Ok(dsl::services
        .filter(dsl::organization_id.eq(org))
        .order((dsl::position.asc(), dsl::created_at.asc()))
        .load(conn)?)
}

/// The services the assistant offers, in menu order.
pub fn list_active_services(
    conn: &mut AnyConnection,
    org: &str,
) -> Result<Vec<Service>, StoreError> {
    Ok(dsl::services
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::active.eq(true))
        .order((dsl::position.asc(), dsl::created_at.asc()))
        .load(conn)?)
}

pub fn find_service(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<Service>, StoreError> {
    Ok(dsl::services
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

/// Refuses what would break the menu or the ticket routing, naming the field.
fn check(input: &ServiceInput) -> Result<(), StoreError> {
    let invalid = |m: &str| Err(StoreError::Invalid(m.to_string()));
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 72 {
        return invalid("name must be 1 to 72 characters");
    }
    if name.chars().all(|c| c.is_ascii_digit()) {
        return invalid("name must not be only digits: customers answer the menu by number");
    }
    if input.position.is_some_and(|p| !(0..=10_000).contains(&p)) {
        return invalid("position must be between 0 and 10000");
    }
    match input.destination.as_str() {
        DESTINATION_LOCAL => Ok(()),
        DESTINATION_JIRA => match input.jira_project_key.as_deref() {
            Some(key) if is_jira_project_key(key) => Ok(()),
            Some(_) => invalid(
                "jiraProjectKey must be a Jira project key: an upper-case letter, then upper-case letters, digits or _ (2 to 10 characters)",
            ),
            None => invalid("a service with destination 'jira' needs a jiraProjectKey"),
        },
        _ => invalid("destination must be 'local' or 'jira'"),
    }
}

fn is_jira_project_key(key: &str) -> bool {
    let mut chars = key.chars();
    (2..=10).contains(&key.len())
        && chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Adds a service; without a position it goes to the end of the menu.
pub fn insert_service(
    conn: &mut AnyConnection,
    org: &str,
    input: &ServiceInput,
) -> Result<Service, StoreError> {
    check(input)?;
    let position = match input.position {
        Some(p) => p,
        None => next_position(conn, org)?,
    };
    let at = now();
    let service = Service {
        id: new_id(),
        organization_id: org.to_string(),
        name: input.name.trim().to_string(),
        position,
        active: input.active,
        destination: input.destination.clone(),
        jira_project_key: jira_key_of(input),
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(dsl::services)
        .values(&service)
        .execute(conn)?;
    Ok(service)
}

fn next_position(conn: &mut AnyConnection, org: &str) -> Result<i32, StoreError> {
    let last: Option<i32> = dsl::services
        .filter(dsl::organization_id.eq(org))
        .select(diesel::dsl::max(dsl::position))
        .first(conn)?;
    Ok(last.map_or(1, |p| p.saturating_add(1)))
}

/// The project key is kept only for Jira-bound services.
fn jira_key_of(input: &ServiceInput) -> Option<String> {
    (input.destination == DESTINATION_JIRA)
        .then(|| input.jira_project_key.clone())
        .flatten()
}

/// Replaces a service's fields (the caller merged a partial update into `input`).
pub fn update_service(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    input: &ServiceInput,
) -> Result<Service, StoreError> {
    check(input)?;
    let found = find_service(conn, org, id)?.ok_or(StoreError::NotFound("service"))?;
    let position = input.position.unwrap_or(found.position);
    diesel::update(dsl::services.filter(dsl::id.eq(id)))
        .set((
            dsl::name.eq(input.name.trim()),
            dsl::position.eq(position),
            dsl::active.eq(input.active),
            dsl::destination.eq(&input.destination),
            dsl::jira_project_key.eq(jira_key_of(input)),
            dsl::updated_at.eq(now()),
        ))
        .execute(conn)?;
    find_service(conn, org, id)?.ok_or(StoreError::NotFound("service"))
}

/// Removes a service from the menu for good; its tickets stay (without a service).
pub fn delete_service(conn: &mut AnyConnection, org: &str, id: &str) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        dsl::services
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound("service"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(destination: &str, key: Option<&str>) -> ServiceInput {
        ServiceInput {
            name: "Billing".into(),
            position: None,
            active: true,
            destination: destination.into(),
            jira_project_key: key.map(str::to_string),
        }
    }

    #[test]
    fn checks_names_and_destinations() {
        assert!(check(&input("local", None)).is_ok());
        assert!(check(&input("jira", Some("SUP"))).is_ok());
        assert!(check(&input("jira", None)).is_err());
        assert!(check(&input("jira", Some("sup"))).is_err());
        assert!(check(&input("email", None)).is_err());
        let mut digits = input("local", None);
        digits.name = "42".into();
        assert!(check(&digits).is_err());
        let mut blank = input("local", None);
        blank.name = "  ".into();
        assert!(check(&blank).is_err());
    }
}
