//! CRM leads: one per organization and normalized phone (or BSUID for username-only users).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{Lead, new_id, now};
use crate::repo::pipelines;
use crate::schema::leads::dsl;

/// The name a lead gets before anyone knows better: "WhatsApp <phone>".
pub fn default_lead_name(phone_or_user: &str) -> String {
    format!("WhatsApp {phone_or_user}")
}

pub fn find_lead_by_contact(
    conn: &mut AnyConnection,
    org: &str,
    phone: Option<&str>,
    wa_user_id: Option<&str>,
) -> Result<Option<Lead>, StoreError> {
    if let Some(phone) = phone {
        let found = dsl::leads
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::phone.eq(phone))
            .load(conn)?
            .into_iter()
            .next();
        if found.is_some() {
            return Ok(found);
        }
    }
    match wa_user_id {
        Some(user) => Ok(dsl::leads
            .filter(dsl::organization_id.eq(org))
            .filter(dsl::wa_user_id.eq(user))
            .load(conn)?
            .into_iter()
            .next()),
        None => Ok(None),
    }
}

/// What a WhatsApp message tells about its sender's lead.
pub struct LeadFromWhatsApp<'a> {
    pub phone: Option<&'a str>,
    pub wa_user_id: Option<&'a str>,
    pub profile_name: Option<&'a str>,
    /// Click-to-WhatsApp ad data (JSON), kept the first time it is seen.
    pub referral: Option<&'a str>,
}

/// Finds the lead or creates it as the seed systems did: status ACTIVE, source whatsapp, at the
/// first stage of the default pipeline, named after the profile (or "WhatsApp <phone>").
pub fn find_or_create_lead(
    conn: &mut AnyConnection,
    org: &str,
    from: &LeadFromWhatsApp<'_>,
) -> Result<Lead, StoreError> {
    let key = from
        .phone
        .or(from.wa_user_id)
        .ok_or_else(|| StoreError::Invalid("a lead needs a phone or a user id".into()))?;
    let at = now();
    if let Some(mut lead) = find_lead_by_contact(conn, org, from.phone, from.wa_user_id)? {
        // Fill in what this message knows and the lead does not, so the result never depends
        // on which message came first.
        let better_name = from
            .profile_name
            .filter(|_| lead.name == default_lead_name(key));
        let new_referral = from.referral.filter(|_| lead.referral.is_none());
        // Link the other identity only when no other lead already holds it.
        let new_phone = match from.phone.filter(|_| lead.phone.is_none()) {
            Some(p) if find_lead_by_contact(conn, org, Some(p), None)?.is_none() => Some(p),
            _ => None,
        };
        let new_user = match from.wa_user_id.filter(|_| lead.wa_user_id.is_none()) {
            Some(u) if find_lead_by_contact(conn, org, None, Some(u))?.is_none() => Some(u),
            _ => None,
        };
        if better_name.is_some()
            || new_referral.is_some()
            || new_phone.is_some()
            || new_user.is_some()
        {
            lead.name = better_name.map_or(lead.name, str::to_string);
            lead.referral = new_referral.map(str::to_string).or(lead.referral);
            lead.phone = new_phone.map(str::to_string).or(lead.phone);
            lead.wa_user_id = new_user.map(str::to_string).or(lead.wa_user_id);
            lead.updated_at = at;
            diesel::update(dsl::leads.find(&lead.id))
                .set((
                    dsl::name.eq(&lead.name),
                    dsl::referral.eq(&lead.referral),
                    dsl::phone.eq(&lead.phone),
                    dsl::wa_user_id.eq(&lead.wa_user_id),
                    dsl::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        return Ok(lead);
    }
    let pipeline = pipelines::find_default_pipeline(conn, org)?;
    let stage = match &pipeline {
        Some(p) => pipelines::list_stages(conn, org, &p.id)?.into_iter().next(),
        None => None,
    };
    let lead = Lead {
        id: new_id(),
        organization_id: org.to_string(),
        pipeline_id: pipeline.map(|p| p.id),
        stage_id: stage.map(|s| s.id),
        name: from
            .profile_name
            .map_or_else(|| default_lead_name(key), str::to_string),
        phone: from.phone.map(str::to_string),
        wa_user_id: from.wa_user_id.map(str::to_string),
        status: "ACTIVE".into(),
        source: "whatsapp".into(),
        assigned_to_id: None,
        referral: from.referral.map(str::to_string),
        created_at: at,
        updated_at: at,
    };
    // A concurrent projection may create the same lead: keep whichever row won.
    if insert_ignoring_conflicts!(conn, dsl::leads, &lead) == 1 {
        crate::repo::subscriptions::emit_lead_created(conn, &lead)?;
    }
    find_lead_by_contact(conn, org, from.phone, from.wa_user_id)?
        .ok_or(StoreError::NotFound("lead"))
}

pub fn list_leads(conn: &mut AnyConnection, org: &str) -> Result<Vec<Lead>, StoreError> {
    Ok(dsl::leads
        .filter(dsl::organization_id.eq(org))
        .order(dsl::created_at.asc())
        .load(conn)?)
}

pub fn find_lead(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
) -> Result<Option<Lead>, StoreError> {
    Ok(dsl::leads
        .filter(dsl::organization_id.eq(org))
        .filter(dsl::id.eq(id))
        .load(conn)?
        .into_iter()
        .next())
}

/// What a lead may be set to besides its stage (the seed's statuses).
pub const LEAD_STATUSES: [&str; 4] = ["ACTIVE", "WON", "LOST", "ARCHIVED"];

/// Filters of the lead list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    /// Part of the name or the phone.
    pub search: Option<String>,
    pub stage_id: Option<String>,
}

fn filtered<'a>(
    org: &'a str,
    filter: &'a LeadFilter,
) -> crate::schema::leads::BoxedQuery<'a, super::Backend> {
    let mut query = dsl::leads.filter(dsl::organization_id.eq(org)).into_boxed();
    if let Some(stage) = &filter.stage_id {
        query = query.filter(dsl::stage_id.eq(stage));
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
        let pattern = super::contains_pattern(search);
        let digits: String = search.chars().filter(char::is_ascii_digit).collect();
        let by_name = super::lower(dsl::name).like(pattern).escape('\\');
        query = if digits.is_empty() {
            query.filter(by_name)
        } else {
            query.filter(by_name.or(dsl::phone.like(format!("%{digits}%"))))
        };
    }
    query
}

