//! Behind a reverse proxy: the client is the address the trusted proxy forwarded for, and only
//! then; the lock-out and the applications' allowed addresses use that one address.

mod common;

use app::api::applications::GetApplication;
use app::api::auth::Login;
use app::domain::Role;
use common::{TestApp, PASSWORD};

/// Signs in as `email` from a client claiming (or, behind a trusted proxy, being) `xff`.
async fn sign_in_from(app: &TestApp, xff: &str, email: &str, password: &str) -> u16 {
    let args = Login {
        email: email.into(),
        password: password.into(),
    };
    app.post_with(&args, None, &[("x-forwarded-for", xff)])
        .await
        .status()
        .as_u16()
}

/// 20 wrong passwords (the per-client limit), each for another address, from `xff`.
async fn guess_from(app: &TestApp, xff: &str) {
    for i in 0..20 {
        let status =
            sign_in_from(app, xff, &format!("nobody{i}@example.test"), "wrong guess").await;
        assert_eq!(status, 401);
    }
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let app = common::spawn().await;
    app.add_user("real@example.test", Role::User).await;
    // Each guess claims another address; without a trusted proxy they all come from the peer.
    for i in 0..20 {
        let xff = format!("203.0.113.{i}");
        let status = sign_in_from(&app, &xff, &format!("x{i}@example.test"), "wrong").await;
        assert_eq!(status, 401);
    }
    let status = sign_in_from(&app, "198.51.100.99", "real@example.test", PASSWORD).await;
    assert_eq!(status, 429, "the peer is locked whatever it claims");
}

#[tokio::test]
async fn through_a_trusted_proxy_one_clients_failures_do_not_lock_another() {
    let app = common::spawn_with(&[("MAILBRIDGE_TRUSTED_PROXIES", "127.0.0.1, ::1")]).await;
    app.add_user("real@example.test", Role::User).await;
    guess_from(&app, "203.0.113.1").await;
    assert_eq!(
        sign_in_from(&app, "203.0.113.1", "real@example.test", PASSWORD).await,
        429,
        "the guessing client is locked"
    );
    // The attacker's own forged entry on the left does not make it someone else.
    assert_eq!(
        sign_in_from(
            &app,
            "198.51.100.7, 203.0.113.1",
            "real@example.test",
            PASSWORD
        )
        .await,
        429
    );
    assert_eq!(
        sign_in_from(&app, "203.0.113.2", "real@example.test", PASSWORD).await,
        200,
        "another client behind the same proxy signs in"
    );
}

async fn callback_outcome(app: &TestApp, cookie: &str, key: &str, xff: &str) -> String {
    let res = app
        .get_with(
            &format!("/oauth/callback/{key}?state=none&code=x"),
            Some(cookie),
            &[("x-forwarded-for", xff)],
        )
        .await;
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    loc.strip_prefix("/oauth/result?outcome=")
        .unwrap_or(&loc)
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

async fn application_with(app: &TestApp, admin: &str, allowed: &str) -> String {
    let id = app.create_application(admin, "Web").await;
    sqlx::query("UPDATE applications SET allowed_ips = $1 WHERE id = $2")
        .bind(allowed)
        .bind(id)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let uri = app.redirect_uri(admin, id).await;
    uri.rsplit('/').next().unwrap().to_string()
}

#[tokio::test]
async fn the_allowed_addresses_see_the_real_client_behind_a_trusted_proxy() {
    let app = common::spawn_with(&[("MAILBRIDGE_TRUSTED_PROXIES", "127.0.0.1, ::1")]).await;
    let admin = app.admin().await;
    let key = application_with(&app, &admin, "203.0.113.7").await;
    // Admitted: the callback goes on to check the state (there is none).
    assert_eq!(
        callback_outcome(&app, &admin, &key, "203.0.113.7").await,
        "invalid_state"
    );
    assert_eq!(
        callback_outcome(&app, &admin, &key, "198.51.100.9").await,
        "address_refused"
    );

    // Without a trusted proxy the header is ignored, and the peer (127.0.0.1) is not allowed.
    let direct = common::spawn().await;
    let admin = direct.admin().await;
    let key = application_with(&direct, &admin, "203.0.113.7").await;
    assert_eq!(
        callback_outcome(&direct, &admin, &key, "203.0.113.7").await,
        "address_refused"
    );
}

#[tokio::test]
async fn an_unreadable_allowed_list_refuses_every_caller_and_says_so() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let key = application_with(&app, &admin, "10.0.0.0/99, nonsense").await;
    assert_eq!(
        callback_outcome(&app, &admin, &key, "127.0.0.1").await,
        "address_refused"
    );
    let id: i64 = sqlx::query_scalar("SELECT id FROM applications")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let view = app.ok(GetApplication { id }, &admin).await;
    assert!(view.allowed_ips_problem.is_some(), "{view:?}");
}
