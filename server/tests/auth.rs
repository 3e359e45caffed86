mod common;

use app::api::{auth::Login, users::CreateUser, users::UpdateUser};
use app::domain::Role;
use app::error::AppError;
use common::{fields, PASSWORD};

/// The raw Set-Cookie header of a sign-in answer.
fn set_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_string()
}

fn login_args(email: &str, password: &str) -> Login {
    Login {
        email: email.into(),
        password: password.into(),
    }
}

#[tokio::test]
async fn wrong_email_and_wrong_password_give_the_same_answer() {
    let app = common::spawn().await;
    app.add_user("alice@example.test", Role::User).await;
    let (s1, c1, b1) = app
        .login("alice@example.test", "wrong password", None)
        .await;
    let (s2, c2, b2) = app.login("nobody@example.test", PASSWORD, None).await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1, b2);
    assert!(
        matches!(&b1, Err((401, AppError::Denied(m))) if m.contains("Wrong email or password")),
        "{b1:?}"
    );
    assert!(c1.is_none() && c2.is_none());
    let (s, c, _) = app.login("ALICE@example.test", PASSWORD, None).await;
    assert_eq!(s, 200);
    assert!(c.is_some());
}

#[tokio::test]
async fn the_session_cookie_is_httponly_lax_and_secure_only_over_https() {
    let app = common::spawn().await;
    app.add_user("alice@example.test", Role::User).await;
    let res = app
        .post(&login_args("alice@example.test", PASSWORD), None)
        .await;
    let cookie = set_cookie(&res);
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );

    let https = common::spawn_with(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com")]).await;
    https.add_user("alice@example.test", Role::User).await;
    // The kit sends the Origin of the configured public URL.
    assert_eq!(https.origin(), "https://mail.example.com");
    let res = https
        .post(&login_args("alice@example.test", PASSWORD), None)
        .await;
    let cookie = set_cookie(&res);
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in() {
    let app = common::spawn().await;
    app.add_user("alice@example.test", Role::User).await;
    let (_, first, _) = app.login("alice@example.test", PASSWORD, None).await;
    let first = first.unwrap();
    let (_, second, _) = app
        .login("alice@example.test", PASSWORD, Some(&first))
        .await;
    let second = second.unwrap();
    assert_ne!(first, second);
    assert_eq!(
        app.get("/", Some(&first)).await.status(),
        303,
        "the old session must be gone"
    );
    assert_eq!(app.get("/", Some(&second)).await.status(), 200);
}

#[tokio::test]
async fn sessions_survive_a_restart_and_expire_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_db(dir.path(), "s.db").await;
    let first = common::spawn_on(tempfile::tempdir().unwrap(), &db, &[]).await;
    first.add_user("alice@example.test", Role::User).await;
    let (_, cookie, _) = first.login("alice@example.test", PASSWORD, None).await;
    let cookie = cookie.unwrap();
    first.state.pool.close().await;

    let second = common::spawn_on(dir, &db, &[]).await;
    assert_eq!(second.get("/", Some(&cookie)).await.status(), 200);

    // Idle 11 hours: still in (and the visit counts as use); idle 13 hours (default limit 12):
    // out.
    second.advance_clock(11 * 3600);
    assert_eq!(second.get("/", Some(&cookie)).await.status(), 200);
    second.advance_clock(13 * 3600);
    assert_eq!(second.get("/", Some(&cookie)).await.status(), 303);
}

#[tokio::test]
async fn lock_out_after_five_failures_for_one_email_ends_after_the_window() {
    let app = common::spawn_with(&[("MAILBRIDGE_LOGIN_WINDOW_SECS", "600")]).await;
    app.add_user("alice@example.test", Role::User).await;
    for _ in 0..5 {
        assert_eq!(
            app.login("alice@example.test", "wrong password", None)
                .await
                .0,
            401
        );
    }
    // Even the right password is refused during the window, with a message saying so.
    let (status, cookie, answer) = app.login("alice@example.test", PASSWORD, None).await;
    assert_eq!(status, 429);
    assert!(cookie.is_none());
    let locked = "Too many failed sign-in attempts";
    assert!(
        matches!(&answer, Err((429, AppError::RateLimited { message: m, .. })) if m.contains(locked)),
        "{answer:?}"
    );
    // Another address is not affected by alice's lock.
    app.add_user("bob@example.test", Role::User).await;
    assert_eq!(app.login("bob@example.test", PASSWORD, None).await.0, 200);

    app.advance_clock(601);
    assert_eq!(app.login("alice@example.test", PASSWORD, None).await.0, 200);
}

