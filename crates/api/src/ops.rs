//! Operations: the organization's jobs (and retrying dead ones), health and readiness.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::Role;
use switchboard_store::models::IntegrationJob;
use switchboard_store::repo::jobs::{self, JobFilter};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::page::{PageQuery, Paged};
use crate::{Api, utc};

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: String,
    /// PROCESS_WEBHOOK, SEND_MESSAGE, SEND_MESSAGE_TEMPLATE, MARK_READ, SYNC_TEMPLATES, SUBMIT_TEMPLATE
    pub kind: String,
    /// PENDING, RUNNING, DONE or DEAD
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// When it runs (next).
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The stored webhook this job processes, if any.
    pub webhook_event_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<IntegrationJob> for JobView {
    fn from(j: IntegrationJob) -> Self {
        JobView {
            payload: serde_json::from_str(&j.payload).unwrap_or(serde_json::Value::Null),
            id: j.id,
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: utc(j.run_at),
            last_error: j.last_error,
            webhook_event_id: j.webhook_event_id,
            created_at: utc(j.created_at),
            updated_at: utc(j.updated_at),
            finished_at: j.finished_at.map(utc),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// PENDING, RUNNING, DONE or DEAD
    pub status: Option<String>,
    /// e.g. SEND_MESSAGE
    pub kind: Option<String>,
}

/// The organization's jobs, newest first (OWNER or ADMIN).
#[utoipa::path(get, path = "/api/integrations/jobs", tag = "operations",
    params(JobQuery, PageQuery),
    responses((status = 200, body = Paged<JobView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_jobs(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<JobQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let request = paging.checked()?;
    let query = query.into_inner();
    let filter = JobFilter {
        status: query.status,
        kind: query.kind,
        organization_id: Some(caller.organization_id),
        ..JobFilter::default()
    };
    let (rows, total) = api
        .db
        .run(move |c| jobs::list_job_page(c, &filter, request.store()))
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, JobView::from)))
}

/// Puts a DEAD job back in the queue with fresh attempts (OWNER or ADMIN).
#[utoipa::path(post, path = "/api/integrations/jobs/{id}/retry", tag = "operations",
    params(("id" = String, Path, description = "Job id")),
    responses((status = 200, body = JobView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn retry_job(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let job = api
        .db
        .run(move |c| jobs::retry_org_job(c, &org, &id))
        .await?;
    api.wake();
    Ok(HttpResponse::Ok().json(JobView::from(job)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is up (it does not touch the database).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(api: web::Data<Api>) -> HttpResponse {
    let ping = api
        .db
        .run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1").map_err(Into::into)
        })
        .await;
    match ping {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ready".into(),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the database does not answer");
            HttpResponse::ServiceUnavailable().json(ErrorBody {
                error_code: "DATABASE_UNAVAILABLE".into(),
                message: "the database does not answer; the server log says why".into(),
            })
        }
    }
}
