//! The authorisation flow against the real OAuth server of the peers kit: every way a callback
//! can go wrong ends on its own result page and changes nothing (but the account's last error).

mod common;

use app::domain::Role;
use common::{google_draft, oidc::Oidc, pairs, TestApp};

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
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let user_id = app.add_user("owner@example.test", Role::User).await;
    let admin_cookie = app.session_for(admin).await;
    let user_cookie = app.session_for(user_id).await;
    let app_id = app.create_application(&admin_cookie, "Web").await;
    let list: serde_json::Value = app
        .call("/api/list_applications", &[], Some(&admin_cookie))
        .await
        .json()
        .await
        .unwrap();
    let redirect_uri = list[0]["redirect_uri"].as_str().unwrap().to_string();
    let (client_id, secret) = match metadata {
        Some(mut m) => {
            m["redirect_uris"] = serde_json::json!([redirect_uri]);
            oidc.register_with(m).await
        }
        None => oidc.register(&redirect_uri).await,
    };
    let d = google_draft("Google (local)", &client_id, &secret, app_id);
    let res = app
        .call("/api/save_mail_server", &pairs(&d), Some(&admin_cookie))
        .await;
    assert_eq!(res.status(), 200);
    let server: i64 = res.json().await.unwrap();
    let res = app
        .call(
            "/api/create_mail_account",
            &[
                ("name", "Inbox"),
                ("mail_server_id", &server.to_string()),
                ("login", login),
                ("owner_id", ""),
                ("password", ""),
            ],
            Some(&user_cookie),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let account: i64 = res.json().await.unwrap();
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
        let res = self
            .app
            .call(
                "/api/start_authorization",
                &[("id", &self.account.to_string())],
                Some(cookie),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        res.json().await.unwrap()
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

    async fn status(&self) -> (String, bool, Option<String>) {
        sqlx::query_as("SELECT status, refresh_token_enc IS NOT NULL, last_error FROM mail_accounts WHERE id = ?1")
            .bind(self.account)
            .fetch_one(&self.app.state.pool)
            .await
            .unwrap()
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
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status.as_str(), has_refresh, err), ("linked", true, None));
    let expires: i64 =
        sqlx::query_scalar("SELECT access_expires_at FROM mail_accounts WHERE id = ?1")
            .bind(s.account)
            .fetch_one(&s.app.state.pool)
            .await
            .unwrap();
    assert!(expires > app::ssr::db::now() + 3000);

    // The token works at the provider, and is nowhere in plaintext in the database files.
    let token = app::ssr::refresh::ensure_fresh(&s.app.state, s.account, 60)
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
    let res = s
        .app
        .call(
            "/api/unlink_mail_account",
            &[("id", &s.account.to_string())],
            Some(&s.user_cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    let warning: Option<String> = res.json().await.unwrap();
    assert_eq!(warning, None);
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
    assert_eq!((status.as_str(), has_refresh), ("pending", false));
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
    let other = s.app.add_user("other@example.test", Role::User).await;
    let other_cookie = s.app.session_for(other).await;
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
    let res = s
        .app
        .call(
            "/api/save_application",
            &[
                ("id", &s.app_id.to_string()),
                ("name", "Web"),
                ("active", "false"),
                ("allowed_ips", ""),
            ],
            Some(&s.admin_cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        s.callback(&back, &s.user_cookie).await,
        "disabled_application"
    );
    // An allowed-IP list the caller (127.0.0.1) is not in.
    let res = s
        .app
        .call(
            "/api/save_application",
            &[
                ("id", &s.app_id.to_string()),
                ("name", "Web"),
                ("active", "true"),
                ("allowed_ips", "10.0.0.0/8"),
            ],
            Some(&s.admin_cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(s.callback(&back, &s.user_cookie).await, "address_refused");
    assert_eq!(s.snapshot().await, before);

    // With 127.0.0.1 allowed, an expired state is refused too.
    let res = s
        .app
        .call(
            "/api/save_application",
            &[
                ("id", &s.app_id.to_string()),
                ("name", "Web"),
                ("active", "true"),
                ("allowed_ips", "10.0.0.0/8, 127.0.0.1"),
            ],
            Some(&s.admin_cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    sqlx::query("UPDATE oauth_states SET expires_at = ?1")
        .bind(app::ssr::db::now() - 1)
        .execute(&s.app.state.pool)
        .await
        .unwrap();
    let before = s.snapshot().await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "expired_state");
    assert_eq!(s.snapshot().await, before);
    assert_eq!(s.status().await.0, "pending");
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
    assert_eq!((status.as_str(), has_refresh), ("pending", false));
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
    assert_eq!((status.as_str(), has_refresh), ("pending", false));
    assert!(err.unwrap().contains("invalid_grant"));

    // Consent as another address than the login.
    let auth_url = s.start(&s.user_cookie).await;
    let mallory = with_param(&auth_url, "login_hint", "mallory@example.test");
    let back = s.oidc.consent(&mallory, &s.redirect_uri).await;
    assert_eq!(s.callback(&back, &s.user_cookie).await, "identity_mismatch");
    let (status, has_refresh, err) = s.status().await;
    assert_eq!((status.as_str(), has_refresh), ("pending", false));
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
    let (status, has_refresh, err) = (
        sqlx::query_scalar::<_, String>("SELECT status FROM mail_accounts")
            .fetch_one(&s.app.state.pool)
            .await
            .unwrap(),
        false,
        sqlx::query_scalar::<_, Option<String>>("SELECT last_error FROM mail_accounts")
            .fetch_one(&s.app.state.pool)
            .await
            .unwrap(),
    );
    assert_eq!((status.as_str(), has_refresh), ("pending", false));
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
    assert_eq!((status.as_str(), has_refresh), ("pending", false));
    assert!(err.unwrap().contains("no refresh token"));
}

#[tokio::test]
async fn only_the_owner_or_an_admin_may_start_and_the_state_is_bound_to_the_starter() {
    let s = setup().await;
    let stranger = s.app.add_user("stranger@example.test", Role::User).await;
    let stranger_cookie = s.app.session_for(stranger).await;
    let res = s
        .app
        .call(
            "/api/start_authorization",
            &[("id", &s.account.to_string())],
            Some(&stranger_cookie),
        )
        .await;
    assert_eq!(res.status(), 404);
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

async fn tokens(s: &Setup) -> (String, String, i64) {
    let (a, r, e): (Vec<u8>, Vec<u8>, i64) =
        sqlx::query_as("SELECT access_token_enc, refresh_token_enc, access_expires_at FROM mail_accounts WHERE id = ?1")
            .bind(s.account)
            .fetch_one(&s.app.state.pool)
            .await
            .unwrap();
    let sb = &s.app.state.secrets;
    (
        sb.open_str(&a, app::ssr::oauth::AAD_ACCESS).unwrap(),
        sb.open_str(&r, app::ssr::oauth::AAD_REFRESH).unwrap(),
        e,
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
    let s = linked(&[("ACCESS_TTL", "4")]).await;
    let (first, _, _) = tokens(&s).await;
    let settings = app::ssr::refresh::RefreshSettings {
        before_secs: 2,
        interval_secs: 1,
        concurrency: 8,
    };
    let worker = app::ssr::refresh::spawn(s.app.state.clone(), settings);
    tokio::time::sleep(std::time::Duration::from_millis(4500)).await;
    worker.stop().await;
    let (now_token, _, expires) = tokens(&s).await;
    assert_ne!(now_token, first, "the access token was refreshed");
    assert!(expires > app::ssr::db::now(), "and is valid now");
    assert!(works_at_provider(&s, &now_token).await);
    assert_eq!(s.status().await.0, "linked");
}

#[tokio::test]
async fn a_rotated_refresh_token_is_saved_and_the_old_one_never_reused() {
    let s = linked(&[("ROTATE_REFRESH", "1")]).await;
    let (_, r0, _) = tokens(&s).await;
    app::ssr::refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    let (_, r1, _) = tokens(&s).await;
    assert_ne!(r0, r1, "the rotated refresh token replaced the old one");
    // Reusing a consumed token would make the provider revoke the whole grant: a second and a
    // third refresh only work if each used the newest token.
    app::ssr::refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    app::ssr::refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    let (a3, r3, _) = tokens(&s).await;
    assert_ne!(r3, r1);
    assert!(works_at_provider(&s, &a3).await);
    assert_eq!(s.status().await.0, "linked");
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
    let err = app::ssr::refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, app::ssr::refresh::RefreshError::Refused(_)),
        "{err:?}"
    );
    let (status, has_refresh, last_error) = s.status().await;
    assert_eq!(status, "needs_reauth");
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
    let err = app::ssr::refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, app::ssr::refresh::RefreshError::Transient(_)),
        "{err:?}"
    );
    let (status, _, last_error) = s.status().await;
    assert_eq!(status, "error");
    assert!(last_error.unwrap().contains("network"));
    assert_eq!(tokens(&s).await, before, "tokens kept");
    let retry: i64 = sqlx::query_scalar("SELECT next_retry_at FROM mail_accounts")
        .fetch_one(&s.app.state.pool)
        .await
        .unwrap();
    assert!(retry > app::ssr::db::now(), "retried later, with backoff");
}

#[tokio::test]
async fn fifty_concurrent_uses_of_an_expiring_account_make_exactly_one_refresh_call() {
    // With rotation, a second refresh with the consumed token would revoke the grant.
    let s = linked(&[("ROTATE_REFRESH", "1")]).await;
    sqlx::query("UPDATE mail_accounts SET access_expires_at = ?1")
        .bind(app::ssr::db::now() + 5)
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
        tasks.spawn(async move { app::ssr::refresh::ensure_fresh(&st, id, 60).await });
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
    assert_eq!(s.status().await.0, "linked");
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
    app::ssr::refresh::refresh(&s.app.state, s.account, 0, true)
        .await
        .unwrap();
    let (access, refresh, _) = tokens(&s).await;
    let secret: Vec<u8> = sqlx::query_scalar("SELECT client_secret_enc FROM mail_servers")
        .fetch_one(&s.app.state.pool)
        .await
        .unwrap();
    let secret = s
        .app
        .state
        .secrets
        .open_str(&secret, "mail_servers.client_secret")
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
    let unlink = s
        .app
        .call(
            "/api/unlink_mail_account",
            &[("id", &s.account.to_string())],
            Some(&s.user_cookie),
        )
        .await;
    assert_eq!(unlink.status(), 200);

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
