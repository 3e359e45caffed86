//! Sign-in under attack: a burst of guesses gets no more password checks than the lock-out
//! allows, cannot exhaust memory, and cannot lock the real user out from elsewhere.

mod common;

use std::sync::atomic::Ordering;

use app::api::auth::{ChangeOwnPassword, Login};
use app::domain::Role;
use app::error::AppError;
use app::ssr::passwords::VERIFICATIONS;
use common::{TestApp, PASSWORD};

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `n` sign-ins at once; returns their statuses.
async fn burst(
    app: &TestApp,
    n: usize,
    email: &str,
    password: &str,
    xff: Option<&str>,
) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let url = app.url.clone();
        let origin = app.origin();
        let (email, password, xff) = (
            email.to_string(),
            password.to_string(),
            xff.map(str::to_string),
        );
        tasks.spawn(async move {
            let body = format!(
                "email={}&password={}",
                url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>(),
                url::form_urlencoded::byte_serialize(password.as_bytes()).collect::<String>()
            );
            let path = <Login as leptos::server_fn::ServerFn>::PATH;
            let mut req = common::new_client()
                .post(format!("{url}{path}"))
                .header("origin", origin)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some(x) = xff {
                req = req.header("x-forwarded-for", x);
            }
            req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
        });
    }
    let mut statuses = vec![];
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_parallel_guesses_gets_only_the_limits_checks() {
    let app = common::spawn().await;
    app.add_user("alice@example.test", Role::User).await;
    let before = VERIFICATIONS.load(Ordering::Relaxed);
    let rss_before = rss_kib("VmRSS:");
    let statuses = burst(&app, 300, "alice@example.test", "wrong guess", None).await;
    let checks = VERIFICATIONS.load(Ordering::Relaxed) - before;
    let rss_after = rss_kib("VmHWM:");
    let denied = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    println!(
        "300 parallel guesses: {checks} password checks, {denied} wrong, {locked} locked; \
         RSS {} MiB before, peak {} MiB",
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(checks <= 5, "{checks} password checks for a limit of 5");
    assert_eq!(denied as u64, checks);
    assert_eq!(denied + locked, 300, "{statuses:?}");
    assert!(
        rss_after < rss_before + 200 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_user_signs_in_from_elsewhere_while_their_address_is_attacked() {
    let app = common::spawn_with(&[("MAILBRIDGE_TRUSTED_PROXIES", "127.0.0.1, ::1")]).await;
    app.add_user("admin@example.test", Role::Admin).await;
    let attack = burst(
        &app,
        300,
        "admin@example.test",
        "wrong guess",
        Some("203.0.113.66"),
    );
    let (statuses, (status, cookie, _)) = tokio::join!(attack, async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let args = Login {
            email: "admin@example.test".into(),
            password: PASSWORD.into(),
        };
        let res = app
            .post_with(&args, None, &[("x-forwarded-for", "198.51.100.10")])
            .await;
        let status = res.status().as_u16();
        let cookie = res.headers().get("set-cookie").is_some();
        (status, cookie, ())
    });
    assert!(statuses.iter().filter(|s| **s == 401).count() <= 5);
    assert_eq!(
        status, 200,
        "the admin is not locked out from their own client"
    );
    assert!(cookie);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_is_limited_and_the_overflow_is_told_to_retry() {
    let app = common::spawn_with(&[
        ("MAILBRIDGE_PASSWORD_HASH_CONCURRENCY", "1"),
        ("MAILBRIDGE_LOGIN_MAX_FAILURES_PER_CLIENT", "100000"),
    ])
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..120 {
        let url = app.url.clone();
        let origin = app.origin();
        tasks.spawn(async move {
            let path = <Login as leptos::server_fn::ServerFn>::PATH;
            let res = common::new_client()
                .post(format!("{url}{path}"))
                .header("origin", origin)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("email=someone{i}%40example.test&password=wrong"))
                .send()
                .await
                .unwrap();
            let retry = res.headers().get("retry-after").cloned();
            let status = res.status().as_u16();
            (status, retry, common::decode::<()>(res).await)
        });
    }
    let mut busy = 0;
    while let Some(r) = tasks.join_next().await {
        let (status, retry, answer) = r.unwrap();
        if status == 429 {
            busy += 1;
            assert!(retry.is_some(), "a 429 says when to retry");
            assert!(
                matches!(&answer, Err((_, AppError::RateLimited { message, .. })) if message.contains("busy")),
                "{answer:?}"
            );
        } else {
            assert_eq!(status, 401);
        }
    }
    assert!(
        busy > 0,
        "with one hashing slot, some of 120 sign-ins at once are turned away"
    );
}

#[tokio::test]
async fn wrong_current_passwords_count_like_wrong_sign_ins() {
    let app = common::spawn().await;
    let (_, cookie) = app.person("dave@example.test", Role::User).await;
    let change = |current: &str| ChangeOwnPassword {
        current_password: current.into(),
        new_password: "a brand new password".into(),
    };
    for _ in 0..5 {
        let answer = app.call(change("not it at all"), Some(&cookie)).await;
        assert_eq!(common::fields(&answer), vec!["Current password"]);
    }
    let answer = app.call(change(PASSWORD), Some(&cookie)).await;
    assert!(
        matches!(answer, Err((429, AppError::RateLimited { .. }))),
        "{answer:?}"
    );
}

#[tokio::test]
async fn the_operator_unlocks_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_db(dir.path(), "u.db").await;
    let app = common::spawn_on(dir, &db, &[]).await;
    app.add_user("erin@example.test", Role::User).await;
    for _ in 0..5 {
        assert_eq!(app.login("erin@example.test", "wrong", None).await.0, 401);
    }
    assert_eq!(app.login("erin@example.test", PASSWORD, None).await.0, 429);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailbridge"))
        .args(["unlock", "--email", "Erin@example.test"])
        .env("MAILBRIDGE_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 recorded failures removed"));
    assert_eq!(app.login("erin@example.test", PASSWORD, None).await.0, 200);
}
