//! Message templates: written here or synced from Meta, submitted for review, and sent to
//! customers outside the 24-hour window.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_domain::outbound::OutboundContent;
use switchboard_domain::template_def::{self, ParameterFormat};
use switchboard_domain::{Role, job_kind};
use switchboard_store::StoreError;
use switchboard_store::models::{Template, now};
use switchboard_store::repo::jobs;
use switchboard_store::repo::outbound::NewOutbound;
use switchboard_store::repo::templates::{self as repo, NewTemplate, TemplateFilter};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::page::{PageQuery, Paged};
use crate::send::{self, SendAccepted};
use crate::{Api, utc};

const EDITORS: [Role; 3] = [Role::Owner, Role::Admin, Role::Manager];

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    pub language: String,
    /// MARKETING, UTILITY or AUTHENTICATION
    pub category: String,
    /// PENDING, APPROVED, REJECTED, PAUSED, DISABLED…: only APPROVED templates can be sent.
    pub status: String,
    /// POSITIONAL ({{1}}) or NAMED ({{first_name}})
    pub parameter_format: String,
    /// Meta's components: HEADER, BODY, FOOTER, BUTTONS.
    #[schema(value_type = Vec<Object>)]
    pub components: Value,
    /// The variables a send must give: body placeholders by number or name, `header.N`,
    /// `header` (a media header's link), `button.N` (a URL button's suffix).
    pub variables: Vec<String>,
    pub rejection_reason: Option<String>,
    /// Meta's template id, once Meta knows the template.
    pub external_id: Option<String>,
    pub channel_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Template> for TemplateView {
    fn from(t: Template) -> Self {
        let components: Value = serde_json::from_str(&t.components).unwrap_or(Value::Array(vec![]));
        TemplateView {
            variables: template_def::required_variables(&components),
            components,
            id: t.id,
            name: t.name,
            language: t.language,
            category: t.category,
            status: t.status,
            parameter_format: t.parameter_format,
            rejection_reason: t.rejection_reason,
            external_id: t.external_id,
            channel_id: t.channel_id,
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    /// e.g. APPROVED
    pub status: Option<String>,
    /// MARKETING, UTILITY or AUTHENTICATION
    pub category: Option<String>,
    /// e.g. en_US
    pub language: Option<String>,
}

/// The organization's templates by name and language.
#[utoipa::path(get, path = "/api/integrations/whatsapp/templates", tag = "templates", operation_id = "listTemplates",
    params(TemplateQuery, PageQuery),
    responses((status = 200, body = Paged<TemplateView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<TemplateQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let query = query.into_inner();
    let filter = TemplateFilter {
        status: query.status,
        category: query.category,
        language: query.language,
    };
    let org = caller.organization_id;
    let (rows, total) = api
        .db
        .run(move |c| repo::list_template_page(c, &org, &filter, request.store()))
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, TemplateView::from)))
}

#[utoipa::path(get, path = "/api/integrations/whatsapp/templates/{id}", tag = "templates", operation_id = "getTemplate",
    params(("id" = String, Path, description = "Template id")),
    responses((status = 200, body = TemplateView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let template = find(&api, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(template)))
}

