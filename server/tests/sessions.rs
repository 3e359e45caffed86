//! Session lifetime and cookie scope: an absolute limit besides the idle one, the `__Host-`
//! cookie over https, and the scheduled purge of what has expired.

mod common;

use app::domain::Role;
use app::ssr::housekeeping::{purge, Purged};
use common::PASSWORD;

#[tokio::test]
async fn over_https_the_cookie_is_host_prefixed_and_only_that_one_counts() {
    let app = common::spawn_with(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com")]).await;
    app.add_user("alice@example.test", Role::User).await;
    let args = app::api::auth::Login {
        email: "alice@example.test".into(),
        password: PASSWORD.into(),
    };
    let res = app.post(&args, None).await;
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("__Host-mailbridge_session="), "{set}");
    assert!(set.contains("; Path=/") && set.contains("; Secure") && !set.contains("Domain"));
    let pair = set.split(';').next().unwrap().to_string();
    assert_eq!(app.get("/", Some(&pair)).await.status(), 200);
    // The same token under the unprefixed name (which a sibling subdomain could set) is no one.
    let planted = pair.replacen("__Host-", "", 1);
    assert_eq!(app.get("/", Some(&planted)).await.status(), 303);
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_busy() {
    let app = common::spawn_with(&[
        ("MAILBRIDGE_SESSION_IDLE_MINUTES", "100000"),
        ("MAILBRIDGE_SESSION_MAX_HOURS", "2"),
    ])
    .await;
    let (_, cookie) = app.person("bob@example.test", Role::User).await;
    app.advance_clock(3600);
    assert_eq!(app.get("/", Some(&cookie)).await.status(), 200);
    app.advance_clock(3601);
    assert_eq!(app.get("/", Some(&cookie)).await.status(), 303);
}

#[tokio::test]
async fn expired_sessions_states_and_lockout_rows_are_purged() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let server = app
        .create_server(&admin, common::password_draft("Box", "127.0.0.1", 993, 465))
        .await;
    let (user, cookie) = app.person("carol@example.test", Role::User).await;
    let account = app
        .ok(
            common::new_account(server, "carol@example.test", "", "pw"),
            &cookie,
        )
        .await;
    assert_eq!(app.login("carol@example.test", "wrong", None).await.0, 401);
    let t = app.state.clock.now();
    app::ssr::db::oauth_states::insert(
        &app.state.pool,
        app::ssr::db::oauth_states::NewState {
            state_hash: "hash",
            account_id: account,
            user_id: user,
            verifier_enc: vec![1],
            nonce_enc: vec![2],
            destination: "",
            created_at: t,
            expires_at: t + 600,
        },
    )
    .await
    .unwrap();
    // Nothing has expired yet.
    assert_eq!(purge(&app.state).await.unwrap(), Purged::default());
    app.advance_clock(8 * 24 * 3600);
    let purged = purge(&app.state).await.unwrap();
    assert_eq!(
        purged,
        Purged {
            sessions: 2,
            oauth_states: 1,
            sign_in_failures: 1,
            rate_events: 0,
            webhook_events: 0,
            audit: 0,
            notices: 0,
        }
    );
}
