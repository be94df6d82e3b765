//! A local stand-in for Meta's WhatsApp Business Cloud API, for end-to-end tests, benchmarks
//! and newcomers without a Meta account.
//!
//! - **Graph endpoints** on loopback, any version segment: `POST /{v}/{phone_number_id}/messages`
//!   (sends and mark-as-read), `POST /{v}/{phone_number_id}/media`, `GET`/`DELETE /{v}/{media_id}`
//!   with an expiring download URL, `GET /{v}/{phone_number_id}` (the sandbox's number: display
//!   number, verified name, quality), `GET /{v}/{waba_id}/message_templates` with cursor paging,
//!   and `POST /{v}/{waba_id}/message_templates` (checked like Meta, then listed as `PENDING`).
//!   Every call needs `Authorization: Bearer …`.
//! - **Trouble on demand**: latency, Meta errors (130429, 131056, 190 …), HTTP 500, requests
//!   that never answer, and failures reported later by a `failed` status webhook.
//! - **Status webhooks** (`sent`, `delivered`, `read`) for every accepted send, signed with the
//!   app secret, optionally batched, shuffled or duplicated, retried when not answered 2xx.
//! - **Counts** at `GET /sandbox/stats`, including the exact highest number of sends accepted
//!   in any one-second window; accepted messages at `GET /sandbox/messages?to=`, messages
//!   marked read at `GET /sandbox/reads`.
//! - **A fake Jira** under `/jira` (create issue, add comment, basic auth), its issues at
//!   `GET /sandbox/jira/issues`, and failures on demand (`POST /sandbox/jira/fail`).
//! - **Inbound webhooks**: [`payloads`] builds them in Meta's shape, [`post_webhook`] posts one.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use switchboard_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig {
//!     webhook_url: Some("http://127.0.0.1:8080/api/webhooks/whatsapp".into()),
//!     app_secret: Some("app-secret".into()),
//!     ..SandboxConfig::default()
//! })
//! .await?;
//! println!("WHATSAPP_API_URL={}", sandbox.api_url());
//! // … run the client under test …
//! assert_eq!(sandbox.stats().rejected_messages, 0);
//! sandbox.stop().await;
//! # Ok(()) }
//! ```

pub mod cli;
pub mod config;
mod delivery;
pub mod errors;
mod graph;
pub mod ids;
mod inbound;
mod jira;
mod media;
pub mod multipart;
pub mod payloads;
mod server;
pub mod stats;
mod templates;
mod validate;
mod wire;

pub use config::{ConfigError, ErrorKind, SandboxConfig};
pub use inbound::{Delivered, InboundError, post_webhook};
pub use jira::{JiraComment, JiraFailure, JiraIssue};
pub use media::mime_from_extension;
pub use server::{Sandbox, SandboxHandle};
pub use stats::{AcceptedMessage, MarkedRead, Stats, max_in_window};

/// reqwest is built without a TLS crypto provider in this workspace (the Graph client installs
/// ring); a client built before any provider is installed panics, so the sandbox installs ring
/// itself. Installing twice is harmless: the second attempt is refused and ignored.
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// The `X-Hub-Signature-256` value for `body` under the app secret: `sha256=<hex HMAC-SHA256>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    format!(
        "sha256={}",
        hex::encode(ring::hmac::sign(&key, body).as_ref())
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_matches_rfc_4231() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
