//! A fake Jira (REST API v2) under `/jira`, so a Jira connection's base URL is
//! `<sandbox>/jira`: `POST /jira/rest/api/2/issue` and
//! `POST /jira/rest/api/2/issue/{issueIdOrKey}/comment`, with basic auth and Jira's error
//! shape (`{"errorMessages":[…],"errors":{field:…}}`).
//!
//! Control routes for tests: `GET /sandbox/jira/issues` (every issue created, with its
//! comments), `POST /sandbox/jira/fail {"status":503,"times":2,"retryAfter":1}` (the next
//! `times` Jira calls answer `status`), `POST /sandbox/jira/credentials {"email","apiToken"}`
//! (accept only these; by default any non-empty email and token pass). A sandbox reset
//! forgets all of it.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::server::State;

/// Where the fake Jira is mounted; a connection's base URL is `<sandbox>` + this.
pub const PREFIX: &str = "/jira";

/// An issue the fake Jira created, as `GET /sandbox/jira/issues` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraIssue {
    pub id: String,
    pub key: String,
    pub project_key: String,
    pub summary: String,
    pub description: Option<String>,
    pub issue_type: String,
    /// The email of the basic-auth user that created it.
    pub reporter: String,
    pub comments: Vec<JiraComment>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraComment {
    pub id: String,
    pub body: String,
    pub author: String,
    pub created: DateTime<Utc>,
}

/// Failures to answer instead of doing the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraFailure {
    pub status: u16,
    pub times: u32,
    /// Seconds, sent as `Retry-After`.
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// The fake Jira's state, kept in the sandbox's [`State`].
#[derive(Debug, Default)]
pub(crate) struct FakeJira {
    credentials: Option<(String, String)>,
    issues: Vec<JiraIssue>,
    by_project: HashMap<String, u64>,
    next_id: u64,
    failure: Option<JiraFailure>,
}

impl FakeJira {
    pub(crate) fn reset(&mut self) {
        *self = FakeJira::default();
    }

    pub(crate) fn issues(&self) -> Vec<JiraIssue> {
        self.issues.clone()
    }

    pub(crate) fn fail(&mut self, failure: JiraFailure) {
        self.failure = (failure.times > 0).then_some(failure);
    }

    pub(crate) fn require_credentials(&mut self, email: &str, api_token: &str) {
        self.credentials = Some((email.to_string(), api_token.to_string()));
    }

    fn next_id(&mut self) -> String {
        self.next_id += 1;
        (10_000 + self.next_id).to_string()
    }

    /// The injected failure due now, if any (each call uses up one).
    fn take_failure(&mut self) -> Option<JiraFailure> {
        let failure = self.failure.as_mut()?;
        failure.times -= 1;
        let due = *failure;
        if failure.times == 0 {
            self.failure = None;
        }
        Some(due)
    }
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sandbox/jira/issues", web::get().to(issues_route))
        .route("/sandbox/jira/fail", web::post().to(fail_route))
        .route(
            "/sandbox/jira/credentials",
            web::post().to(credentials_route),
        )
        .route(
            &format!("{PREFIX}/rest/api/2/issue"),
            web::post().to(create_issue),
        )
        .route(
            &format!("{PREFIX}/rest/api/2/issue/{{key}}/comment"),
            web::post().to(add_comment),
        );
}

fn jira_error(status: u16, messages: &[&str], errors: Value) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(json!({ "errorMessages": messages, "errors": errors }))
}

/// What every Jira call goes through: an injected failure, then basic auth. `Err` is the
/// answer to give instead; `Ok` is the caller's email.
fn prelude(state: &State, req: &HttpRequest) -> Result<String, Box<HttpResponse>> {
    let mut jira = state.jira();
    if let Some(failure) = jira.take_failure() {
        let mut response = jira_error(failure.status, &["Injected failure (sandbox)"], json!({}));
        if let Some(seconds) = failure.retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
        return Err(Box::new(response));
    }
    let unauthorized = || {
        jira_error(
            401,
            &["You are not authenticated. Authentication required to perform this operation."],
            json!({}),
        )
    };
    let (email, token) = basic_auth(req).ok_or_else(|| Box::new(unauthorized()))?;
    let accepted = match &jira.credentials {
        Some((want_email, want_token)) => *want_email == email && *want_token == token,
        None => !email.is_empty() && !token.is_empty(),
    };
    if !accepted {
        return Err(Box::new(unauthorized()));
    }
    Ok(email)
}

fn basic_auth(req: &HttpRequest) -> Option<(String, String)> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (email, token) = decoded.split_once(':')?;
    Some((email.to_string(), token.to_string()))
}

fn self_url(req: &HttpRequest, path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{PREFIX}{path}", info.scheme(), info.host())
}

fn text_at<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

