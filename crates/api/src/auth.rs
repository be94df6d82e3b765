//! Who is calling: an org-scoped bearer token, resolved to its user and organization.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use switchboard_domain::Role;
use switchboard_store::repo::tokens;

use crate::Api;
use crate::error::ApiError;

/// The caller of a request. Every query a handler makes is scoped to `organization_id`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub organization_id: String,
    pub user_id: String,
    pub role: Role,
}

impl Caller {
    /// Refuses the request unless the caller's role is one of `allowed`.
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        Err(ApiError::ForbiddenRole(format!(
            "this needs the role {}; your token's user is {}",
            names.join(" or "),
            self.role
        )))
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "missing Authorization header: send `Authorization: Bearer <token>` (create one with `switchboard token create`)".into(),
            )
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    Ok(token.to_string())
}

async fn resolve(req: HttpRequest) -> Result<Caller, ApiError> {
    let token = bearer(&req)?;
    let api = req
        .app_data::<web::Data<Api>>()
        .ok_or(ApiError::Internal)?
        .clone();
    let found = api
        .db
        .run(move |c| tokens::find_active_token(c, &token))
        .await?;
    let Some((_, user)) = found else {
        return Err(ApiError::Unauthorized(
            "this token is unknown or was revoked".into(),
        ));
    };
    if let Some(org) = req.headers().get("X-Organization-Id")
        && org.as_bytes() != user.organization_id.as_bytes()
    {
        return Err(ApiError::ForbiddenOrganization(
            "X-Organization-Id names another organization than the token's".into(),
        ));
    }
    let role = user.role.parse::<Role>().map_err(|_| ApiError::Internal)?;
    Ok(Caller {
        organization_id: user.organization_id,
        user_id: user.id,
        role,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        Box::pin(resolve(req.clone()))
    }
}