async fn find(api: &Api, caller: &Caller, id: String) -> Result<Template, ApiError> {
    let org = caller.organization_id.clone();
    Ok(api
        .db
        .run(move |c| repo::find_template(c, &org, &id)?.ok_or(StoreError::NotFound("template")))
        .await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTemplate {
    /// Lowercase letters, digits and underscores, up to 512.
    #[schema(example = "order_update", pattern = "^[a-z0-9_]{1,512}$")]
    pub name: String,
    #[schema(example = "en_US")]
    pub language: String,
    /// MARKETING, UTILITY or AUTHENTICATION
    #[schema(example = "UTILITY", pattern = "^(MARKETING|UTILITY|AUTHENTICATION)$")]
    pub category: String,
    /// Meta's components: `[{"type":"BODY","text":"Hi {{1}}, order {{2}} shipped"}]`.
    #[schema(value_type = Vec<Object>)]
    pub components: Value,
    /// The channel (WhatsApp number) whose business account the template belongs to.
    pub channel_id: Option<String>,
}

/// Writes a template (status PENDING until Meta approves it; submit it with `/submit`).
#[utoipa::path(post, path = "/api/integrations/whatsapp/templates", tag = "templates", operation_id = "createTemplate",
    request_body = CreateTemplate,
    responses((status = 201, body = TemplateView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    api: web::Data<Api>,
    caller: Caller,
    body: web::Json<CreateTemplate>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&EDITORS)?;
    let body = body.into_inner();
    let category = body.category.trim().to_uppercase();
    let format = validated(&body.name, &body.language, &category, &body.components)?;
    let org = caller.organization_id;
    let template = api
        .db
        .run(move |c| {
            if let Some(channel) = &body.channel_id
                && switchboard_store::repo::channels::find_channel(c, &org, channel)?.is_none()
            {
                return Err(StoreError::NotFound("channel"));
            }
            repo::insert_template(
                c,
                &NewTemplate {
                    organization_id: &org,
                    channel_id: body.channel_id.as_deref(),
                    name: &body.name,
                    language: &body.language,
                    category: &category,
                    parameter_format: format.as_str(),
                    components: &body.components.to_string(),
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(TemplateView::from(template)))
}

fn validated(
    name: &str,
    language: &str,
    category: &str,
    components: &Value,
) -> Result<ParameterFormat, ApiError> {
    template_def::validate_definition(name, language, category, components)
        .map_err(|e| ApiError::Validation(e.to_string()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTemplate {
    pub category: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub components: Option<Value>,
}

/// Changes a template's category or components; it goes back to PENDING (Meta reviews edits).
#[utoipa::path(patch, path = "/api/integrations/whatsapp/templates/{id}", tag = "templates", operation_id = "updateTemplate",
    params(("id" = String, Path, description = "Template id")),
    request_body = UpdateTemplate,
    responses((status = 200, body = TemplateView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<UpdateTemplate>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&EDITORS)?;
    let body = body.into_inner();
    if body.category.is_none() && body.components.is_none() {
        return Err(ApiError::Validation(
            "nothing to change: give category and/or components".into(),
        ));
    }
    let current = find(&api, &caller, id.into_inner()).await?;
    let category = body
        .category
        .map_or(current.category.clone(), |c| c.trim().to_uppercase());
    let components = match body.components {
        Some(c) => c,
        None => serde_json::from_str(&current.components).unwrap_or(Value::Array(vec![])),
    };
    let format = validated(&current.name, &current.language, &category, &components)?;
    let org = caller.organization_id;
    let template = api
        .db
        .run(move |c| {
            repo::update_template(
                c,
                &org,
                &current.id,
                &category,
                format.as_str(),
                &components.to_string(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(template)))
}

/// Disables a template (kept for the messages that used it; status DISABLED).
#[utoipa::path(delete, path = "/api/integrations/whatsapp/templates/{id}", tag = "templates", operation_id = "disableTemplate",
    params(("id" = String, Path, description = "Template id")),
    responses((status = 200, body = TemplateView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn disable(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&EDITORS)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let template = api
        .db
        .run(move |c| repo::disable_template(c, &org, &id))
        .await?;
    Ok(HttpResponse::Ok().json(TemplateView::from(template)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    pub job_id: String,
    pub status: String,
}

/// Queues a job pulling the organization's templates from Meta (every page); template status
/// webhooks keep them current in between.
#[utoipa::path(post, path = "/api/integrations/whatsapp/templates/sync", tag = "templates",
    responses((status = 202, body = JobAccepted), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn sync(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(&EDITORS)?;
    let job = queue_job(&api, &caller, job_kind::SYNC_TEMPLATES, "{}".into()).await?;
    Ok(HttpResponse::Accepted().json(job))
}

/// Submits a template to Meta for review; Meta's answer and later webhooks set its status.
#[utoipa::path(post, path = "/api/integrations/whatsapp/templates/{id}/submit", tag = "templates",
    params(("id" = String, Path, description = "Template id")),
    responses((status = 202, body = JobAccepted), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn submit(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&EDITORS)?;
    let template = find(&api, &caller, id.into_inner()).await?;
    let payload = serde_json::json!({ "templateId": template.id }).to_string();
    let job = queue_job(&api, &caller, job_kind::SUBMIT_TEMPLATE, payload).await?;
    Ok(HttpResponse::Accepted().json(job))
}

async fn queue_job(
    api: &Api,
    caller: &Caller,
    kind: &'static str,
    payload: String,
) -> Result<JobAccepted, ApiError> {
    let job = jobs::new_job(kind, Some(caller.organization_id.clone()), payload, now());
    let view = JobAccepted {
        job_id: job.id.clone(),
        status: job.status.clone(),
    };
    api.db
        .run(move |c| jobs::insert_jobs(c, std::slice::from_ref(&job)))
        .await?;
    api.wake();
    Ok(view)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendTemplate {
    /// The recipient's number with country code (or without, when the channel has a default).
    #[schema(example = "573103055424")]
    pub to_phone: String,
    pub template_id: String,
    /// Values by placeholder (`{"1": "John"}` or `{"first_name": "John"}`; also `header.1`,
    /// `header` for a media header's link, `button.0` for a URL button), or a list for
    /// `{{1}}`, `{{2}}`….
    #[schema(value_type = Object)]
    #[serde(default)]
    pub variables: Option<Value>,
    pub lead_id: Option<String>,
    pub channel_id: Option<String>,
}

/// Sends an APPROVED template (allowed outside the 24-hour window). Answers 202 once the
/// message and its SEND_MESSAGE_TEMPLATE job are stored; `Idempotency-Key` makes retries safe.
#[utoipa::path(post, path = "/api/integrations/whatsapp/templates/send", tag = "templates",
    request_body = SendTemplate,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key, 1–255 characters")),
    responses((status = 202, body = SendAccepted), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "TEMPLATE_NOT_APPROVED, TEMPLATE_VARIABLES_MISSING, NO_CHANNEL, or OPTED_OUT (a MARKETING template to a contact who opted out)")),
    security(("bearer" = [])))]
pub async fn send_template(
    api: web::Data<Api>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<SendTemplate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let idempotency_key = send::idempotency_key(&req)?;
    let variables = variables(body.variables.as_ref())?;
    let template = find(&api, &caller, body.template_id.clone()).await?;
    let content = filled(&template, &variables)?;
    let channel_id = body.channel_id.clone().or(template.channel_id.clone());
    let (channel, to) = send::resolve_recipient(
        &api,
        &caller,
        channel_id,
        body.lead_id.clone(),
        body.to_phone,
        false,
    )
    .await?;
    let queued = api
        .queue(NewOutbound {
            organization_id: caller.organization_id.clone(),
            channel,
            to,
            content,
            lead_id: body.lead_id,
            reply_to: None,
            idempotency_key,
            origin: None,
        })
        .await?;
    Ok(send::accepted(queued))
}

/// `{"1": "John"}` or `["John"]` (positional from 1), values as text.
pub(crate) fn variables(raw: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = || {
        ApiError::Validation(
            "variables must be an object of placeholder → text, or a list of texts".into(),
        )
    };
    let text = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid()),
    };
    match raw {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| Ok((k.clone(), text(v)?))).collect(),
        Some(Value::Array(list)) => (1..)
            .zip(list)
            .map(|(i, v)| Ok((i.to_string(), text(v)?)))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

pub(crate) fn filled(
    template: &Template,
    variables: &BTreeMap<String, String>,
) -> Result<OutboundContent, ApiError> {
    if template.status != "APPROVED" {
        return Err(ApiError::Rule {
            code: "TEMPLATE_NOT_APPROVED",
            message: format!(
                "template '{}' ({}) is {}: only APPROVED templates can be sent; submit it to Meta or sync to refresh its status",
                template.name, template.language, template.status
            ),
        });
    }
    let components: Value =
        serde_json::from_str(&template.components).unwrap_or(Value::Array(vec![]));
    let format = if template.parameter_format.eq_ignore_ascii_case("NAMED") {
        ParameterFormat::Named
    } else {
        ParameterFormat::Positional
    };
    let message = template_def::fill(
        &template.name,
        &template.language,
        format,
        &components,
        variables,
    )
    .map_err(|missing| ApiError::Rule {
        code: "TEMPLATE_VARIABLES_MISSING",
        message: format!(
            "template '{}' needs values for: {} (give them in \"variables\")",
            template.name,
            missing.join(", ")
        ),
    })?;
    let content = OutboundContent::Template(message);
    content
        .validate()
        .map_err(|e| ApiError::Validation(e.to_string()))?;
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_come_as_object_or_list() {
        let object = variables(Some(&json!({"1": "Ana", "2": 42}))).unwrap();
        assert_eq!(object["2"], "42");
        let list = variables(Some(&json!(["Ana", "Bo"]))).unwrap();
        assert_eq!(list["1"], "Ana");
        assert_eq!(list["2"], "Bo");
        assert!(variables(Some(&json!("Ana"))).is_err());
        assert!(variables(Some(&json!({"1": {"x": 1}}))).is_err());
        assert!(variables(None).unwrap().is_empty());
    }
}
