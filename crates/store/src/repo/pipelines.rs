use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Pipeline, Stage, new_id, now};
use crate::schema::{pipelines, stages};

/// The stages every new organization's default pipeline starts with; leads from
/// WhatsApp enter at the first one.
pub const DEFAULT_STAGES: [&str; 5] = ["New", "Contacted", "Qualified", "Won", "Lost"];

pub fn insert_default_pipeline(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Pipeline, StoreError> {
    let at = now();
    let pipeline = Pipeline {
        id: new_id(),
        organization_id: organization_id.to_string(),
        name: "Sales".into(),
        is_default: true,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(pipelines::table)
        .values(&pipeline)
        .execute(conn)?;
    for (position, name) in (0..).zip(DEFAULT_STAGES) {
        let stage = Stage {
            id: new_id(),
            organization_id: organization_id.to_string(),
            pipeline_id: pipeline.id.clone(),
            name: name.into(),
            position,
            created_at: at,
            updated_at: at,
        };
        diesel::insert_into(stages::table)
            .values(&stage)
            .execute(conn)?;
    }
    Ok(pipeline)
}

pub fn find_default_pipeline(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Option<Pipeline>, StoreError> {
    Ok(pipelines::table
        .filter(pipelines::organization_id.eq(organization_id))
        .filter(pipelines::is_default.eq(true))
        .load(conn)?
        .into_iter()
        .next())
}

pub fn list_stages(
    conn: &mut AnyConnection,
    organization_id: &str,
    pipeline_id: &str,
) -> Result<Vec<Stage>, StoreError> {
    Ok(stages::table
        .filter(stages::organization_id.eq(organization_id))
        .filter(stages::pipeline_id.eq(pipeline_id))
        .order(stages::position.asc())
        .load(conn)?)
}

/// The organization's pipelines (the default first), each with its stages in order.
pub fn list_pipelines(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Vec<(Pipeline, Vec<Stage>)>, StoreError> {
    let found: Vec<Pipeline> = pipelines::table
        .filter(pipelines::organization_id.eq(organization_id))
        .order((pipelines::is_default.desc(), pipelines::created_at.asc()))
        .load(conn)?;
    let mut all_stages: Vec<Stage> = stages::table
        .filter(stages::organization_id.eq(organization_id))
        .order((stages::pipeline_id.asc(), stages::position.asc()))
        .load(conn)?;
    Ok(found
        .into_iter()
        .map(|pipeline| {
            let (mine, rest) = all_stages
                .drain(..)
                .partition(|s| s.pipeline_id == pipeline.id);
            all_stages = rest;
            (pipeline, mine)
        })
        .collect())
}
