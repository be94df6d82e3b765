//! What the webhook target answers when it does not answer 200, as `{"errorCode","message"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    VerifyFailed(String),
    #[error(
        "the X-Hub-Signature-256 header is missing: Meta signs every webhook with the app secret, so this request did not come from Meta"
    )]
    SignatureMissing,
    #[error(
        "the X-Hub-Signature-256 header does not match the body under {0}: set the channel's app secret to the Meta app's secret (App settings > Basic)"
    )]
    SignatureInvalid(&'static str),
    #[error("the body is larger than the {limit} bytes accepted (SWITCHBOARD_WEBHOOK_MAX_BYTES)")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    PayloadInvalid(String),
    #[error("the webhook could not be stored; it was not accepted, so Meta will deliver it again")]
    StorageUnavailable,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    pub error_code: &'a str,
    pub message: String,
}

impl IngestError {
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::VerifyFailed(_) => "WHATSAPP_VERIFY_FAILED",
            IngestError::SignatureMissing => "WHATSAPP_SIGNATURE_MISSING",
            IngestError::SignatureInvalid(_) => "WHATSAPP_SIGNATURE_INVALID",
            IngestError::PayloadTooLarge { .. } => "WHATSAPP_PAYLOAD_TOO_LARGE",
            IngestError::PayloadInvalid(_) => "WHATSAPP_PAYLOAD_INVALID",
            IngestError::StorageUnavailable => "STORAGE_UNAVAILABLE",
        }
    }
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngestError::VerifyFailed(_) => StatusCode::FORBIDDEN,
            IngestError::SignatureMissing | IngestError::SignatureInvalid(_) => {
                StatusCode::UNAUTHORIZED
            }
            IngestError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::PayloadInvalid(_) => StatusCode::BAD_REQUEST,
            IngestError::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, IngestError::StorageUnavailable) {
            response.insert_header(("Retry-After", "5"));
        }
        response.json(ErrorBody {
            error_code: self.code(),
            message: self.to_string(),
        })
    }
}
