//! A contact's marketing consent: where it stands, every change with its source, and changes
//! made by people (`PUT`, source API). Keywords, Meta's `user_preferences` webhook and error
//! 131050 record the other changes; marketing templates to an opted-out phone answer 422
//! OPTED_OUT.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{Role, phone};
use switchboard_store::models::{OptOutEvent, new_id, now};
use switchboard_store::repo::channels;
use switchboard_store::repo::opt_outs::{self, NewOptOut};
use switchboard_store::{AnyConnection, StoreError};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

const EDITORS: [Role; 3] = [Role::Owner, Role::Admin, Role::Manager];
const MAX_DETAIL_CHARS: usize = 500;

/// One change of a contact's consent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptOutChange {
    pub opted_out: bool,
    /// KEYWORD (the customer wrote STOP/START…), WEBHOOK (Meta's user_preferences), API or
    /// META_ERROR (a send refused with 131050)
    pub source: String,
    pub detail: Option<String>,
    /// When it happened (the customer's message, Meta's report, the API call).
    pub occurred_at: DateTime<Utc>,
    /// When Switchboard recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl From<OptOutEvent> for OptOutChange {
    fn from(e: OptOutEvent) -> Self {
        OptOutChange {
            opted_out: e.opted_out,
            source: e.source,
            detail: e.detail,
            occurred_at: utc(e.occurred_at),
            recorded_at: utc(e.created_at),
        }
    }
}

/// Where a contact's marketing consent stands, and how it got there.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OptOutView {
    /// E.164 digits without `+`.
    #[schema(example = "5511999990000")]
    pub phone: String,
    /// True when marketing templates to this phone are refused.
    pub opted_out: bool,
    /// When the current state began (None: it never changed, so not opted out).
    pub since: Option<DateTime<Utc>>,
    /// The source of the current state.
    pub source: Option<String>,
    /// Every change, newest first.
    pub history: Vec<OptOutChange>,
}

impl OptOutView {
    fn of(phone: String, history: Vec<OptOutEvent>) -> Self {
        let current = history.first();
        OptOutView {
            opted_out: current.is_some_and(|e| e.opted_out),
            since: current.map(|e| utc(e.occurred_at)),
            source: current.map(|e| e.source.clone()),
            phone,
            history: history.into_iter().map(OptOutChange::from).collect(),
        }
    }
}

/// The phone of the path as E.164 digits, read as sends read it (the channel's default country
/// code, else the server's). The outer error is the database's, the inner the caller's.
fn phone_of(
    c: &mut AnyConnection,
    org: &str,
    raw: &str,
    server_default: Option<&str>,
) -> Result<Result<String, ApiError>, StoreError> {
    let all = channels::list_channels(c, org)?;
    let channel = all
        .iter()
        .find(|ch| ch.status == channels::ACTIVE)
        .or(all.first());
    let country = channel
        .and_then(|ch| ch.default_country_code.as_deref())
        .or(server_default);
    Ok(phone::normalize(raw, country).map_err(|e| ApiError::InvalidPhone(format!("phone: {e}"))))
}

/// A contact's marketing consent: opted out or not, since when, why, and every change.
#[utoipa::path(get, path = "/api/contacts/{phone}/opt-outs", tag = "opt-outs",
    params(("phone" = String, Path, description = "The contact's number with country code (digits, `+`, spaces and dashes are fine)")),
    responses((status = 200, body = OptOutView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_opt_outs(
    api: web::Data<Api>,
    caller: Caller,
    phone: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let raw = phone.into_inner();
    let server_default = api.settings.default_country_code.clone();
    let view = api
        .db
        .run(move |c| {
            let phone = match phone_of(c, &org, &raw, server_default.as_deref())? {
                Ok(phone) => phone,
                Err(e) => return Ok(Err(e)),
            };
            let history = opt_outs::history(c, &org, &phone)?;
            Ok::<_, StoreError>(Ok(OptOutView::of(phone, history)))
        })
        .await??;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetOptOut {
    /// true: stop marketing templates to this contact; false: allow them again.
    pub opted_out: bool,
    /// Why (e.g. "asked by phone"), kept with the change.
    #[schema(max_length = 500)]
    pub detail: Option<String>,
}

/// Records a change of a contact's marketing consent made by a person (OWNER, ADMIN or
/// MANAGER; source API), and answers the consent as it now stands.
#[utoipa::path(put, path = "/api/contacts/{phone}/opt-out", tag = "opt-outs",
    params(("phone" = String, Path, description = "The contact's number with country code")),
    request_body = SetOptOut,
    responses((status = 200, body = OptOutView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_opt_out(
    api: web::Data<Api>,
    caller: Caller,
    phone: web::Path<String>,
    body: web::Json<SetOptOut>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&EDITORS)?;
    let body = body.into_inner();
    let detail = body
        .detail
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if detail
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DETAIL_CHARS)
    {
        return Err(ApiError::Validation(format!(
            "detail must be at most {MAX_DETAIL_CHARS} characters"
        )));
    }
    let detail = Some(match detail {
        Some(d) => format!("{d} (by user {})", caller.user_id),
        None => format!("by user {}", caller.user_id),
    });
    let org = caller.organization_id;
    let raw = phone.into_inner();
    let server_default = api.settings.default_country_code.clone();
    let view = api
        .db
        .run_write(move |c| {
            let phone = match phone_of(c, &org, &raw, server_default.as_deref())? {
                Ok(phone) => phone,
                Err(e) => return Ok(Err(e)),
            };
            opt_outs::record_in(
                c,
                &NewOptOut {
                    organization_id: &org,
                    phone: &phone,
                    opted_out: body.opted_out,
                    source: opt_outs::API,
                    detail: detail.as_deref(),
                    external_ref: &format!("api:{}", new_id()),
                    occurred_at: now(),
                },
            )?;
            let history = opt_outs::history(c, &org, &phone)?;
            Ok::<_, StoreError>(Ok(OptOutView::of(phone, history)))
        })
        .await??;
    Ok(HttpResponse::Ok().json(view))
}
