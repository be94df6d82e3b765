//! Per-organization API keys: what a company's servers send as `x-api-key` to the notify API.
//! Random like API tokens, stored only as their SHA-256 (see [`crate::crypto`]), and told apart
//! from tokens by their `sbk_` prefix.

use chrono::TimeDelta;
use diesel::prelude::*;

use crate::crypto::{constant_time_eq, generate_api_token, hash_api_token};
use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{ApiKey, new_id, now};
use crate::schema::api_keys;

/// What every API key starts with (API tokens start with `sb_`).
pub const KEY_PREFIX: &str = "sbk_";
/// Random characters kept in the shown prefix, after [`KEY_PREFIX`].
const SHOWN_RANDOM_CHARS: usize = 6;
/// `last_used_at` is refreshed at most this often, so a busy key does not write on every call.
const LAST_USED_RESOLUTION: TimeDelta = TimeDelta::minutes(5);

/// A key just created: `plaintext` is never stored and cannot be shown again.
pub struct IssuedKey {
    pub plaintext: String,
    pub key: ApiKey,
}

/// Creates a key for the organization.
pub fn insert_api_key(
    conn: &mut AnyConnection,
    organization_id: &str,
    name: &str,
) -> Result<IssuedKey, StoreError> {
    let generated = generate_api_token()?;
    let random = generated
        .plaintext
        .split_once('_')
        .map_or(generated.plaintext.as_str(), |(_, random)| random);
    let plaintext = format!("{KEY_PREFIX}{random}");
    let key = ApiKey {
        id: new_id(),
        organization_id: organization_id.to_string(),
        name: name.trim().to_string(),
        key_hash: hash_api_token(&plaintext),
        key_prefix: plaintext
            .chars()
            .take(KEY_PREFIX.len() + SHOWN_RANDOM_CHARS)
            .collect(),
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values(&key)
        .execute(conn)?;
    Ok(IssuedKey { plaintext, key })
}

/// The live (not revoked) key with this plaintext.
pub fn find_active_api_key(
    conn: &mut AnyConnection,
    plaintext: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let hash = hash_api_token(plaintext);
    let found: Option<ApiKey> = api_keys::table
        .filter(api_keys::key_hash.eq(&hash))
        .filter(api_keys::revoked_at.is_null())
        .load(conn)?
        .into_iter()
        .next();
    // The index lookup found the row; confirm without a timing side channel.
    Ok(found.filter(|key| constant_time_eq(key.key_hash.as_bytes(), hash.as_bytes())))
}

/// Whether `last_used_at` is old enough to be worth a write (see [`mark_api_key_used`]).
pub fn needs_use_mark(key: &ApiKey) -> bool {
    key.last_used_at
        .is_none_or(|at| now() - at >= LAST_USED_RESOLUTION)
}

/// Records that the key was just used.
pub fn mark_api_key_used(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(now()))
        .execute(conn)?;
    Ok(())
}

/// The organization's keys, revoked ones included, oldest first.
pub fn list_api_keys(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Vec<ApiKey>, StoreError> {
    Ok(api_keys::table
        .filter(api_keys::organization_id.eq(organization_id))
        .order((api_keys::created_at.asc(), api_keys::id.asc()))
        .load(conn)?)
}

/// Revokes one of the organization's keys; revoking it again keeps its first revocation time.
/// A key of another organization is not found, like one that does not exist.
pub fn revoke_api_key(
    conn: &mut AnyConnection,
    organization_id: &str,
    id: &str,
) -> Result<ApiKey, StoreError> {
    let owned = api_keys::table
        .find(id)
        .filter(api_keys::organization_id.eq(organization_id));
    diesel::update(owned.filter(api_keys::revoked_at.is_null()))
        .set(api_keys::revoked_at.eq(now()))
        .execute(conn)?;
    owned
        .load(conn)?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound("API key"))
}
