//! Operating the queue and the event log: `jobs …` and `replay`.

use anyhow::{Result, anyhow};
use chrono::NaiveDateTime;
use clap::Subcommand;
use switchboard_store::StoreError;
use switchboard_store::repo::jobs::{self, JobFilter};

use crate::admin::{find_org, open_db, time};
use crate::config::Config;
use crate::table::Table;

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// PENDING, RUNNING, DONE, FAILED or DEAD.
        #[arg(long)]
        status: Option<String>,
        /// A job kind, e.g. PROCESS_WEBHOOK.
        #[arg(long)]
        kind: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show one job, with its payload and last error.
    Show {
        /// The job's id.
        id: String,
    },
    /// Put a DEAD (dead-lettered) job back in the queue with fresh attempts.
    Retry {
        /// The job's id.
        id: String,
    },
}

const STATUSES: [&str; 5] = ["PENDING", "RUNNING", "DONE", "FAILED", "DEAD"];

pub fn jobs_command(config: &Config, cmd: JobsCommand) -> Result<()> {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    match cmd {
        JobsCommand::List {
            status,
            kind,
            limit,
        } => {
            if let Some(s) = &status
                && !STATUSES.contains(&s.to_uppercase().as_str())
            {
                return Err(anyhow!(
                    "unknown status '{s}': expected one of {}",
                    STATUSES.join(", ")
                ));
            }
            let filter = JobFilter {
                status,
                kind,
                limit: limit.clamp(1, 10_000),
                ..JobFilter::default()
            };
            let mut table =
                Table::new(&["ID", "KIND", "STATUS", "ATTEMPTS", "RUN AT", "LAST ERROR"]);
            for job in jobs::list_jobs(&mut conn, &filter)? {
                table.row(vec![
                    job.id,
                    job.kind,
                    job.status,
                    format!("{}/{}", job.attempts, job.max_attempts),
                    time(job.run_at),
                    job.last_error
                        .map(|e| e.chars().take(80).collect())
                        .unwrap_or_else(|| "-".into()),
                ]);
            }
            print!("{}", table.render());
            let counts = jobs::count_jobs_by_status(&mut conn)?;
            let summary: Vec<String> = counts.iter().map(|(s, n)| format!("{s} {n}")).collect();
            eprintln!(
                "queue: {}",
                if summary.is_empty() {
                    "empty".into()
                } else {
                    summary.join(", ")
                }
            );
            Ok(())
        }
        JobsCommand::Show { id } => {
            let job = jobs::find_job(&mut conn, &id)?
                .ok_or_else(|| anyhow!("no job with id '{id}': see `switchboard jobs list`"))?;
            let optional = |t: Option<NaiveDateTime>| t.map(time).unwrap_or_else(|| "-".into());
            println!("id:           {}", job.id);
            println!("kind:         {}", job.kind);
            println!("status:       {}", job.status);
            println!(
                "organization: {}",
                job.organization_id.as_deref().unwrap_or("-")
            );
            println!("attempts:     {}/{}", job.attempts, job.max_attempts);
            println!("run at:       {}", time(job.run_at));
            println!(
                "lease:        {} until {}",
                job.lease_owner.as_deref().unwrap_or("-"),
                optional(job.lease_expires_at)
            );
            println!("created:      {}", time(job.created_at));
            println!("finished:     {}", optional(job.finished_at));
            println!(
                "event:        {}",
                job.webhook_event_id.as_deref().unwrap_or("-")
            );
            println!("payload:      {}", job.payload);
            println!("last error:   {}", job.last_error.as_deref().unwrap_or("-"));
            Ok(())
        }
        JobsCommand::Retry { id } => {
            let job = jobs::retry_dead_job(&mut conn, &id, switchboard_store::models::now())
                .map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        anyhow!("no job with id '{id}': see `switchboard jobs list --status DEAD`")
                    }
                    other => other.into(),
                })?;
            tracing::info!(job = %job.id, kind = %job.kind, "job queued again");
            Ok(())
        }
    }
}

/// `replay --org … [--since …]`.
pub fn replay_command(config: &Config, org: &str, since: Option<&str>) -> Result<()> {
    let since = since.map(parse_since).transpose()?;
    let db = open_db(config)?;
    let org = find_org(&mut *db.conn()?, org)?;
    tracing::info!(org = %org.slug, since = ?since, "replaying stored webhook events");
    let report = switchboard_runner::replay::replay(&db, &org.id, since)?;
    tracing::info!(
        events = report.events,
        failed = report.failed,
        "replay finished"
    );
    if report.failed > 0 {
        return Err(anyhow!(
            "{} of {} events could not be replayed (see the log above)",
            report.failed,
            report.events
        ));
    }
    Ok(())
}

/// Accepts RFC 3339 (`2026-11-21T10:00:00Z`) or a date (`2026-11-21`, midnight UTC).
fn parse_since(raw: &str) -> Result<NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.naive_utc());
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| anyhow!("--since '{raw}' is not a date (2026-11-21) or an RFC 3339 time (2026-11-21T10:00:00Z)"))
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_accepts_dates_and_rfc3339() {
        assert_eq!(
            parse_since("2026-11-21").unwrap().to_string(),
            "2026-11-21 00:00:00"
        );
        assert_eq!(
            parse_since("2026-11-21T10:00:00+02:00")
                .unwrap()
                .to_string(),
            "2026-11-21 08:00:00"
        );
        assert!(parse_since("yesterday").is_err());
    }
}
