//! Who the token belongs to: what a frontend (Switchboard's own web inbox among them) needs to
//! greet its user, offer "assign to me" and show only what the role may do.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use switchboard_store::StoreError;
use switchboard_store::repo::{organizations, users};
use utoipa::ToSchema;

use crate::Api;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeView {
    pub user_id: String,
    pub name: String,
    pub email: Option<String>,
    /// OWNER, ADMIN, MANAGER or SELLER
    pub role: String,
    pub organization_id: String,
    pub organization_name: String,
}

/// The token's user, role and organization.
#[utoipa::path(get, path = "/api/me", tag = "access", operation_id = "getMe",
    responses((status = 200, body = MeView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let Caller {
        organization_id,
        user_id,
        role,
    } = caller;
    let (user, organization) = api
        .db
        .run(move |c| {
            let user = users::find_user(c, &organization_id, &user_id)?
                .ok_or(StoreError::NotFound("user"))?;
            let organization = organizations::find_organization(c, &organization_id)?
                .ok_or(StoreError::NotFound("organization"))?;
            Ok::<_, StoreError>((user, organization))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MeView {
        user_id: user.id,
        name: user.name,
        email: user.email,
        role: role.as_str().to_string(),
        organization_id: organization.id,
        organization_name: organization.name,
    }))
}
