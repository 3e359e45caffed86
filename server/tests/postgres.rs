//! PostgreSQL (issue 14): the throw-away cluster harness, the schema beside SQLite's, and the
//! database going away under a running instance.

mod common;

use app::domain::Role;

#[test]
fn a_throw_away_cluster_starts_takes_a_database_and_stops() {
    let port;
    {
        let pg = common::postgres::Cluster::start();
        port = pg.port;
        pg.psql("postgres", "CREATE DATABASE mailbridge");
        assert_eq!(
            pg.psql("mailbridge", "SELECT current_database()"),
            "mailbridge"
        );
        let major: u32 = pg
            .psql("postgres", "SHOW server_version_num")
            .parse::<u32>()
            .unwrap()
            / 10_000;
        assert!(major >= 15, "PostgreSQL 15 or newer, found {major}");
        assert!(pg
            .url("mailbridge")
            .ends_with(&format!(":{port}/mailbridge")));
    }
    // Dropped: nothing listens there any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// The SQLite tables and their columns, from a database migrated by the app.
async fn sqlite_columns() -> std::collections::BTreeMap<String, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("schema.db").display());
    let pool = app::ssr::db::open(&url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'
            AND name NOT LIKE 'sqlite%' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for t in tables {
        let mut cols: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .fetch_all(&pool)
                .await
                .unwrap();
        cols.sort();
        out.insert(t, cols);
    }
    out
}

#[tokio::test]
async fn the_postgresql_schema_has_every_sqlite_table_and_column_and_its_rules() {
    let pg = common::postgres::Cluster::start();
    pg.psql("postgres", "CREATE DATABASE mailbridge");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/migrations-postgres");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files {
        pg.psql("mailbridge", &std::fs::read_to_string(f).unwrap());
    }
    // The same tables with the same columns as the SQLite database the app migrates.
    for (table, cols) in sqlite_columns().await {
        let got = pg.psql(
            "mailbridge",
            &format!(
                "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = '{table}'"
            ),
        );
        assert_eq!(got, cols.join(","), "table {table}");
    }
    // One grant per mailbox and server; a pending twin (inserted above) is fine.
    pg.psql(
        "mailbridge",
        "INSERT INTO users (email, email_key, display_name, role, password_hash, created_at, updated_at)
            VALUES ('a@x.test', 'a@x.test', 'A', 'user', 'h', 0, 0), ('b@x.test', 'b@x.test', 'B', 'user', 'h', 0, 0);
         INSERT INTO mail_servers (subject, subject_key, auth_method, imap_host, imap_port, imap_encryption,
            smtp_host, smtp_port, smtp_encryption, created_at, updated_at)
            VALUES ('S', 's', 'password', 'h', 993, 'ssl', 'h', 465, 'ssl', 0, 0);
         INSERT INTO mail_accounts (mail_server_id, owner_id, name, login, login_key, created_at, updated_at, refresh_token_enc)
            VALUES (1, 1, 'n', 'm@x.test', 'm@x.test', 0, 0, '\\x01'), (1, 2, 'n', 'm@x.test', 'm@x.test', 0, 0, NULL);",
    );
    let clash = std::panic::catch_unwind(|| {
        pg.psql(
            "mailbridge",
            "UPDATE mail_accounts SET refresh_token_enc = '\\x02' WHERE owner_id = 2",
        )
    });
    assert!(
        clash.is_err(),
        "a second grant for the same mailbox is refused"
    );
}

#[tokio::test]
async fn the_database_going_away_is_a_503_and_its_return_needs_no_restart() {
    let pg = common::postgres::Cluster::start();
    let db = common::postgres::fresh_database(&pg.url("postgres")).await;
    let app = common::spawn_on(tempfile::tempdir().unwrap(), &db, &[]).await;
    let (_, cookie) = app.person("alice@example.test", Role::User).await;
    assert_eq!(app.get("/healthz", None).await.status(), 200);

    pg.halt();
    let t = std::time::Instant::now();
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), 503);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "the health check answers quickly: {:?}",
        t.elapsed()
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "error");
    // A page that needs the database fails cleanly instead of hanging or crashing.
    let page = app.get("/", Some(&cookie)).await;
    assert!(page.status().is_server_error(), "{}", page.status());

    pg.resume();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while app.get("/healthz", None).await.status() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the same process reconnects"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The session from before the outage still signs the user in (signed out would be 303).
    assert_eq!(app.get("/", Some(&cookie)).await.status(), 200);
}
