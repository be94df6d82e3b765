//! Every answer that is not a success, as `{"errorCode","message"}`; the mapping from errors
//! to statuses and codes lives here and nowhere else.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use switchboard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    ForbiddenRole(String),
    #[error("{0}")]
    ForbiddenOrganization(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    InvalidPhone(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    WindowClosed(String),
    #[error("{0}")]
    NoChannel(String),
    /// The request clashes with what exists (a duplicate name).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but a business rule refuses it; `code` says which rule.
    #[error("{message}")]
    Rule { code: &'static str, message: String },
    /// It exists, but is not in a state to give what was asked (a file still downloading, or
    /// one that could not be); `code` says which state.
    #[error("{message}")]
    NotReady { code: &'static str, message: String },
    #[error("the database is not available right now; try again in a moment")]
    Unavailable,
    #[error("something went wrong on our side; it was logged")]
    Internal,
}

/// Every error answer: a stable code to branch on and a sentence for a person.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// e.g. UNAUTHORIZED, FORBIDDEN_ROLE, VALIDATION_ERROR, NOT_FOUND, CONFLICT, WINDOW_CLOSED,
    /// OPTED_OUT
    #[schema(example = "VALIDATION_ERROR")]
    pub error_code: String,
    pub message: String,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::ForbiddenRole(_) => "FORBIDDEN_ROLE",
            ApiError::ForbiddenOrganization(_) => "FORBIDDEN_ORGANIZATION",
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::InvalidPhone(_) => "INVALID_PHONE",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::WindowClosed(_) => "WINDOW_CLOSED",
            ApiError::NoChannel(_) => "NO_CHANNEL",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Rule { code, .. } | ApiError::NotReady { code, .. } => code,
            ApiError::Unavailable => "STORAGE_UNAVAILABLE",
            ApiError::Internal => "INTERNAL_ERROR",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::ForbiddenRole(_) | ApiError::ForbiddenOrganization(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::Validation(_) | ApiError::InvalidPhone(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::NotReady { .. } => StatusCode::CONFLICT,
            ApiError::WindowClosed(_) | ApiError::NoChannel(_) | ApiError::Rule { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error_code: self.code().to_string(),
            message: self.to_string(),
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Invalid(message) => ApiError::Validation(message),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Refused { code, message } => ApiError::Rule { code, message },
            StoreError::Unavailable(_) | StoreError::Pool(_) | StoreError::Connect(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::Internal
            }
        }
    }
}

/// Query strings and path segments that do not parse get the same error shape as the rest.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::Validation(format!(
        "the query string is not valid for this request: {err}"
    ))
    .into()
}

pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::Validation(format!("the path is not valid for this request: {err}")).into()
}

/// Bodies that are not JSON, or not the right JSON, get the same error shape as the rest.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::Validation(format!(
        "the body is not valid JSON for this request: {err}"
    ))
    .into()
}
