//! API tokens: random secrets of which only the SHA-256 is stored.

use diesel::prelude::*;
use switchboard_domain::Role;

use crate::crypto::{constant_time_eq, generate_api_token, hash_api_token};
use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{ApiToken, User, new_id, now};
use crate::repo::users;
use crate::schema::{api_tokens, users as users_table};

/// A token just created: `plaintext` is never stored and cannot be shown again.
pub struct IssuedToken {
    pub plaintext: String,
    pub token: ApiToken,
    pub user: User,
}

/// Creates a token for an existing user of the organization.
pub fn insert_api_token(
    conn: &mut AnyConnection,
    user: &User,
    name: &str,
) -> Result<IssuedToken, StoreError> {
    let generated = generate_api_token()?;
    let token = ApiToken {
        id: new_id(),
        organization_id: user.organization_id.clone(),
        user_id: user.id.clone(),
        name: name.trim().to_string(),
        token_hash: generated.hash,
        token_prefix: generated.prefix,
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_tokens::table)
        .values(&token)
        .execute(conn)?;
    Ok(IssuedToken {
        plaintext: generated.plaintext,
        token,
        user: user.clone(),
    })
}

/// Creates a user with `role` and a token for them, in one transaction: what
/// `switchboard token create` does.
pub fn insert_user_with_token(
    conn: &mut AnyConnection,
    organization_id: &str,
    role: Role,
    name: Option<&str>,
) -> Result<IssuedToken, StoreError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let user_name = name.map_or_else(
        || format!("{} token", role.as_str().to_lowercase()),
        str::to_string,
    );
    // BEGIN IMMEDIATE on SQLite: a read that later writes would otherwise fail at once
    // with "database is locked" when a writer (the runner) holds the lock.
    crate::db::write_transaction(conn, |c| {
        let user = users::insert_user(c, organization_id, &user_name, None, role)?;
        insert_api_token(c, &user, &user_name)
    })
}

/// The live (not revoked) token with this plaintext, and its user.
pub fn find_active_token(
    conn: &mut AnyConnection,
    plaintext: &str,
) -> Result<Option<(ApiToken, User)>, StoreError> {
    let hash = hash_api_token(plaintext);
    let found: Option<(ApiToken, User)> = api_tokens::table
        .inner_join(users_table::table)
        .filter(api_tokens::token_hash.eq(&hash))
        .filter(api_tokens::revoked_at.is_null())
        .select((ApiToken::as_select(), User::as_select()))
        .load(conn)?
        .into_iter()
        .next();
    // The index lookup found the row; confirm without a timing side channel.
    Ok(found.filter(|(token, _)| constant_time_eq(token.token_hash.as_bytes(), hash.as_bytes())))
}

pub fn list_api_tokens(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Vec<(ApiToken, User)>, StoreError> {
    Ok(api_tokens::table
        .inner_join(users_table::table)
        .filter(api_tokens::organization_id.eq(organization_id))
        .order(api_tokens::created_at.asc())
        .select((ApiToken::as_select(), User::as_select()))
        .load(conn)?)
}

/// Revokes a token; revoking one already revoked keeps its first revocation time.
pub fn revoke_api_token(conn: &mut AnyConnection, id: &str) -> Result<ApiToken, StoreError> {
    diesel::update(
        api_tokens::table
            .find(id)
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now()))
    .execute(conn)?;
    api_tokens::table
        .find(id)
        .load(conn)?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound("API token"))
}

/// Like `revoke_api_token`, but only within one organization (what the API offers).
pub fn revoke_org_api_token(
    conn: &mut AnyConnection,
    organization_id: &str,
    id: &str,
) -> Result<ApiToken, StoreError> {
    let owned = api_tokens::table
        .find(id)
        .filter(api_tokens::organization_id.eq(organization_id))
        .count()
        .get_result::<i64>(conn)?;
    if owned == 0 {
        return Err(StoreError::NotFound("API token"));
    }
    revoke_api_token(conn, id)
}
