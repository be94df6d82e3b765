//! Users, their API tokens, and the organization's settings.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::Role;
use switchboard_domain::settings::OrgSettings;
use switchboard_store::StoreError;
use switchboard_store::models::{ApiToken, User};
use switchboard_store::repo::{organizations, tokens, users};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];
const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// OWNER, ADMIN, MANAGER or SELLER
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            name: u.name,
            email: u.email,
            role: u.role,
            created_at: utc(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub data: Vec<UserView>,
    pub total: usize,
}

/// The organization's users (everyone may list them: the inbox assigns to them).
#[utoipa::path(get, path = "/api/users", tag = "access",
    responses((status = 200, body = UserList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_users(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let found = api.db.run(move |c| users::list_users(c, &org)).await?;
    let data: Vec<UserView> = found.into_iter().map(UserView::from).collect();
    Ok(HttpResponse::Ok().json(UserList {
        total: data.len(),
        data,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUser {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub email: Option<String>,
    /// OWNER, ADMIN, MANAGER or SELLER; not above the caller's own role.
    #[schema(value_type = String, example = "SELLER", pattern = "^(OWNER|ADMIN|MANAGER|SELLER)$")]
    pub role: String,
}

/// Adds a user (OWNER or ADMIN; an ADMIN cannot create an OWNER).
#[utoipa::path(post, path = "/api/users", tag = "access", request_body = CreateUser,
    responses((status = 201, body = UserView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_user(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let body = body.into_inner();
    let role: Role = body
        .role
        .parse()
        .map_err(|e: switchboard_domain::role::UnknownRole| ApiError::Validation(e.to_string()))?;
    not_above(&caller, role)?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Validation(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let email = body.email.map(|e| e.trim().to_string());
    if let Some(email) = &email
        && !looks_like_email(email)
    {
        return Err(ApiError::Validation(format!(
            "email '{email}' is not an email address"
        )));
    }
    let org = caller.organization_id;
    let user = api
        .db
        .run(move |c| users::insert_user(c, &org, &name, email.as_deref(), role))
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

fn looks_like_email(email: &str) -> bool {
    email.len() <= 320
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace)
}

/// Nobody hands out more power than they hold.
fn not_above(caller: &Caller, role: Role) -> Result<(), ApiError> {
    if caller.role.is_at_least(role) {
        return Ok(());
    }
    Err(ApiError::ForbiddenRole(format!(
        "a {} cannot give the role {role}",
        caller.role
    )))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The first characters of the token, to recognise it; the token itself is never shown again.
    pub prefix: String,
    pub user_id: String,
    pub user_name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn token_view((token, user): (ApiToken, User)) -> TokenView {
    TokenView {
        id: token.id,
        name: token.name,
        prefix: token.token_prefix,
        user_id: user.id,
        user_name: user.name,
        role: user.role,
        created_at: utc(token.created_at),
        last_used_at: token.last_used_at.map(utc),
        revoked_at: token.revoked_at.map(utc),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub data: Vec<TokenView>,
    pub total: usize,
}

/// The organization's API tokens, revoked ones included (OWNER or ADMIN).
#[utoipa::path(get, path = "/api/tokens", tag = "access",
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tokens(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| tokens::list_api_tokens(c, &org))
        .await?;
    let data: Vec<TokenView> = found.into_iter().map(token_view).collect();
    Ok(HttpResponse::Ok().json(TokenList {
        total: data.len(),
        data,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateToken {
    /// What the token is for, e.g. "CRM sync".
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The user the token acts as (default: the caller); not one above the caller's role.
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    /// The secret: shown this once, stored only as a hash.
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

/// Creates an API token (OWNER or ADMIN). The answer holds the token itself, once.
#[utoipa::path(post, path = "/api/tokens", tag = "access", request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let body = body.into_inner();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::Validation(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let org = caller.organization_id.clone();
    let user_id = body.user_id.unwrap_or(caller.user_id.clone());
    let user = api
        .db
        .run(move |c| users::find_user(c, &org, &user_id)?.ok_or(StoreError::NotFound("user")))
        .await?;
    let role: Role = user.role.parse().map_err(|_| ApiError::Internal)?;
    not_above(&caller, role)?;
    let issued = api
        .db
        .run(move |c| tokens::insert_api_token(c, &user, &name))
        .await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: issued.plaintext,
        view: token_view((issued.token, issued.user)),
    }))
}

/// Revokes an API token (OWNER or ADMIN); it stops working at once.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let view = api
        .db
        .run(move |c| {
            let token = tokens::revoke_org_api_token(c, &org, &id)?;
            let user =
                users::find_user(c, &org, &token.user_id)?.ok_or(StoreError::NotFound("user"))?;
            Ok(token_view((token, user)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    /// Send Meta a read receipt when a conversation is marked read (default true).
    pub read_receipts: bool,
    /// crm (leads and notes, the default), helpdesk (tickets) or both
    #[schema(pattern = "^(crm|helpdesk|both)$")]
    pub mode: String,
    /// The assistant and tickets: `language` (en, es, pt), `assistantName`, `sessionHours`
    /// (1–720), `texts` (overrides by name), `templates` (`statusChanged`, `agentReply`:
    /// template names for notifications outside the 24-hour window).
    #[schema(value_type = Object)]
    pub helpdesk: serde_json::Value,
    /// The assistant's texts in force: the language's defaults with the overrides applied.
    #[schema(value_type = Object)]
    pub helpdesk_texts: serde_json::Value,
    /// Marketing opt-outs as set: `stopKeywords`, `startKeywords` (null: the defaults, which
    /// cover en/es/pt), `acknowledge` (confirm a keyword with a text, in the window), `texts`
    /// (`optedOut`, `optedIn` overrides).
    #[schema(value_type = Object)]
    pub opt_out: serde_json::Value,
    /// The opt-out keywords and confirmations in force (normalized: lower case, no accents).
    #[schema(value_type = Object)]
    pub opt_out_in_force: serde_json::Value,
}

impl From<OrgSettings> for SettingsView {
    fn from(s: OrgSettings) -> Self {
        let mode = serde_json::to_value(s.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        SettingsView {
            read_receipts: s.read_receipts,
            mode,
            helpdesk_texts: serde_json::to_value(s.helpdesk.texts()).unwrap_or_default(),
            opt_out_in_force: opt_out_in_force(&s),
            opt_out: serde_json::to_value(&s.opt_out).unwrap_or_default(),
            helpdesk: serde_json::to_value(&s.helpdesk).unwrap_or_default(),
        }
    }
}

fn opt_out_in_force(s: &OrgSettings) -> serde_json::Value {
    use switchboard_domain::opt_out::Consent;
    let language = s.helpdesk.language;
    serde_json::json!({
        "stopKeywords": s.opt_out.stop_keywords(),
        "startKeywords": s.opt_out.start_keywords(),
        "acknowledge": s.opt_out.acknowledge,
        "texts": {
            "optedOut": s.opt_out.acknowledgement(Consent::OptOut, language),
            "optedIn": s.opt_out.acknowledgement(Consent::OptIn, language),
        },
    })
}

/// The organization's settings.
#[utoipa::path(get, path = "/api/settings", tag = "access",
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_settings(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let settings = api
        .db
        .run(move |c| organizations::settings_of(c, &org))
        .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}

/// Changes some of the organization's settings (OWNER or ADMIN); fields left out stay.
#[utoipa::path(patch, path = "/api/settings", tag = "access",
    request_body(content = Object, description = "Fields of the settings to change", example = json!({"readReceipts": false})),
    responses((status = 200, body = SettingsView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_settings(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let patch = body.into_inner();
    let settings = api
        .db
        .run(move |c| organizations::update_settings(c, &org, &patch))
        .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(settings)))
}
