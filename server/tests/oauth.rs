//! The authorisation flow against the real OAuth server of the peers kit: every way a callback
//! can go wrong ends on its own result page and changes nothing (but the account's last error).

mod common;

use std::time::{Duration, Instant};

use app::api::{applications, mail_accounts};
use app::domain::{AccountStatus, Role};
use app::error::AppError;
use app::ssr::crypto::aad;
use app::ssr::refresh::{self, RefreshError, RefreshSettings};
use common::{google_draft, new_account, oidc::Oidc, TestApp};

struct Setup {
    app: TestApp,
    oidc: Oidc,
    admin_cookie: String,
    user_cookie: String,
    user_id: i64,
    app_id: i64,
    redirect_uri: String,
    account: i64,
}

async fn setup_with(
    knobs: &[(&str, &str)],
    login: &str,
    metadata: Option<serde_json::Value>,
) -> Setup {
    let oidc = Oidc::start(knobs).await;
    let env = oidc.google_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = common::spawn_with(&env).await;
    let admin_cookie = app.admin().await;
    let (user_id, user_cookie) = app.person("owner@example.test", Role::User).await;
    let app_id = app.create_application(&admin_cookie, "Web").await;
    let list = app
        .ok(applications::ListApplications {}, &admin_cookie)
        .await;
    let redirect_uri = list[0].redirect_uri.clone();
    let (client_id, secret) = match metadata {
        Some(mut m) => {
            m["redirect_uris"] = serde_json::json!([redirect_uri]);
            oidc.register_with(m).await
        }
        None => oidc.register(&redirect_uri).await,
    };
    let d = google_draft("Google (local)", &client_id, &secret, app_id);
    let server = app.create_server(&admin_cookie, d).await;
    let account = app
        .ok(
            mail_accounts::CreateMailAccount {
                name: "Inbox".into(),
                ..new_account(server, login, "", "")
            },
            &user_cookie,
        )
        .await;
    Setup {
        app,
        oidc,
        admin_cookie,
        user_cookie,
        user_id,
        app_id,
        redirect_uri,
        account,
    }
}

async fn setup() -> Setup {
    setup_with(&[], "alice@example.test", None).await
}

impl Setup {
    async fn start(&self, cookie: &str) -> String {
        self.app
            .ok(
                mail_accounts::StartAuthorization { id: self.account },
                cookie,
            )
            .await
    }

    async fn unlink(&self, cookie: &str) -> Option<String> {
        self.app
            .ok(
                mail_accounts::UnlinkMailAccount { id: self.account },
                cookie,
            )
            .await
    }

    /// Saves the application as the admin (its name stays "Web").
    async fn save_application(&self, active: bool, allowed_ips: &str) {
        let id = self
            .app
            .ok(
                applications::SaveApplication {
                    id: self.app_id.to_string(),
                    name: "Web".into(),
                    active,
                    allowed_ips: allowed_ips.into(),
                },
                &self.admin_cookie,
            )
            .await;
        assert_eq!(id, self.app_id);
    }

    /// Calls our callback (a URL under the Redirect URI) as the browser would; returns the
    /// outcome code of the result page it redirects to.
    async fn callback(&self, url: &str, cookie: &str) -> String {
        let path = url
            .strip_prefix(&self.app.url)
            .expect("callback on this server");
        let res = self.app.get(path, Some(cookie)).await;
        assert_eq!(res.status(), 303, "{path}");
        let loc = res.headers()["location"].to_str().unwrap().to_string();
        let outcome = loc
            .strip_prefix("/oauth/result?outcome=")
            .unwrap_or_else(|| panic!("unexpected redirect {loc}"));
        outcome.split('&').next().unwrap().to_string()
    }

