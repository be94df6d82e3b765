//! The shared plumbing: one pooled HTTP client, URLs under the configured Graph version, the
//! bearer token on every call, and Meta's answers turned into values or [`GraphError`]s.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use crate::error::{ErrorClass, GraphError};

/// Meta drops media downloads without a User-Agent on some edges (reference §13.11).
const USER_AGENT: &str = concat!("switchboard/", env!("CARGO_PKG_VERSION"));

/// Uploads and downloads move up to 100 MB; the per-call timeout is sized for JSON calls.
const MIN_TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Where and how to reach the Graph API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// Scheme and host, optionally with a path prefix (a sandbox); no version.
    pub api_url: String,
    /// Pinned so a Meta release cannot change payload shapes under us (reference §12).
    pub api_version: String,
    /// Whole-call limit for JSON calls; media transfers get at least two minutes.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            api_url: "https://graph.facebook.com".to_string(),
            api_version: "v25.0".to_string(),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The credentials of one WhatsApp channel (business phone number).
#[derive(Clone, Copy)]
pub struct ChannelAuth<'a> {
    pub phone_number_id: &'a str,
    pub access_token: &'a str,
}

/// Hand-written so the token never reaches a log through `{:?}`.
impl fmt::Debug for ChannelAuth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelAuth")
            .field("phone_number_id", &self.phone_number_id)
            .field("access_token", &"[redacted]")
            .finish()
    }
}

/// The Graph API client. Cheap to clone: clones share one connection pool.
///
/// It never retries a failed call by itself (except to refresh an expired media URL): the
/// [`ErrorClass`] of the error tells the caller whether and when to try again.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    version: String,
    transfer_timeout: Duration,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.inner.base.as_str())
            .field("version", &self.inner.version)
            .finish()
    }
}

impl GraphClient {
    /// Builds the client; a bad `api_url` or `api_version` is refused here, not on first use.
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        // reqwest is built without a crypto provider; ring is ours. Another part of the process
        // may have installed one already, which serves as well, so that error is ignored.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = parse_api_url(&config.api_url)?;
        let version = config.api_version.trim().to_string();
        if version.is_empty() || version.contains('/') {
            return Err(config_error(format!(
                "the Graph API version '{}' is not a version like v25.0",
                config.api_version
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| config_error(format!("the HTTP client could not be built: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                version,
                transfer_timeout: config.timeout.max(MIN_TRANSFER_TIMEOUT),
            }),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn transfer_timeout(&self) -> Duration {
        self.inner.transfer_timeout
    }

    /// The base URL calls go to, without any user or password it was configured with (for
    /// status pages).
    pub fn api_url(&self) -> String {
        let mut url = self.inner.base.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.to_string()
    }

    /// The pinned Graph API version, e.g. `v25.0`.
    pub fn api_version(&self) -> &str {
        &self.inner.version
    }

    /// `<api_url>/<version>/<segments…>`, each segment percent-encoded so an id cannot
    /// reach another path.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, GraphError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| config_error("the Graph API URL cannot take a path".to_string()))?
            .pop_if_empty()
            .push(&self.inner.version)
            .extend(segments);
        Ok(url)
    }

    /// Sends `request` with the bearer token; a non-2xx answer becomes a [`GraphError`].
    pub(crate) async fn call(
        &self,
        what: &str,
        token: &str,
        request: RequestBuilder,
    ) -> Result<Response, GraphError> {
        let started = std::time::Instant::now();
        let sent = request.bearer_auth(token).send().await;
        let outcome = match &sent {
            Ok(r) if r.status().is_success() => "ok",
            Ok(_) => "refused",
            Err(_) => "unreachable",
        };
        metrics::histogram!("switchboard_graph_request_seconds", "call" => what.to_string(), "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        let response = sent.map_err(|e| GraphError::transport(what, e).redact(token))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                let mut error = GraphError::transport(what, e).redact(token);
                error.http_status = Some(status.as_u16());
                error.retry_after = crate::error::retry_hint(&headers);
                return Err(error);
            }
        };
        let error = GraphError::from_response(status, &headers, &body).redact(token);
        tracing::debug!(
            what,
            http_status = status.as_u16(),
            code = error.code,
            class = ?error.class,
            "Graph API call failed"
        );
        Err(error)
    }
}

/// Reads a 2xx answer as `T`. A body that does not fit is not retried (see
/// [`GraphError::unreadable_success`]).
pub(crate) async fn read_json<T: DeserializeOwned>(
    what: &str,
    response: Response,
) -> Result<T, GraphError> {
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| GraphError::unreadable_success(what, status, &e.without_url().to_string()))?;
    serde_json::from_slice(&body)
        .map_err(|e| GraphError::unreadable_success(what, status, &e.to_string()))
}

/// `{"success":true}`, Meta's answer to mark-as-read and media deletion.
pub(crate) async fn read_success(what: &str, response: Response) -> Result<(), GraphError> {
    #[derive(serde::Deserialize)]
    struct Success {
        success: bool,
    }
    let status = response.status().as_u16();
    let answer: Success = read_json(what, response).await?;
    if answer.success {
        Ok(())
    } else {
        let mut error = GraphError::local(
            ErrorClass::Message,
            format!("{what}: Graph API answered success=false"),
        );
        error.http_status = Some(status);
        Err(error)
    }
}

fn parse_api_url(api_url: &str) -> Result<Url, GraphError> {
    let url = Url::parse(api_url.trim())
        .map_err(|e| config_error(format!("the Graph API URL '{api_url}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(config_error(format!(
            "the Graph API URL '{api_url}' must be an http(s) URL like https://graph.facebook.com"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config_error(format!(
            "the Graph API URL '{api_url}' must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// Configuration problems stop every call of every channel, so they are never retried.
fn config_error(message: String) -> GraphError {
    GraphError::local(
        ErrorClass::Channel,
        format!("invalid Graph API configuration: {message}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(api_url: &str) -> GraphClient {
        GraphClient::new(GraphConfig {
            api_url: api_url.to_string(),
            ..GraphConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn urls_carry_the_version_and_encode_ids() {
        let graph = client("https://graph.facebook.com");
        assert_eq!(
            graph
                .url(&["106540352242922", "messages"])
                .unwrap()
                .as_str(),
            "https://graph.facebook.com/v25.0/106540352242922/messages"
        );
        let sandbox = client("http://127.0.0.1:9000/graph/");
        assert_eq!(
            sandbox.url(&["a/b", "media"]).unwrap().as_str(),
            "http://127.0.0.1:9000/graph/v25.0/a%2Fb/media"
        );
    }

    #[test]
    fn bad_configuration_is_refused_up_front() {
        for api_url in [
            "graph.facebook.com",
            "ftp://graph.facebook.com",
            "https://x.test/?a=1",
        ] {
            let error = GraphClient::new(GraphConfig {
                api_url: api_url.to_string(),
                ..GraphConfig::default()
            })
            .unwrap_err();
            assert_eq!(error.class, ErrorClass::Channel, "{api_url}");
            assert!(error.message.contains(api_url), "{}", error.message);
        }
        let error = GraphClient::new(GraphConfig {
            api_version: " ".to_string(),
            ..GraphConfig::default()
        })
        .unwrap_err();
        assert!(error.message.contains("version"));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let auth = ChannelAuth {
            phone_number_id: "1",
            access_token: "EAAB-secret",
        };
        let text = format!("{auth:?}");
        assert!(!text.contains("EAAB-secret") && text.contains("redacted"));
    }
}
