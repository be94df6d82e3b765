//! The CRM side: leads, their notes, and the pipelines their stages belong to.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_store::StoreError;
use switchboard_store::models::{Lead, Note, Pipeline, Stage};
use switchboard_store::repo::leads::{self, LEAD_STATUSES, LeadChanges, LeadFilter};
use switchboard_store::repo::{notes, pipelines};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::page::{PageQuery, Paged};
use crate::{Api, utc};

/// Longest note accepted.
const MAX_NOTE_CHARS: usize = 10_000;
const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadView {
    pub id: String,
    pub name: String,
    pub phone: Option<String>,
    /// ACTIVE, WON, LOST or ARCHIVED
    pub status: String,
    /// Where the lead came from, e.g. whatsapp.
    pub source: String,
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub assigned_to_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Lead> for LeadView {
    fn from(l: Lead) -> Self {
        LeadView {
            id: l.id,
            name: l.name,
            phone: l.phone,
            status: l.status,
            source: l.source,
            pipeline_id: l.pipeline_id,
            stage_id: l.stage_id,
            assigned_to_id: l.assigned_to_id,
            created_at: utc(l.created_at),
            updated_at: utc(l.updated_at),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct LeadQuery {
    /// Part of the name or the phone number.
    pub search: Option<String>,
    pub stage_id: Option<String>,
}

/// The organization's leads, newest first.
#[utoipa::path(get, path = "/api/leads", tag = "leads", operation_id = "listLeads", params(LeadQuery, PageQuery),
    responses((status = 200, body = Paged<LeadView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<LeadQuery>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let query = query.into_inner();
    let filter = LeadFilter {
        search: query.search,
        stage_id: query.stage_id,
    };
    let org = caller.organization_id;
    let (rows, total) = api
        .db
        .run(move |c| leads::list_lead_page(c, &org, &filter, request.store()))
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, LeadView::from)))
}

#[utoipa::path(get, path = "/api/leads/{id}", tag = "leads", operation_id = "getLead",
    params(("id" = String, Path, description = "Lead id")),
    responses((status = 200, body = LeadView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let id = id.into_inner();
    let lead = api
        .db
        .run(move |c| leads::find_lead(c, &org, &id)?.ok_or(StoreError::NotFound("lead")))
        .await?;
    Ok(HttpResponse::Ok().json(LeadView::from(lead)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateLead {
    pub name: Option<String>,
    /// A stage of one of the organization's pipelines (the lead moves to that pipeline).
    pub stage_id: Option<String>,
    /// ACTIVE, WON, LOST or ARCHIVED
    #[schema(pattern = "^(ACTIVE|WON|LOST|ARCHIVED)$")]
    pub status: Option<String>,
    /// A user of the organization; null unassigns.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub assigned_to_id: Option<Option<String>>,
}

/// Tells `"assignedToId": null` (unassign) apart from a body without the field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Renames a lead, moves it to a stage, sets its status or assignee.
#[utoipa::path(patch, path = "/api/leads/{id}", tag = "leads", operation_id = "updateLead",
    params(("id" = String, Path, description = "Lead id")),
    request_body = UpdateLead,
    responses((status = 200, body = LeadView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<UpdateLead>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let changes = checked_changes(body)?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let lead = api
        .db
        .run(move |c| leads::update_lead(c, &org, &id, &changes))
        .await?;
    Ok(HttpResponse::Ok().json(LeadView::from(lead)))
}

fn checked_changes(body: UpdateLead) -> Result<LeadChanges, ApiError> {
    if let Some(name) = &body.name
        && (name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS)
    {
        return Err(ApiError::Validation(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let status = match body.status {
        Some(s) => {
            let upper = s.trim().to_uppercase();
            if !LEAD_STATUSES.contains(&upper.as_str()) {
                return Err(ApiError::Validation(format!(
                    "status '{s}' must be one of {}",
                    LEAD_STATUSES.join(", ")
                )));
            }
            Some(upper)
        }
        None => None,
    };
    let changes = LeadChanges {
        name: body.name,
        stage_id: body.stage_id,
        status,
        assigned_to_id: body.assigned_to_id,
    };
    if changes.name.is_none()
        && changes.stage_id.is_none()
        && changes.status.is_none()
        && changes.assigned_to_id.is_none()
    {
        return Err(ApiError::Validation(
            "nothing to change: give name, stageId, status or assignedToId".into(),
        ));
    }
    Ok(changes)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteView {
    pub id: String,
    pub lead_id: String,
    pub content: String,
    pub is_private: bool,
    /// whatsapp (written from a message) or api (written by a person).
    pub source: String,
    pub author_user_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        NoteView {
            id: n.id,
            lead_id: n.lead_id,
            content: n.content,
            is_private: n.is_private,
            source: n.source,
            author_user_id: n.author_user_id,
            created_at: utc(n.created_at),
        }
    }
}

/// A lead's notes, newest first.
#[utoipa::path(get, path = "/api/leads/{id}/notes", tag = "leads", operation_id = "listNotes",
    params(("id" = String, Path, description = "Lead id"), PageQuery),
    responses((status = 200, body = Paged<NoteView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_notes(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    paging: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = paging.checked()?;
    let org = caller.organization_id;
    let id = id.into_inner();
    let (rows, total) = api
        .db
        .run(move |c| {
            leads::find_lead(c, &org, &id)?.ok_or(StoreError::NotFound("lead"))?;
            notes::list_note_page(c, &org, &id, request.store())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Paged::new(rows, total, request, NoteView::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNote {
    #[schema(min_length = 1, max_length = 10000)]
    pub content: String,
    #[serde(default)]
    pub is_private: bool,
}

/// Adds a note to a lead, written by the token's user.
#[utoipa::path(post, path = "/api/leads/{id}/notes", tag = "leads", operation_id = "createNote",
    params(("id" = String, Path, description = "Lead id")),
    request_body = CreateNote,
    responses((status = 201, body = NoteView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_note(
    api: web::Data<Api>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<CreateNote>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let content = body.content.trim().to_string();
    if content.is_empty() || content.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::Validation(format!(
            "content must be 1 to {MAX_NOTE_CHARS} characters"
        )));
    }
    let (org, user) = (caller.organization_id, caller.user_id);
    let id = id.into_inner();
    let note = api
        .db
        .run(move |c| notes::insert_note(c, &org, &id, &user, &content, body.is_private))
        .await?;
    Ok(HttpResponse::Created().json(NoteView::from(note)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageView {
    pub id: String,
    pub name: String,
    pub position: i32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PipelineView {
    pub id: String,
    pub name: String,
    pub is_default: bool,
    pub stages: Vec<StageView>,
}

fn pipeline_view((pipeline, stages): (Pipeline, Vec<Stage>)) -> PipelineView {
    PipelineView {
        id: pipeline.id,
        name: pipeline.name,
        is_default: pipeline.is_default,
        stages: stages
            .into_iter()
            .map(|s| StageView {
                id: s.id,
                name: s.name,
                position: s.position,
            })
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineList {
    pub data: Vec<PipelineView>,
    pub total: usize,
}

/// The organization's pipelines (the default first) with their stages in order.
#[utoipa::path(get, path = "/api/pipelines", tag = "leads", operation_id = "listPipelines",
    responses((status = 200, body = PipelineList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_pipelines(api: web::Data<Api>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| pipelines::list_pipelines(c, &org))
        .await?;
    let data: Vec<PipelineView> = found.into_iter().map(pipeline_view).collect();
    Ok(HttpResponse::Ok().json(PipelineList {
        total: data.len(),
        data,
    }))
}