    /// Everything about the account and the states, to compare before and after.
    async fn snapshot(&self) -> Vec<String> {
        type Row = (String, Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>);
        let acc: Vec<Row> =
            sqlx::query_as("SELECT status, access_token_enc, refresh_token_enc, access_expires_at FROM mail_accounts ORDER BY id")
                .fetch_all(&self.app.state.pool)
                .await
                .unwrap();
        let states: Vec<(String, Option<i64>)> =
            sqlx::query_as("SELECT state_hash, used_at FROM oauth_states ORDER BY state_hash")
                .fetch_all(&self.app.state.pool)
                .await
                .unwrap();
        vec![format!("{acc:?}"), format!("{states:?}")]
    }

    /// The account as its page shows it.
    async fn view(&self) -> app::domain::MailAccountView {
        self.app
            .ok(
                mail_accounts::GetMailAccount { id: self.account },
                &self.user_cookie,
            )
            .await
    }

    async fn status(&self) -> (AccountStatus, bool, Option<String>) {
        let (status, has_refresh, error): (AccountStatus, app::ssr::db::Flag, Option<String>) =
            sqlx::query_as("SELECT status, refresh_token_enc IS NOT NULL, last_error FROM mail_accounts WHERE id = $1")
                .bind(self.account)
                .fetch_one(&self.app.state.pool)
                .await
                .unwrap();
        (status, has_refresh.0, error)
    }
}

fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(std::iter::once((key.to_string(), value.to_string())))
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

#[tokio::test]
async fn the_owner_links_a_mailbox_and_tokens_are_stored_encrypted() {
    let s = setup().await;
    let auth_url = s.start(&s.user_cookie).await;
    for p in [
        "access_type=offline",
        "prompt=consent",
        "code_challenge_method=S256",
        "login_hint=alice%40example.test",
    ] {
        assert!(auth_url.contains(p), "{p} missing from {auth_url}");
    }
    assert!(auth_url.contains(&format!(
        "redirect_uri={}",
        url::form_urlencoded::byte_serialize(s.redirect_uri.as_bytes()).collect::<String>()
    )));
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "linked");
    assert_eq!(s.status().await, (AccountStatus::Linked, true, None));
    let expires = s
        .view()
        .await
        .access_expires_at
        .expect("an expiry is stored");
    assert!(expires > s.app.state.clock.now() + 3000);

    // The token works at the provider, and is nowhere in plaintext in the database files.
    let token = refresh::ensure_fresh(&s.app.state, s.account, 60)
        .await
        .unwrap();
    let me = reqwest::Client::new()
        .get(format!("{}/me", s.oidc.issuer))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    for entry in std::fs::read_dir(s.app.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "access token in plaintext"
        );
    }

    // The state cannot be replayed.
    let before = s.snapshot().await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "used_state");
    assert_eq!(s.snapshot().await, before);

    // Unlink revokes at the provider and resets the account.
    assert_eq!(
        s.unlink(&s.user_cookie).await,
        None,
        "no revocation warning"
    );
    let me = reqwest::Client::new()
        .get(format!("{}/me", s.oidc.issuer))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        401,
        "revoking the refresh token revokes the grant"
    );
    let (status, has_refresh, _) = s.status().await;
    assert_eq!((status, has_refresh), (AccountStatus::Pending, false));
}

