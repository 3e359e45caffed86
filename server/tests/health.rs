mod common;

use std::process::Command;

use app::api::settings::SetOrganisationName;
use leptos::server_fn::ServerFn;

/// Where the organisation-name server function is posted.
const SET_ORGANISATION_NAME: &str = <SetOrganisationName as ServerFn>::PATH;

#[tokio::test]
async fn healthz_is_ok_with_a_working_database() {
    let app = common::spawn().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn healthz_is_503_when_the_database_is_unusable() {
    let app = common::spawn().await;
    app.state.pool.close().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "error");
}

#[tokio::test]
async fn the_database_file_and_folder_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/deeper/mb.db");
    let url = format!("sqlite://{}", db.display());
    let pool = app::ssr::db::open(&url).await.unwrap();
    assert!(db.exists());
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(n >= 1);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = common::spawn().await;
    let body = "name=".to_string() + &"x".repeat(server::startup::MAX_BODY_BYTES + 10);
    let res = common::new_client()
        .post(format!("{}{SET_ORGANISATION_NAME}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // In the form the browser decodes, so the page shows what happened.
    let error: app::error::AppError = res.json().await.expect("an AppError as JSON");
    assert!(error.to_string().contains("too large to send"), "{error}");
}

/// A body without Content-Length (chunked), far over the limit: the server answers 413 after
/// reading about the limit, not the whole upload.
#[tokio::test]
async fn an_endless_chunked_body_is_cut_off_at_the_limit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = common::spawn().await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {SET_ORGANISATION_NAME} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.origin()
    );
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = 64 * 1024 * 1024;
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
            wr.write_all(head.as_bytes()).await?;
            wr.write_all(b"5\r\nname=\r\n").await?;
            while sent.load(std::sync::atomic::Ordering::SeqCst) < total {
                wr.write_all(chunk.as_bytes()).await?;
                sent.fetch_add(64 * 1024, std::sync::atomic::Ordering::SeqCst);
            }
            Ok::<(), std::io::Error>(())
        })
    };
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(30), rd.read(&mut answer))
        .await
        .expect("an answer before the upload ends")
        .unwrap();
    let at_answer = sent.load(std::sync::atomic::Ordering::SeqCst);
    writer.abort();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        at_answer < total / 4,
        "the answer came only after {at_answer} bytes were sent"
    );
}

fn run_binary(vars: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailbridge"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "MAILBRIDGE_DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.arg("migrate").output().unwrap()
}

#[test]
fn a_bad_database_url_stops_start_up_naming_the_variable() {
    let out = run_binary(&[("MAILBRIDGE_DATABASE_URL", "postgres://nope")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MAILBRIDGE_DATABASE_URL"), "{err}");
}

#[test]
fn an_unopenable_database_stops_start_up_naming_the_variable() {
    // A folder cannot be created under a regular file.
    let f = tempfile::NamedTempFile::new().unwrap();
    let url = format!("sqlite://{}/sub/x.db", f.path().display());
    let out = run_binary(&[("MAILBRIDGE_DATABASE_URL", &url)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MAILBRIDGE_DATABASE_URL"), "{err}");
}

#[test]
fn a_bad_site_addr_stops_start_up_naming_the_variable() {
    let out = run_binary(&[("LEPTOS_SITE_ADDR", "localhost:http")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LEPTOS_SITE_ADDR"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
}

#[test]
fn migrate_succeeds_with_good_settings() {
    let out = run_binary(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_names_an_unknown_account_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailbridge"))
        .args(["check", "--account", "4242"])
        .env(
            "MAILBRIDGE_DATABASE_URL",
            format!("sqlite://{}/c.db", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mail account was not found"), "{err}");
}
