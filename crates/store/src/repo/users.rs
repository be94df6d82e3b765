use diesel::prelude::*;
use switchboard_domain::Role;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{User, new_id, now};
use crate::schema::users::dsl;

pub fn insert_user(
    conn: &mut AnyConnection,
    organization_id: &str,
    name: &str,
    email: Option<&str>,
    role: Role,
) -> Result<User, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("user name must not be empty".into()));
    }
    let at = now();
    let user = User {
        id: new_id(),
        organization_id: organization_id.to_string(),
        name: name.to_string(),
        email: email.map(|e| e.trim().to_lowercase()),
        role: role.as_str().to_string(),
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(dsl::users)
        .values(&user)
        .execute(conn)
        .map_err(|e| {
            let e = StoreError::from(e);
            if e.is_unique_violation() {
                StoreError::Conflict(
                    "a user with that email already exists in this organization".into(),
                )
            } else {
                e
            }
        })?;
    Ok(user)
}

pub fn find_user(
    conn: &mut AnyConnection,
    organization_id: &str,
    id: &str,
) -> Result<Option<User>, StoreError> {
    Ok(dsl::users
        .filter(dsl::organization_id.eq(organization_id))
        .filter(dsl::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn list_users(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Vec<User>, StoreError> {
    Ok(dsl::users
        .filter(dsl::organization_id.eq(organization_id))
        .order(dsl::created_at.asc())
        .load(conn)?)
}