#[tokio::test]
async fn bad_callbacks_end_on_their_page_and_change_nothing() {
    let s = setup().await;
    let auth_url = s.start(&s.user_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    let before = s.snapshot().await;

    // A forged state, no state, and the right state for another user.
    assert_eq!(
        s.callback(&with_param(&back, "state", "forged"), &s.user_cookie)
            .await,
        "invalid_state"
    );
    assert_eq!(
        s.callback(&with_param(&back, "state", ""), &s.user_cookie)
            .await,
        "invalid_state"
    );
    let (_, other_cookie) = s.app.person("other@example.test", Role::User).await;
    assert_eq!(s.callback(&back, &other_cookie).await, "other_user");
    // An unknown application key.
    let unknown = back.replace(
        &s.redirect_uri,
        &format!("{}/oauth/callback/not-a-key", s.app.url),
    );
    assert_eq!(
        s.callback(&unknown, &s.user_cookie).await,
        "unknown_application"
    );
    assert_eq!(s.snapshot().await, before);

    // A disabled application.
    s.save_application(false, "").await;
    assert_eq!(
        s.callback(&back, &s.user_cookie).await,
        "disabled_application"
    );
    // An allowed-IP list the caller (127.0.0.1) is not in.
    s.save_application(true, "10.0.0.0/8").await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "address_refused");
    assert_eq!(s.snapshot().await, before);

    // With 127.0.0.1 allowed, an expired state is refused too: Mailbridge's clock moves past
    // the state's lifetime.
    s.save_application(true, "10.0.0.0/8, 127.0.0.1").await;
    s.app
        .advance_clock(app::ssr::oauth::start::STATE_TTL_SECS + 1);
    let before = s.snapshot().await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "expired_state");
    assert_eq!(s.snapshot().await, before);
    assert_eq!(s.status().await.0, AccountStatus::Pending);
}

#[tokio::test]
async fn provider_refusals_are_recorded_and_store_no_tokens() {
    let s = setup().await;

    // The provider's deny answer.
    let auth_url = s.start(&s.user_cookie).await;
    let state = url::Url::parse(&auth_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = format!(
        "{}?error=access_denied&error_description=End-User+aborted+interaction&state={state}",
        s.redirect_uri
    );
    assert_eq!(s.callback(&denied, &s.user_cookie).await, "access_denied");
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status, has_refresh), (AccountStatus::Pending, false));
    assert!(err.unwrap().contains("access_denied"));

    // The token endpoint rejects a code it never issued.
    let auth_url = s.start(&s.user_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    assert_eq!(
        s.callback(
            &with_param(&back, "code", "not-a-real-code"),
            &s.user_cookie
        )
        .await,
        "exchange_failed"
    );
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status, has_refresh), (AccountStatus::Pending, false));
    assert!(err.unwrap().contains("invalid_grant"));

    // Consent as another address than the login.
    let auth_url = s.start(&s.user_cookie).await;
    let mallory = with_param(&auth_url, "login_hint", "mallory@example.test");
    let back = s.oidc.consent(&mallory, &s.redirect_uri).await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "identity_mismatch");
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status, has_refresh), (AccountStatus::Pending, false));
    assert!(err.unwrap().contains("mallory@example.test"));
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_reported_and_stores_nothing() {
    let mut s = setup().await;
    let auth_url = s.start(&s.user_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    s.oidc.stop(); // the provider is gone between consent and exchange
    assert_eq!(
        s.callback(&back, &s.user_cookie).await,
        "provider_unreachable"
    );
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status, has_refresh), (AccountStatus::Pending, false));
    assert!(err.unwrap().contains("could not be reached"));
}

#[tokio::test]
async fn a_missing_refresh_token_is_an_error_the_user_is_told_about() {
    // A client registered without the refresh_token grant gets no refresh token.
    let s = setup_with(
        &[],
        "alice@example.test",
        Some(serde_json::json!({ "grant_types": ["authorization_code"] })),
    )
    .await;
    let auth_url = s.start(&s.user_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "no_refresh_token");
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status, has_refresh), (AccountStatus::Pending, false));
    assert!(err.unwrap().contains("no refresh token"));
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_start_and_the_state_is_bound_to_the_starter() {
    let s = setup().await;
    let (_, stranger_cookie) = s.app.person("stranger@example.test", Role::User).await;
    let res = s
        .app
        .call(
            mail_accounts::StartAuthorization { id: s.account },
            Some(&stranger_cookie),
        )
        .await;
    assert!(matches!(res, Err((404, AppError::NotFound(_)))), "{res:?}");
    // An admin may start it, but then only the admin may complete it.
    let auth_url = s.start(&s.admin_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "other_user");
    assert_eq!(s.callback(&back, &s.admin_cookie).await, "linked");
    let _ = s.user_id;
}