async fn create_issue(state: web::Data<State>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let reporter = match prelude(&state, &req) {
        Ok(email) => email,
        Err(refused) => return *refused,
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return jira_error(
            400,
            &["Unexpected character: the request body is not JSON"],
            json!({}),
        );
    };
    let mut errors = serde_json::Map::new();
    let project = text_at(&body, "/fields/project/key");
    if project.is_none() {
        errors.insert("project".into(), json!("Specify a valid project ID or key"));
    }
    let summary = text_at(&body, "/fields/summary");
    match summary {
        None => {
            errors.insert(
                "summary".into(),
                json!("You must specify a summary of the issue."),
            );
        }
        Some(s) if s.contains('\n') || s.contains('\r') => {
            errors.insert(
                "summary".into(),
                json!("The summary is invalid because it contains newline characters."),
            );
        }
        Some(s) if s.chars().count() > 255 => {
            errors.insert(
                "summary".into(),
                json!("Summary must be less than 255 characters."),
            );
        }
        Some(_) => {}
    }
    let issue_type =
        text_at(&body, "/fields/issuetype/name").or_else(|| text_at(&body, "/fields/issuetype/id"));
    if issue_type.is_none() {
        errors.insert("issuetype".into(), json!("Specify an issue type"));
    }
    let (Some(project), Some(summary), Some(issue_type), true) =
        (project, summary, issue_type, errors.is_empty())
    else {
        return jira_error(400, &[], Value::Object(errors));
    };
    let description = body
        .pointer("/fields/description")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut jira = state.jira();
    let id = jira.next_id();
    let number = jira.by_project.entry(project.to_string()).or_insert(0);
    *number += 1;
    let key = format!("{project}-{number}");
    jira.issues.push(JiraIssue {
        id: id.clone(),
        key: key.clone(),
        project_key: project.to_string(),
        summary: summary.to_string(),
        description,
        issue_type: issue_type.to_string(),
        reporter,
        comments: Vec::new(),
        created: Utc::now(),
    });
    HttpResponse::Created().json(json!({
        "id": id,
        "key": key,
        "self": self_url(&req, &format!("/rest/api/2/issue/{id}")),
    }))
}

async fn add_comment(
    state: web::Data<State>,
    req: HttpRequest,
    key: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let author = match prelude(&state, &req) {
        Ok(email) => email,
        Err(refused) => return *refused,
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return jira_error(
            400,
            &["Unexpected character: the request body is not JSON"],
            json!({}),
        );
    };
    let Some(text) = body
        .get("body")
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty())
    else {
        return jira_error(
            400,
            &[],
            json!({ "comment": "Comment body can not be empty!" }),
        );
    };
    let mut jira = state.jira();
    let comment_id = jira.next_id();
    let key = key.into_inner();
    let Some(issue) = jira
        .issues
        .iter_mut()
        .find(|i| i.key.eq_ignore_ascii_case(&key) || i.id == key)
    else {
        return jira_error(
            404,
            &["Issue does not exist or you do not have permission to see it."],
            json!({}),
        );
    };
    let created = Utc::now();
    issue.comments.push(JiraComment {
        id: comment_id.clone(),
        body: text.to_string(),
        author: author.clone(),
        created,
    });
    let issue_id = issue.id.clone();
    let at = created.to_rfc3339_opts(SecondsFormat::Millis, true);
    HttpResponse::Created().json(json!({
        "self": self_url(&req, &format!("/rest/api/2/issue/{issue_id}/comment/{comment_id}")),
        "id": comment_id,
        "author": { "emailAddress": author, "displayName": author, "active": true },
        "body": text,
        "created": at,
        "updated": at,
    }))
}

async fn issues_route(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "data": state.jira().issues() }))
}

async fn fail_route(state: web::Data<State>, body: web::Json<JiraFailure>) -> HttpResponse {
    let failure = body.into_inner();
    if StatusCode::from_u16(failure.status).is_err() {
        return jira_error(400, &["status must be an HTTP status code"], json!({}));
    }
    state.jira().fail(failure);
    HttpResponse::Ok().json(json!({ "success": true }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    email: String,
    api_token: String,
}

async fn credentials_route(state: web::Data<State>, body: web::Json<Credentials>) -> HttpResponse {
    state
        .jira()
        .require_credentials(&body.email, &body.api_token);
    HttpResponse::Ok().json(json!({ "success": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_used_up_one_call_at_a_time() {
        let mut jira = FakeJira::default();
        jira.fail(JiraFailure {
            status: 503,
            times: 2,
            retry_after: None,
        });
        assert_eq!(jira.take_failure().map(|f| f.status), Some(503));
        assert_eq!(jira.take_failure().map(|f| f.status), Some(503));
        assert_eq!(jira.take_failure(), None);
    }
}