/// One page of the organization's leads, newest first, and how many match.
pub fn list_lead_page(
    conn: &mut AnyConnection,
    org: &str,
    filter: &LeadFilter,
    page: super::Page,
) -> Result<(Vec<Lead>, i64), StoreError> {
    let total: i64 = filtered(org, filter).count().get_result(conn)?;
    let found = filtered(org, filter)
        .order((dsl::created_at.desc(), dsl::id.desc()))
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)?;
    Ok((found, total))
}

/// Changes to a lead; `None` leaves a field as it is (`Some(None)` clears the assignee).
#[derive(Debug, Clone, Default)]
pub struct LeadChanges {
    pub name: Option<String>,
    pub stage_id: Option<String>,
    pub status: Option<String>,
    pub assigned_to_id: Option<Option<String>>,
}

/// Applies `changes` after checking that the stage and the assignee belong to the organization
/// (a stage also moves the lead to that stage's pipeline).
pub fn update_lead(
    conn: &mut AnyConnection,
    org: &str,
    id: &str,
    changes: &LeadChanges,
) -> Result<Lead, StoreError> {
    use crate::schema::stages;
    crate::db::write_transaction(conn, |conn| {
        let mut lead = find_lead(conn, org, id)?.ok_or(StoreError::NotFound("lead"))?;
        if let Some(stage_id) = &changes.stage_id {
            let pipeline: String = stages::table
                .filter(stages::organization_id.eq(org))
                .filter(stages::id.eq(stage_id))
                .select(stages::pipeline_id)
                .load(conn)?
                .into_iter()
                .next()
                .ok_or(StoreError::NotFound("stage"))?;
            lead.stage_id = Some(stage_id.clone());
            lead.pipeline_id = Some(pipeline);
        }
        if let Some(Some(user)) = &changes.assigned_to_id
            && super::users::find_user(conn, org, user)?.is_none()
        {
            return Err(StoreError::NotFound("user"));
        }
        if let Some(assignee) = &changes.assigned_to_id {
            lead.assigned_to_id = assignee.clone();
        }
        if let Some(name) = &changes.name {
            lead.name = name.trim().to_string();
        }
        if let Some(status) = &changes.status {
            lead.status = status.clone();
        }
        lead.updated_at = now();
        diesel::update(dsl::leads.find(id))
            .set((
                dsl::name.eq(&lead.name),
                dsl::stage_id.eq(&lead.stage_id),
                dsl::pipeline_id.eq(&lead.pipeline_id),
                dsl::status.eq(&lead.status),
                dsl::assigned_to_id.eq(&lead.assigned_to_id),
                dsl::updated_at.eq(lead.updated_at),
            ))
            .execute(conn)?;
        Ok(lead)
    })
}
