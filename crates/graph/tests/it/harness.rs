//! A scripted stand-in for graph.facebook.com on a loopback port: it answers each
//! `METHOD /path` with the replies queued for it, in order (the last one repeats), and records
//! every request so tests can assert exactly what the client sent.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use switchboard_graph::{ChannelAuth, GraphClient, GraphConfig};

pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAB-test-token-not-real";

pub fn auth() -> ChannelAuth<'static> {
    ChannelAuth {
        phone_number_id: PHONE_NUMBER_ID,
        access_token: TOKEN,
    }
}

/// A Graph response body from the shared fixtures (`SWITCHBOARD_FIXTURES_DIR` overrides the root).
pub fn fixture(name: &str) -> Vec<u8> {
    let root = std::env::var_os("SWITCHBOARD_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures"
            ))
        });
    let path = root.join("graph-responses").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

#[derive(Clone)]
pub struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn value(status: u16, body: &serde_json::Value) -> Self {
        Self::json(status, serde_json::to_vec(body).unwrap())
    }

    pub fn fixture(status: u16, name: &str) -> Self {
        Self::json(status, fixture(name))
    }

    pub fn raw(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            content_type,
            ..Self::json(status, body)
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Default)]
struct State {
    script: Mutex<HashMap<String, VecDeque<Reply>>>,
    seen: Mutex<Vec<Seen>>,
}

pub struct MockGraph {
    pub url: String,
    state: Arc<State>,
    handle: ServerHandle,
}

impl MockGraph {
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://{address}"),
            state,
            handle,
        }
    }

    /// Queues `reply` for `method path` (e.g. `"POST", "/v25.0/1/messages"`).
    pub fn on(&self, method: &str, path: &str, reply: Reply) -> &Self {
        self.state
            .script
            .lock()
            .unwrap()
            .entry(format!("{method} {path}"))
            .or_default()
            .push_back(reply);
        self
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// A client pointed at this server, with the default configuration otherwise.
    pub fn client(&self) -> GraphClient {
        self.client_with(GraphConfig::default())
    }

    pub fn client_with(&self, config: GraphConfig) -> GraphClient {
        GraphClient::new(GraphConfig {
            api_url: self.url.clone(),
            ..config
        })
        .unwrap()
    }
}

impl Drop for MockGraph {
    fn drop(&mut self) {
        // The stop command is sent at once; nothing needs to wait for the workers.
        drop(self.handle.stop(false));
    }
}

async fn answer(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let query = reqwest::Url::parse(&format!("http://x/?{}", request.query_string()))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    state.seen.lock().unwrap().push(Seen {
        method: request.method().to_string(),
        path: request.path().to_string(),
        query,
        headers,
        body: body.to_vec(),
    });
    let key = format!("{} {}", request.method(), request.path());
    let reply = {
        let mut script = state.script.lock().unwrap();
        match script.get_mut(&key) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
    };
    let Some(reply) = reply else {
        return HttpResponse::NotImplemented().body(format!("nothing scripted for {key}"));
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(reply.status).unwrap());
    response.content_type(reply.content_type);
    for (name, value) in &reply.headers {
        response.insert_header((*name, value.as_str()));
    }
    response.body(reply.body)
}
