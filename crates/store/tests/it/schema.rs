use switchboard_store::db::list_columns;
use switchboard_store::testing::TestDb;

const CONTRACT_TABLES: [&str; 18] = [
    "organizations",
    "users",
    "api_tokens",
    "channels",
    "webhook_events",
    "integration_jobs",
    "pipelines",
    "stages",
    "leads",
    "notes",
    "contacts",
    "conversations",
    "message_logs",
    "media",
    "templates",
    "services",
    "tickets",
    "ticket_comments",
];

#[test]
fn sqlite_migrations_create_every_contract_table() {
    let t = TestDb::sqlite();
    let columns = list_columns(&mut t.db.conn().unwrap()).unwrap();
    for table in CONTRACT_TABLES {
        assert!(
            columns.iter().any(|c| c.table_name == table),
            "table {table} missing on SQLite"
        );
    }
}

#[test]
fn both_backends_end_up_with_the_same_tables_and_columns() {
    let sqlite = TestDb::sqlite();
    let Some(postgres) = TestDb::postgres() else {
        return;
    };
    let on_sqlite = list_columns(&mut sqlite.db.conn().unwrap()).unwrap();
    let on_postgres = list_columns(&mut postgres.db.conn().unwrap()).unwrap();
    let only_sqlite: Vec<_> = on_sqlite
        .iter()
        .filter(|c| !on_postgres.contains(c))
        .collect();
    let only_postgres: Vec<_> = on_postgres
        .iter()
        .filter(|c| !on_sqlite.contains(c))
        .collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "schemas differ.\nonly on SQLite: {only_sqlite:#?}\nonly on PostgreSQL: {only_postgres:#?}"
    );
    assert!(
        on_sqlite.len() > 100,
        "expected the whole schema, got {} columns",
        on_sqlite.len()
    );
}

#[test]
fn migrating_twice_applies_nothing_the_second_time() {
    for t in TestDb::all() {
        assert_eq!(
            t.db.migrate().unwrap(),
            Vec::<String>::new(),
            "{}",
            t.backend
        );
        assert!(
            t.db.pending_migrations().unwrap().is_empty(),
            "{}",
            t.backend
        );
    }
}

#[test]
fn sqlite_connections_use_wal_full_sync_and_foreign_keys() {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{BigInt, Text};
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Num {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }
    let t = TestDb::sqlite();
    let mut conn = t.db.conn().unwrap();
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    let sync: Num = diesel::sql_query("SELECT synchronous AS v FROM pragma_synchronous")
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(sync.v, 2, "synchronous=FULL");
    let fk: Num = diesel::sql_query("SELECT foreign_keys AS v FROM pragma_foreign_keys")
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(fk.v, 1);
    let busy: Num = diesel::sql_query("SELECT timeout AS v FROM pragma_busy_timeout")
        .get_result(&mut *conn)
        .unwrap();
    assert!(busy.v >= 1000);
}
