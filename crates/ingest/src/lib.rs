//! The webhook target Meta posts to: verification handshake, signature check over the raw
//! bytes, minimal parse and routing, then the event and its job stored in one transaction
//! (group commit) before the 200. Nothing acknowledged is ever lost; nothing else runs here.

pub mod directory;
pub mod envelope;
pub mod error;
mod receive;
pub mod signature;
mod verify;

use std::sync::Arc;

use actix_web::web;
use switchboard_store::models::WebhookEvent;
use switchboard_store::writer::GroupCommit;

pub use directory::ChannelDirectory;
pub use error::IngestError;

/// The paths Meta may be pointed at: ours, and the ones the seed systems used.
pub const WEBHOOK_PATHS: [&str; 3] = [
    "/api/webhooks/whatsapp",
    "/api/whatsapp/webhook",
    "/api/integrations/whatsapp/webhook",
];

/// Meta sends bodies of up to 3 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub max_body_bytes: usize,
    /// Production: signatures are always required, even if no channel has an app secret.
    pub production: bool,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            production: false,
        }
    }
}

/// Everything the handlers share.
pub struct Ingest {
    pub directory: Arc<ChannelDirectory>,
    pub writer: GroupCommit<WebhookEvent>,
    pub settings: IngestSettings,
}

/// Mounts GET (verification) and POST (receive) on every webhook path.
pub fn configure(cfg: &mut web::ServiceConfig, ingest: web::Data<Ingest>) {
    cfg.app_data(ingest);
    for path in WEBHOOK_PATHS {
        cfg.service(
            web::resource(path)
                .route(web::get().to(verify::verify))
                .route(web::post().to(receive::receive)),
        );
    }
}

/// Tells the operator, once at start, how webhooks will be checked.
pub fn log_signature_policy(directory: &ChannelDirectory, settings: &IngestSettings) {
    let snapshot = directory.snapshot();
    if snapshot.app_secrets().is_empty() {
        if settings.production {
            tracing::error!("no channel has an app secret: every webhook will be refused");
        } else {
            tracing::warn!(
                "no channel has an app secret, so webhook signatures are NOT checked (allowed outside production only); \
                 set WHATSAPP_APP_SECRET or `channel add --app-secret`"
            );
        }
    }
    if snapshot.verify_tokens().is_empty() {
        tracing::warn!(
            "no channel has a verify token: Meta's webhook verification will fail; set WHATSAPP_VERIFY_TOKEN or `channel add --verify-token`"
        );
    }
}
