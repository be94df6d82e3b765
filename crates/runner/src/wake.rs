//! Waking runners when work is enqueued: in-process through a `Notify`, across processes on
//! PostgreSQL through LISTEN/NOTIFY (one NOTIFY per committed batch, never per row).

use std::sync::Arc;
use std::time::Duration;

use diesel::RunQueryDsl;
use switchboard_store::db::ConnectionRole;
use switchboard_store::{AnyConnection, Db};
use tokio::sync::Notify;

pub const CHANNEL: &str = "switchboard_jobs";

/// Listens on PostgreSQL for `NOTIFY switchboard_jobs` and wakes `wake` (a no-op on SQLite,
/// where one process owns the queue). Reconnects on failure; polling remains the fallback.
pub fn spawn_listener(db: &Db, wake: Arc<Notify>) {
    if db.is_sqlite() {
        return;
    }
    let db = db.clone();
    let spawned = std::thread::Builder::new().name("job-listener".into()).spawn(move || {
        loop {
            if let Err(e) = listen(&db, &wake) {
                tracing::warn!(error = %e, "LISTEN for new jobs failed; polling until it reconnects");
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the job listener; relying on polling");
    }
}

fn listen(db: &Db, wake: &Notify) -> Result<(), Box<dyn std::error::Error>> {
    let AnyConnection::Postgres(mut conn) = db.dedicated_connection(ConnectionRole::Pooled)? else {
        return Ok(());
    };
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn)?;
    loop {
        let mut woke = false;
        for notification in conn.notifications_iter() {
            notification?;
            woke = true;
        }
        if woke {
            wake.notify_one();
        }
        // diesel reads notifications without blocking; a short nap keeps this thread cheap
        // while still waking runners within milliseconds.
        std::thread::sleep(Duration::from_millis(5));
    }
}
