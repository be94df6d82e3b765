//! Repositories: one module per aggregate, plain functions over `&mut AnyConnection`.
//! Every function that reads tenant data takes the organization id and filters by it.
//!
//! Single-row look-ups are written `.load(conn)?.into_iter().next()` rather than
//! `.first(conn).optional()?`: they go by unique keys, so no LIMIT is needed, and through the
//! `MultiConnection` a LIMIT keeps diesel from caching the prepared statement (measured: a
//! channel by phone number id took 22 µs with `.first()`, 7 µs without).

/// `INSERT … ON CONFLICT DO NOTHING` on either backend; evaluates to the rows inserted (0 or 1).
/// Projections insert this way so that concurrent jobs racing to create the same row (a lead,
/// a contact) never fail: the loser reads the winner's row.
macro_rules! insert_ignoring_conflicts {
    ($conn:expr, $table:expr, $values:expr) => {
        match $conn {
            $crate::AnyConnection::Postgres(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c)?,
            $crate::AnyConnection::Sqlite(c) => diesel::insert_into($table)
                .values($values)
                .on_conflict_do_nothing()
                .execute(c)?,
        }
    };
}

/// One page of a list: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// The backend of [`crate::AnyConnection`], for boxed queries whose filters depend on input.
pub type Backend = <crate::AnyConnection as diesel::Connection>::Backend;

diesel::define_sql_function!(
    /// SQL `lower()`: both backends have it; searches compare lower-cased text.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);

/// A `LIKE` pattern matching `needle` anywhere, lower-cased, with `%`, `_` and `\\` escaped
/// (queries use `.escape('\\')`), so a search for "50%" means those characters.
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::from("%");
    for c in needle.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub mod api_keys;
pub mod channels;
pub mod contacts;
pub mod conversations;
pub mod jira;
pub mod jobs;
pub mod leads;
pub mod media;
pub mod messages;
pub mod notes;
pub mod opt_outs;
pub mod organizations;
pub mod outbound;
pub mod pipelines;
pub mod runners;
pub mod services;
pub mod stats;
pub mod subscriptions;
pub mod templates;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod webhooks;