async fn linked(knobs: &[(&str, &str)]) -> Setup {
    let s = setup_with(knobs, "alice@example.test", None).await;
    let auth_url = s.start(&s.user_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "linked");
    s
}

/// The account's stored tokens, decrypted, and the access token's expiry.
async fn tokens(s: &Setup) -> (String, String, i64) {
    let row = app::ssr::db::mail_accounts::get(&s.app.state.pool, s.account)
        .await
        .unwrap()
        .expect("the account");
    let sb = &s.app.state.secrets;
    (
        sb.open_str(
            &row.access_token_enc.expect("access token"),
            &aad::ACCESS_TOKEN.row(s.account),
        )
        .unwrap(),
        sb.open_str(
            &row.refresh_token_enc.expect("refresh token"),
            &aad::REFRESH_TOKEN.row(s.account),
        )
        .unwrap(),
        row.access_expires_at.expect("expiry"),
    )
}

async fn works_at_provider(s: &Setup, access: &str) -> bool {
    reqwest::Client::new()
        .get(format!("{}/me", s.oidc.issuer))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

#[tokio::test]
async fn the_background_task_refreshes_short_lived_tokens() {
    // The provider's access tokens live 4 s; Mailbridge refreshes 2 s before expiry. Instead of
    // waiting for the token to come due, Mailbridge's clock moves 3 s: its first pass finds it
    // due (the provider's tokens and clock are untouched).
    let s = linked(&[("ACCESS_TTL", "4")]).await;
    let (first, _, _) = tokens(&s).await;
    let settings = RefreshSettings {
        before_secs: 2,
        interval_secs: 1,
        concurrency: 8,
        ..RefreshSettings::default()
    };
    assert!(
        refresh::due_accounts(&s.app.state, settings.before_secs)
            .await
            .unwrap()
            .is_empty(),
        "not due before the clock moves"
    );
    s.app.advance_clock(3);
    let worker = refresh::spawn(s.app.state.clone(), settings);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokens(&s).await.0 == first {
        assert!(
            Instant::now() < deadline,
            "the task never refreshed the token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.stop().await;
    let (now_token, _, expires) = tokens(&s).await;
    assert_ne!(now_token, first, "the access token was refreshed");
    assert!(expires > s.app.state.clock.now(), "and is valid now");
    assert!(works_at_provider(&s, &now_token).await);
    assert_eq!(s.status().await.0, AccountStatus::Linked);
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_and_the_old_one_never_reused() {
    let s = linked(&[("ROTATE_REFRESH", "1")]).await;
    let (_, r0, _) = tokens(&s).await;
    refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    let (_, r1, _) = tokens(&s).await;
    assert_ne!(r0, r1, "the rotated refresh token replaced the old one");
    // Reusing a consumed token would make the provider revoke the whole grant: a second and a
    // third refresh only work if each used the newest token.
    refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    let (a3, r3, _) = tokens(&s).await;
    assert_ne!(r3, r1);
    assert!(works_at_provider(&s, &a3).await);
    assert_eq!(s.status().await.0, AccountStatus::Linked);
}

#[tokio::test]
async fn a_revoked_grant_ends_in_needs_reauth_with_the_providers_message() {
    let s = linked(&[]).await;
    let (_, refresh, _) = tokens(&s).await;
    let res = reqwest::Client::new()
        .post(format!("{}/token/revocation", s.oidc.issuer))
        .form(&[("token", refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let err = refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Refused(_)), "{err:?}");
    let (status, has_refresh, last_error) = s.status().await;
    assert_eq!(status, AccountStatus::NeedsReauth);
    assert!(
        has_refresh,
        "tokens are kept for the record; the account shows Authorize again"
    );
    assert!(last_error.unwrap().contains("invalid_grant"));
}

#[tokio::test]
async fn a_provider_outage_is_a_transient_error_that_keeps_the_tokens() {
    let mut s = linked(&[]).await;
    let before = tokens(&s).await;
    s.oidc.stop();
    let err = refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Transient(_)), "{err:?}");
    let (status, _, last_error) = s.status().await;
    assert_eq!(status, AccountStatus::Error);
    assert!(last_error.unwrap().contains("network"));
    assert_eq!(tokens(&s).await, before, "tokens kept");
    let retry: i64 = sqlx::query_scalar("SELECT next_retry_at FROM mail_accounts WHERE id = $1")
        .bind(s.account)
        .fetch_one(&s.app.state.pool)
        .await
        .unwrap();
    assert!(
        retry > s.app.state.clock.now(),
        "retried later, with backoff"
    );
}

#[tokio::test]
async fn fifty_concurrent_uses_of_an_expiring_account_make_exactly_one_refresh_call() {
    // With rotation, a second refresh with the consumed token would revoke the grant.
    let s = linked(&[("ROTATE_REFRESH", "1")]).await;
    sqlx::query("UPDATE mail_accounts SET access_expires_at = $1")
        .bind(s.app.state.clock.now() + 5)
        .execute(&s.app.state.pool)
        .await
        .unwrap();
    let calls_before = s
        .app
        .state
        .refresher
        .calls
        .load(std::sync::atomic::Ordering::SeqCst);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let st = s.app.state.clone();
        let id = s.account;
        tasks.spawn(async move { refresh::ensure_fresh(&st, id, 60).await });
    }
    let mut seen = std::collections::HashSet::new();
    while let Some(r) = tasks.join_next().await {
        seen.insert(r.unwrap().expect("every use gets a token"));
    }
    let calls = s
        .app
        .state
        .refresher
        .calls
        .load(std::sync::atomic::Ordering::SeqCst)
        - calls_before;
    assert_eq!(calls, 1, "exactly one refresh request");
    assert_eq!(seen.len(), 1, "all 50 uses got the same fresh token");
    assert!(works_at_provider(&s, seen.iter().next().unwrap()).await);
    assert_eq!(s.status().await.0, AccountStatus::Linked);
}

/// Collects every log line the server writes on this thread (a current-thread runtime runs the
/// server's tasks here too).
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run on its own (`scripts/test.sh` does): a thread-local log capture sees nothing of what
/// other tests' threads log, but their first use of a log line can leave it switched off here.
#[tokio::test]
#[ignore = "run alone: cargo test --test oauth -- --ignored"]
async fn no_token_code_or_secret_is_ever_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // Callsites first hit by other tests (no subscriber there) cached "not interested".
    tracing::callsite::rebuild_interest_cache();

    let s = linked(&[("ROTATE_REFRESH", "1")]).await;
    refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    let (access, refresh, _) = tokens(&s).await;
    let (server_id, secret): (i64, Vec<u8>) =
        sqlx::query_as("SELECT id, client_secret_enc FROM mail_servers")
            .fetch_one(&s.app.state.pool)
            .await
            .unwrap();
    let secret = s
        .app
        .state
        .secrets
        .open_str(&secret, &aad::CLIENT_SECRET.row(server_id))
        .unwrap();
    // A failing exchange too: its error path must not log the code either.
    let auth_url = s.start(&s.user_cookie).await;
    let back = s.oidc.consent(&auth_url, &s.redirect_uri).await;
    let code = url::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(s.callback(&back, &s.user_cookie).await, "linked");
    s.unlink(&s.user_cookie).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("mailbox linked"),
        "the capture works: {}",
        logs.len()
    );
    for (what, value) in [
        ("access token", &access),
        ("refresh token", &refresh),
        ("client secret", &secret),
        ("code", &code),
    ] {
        assert!(
            !logs.contains(value.as_str()),
            "the {what} appears in the logs"
        );
    }
}