#[tokio::test]
async fn lock_out_after_twenty_failures_from_one_client() {
    let app = common::spawn_with(&[("MAILBRIDGE_LOGIN_WINDOW_SECS", "60")]).await;
    app.add_user("carol@example.test", Role::User).await;
    for i in 0..20 {
        assert_eq!(
            app.login(&format!("guess{i}@example.test"), "wrong password", None)
                .await
                .0,
            401
        );
    }
    let (status, _, answer) = app.login("carol@example.test", PASSWORD, None).await;
    assert_eq!(status, 429, "{answer:?}");
    assert!(
        matches!(answer, Err((429, AppError::RateLimited { .. }))),
        "{answer:?}"
    );
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_and_the_last_admin_stays() {
    let app = common::spawn().await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let user = app.add_user("user@example.test", Role::User).await;
    let admin_cookie = app.session_for(admin).await;
    let user_cookie = app.session_for(user).await;
    assert_eq!(app.get("/", Some(&user_cookie)).await.status(), 200);

    app.ok(
        UpdateUser {
            id: user,
            name: "U".into(),
            role: "user".into(),
            active: false,
        },
        &admin_cookie,
    )
    .await;
    assert_eq!(app.get("/", Some(&user_cookie)).await.status(), 303);
    assert_eq!(app.login("user@example.test", PASSWORD, None).await.0, 401);

    for (role, active, field) in [("user", true, "Role"), ("admin", false, "Active")] {
        let answer = app
            .call(
                UpdateUser {
                    id: admin,
                    name: "A".into(),
                    role: role.into(),
                    active,
                },
                Some(&admin_cookie),
            )
            .await;
        assert_eq!(fields(&answer), vec![field], "{answer:?}");
        let (status, err) = answer.unwrap_err();
        assert_eq!(status, 422);
        assert!(
            err.for_field(field)
                .is_some_and(|m| m.contains("last active admin")),
            "{err:?}"
        );
    }
    let row: (String, app::ssr::db::Flag) =
        sqlx::query_as("SELECT role, active FROM users WHERE id = $1")
            .bind(admin)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(row, ("admin".to_string(), app::ssr::db::Flag(true)));
}

#[tokio::test]
async fn server_validation_names_the_field_and_saves_nothing() {
    let app = common::spawn().await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let cookie = app.session_for(admin).await;
    for (email, name, password, field) in [
        ("not-an-email", "N", "long enough password", "Email"),
        ("ok@example.test", "", "long enough password", "Name"),
        ("ok@example.test", "N", "short", "Password"),
        ("ADMIN@example.test", "N", "long enough password", "Email"),
    ] {
        let answer = app
            .call(
                CreateUser {
                    email: email.into(),
                    name: name.into(),
                    role: "user".into(),
                    password: password.into(),
                },
                Some(&cookie),
            )
            .await;
        assert!(
            matches!(&answer, Err((422, e)) if e.is_invalid()),
            "{email} {name}: {answer:?}"
        );
        assert_eq!(fields(&answer), vec![field], "{email} {name}");
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn first_start_creates_the_admin_once() {
    let app = common::spawn_with(&[
        ("MAILBRIDGE_ADMIN_EMAIL", "root@example.test"),
        ("MAILBRIDGE_ADMIN_PASSWORD", "bootstrap password"),
    ])
    .await;
    let (status, _, _) = app
        .login("root@example.test", "bootstrap password", None)
        .await;
    assert_eq!(status, 200);
    let role: String = sqlx::query_scalar("SELECT role FROM users")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(role, "admin");
}

#[tokio::test]
async fn a_signed_out_visitor_is_sent_to_login_with_the_way_back() {
    let app = common::spawn().await;
    let res = app.get("/users?x=1", None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=%2Fusers%3Fx%3D1");
}
#[test]
fn create_user_cli_reads_the_password_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailbridge"))
        .args([
            "create-user",
            "--email",
            "cli@example.test",
            "--name",
            "Cli",
            "--role",
            "admin",
        ])
        .env("MAILBRIDGE_DATABASE_URL", &db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"cli password 123\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("cli@example.test"));
    // Too short a password is refused with the reason.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mailbridge"))
        .args([
            "create-user",
            "--email",
            "cli2@example.test",
            "--name",
            "Cli",
            "--role",
            "user",
        ])
        .env("MAILBRIDGE_DATABASE_URL", &db)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12"));
}
