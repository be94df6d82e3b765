//! Runner processes alive now, so that each can take its share of a channel's send limit.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::error::StoreError;
use crate::schema::runner_instances::dsl;

/// Records that runner `id` is alive at `at` (registering it on its first beat), forgets
/// runners silent since `stale_before`, and returns how many are alive, this one included.
pub fn heartbeat(
    conn: &mut AnyConnection,
    id: &str,
    hostname: &str,
    at: NaiveDateTime,
    stale_before: NaiveDateTime,
) -> Result<usize, StoreError> {
    let beat = diesel::update(dsl::runner_instances.find(id))
        .set(dsl::heartbeat_at.eq(at))
        .execute(conn)?;
    if beat == 0 {
        let row = (
            dsl::id.eq(id),
            dsl::hostname.eq(hostname),
            dsl::started_at.eq(at),
            dsl::heartbeat_at.eq(at),
        );
        insert_ignoring_conflicts!(conn, dsl::runner_instances, row);
    }
    diesel::delete(dsl::runner_instances.filter(dsl::heartbeat_at.lt(stale_before)))
        .execute(conn)?;
    let alive: i64 = dsl::runner_instances.count().get_result(conn)?;
    Ok(usize::try_from(alive).unwrap_or(1).max(1))
}

/// A runner that stops says so, and the others take its share at their next beat.
pub fn unregister(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(dsl::runner_instances.find(id)).execute(conn)?;
    Ok(())
}

/// How long a runner may stay silent before the others stop counting it.
pub const STALE_AFTER: TimeDelta = TimeDelta::seconds(10);
