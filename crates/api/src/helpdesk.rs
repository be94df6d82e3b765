//! The helpdesk's set-up: the services the assistant offers (OWNER/ADMIN), and the default
//! notification templates, created and submitted to Meta in one call.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::helpdesk::default_templates;
use switchboard_domain::{Role, job_kind};
use switchboard_store::models::{Service, now};
use switchboard_store::repo::services::{self, DESTINATION_LOCAL, ServiceInput};
use switchboard_store::repo::templates::NewTemplate;
use switchboard_store::repo::{jobs, organizations, templates};
use switchboard_store::{StoreError, db::write_transaction};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

const ADMINS: [Role; 2] = [Role::Owner, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    /// Menu order (lowest first).
    pub position: i32,
    /// Only active services are offered.
    pub active: bool,
    /// local (tickets stay here) or jira
    pub destination: String,
    pub jira_project_key: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Service> for ServiceView {
    fn from(s: Service) -> Self {
        ServiceView {
            id: s.id,
            name: s.name,
            position: s.position,
            active: s.active,
            destination: s.destination,
            jira_project_key: s.jira_project_key,
            created_at: utc(s.created_at),
            updated_at: utc(s.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    pub data: Vec<ServiceView>,
    pub total: usize,
}

/// The organization's services in menu order (inactive ones too).
#[utoipa::path(get, path = "/api/services", tag = "helpdesk", operation_id = "listServices",
    responses((status = 200, body = ServiceList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| services::list_services(c, &org))
        .await?;
    let data: Vec<ServiceView> = found.into_iter().map(ServiceView::from).collect();
    Ok(HttpResponse::Ok().json(ServiceList {
        total: data.len(),
        data,
    }))
}

#[utoipa::path(get, path = "/api/services/{id}", tag = "helpdesk", operation_id = "getService",
    params(("id" = String, Path, description = "Service id")),
    responses((status = 200, body = ServiceView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let service = find(&api, caller.organization_id, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(ServiceView::from(service)))
}

async fn find(api: &Api, org: String, id: String) -> Result<Service, ApiError> {
    Ok(api
        .db
        .run(move |c| services::find_service(c, &org, &id)?.ok_or(StoreError::NotFound("service")))
        .await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateService {
    #[schema(min_length = 1, max_length = 72)]
    pub name: String,
    /// Menu order; by default after the last service.
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i32>,
    #[serde(default = "yes")]
    pub active: bool,
    /// local (default) or jira
    #[schema(pattern = "^(local|jira)$")]
    pub destination: Option<String>,
    /// Required for destination jira, e.g. SUP.
    pub jira_project_key: Option<String>,
}

fn yes() -> bool {
    true
}

/// Adds a service to the assistant's menu (OWNER or ADMIN).
#[utoipa::path(post, path = "/api/services", tag = "helpdesk", operation_id = "createService",
    request_body = CreateService,
    responses((status = 201, body = ServiceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<CreateService>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let body = body.into_inner();
    let input = ServiceInput {
        name: body.name,
        position: body.position,
        active: body.active,
        destination: body.destination.unwrap_or_else(|| DESTINATION_LOCAL.into()),
        jira_project_key: body.jira_project_key,
    };
    let org = caller.organization_id;
    let service = api
        .db
        .run(move |c| services::insert_service(c, &org, &input))
        .await?;
    Ok(HttpResponse::Created().json(ServiceView::from(service)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateService {
    #[schema(min_length = 1, max_length = 72)]
    pub name: Option<String>,
    #[schema(minimum = 0, maximum = 10000)]
    pub position: Option<i32>,
    pub active: Option<bool>,
    #[schema(pattern = "^(local|jira)$")]
    pub destination: Option<String>,
    pub jira_project_key: Option<String>,
}

/// Changes a service (OWNER or ADMIN); fields left out stay as they are.
#[utoipa::path(patch, path = "/api/services/{id}", tag = "helpdesk", operation_id = "updateService",
    params(("id" = String, Path, description = "Service id")),
    request_body = UpdateService,
    responses((status = 200, body = ServiceView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<UpdateService>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let body = body.into_inner();
    let org = caller.organization_id;
    let current = find(&api, org.clone(), id.into_inner()).await?;
    let input = ServiceInput {
        name: body.name.unwrap_or(current.name),
        position: body.position.or(Some(current.position)),
        active: body.active.unwrap_or(current.active),
        destination: body.destination.unwrap_or(current.destination),
        jira_project_key: body.jira_project_key.or(current.jira_project_key),
    };
    let service = api
        .db
        .run(move |c| services::update_service(c, &org, &current.id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(ServiceView::from(service)))
}

/// Removes a service (OWNER or ADMIN); its tickets stay, without a service.
#[utoipa::path(delete, path = "/api/services/{id}", tag = "helpdesk", operation_id = "deleteService",
    params(("id" = String, Path, description = "Service id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&ADMINS)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    api.db
        .run(move |c| services::delete_service(c, &org, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultTemplate {
    pub name: String,
    pub language: String,
    pub template_id: String,
    /// created (and submitted), or existing (left as it was)
    pub outcome: String,
    /// The SUBMIT_TEMPLATE job of a created template.
    pub job_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultTemplates {
    pub data: Vec<DefaultTemplate>,
    /// The helpdesk settings now name `ticket_updated` and `agent_response` for notifications
    /// outside the 24-hour window (unless other templates were set before).
    pub settings_updated: bool,
}

/// Creates the helpdesk's six notification templates (ticket_created, ticket_updated,
/// ticket_assigned, ticket_resolved, agent_response, sla_warning) in the organization's
/// helpdesk language, submits each new one to Meta, and names them in the settings where
/// none were set. Templates that exist already are left as they are: calling twice is safe.
#[utoipa::path(post, path = "/api/integrations/whatsapp/templates/register-defaults", tag = "templates",
    operation_id = "registerDefaultTemplates",
    responses((status = 200, body = DefaultTemplates), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn register_defaults(
    api: web::Data<Api>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require(&[Role::Owner, Role::Admin, Role::Manager])?;
    let org = caller.organization_id;
    let answer = api
        .db
        .run(move |c| write_transaction(c, |c| register(c, &org)))
        .await?;
    api.wake();
    Ok(HttpResponse::Ok().json(answer))
}

fn register(
    conn: &mut switchboard_store::AnyConnection,
    org: &str,
) -> Result<DefaultTemplates, StoreError> {
    let settings = organizations::settings_of(conn, org)?;
    let language = settings.helpdesk.language.template_code();
    let mut data = Vec::new();
    let mut submits = Vec::new();
    let known = templates::list_templates(conn, org)?;
    for (name, components) in default_templates(settings.helpdesk.language) {
        let existing = known
            .iter()
            .find(|t| t.name == name && t.language == language)
            .cloned();
        let (template, outcome) = match existing {
            Some(t) => (t, "existing"),
            None => {
                let created = templates::insert_template(
                    conn,
                    &NewTemplate {
                        organization_id: org,
                        channel_id: None,
                        name,
                        language,
                        category: "UTILITY",
                        parameter_format: "POSITIONAL",
                        components: &components.to_string(),
                    },
                )?;
                (created, "created")
            }
        };
        let job = (outcome == "created").then(|| {
            let payload = serde_json::json!({ "templateId": template.id }).to_string();
            jobs::new_job(
                job_kind::SUBMIT_TEMPLATE,
                Some(org.to_string()),
                payload,
                now(),
            )
        });
        data.push(DefaultTemplate {
            name: name.to_string(),
            language: language.to_string(),
            template_id: template.id,
            outcome: outcome.to_string(),
            job_id: job.as_ref().map(|j| j.id.clone()),
        });
        submits.extend(job);
    }
    jobs::insert_jobs(conn, &submits)?;
    let templates = &settings.helpdesk.templates;
    let mut patch = serde_json::Map::new();
    if templates.status_changed.is_none() {
        patch.insert("statusChanged".into(), "ticket_updated".into());
    }
    if templates.agent_reply.is_none() {
        patch.insert("agentReply".into(), "agent_response".into());
    }
    let settings_updated = !patch.is_empty();
    if settings_updated {
        let patch = serde_json::json!({ "helpdesk": { "templates": patch } });
        organizations::patch_settings_in(conn, org, &patch)?;
    }
    Ok(DefaultTemplates {
        data,
        settings_updated,
    })
}
