//! The organization's API keys: what its servers send as `x-api-key` to the notify API.
//! Shown once when created, stored only as a hash, revoked at once (OWNER or ADMIN).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::Role;
use switchboard_store::models::ApiKey;
use switchboard_store::repo::api_keys;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];
const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it; the key itself is never shown again.
    #[schema(example = "sbk_Xy12ab")]
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// Refreshed at most every few minutes.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.key_prefix,
            created_at: utc(k.created_at),
            last_used_at: k.last_used_at.map(utc),
            revoked_at: k.revoked_at.map(utc),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKeyView>,
    pub total: usize,
}

/// The organization's API keys, revoked ones included (OWNER or ADMIN).
#[utoipa::path(get, path = "/api/api-keys", tag = "access",
    responses((status = 200, body = ApiKeyList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| api_keys::list_api_keys(c, &org))
        .await?;
    let data: Vec<ApiKeyView> = found.into_iter().map(ApiKeyView::from).collect();
    Ok(HttpResponse::Ok().json(ApiKeyList {
        total: data.len(),
        data,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKey {
    /// What the key is for, e.g. "billing server".
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    /// The secret, for the `x-api-key` header: shown this once, stored only as a hash.
    #[schema(example = "sbk_Xy12abQ9…")]
    pub key: String,
    #[serde(flatten)]
    pub view: ApiKeyView,
}

/// Creates an API key for the organization's servers (OWNER or ADMIN). The answer holds the
/// key itself, once.
#[utoipa::path(post, path = "/api/api-keys", tag = "access", request_body = CreateApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let name = body.into_inner().name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Validation(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let org = caller.organization_id;
    let issued = api
        .db
        .run_write(move |c| api_keys::insert_api_key(c, &org, &name))
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiKey {
        key: issued.plaintext,
        view: ApiKeyView::from(issued.key),
    }))
}

/// Revokes an API key (OWNER or ADMIN); it stops working at once.
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "access",
    params(("id" = String, Path, description = "API key id")),
    responses((status = 200, body = ApiKeyView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let key = api
        .db
        .run_write(move |c| api_keys::revoke_api_key(c, &org, &id))
        .await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(key)))
}
