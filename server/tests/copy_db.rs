//! `mailbridge copy-db` (issue 14): an installation moves from SQLite to PostgreSQL and back
//! with every row the same, its secrets still opening with the same key, its grants still
//! refreshing at the provider; a target that is not empty is refused and left as it was.

mod common;

use app::api::webhooks::{CreateWebhook, SendTestEvent};
use app::domain::Role;
use app::ssr::refresh::{self, RefreshSettings};
use common::oidc::Oidc;
use sqlx::{Column, Row, Value, ValueRef};

const GRANTS: usize = 25;

fn copy_db(from: &str, to: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailbridge"))
        .args(["copy-db", "--from", from, "--to", to])
        .env("MAILBRIDGE_LOG_FORMAT", "text")
        .output()
        .unwrap()
}

/// Every row of every table, each value as text (booleans as 0/1, bytes as hex), sorted:
/// what two databases must agree on after a copy.
async fn dump(pool: &app::ssr::db::Pool) -> Vec<(String, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for table in app::ssr::db::copy::TABLES {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1"))
            .fetch_all(pool)
            .await
            .unwrap();
        let mut cells = Vec::new();
        for row in &rows {
            let mut line = Vec::new();
            for i in 0..row.len() {
                let name = row.column(i).name().to_string();
                let v = ValueRef::to_owned(&row.try_get_raw(i).unwrap());
                let text = if v.is_null() {
                    "NULL".to_string()
                } else if let Ok(b) = v.try_decode::<Vec<u8>>() {
                    b.iter().map(|x| format!("{x:02x}")).collect()
                } else if let Ok(s) = v.try_decode::<String>() {
                    s
                } else if let Ok(n) = v.try_decode::<i64>() {
                    n.to_string()
                } else {
                    (v.try_decode::<app::ssr::db::Flag>().unwrap().0 as i64).to_string()
                };
                line.push(format!("{name}={text}"));
            }
            line.sort();
            cells.push(line);
        }
        // Sorted here: the two databases may collate text keys differently.
        cells.sort();
        out.push((table.to_string(), cells));
    }
    out
}

#[tokio::test]
async fn an_installation_moves_to_postgresql_and_back_with_every_row_and_grant() {
    let oidc = Oidc::start(&[("ROTATE_REFRESH", "1"), ("ACCESS_TTL", "3600")]).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("old.db").display());
    let key = dir.path().join("secret.key").display().to_string();
    let old = common::spawn_on(tempfile::tempdir().unwrap(), &sqlite, &[]).await;
    let (owner, admin) = old.person("owner@example.test", Role::Admin).await;
    let app_id = old.create_application(&admin, "Web").await;
    let redirect = old.redirect_uri(&admin, app_id).await;
    let seeded = oidc
        .seed_due_grants(&old.state, owner, &redirect, GRANTS)
        .await;
    let (_, _) = old.person("second@example.test", Role::User).await;
    // A webhook with an event still waiting in the outbox (no worker runs here).
    let receiver = common::webhooks::Receiver::start().await;
    let hook = old
        .ok(
            CreateWebhook {
                draft: app::domain::WebhookDraft {
                    url: receiver.url.clone(),
                    events: vec!["account.linked".into()],
                    active: true,
                },
            },
            &admin,
        )
        .await;
    old.ok(SendTestEvent { id: hook.id }, &admin).await;
    let before = dump(&old.state.pool).await;
    old.state.pool.close().await;

    let pg = common::postgres::Cluster::start();
    pg.psql("postgres", "CREATE DATABASE moved");
    let target = pg.url("moved");
    let out = copy_db(&sqlite, &target);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("mail_accounts: {GRANTS} rows")),
        "{report}"
    );
    assert!(report.contains("users: 2 rows"), "{report}");

    // Every row the same, secrets as the same bytes.
    let moved = app::ssr::db::open(&target).await.unwrap();
    assert_eq!(dump(&moved).await, before);
    moved.close().await;

    // A second copy into it is refused, and leaves it as it was.
    let again = copy_db(&sqlite, &target);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");

    // Mailbridge runs on the copy with the same key: sign-in, new rows after the copied ids,
    // and every grant refreshes at the provider with the tokens as they were sealed.
    let app = common::spawn_on(
        tempfile::tempdir().unwrap(),
        &target,
        &[("MAILBRIDGE_SECRET_KEY_FILE", key.as_str())],
    )
    .await;
    let (_, cookie, _) = app
        .login("owner@example.test", common::PASSWORD, None)
        .await;
    assert!(cookie.is_some(), "the owner signs in on the copy");
    let third = app.add_user("third@example.test", Role::User).await;
    assert_eq!(third, 3, "ids continue after the copied ones");
    let settings = RefreshSettings {
        before_secs: 60,
        concurrency: 8,
        ..RefreshSettings::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    refresh::run_pass(&app.state, &settings, rx).await;
    oidc.assert_every_grant_alive(&app.state, &seeded.client_id, &seeded.client_secret, GRANTS)
        .await;
    // The waiting event is delivered from the copy, signed with the secret sealed before it.
    let worker = app.deliver();
    let got = receiver
        .wait_taken(1, std::time::Duration::from_secs(10))
        .await;
    assert!(got[0].verified_with(&hook.secret));
    worker.stop().await;
    let after = dump(&app.state.pool).await;
    app.state.pool.close().await;

    // And back: PostgreSQL to a new SQLite file, row for row.
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let out = copy_db(&target, &back);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let returned = app::ssr::db::open(&back).await.unwrap();
    assert_eq!(dump(&returned).await, after);
}

#[test]
fn a_bad_url_names_the_side_it_came_from() {
    let out = copy_db("mysql://x/y", "sqlite::memory:");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--from"), "{err}");
}
