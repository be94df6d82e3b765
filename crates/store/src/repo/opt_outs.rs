//! Marketing consent: every change of a contact's opt-out, with its source and time. The
//! current state of a phone is its latest change by `occurred_at`, so changes recorded in any
//! order end in the same state; `external_ref` (a wamid, a webhook item) makes recording the
//! same change again add nothing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use switchboard_domain::outbound::OutboundContent;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::models::{OptOutEvent, new_id, now};
use crate::schema::{opt_out_events, templates};

/// Where a change came from.
pub const KEYWORD: &str = "KEYWORD";
pub const WEBHOOK: &str = "WEBHOOK";
pub const API: &str = "API";
pub const META_ERROR: &str = "META_ERROR";

/// Meta's send error for "this recipient has stopped marketing messages".
pub const META_STOPPED_MARKETING: &str = "131050";

/// A change of consent to record.
#[derive(Debug, Clone)]
pub struct NewOptOut<'a> {
    pub organization_id: &'a str,
    /// E.164 digits.
    pub phone: &'a str,
    pub opted_out: bool,
    pub source: &'a str,
    pub detail: Option<&'a str>,
    /// What makes this change unique in the organization (a wamid, `up:<wa_id>:<ts>:<value>`).
    pub external_ref: &'a str,
    pub occurred_at: NaiveDateTime,
}

/// Records a change once per `external_ref`; true when it was new.
pub fn record_in(conn: &mut AnyConnection, new: &NewOptOut<'_>) -> Result<bool, StoreError> {
    let event = OptOutEvent {
        id: new_id(),
        organization_id: new.organization_id.to_string(),
        phone: new.phone.to_string(),
        opted_out: new.opted_out,
        source: new.source.to_string(),
        detail: new.detail.map(str::to_string),
        external_ref: new.external_ref.to_string(),
        occurred_at: new.occurred_at,
        created_at: now(),
    };
    Ok(insert_ignoring_conflicts!(conn, opt_out_events::table, &event) == 1)
}

/// Meta refused a message to `phone` with 131050 (the recipient stopped marketing messages in
/// WhatsApp): recorded as an opt-out, once per refused message (`reference`: its wamid or, for
/// a send refused outright, our message id). Other codes, and recipients that are not phone
/// numbers, record nothing.
pub fn record_meta_refusal_in(
    conn: &mut AnyConnection,
    org: &str,
    code: Option<&str>,
    phone: &str,
    reference: &str,
    detail: Option<&str>,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    if code != Some(META_STOPPED_MARKETING) || phone.is_empty() {
        return Ok(false);
    }
    if !phone.chars().all(|c| c.is_ascii_digit()) {
        return Ok(false);
    }
    record_in(
        conn,
        &NewOptOut {
            organization_id: org,
            phone,
            opted_out: true,
            source: META_ERROR,
            detail,
            external_ref: &format!("{META_STOPPED_MARKETING}:{reference}"),
            occurred_at: at,
        },
    )
}

/// The phone's latest change: newest `occurred_at`; within the same instant an opt-out wins
/// (the safe side), then the later recorded. `None` when it never changed (not opted out).
pub fn current_state(
    conn: &mut AnyConnection,
    org: &str,
    phone: &str,
) -> Result<Option<OptOutEvent>, StoreError> {
    Ok(opt_out_events::table
        .filter(opt_out_events::organization_id.eq(org))
        .filter(opt_out_events::phone.eq(phone))
        .order((
            opt_out_events::occurred_at.desc(),
            opt_out_events::opted_out.desc(),
            opt_out_events::created_at.desc(),
        ))
        .limit(1)
        .load(conn)?
        .into_iter()
        .next())
}

/// The change that keeps the phone opted out, if it is opted out now.
pub fn opted_out_since(
    conn: &mut AnyConnection,
    org: &str,
    phone: &str,
) -> Result<Option<OptOutEvent>, StoreError> {
    Ok(current_state(conn, org, phone)?.filter(|e| e.opted_out))
}

/// Every change of the phone, newest first (in the order [`current_state`] decides by).
pub fn history(
    conn: &mut AnyConnection,
    org: &str,
    phone: &str,
) -> Result<Vec<OptOutEvent>, StoreError> {
    Ok(opt_out_events::table
        .filter(opt_out_events::organization_id.eq(org))
        .filter(opt_out_events::phone.eq(phone))
        .order((
            opt_out_events::occurred_at.desc(),
            opt_out_events::opted_out.desc(),
            opt_out_events::created_at.desc(),
        ))
        .load(conn)?)
}

/// Why a message may not go to `to`: a MARKETING template (as the organization's templates
/// say) to a phone that opted out. Utility and authentication templates, free-form messages
/// and templates we do not know are let through (Meta answers 131050 for the last, which is
/// then recorded).
pub fn marketing_refusal(
    conn: &mut AnyConnection,
    org: &str,
    to: &str,
    content: &OutboundContent,
) -> Result<Option<String>, StoreError> {
    let OutboundContent::Template(template) = content else {
        return Ok(None);
    };
    let category: Option<String> = templates::table
        .filter(templates::organization_id.eq(org))
        .filter(templates::name.eq(&template.name))
        .filter(templates::language.eq(&template.language.code))
        .filter(templates::deleted_at.is_null())
        .select(templates::category)
        .load::<String>(conn)?
        .into_iter()
        .next();
    if !category.is_some_and(|c| c.eq_ignore_ascii_case("MARKETING")) {
        return Ok(None);
    }
    let Some(since) = opted_out_since(conn, org, to)? else {
        return Ok(None);
    };
    Ok(Some(format!(
        "+{to} opted out of marketing messages on {} ({}); '{}' is a MARKETING template, so it was not sent. They can opt back in by writing START",
        since.occurred_at.format("%Y-%m-%d %H:%M UTC"),
        describe_source(&since.source),
        template.name
    )))
}

fn describe_source(source: &str) -> &str {
    match source {
        KEYWORD => "by writing a stop keyword",
        WEBHOOK => "in WhatsApp's own settings",
        API => "recorded through the API",
        META_ERROR => "Meta refused a marketing message with error 131050",
        other => other,
    }
}
