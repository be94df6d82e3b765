//! Calling the REST API as a frontend does: bearer token, JSON in and out.

use reqwest::blocking::Client;
use serde_json::Value;

use crate::server::Server;

pub struct ApiClient {
    client: Client,
    base: String,
    token: String,
}

impl ApiClient {
    pub fn new(server: &Server, token: impl Into<String>) -> Self {
        ApiClient {
            client: crate::blocking_client().build().expect("an HTTP client"),
            base: server.url(""),
            token: token.into(),
        }
    }

    /// Any call: the status and the JSON body (null when the body is not JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = method.parse().expect("an HTTP method");
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// A GET that must succeed.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// A call that must answer `expected`.
    pub fn expect(&self, expected: u16, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.call(method, path, body);
        assert_eq!(status, expected, "{method} {path}: {answer}");
        answer
    }
}
