//! `GET /api/integrations/whatsapp/stats`: the organization's messaging numbers over the last
//! `days` days (see [`switchboard_store::repo::stats`] for what counts).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::MessageStatus;
use switchboard_store::models::now;
use switchboard_store::repo::stats::{self, OrganizationStats, Period};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::{Api, utc};

pub const DEFAULT_DAYS: i64 = 30;
pub const MAX_DAYS: i64 = 365;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The period: the last 1 to 365 days (default 30).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 365)]
    pub days: Option<String>,
}

impl StatsQuery {
    fn days(&self) -> Result<i64, ApiError> {
        let Some(raw) = self.days.as_deref() else {
            return Ok(DEFAULT_DAYS);
        };
        raw.trim()
            .parse::<i64>()
            .ok()
            .filter(|d| (1..=MAX_DAYS).contains(d))
            .ok_or_else(|| {
                ApiError::Validation(format!(
                    "days must be a whole number of days from 1 to {MAX_DAYS}, got '{raw}'"
                ))
            })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    pub days: i64,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Messages in and out, history-sync imports left out.
    pub total_messages: i64,
    pub inbound_messages: i64,
    /// Messages sent through Switchboard, and those typed in the WhatsApp Business app.
    pub outbound_messages: i64,
    /// Customers messages were exchanged with, by phone number.
    pub unique_contacts: i64,
    pub tickets_created: i64,
    pub leads_created: i64,
    /// Average seconds from a waiting customer's message to the first agent answer (the
    /// assistant's automatic replies and ticket status notices are not answers); null when
    /// no wait was answered in the period.
    pub avg_response_time: Option<f64>,
    /// How many answered waits `avgResponseTime` averages.
    pub responses_measured: usize,
    /// Outbound messages delivered (or read, or played) / those that reached Meta (SENT,
    /// DELIVERED, READ, PLAYED or FAILED); 0 to 1, null when none reached Meta.
    pub delivery_rate: Option<f64>,
    /// Outbound messages read (or played) / the same denominator.
    pub read_rate: Option<f64>,
    /// Failed outbound messages by Meta's error code ("unknown" when none was given).
    #[schema(example = json!({"131047": 3}))]
    pub failed_by_code: BTreeMap<String, i64>,
}

/// The organization's messaging numbers over the last `days` days (any role).
#[utoipa::path(get, path = "/api/integrations/whatsapp/stats", tag = "checks",
    operation_id = "whatsappStats",
    params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn stats(
    api: web::Data<Api>,
    caller: Caller,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let days = query.days()?;
    let to = now();
    let period = Period {
        from: to - chrono::TimeDelta::days(days),
        to,
    };
    let org = caller.organization_id;
    let found = api
        .db
        .run(move |c| stats::organization_stats(c, &org, period))
        .await?;
    Ok(HttpResponse::Ok().json(view(days, period, found)))
}

fn view(days: i64, period: Period, s: OrganizationStats) -> StatsView {
    let count = |statuses: &[MessageStatus]| -> i64 {
        statuses
            .iter()
            .map(|st| s.outbound_by_status.get(st.as_str()).copied().unwrap_or(0))
            .sum()
    };
    use MessageStatus::{Delivered, Failed, Played, Read, Sent};
    let reached_meta = count(&[Sent, Delivered, Read, Played, Failed]);
    let delivered = count(&[Delivered, Read, Played]);
    let read = count(&[Read, Played]);
    StatsView {
        days,
        from: utc(period.from),
        to: utc(period.to),
        total_messages: s.inbound_messages + s.outbound_messages,
        inbound_messages: s.inbound_messages,
        outbound_messages: s.outbound_messages,
        unique_contacts: s.unique_contacts,
        tickets_created: s.tickets_created,
        leads_created: s.leads_created,
        avg_response_time: average(&s.response_seconds).map(|a| round(a, 1)),
        responses_measured: s.response_seconds.len(),
        delivery_rate: ratio(delivered, reached_meta),
        read_rate: ratio(read, reached_meta),
        failed_by_code: s.failed_by_code,
    }
}

fn average(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// `part / whole` to 4 decimals; None when `whole` is 0.
fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 / whole as f64, 4))
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_round_to_four_decimals_and_need_a_denominator() {
        assert_eq!(ratio(2, 3), Some(0.6667));
        assert_eq!(ratio(0, 5), Some(0.0));
        assert_eq!(ratio(0, 0), None);
    }

    #[test]
    fn days_default_to_thirty_and_must_be_in_range() {
        let q = |d: Option<&str>| StatsQuery {
            days: d.map(str::to_string),
        };
        assert_eq!(q(None).days().unwrap(), 30);
        assert_eq!(q(Some("365")).days().unwrap(), 365);
        assert_eq!(q(Some(" 7 ")).days().unwrap(), 7);
        for bad in ["0", "366", "-1", "abc", "1.5", ""] {
            let error = q(Some(bad)).days().unwrap_err();
            assert!(error.to_string().contains("days"), "{bad}: {error}");
        }
    }
}
