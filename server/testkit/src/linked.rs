//! A mailbox linked through the real authorisation flow: the kit's OIDC server standing in for
//! Google, an admin, an owner, an application, a server and an account, consented and stored —
//! what the custody, race and revocation tests start from.

use app::api::{applications, mail_accounts};
use app::domain::Role;
use app::ssr::crypto::aad;

use crate::oidc::Oidc;
use crate::scenario::{google_draft, new_account};
use crate::TestApp;

pub struct Linked {
    pub app: TestApp,
    pub oidc: Oidc,
    pub admin: String,
    pub owner: String,
    pub owner_id: i64,
    pub server: i64,
    pub account: i64,
    pub redirect_uri: String,
    pub client_id: String,
    pub client_secret: String,
}

impl Linked {
    /// `login` linked on a Google server at a fresh OIDC server with `knobs`; `env` is added to
    /// Mailbridge's environment (after the Google overrides, so it may replace one).
    pub async fn start(knobs: &[(&str, &str)], env: &[(&str, &str)], login: &str) -> Linked {
        Linked::start_with(Oidc::start(knobs).await, env, login).await
    }

    /// The same, with an OIDC server already started.
    pub async fn start_with(oidc: Oidc, env: &[(&str, &str)], login: &str) -> Linked {
        let mut vars = oidc.google_env();
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = crate::spawn_with(&vars).await;
        let admin = app.admin().await;
        let (owner_id, owner) = app.person("owner@example.test", Role::User).await;
        let app_id = app.create_application(&admin, "Web").await;
        let redirect_uri = app
            .ok(applications::GetApplication { id: app_id }, &admin)
            .await
            .redirect_uri;
        let (client_id, client_secret) = oidc.register(&redirect_uri).await;
        let server = app
            .create_server(
                &admin,
                google_draft("Google (local)", &client_id, &client_secret, app_id),
            )
            .await;
        let account = app.create_account(&owner, server, login).await;
        let l = Linked {
            app,
            oidc,
            admin,
            owner,
            owner_id,
            server,
            account,
            redirect_uri,
            client_id,
            client_secret,
        };
        assert_eq!(l.authorize(&l.owner, l.account).await, "linked");
        l
    }

    /// Runs the whole authorisation of `account` as the holder of `cookie` (the kit's provider
    /// approves the login hint); returns the result page's outcome code.
    pub async fn authorize(&self, cookie: &str, account: i64) -> String {
        self.authorize_as(cookie, account, None).await
    }

    /// The same, consenting at the provider as `consent_as` instead of the mailbox's login.
    pub async fn authorize_as(
        &self,
        cookie: &str,
        account: i64,
        consent_as: Option<&str>,
    ) -> String {
        let mut auth_url = self
            .app
            .ok(mail_accounts::StartAuthorization { id: account }, cookie)
            .await;
        if let Some(who) = consent_as {
            let mut url = url::Url::parse(&auth_url).expect("authorization URL");
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "login_hint" {
                        who.to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
            auth_url = url.to_string();
        }
        let back = self.oidc.consent(&auth_url, &self.redirect_uri).await;
        let path = back
            .strip_prefix(&self.app.url)
            .expect("callback on this server");
        let res = self.app.get(path, Some(cookie)).await;
        assert_eq!(res.status(), 303, "{path}");
        let loc = res.headers()["location"].to_str().unwrap_or_default();
        loc.strip_prefix("/oauth/result?outcome=")
            .unwrap_or_else(|| panic!("unexpected redirect {loc}"))
            .split('&')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The refresh token stored for `account`, decrypted (`None` when it holds none).
    pub async fn refresh_token(&self, account: i64) -> Option<String> {
        let row = app::ssr::db::mail_accounts::get(&self.app.state.pool, account)
            .await
            .expect("read")?;
        let blob = row.refresh_token_enc?;
        Some(
            self.app
                .state
                .secrets
                .open_str(&blob, &aad::REFRESH_TOKEN.row(account))
                .expect("decrypts"),
        )
    }

    /// Revokes `account`'s refresh token at the provider (RFC 7009) and lets a forced refresh
    /// find out: the account goes to `needs_reauth`. Returns the revoked token.
    pub async fn revoke_grant(&self, account: i64) -> String {
        let grant = self.refresh_token(account).await.expect("a grant");
        let res = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.oidc.issuer))
            .form(&[("token", grant.as_str())])
            .send()
            .await
            .expect("revocation");
        assert_eq!(res.status(), 200);
        app::ssr::refresh::refresh(&self.app.state, account, 0, true)
            .await
            .expect_err("the provider refuses a revoked grant");
        grant
    }

    /// Whether the provider still honours `token` (RFC 7662 introspection).
    pub async fn active_at_provider(&self, token: &str) -> bool {
        self.oidc
            .is_active(&self.client_id, &self.client_secret, token)
            .await
    }

    /// `(status, last error)` of `account`.
    pub async fn status(&self, account: i64) -> (app::domain::AccountStatus, Option<String>) {
        sqlx::query_as("SELECT status, last_error FROM mail_accounts WHERE id = $1")
            .bind(account)
            .fetch_one(&self.app.state.pool)
            .await
            .expect("account")
    }

    /// A second mailbox `login` for the owner on the same server, linked.
    pub async fn link_another(&self, login: &str) -> i64 {
        let id = self
            .app
            .ok(new_account(self.server, login, "", ""), &self.owner)
            .await;
        assert_eq!(self.authorize(&self.owner, id).await, "linked");
        id
    }
}

/// A TCP relay that holds every answer of its upstream for `delay` before passing it on, and
/// keeps a copy of what the upstream said: a slow provider, to hold a request in flight while
/// something else happens.
pub struct SlowRelay {
    pub addr: std::net::SocketAddr,
    pub delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub answers: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl SlowRelay {
    pub async fn start(upstream: std::net::SocketAddr) -> SlowRelay {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let answers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (d, a) = (delay_ms.clone(), answers.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (d, a) = (d.clone(), a.clone());
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    });
                    let mut buf = vec![0u8; 16 * 1024];
                    // Every chunk waits (a kept-alive connection carries several answers).
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let ms = d.load(Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                        if let Ok(mut all) = a.lock() {
                            all.extend_from_slice(&buf[..n]);
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SlowRelay {
            addr,
            delay_ms,
            answers,
        }
    }

    /// Every `"refresh_token":"…"` value the upstream sent so far.
    pub fn refresh_tokens_seen(&self) -> Vec<String> {
        let all = self.answers.lock().map(|a| a.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&all);
        text.split("\"refresh_token\":\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next().map(str::to_string))
            .collect()
    }
}

/// What [`TokenTamper`] does to the provider's token answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tamper {
    /// Passes them on unchanged (remembering the first id_token).
    None,
    /// Rewrites the id_token's `email` claim, keeping the provider's header and signature: a
    /// forgery an attacker on the way (or a compromised proxy) could make.
    SwapEmail(String),
    /// Replaces the id_token with the first one seen: a genuine token from another
    /// authorisation, replayed.
    ReplayFirst,
    /// Answers 503 without asking the provider: an outage that ends when the mode changes.
    Unavailable,
}

/// A man in the middle of the token endpoint: forwards each request to the real provider and
/// tampers with the id_token of the answer as told.
pub struct TokenTamper {
    pub url: String,
    pub mode: std::sync::Arc<std::sync::Mutex<Tamper>>,
}

impl TokenTamper {
    pub async fn start(issuer: &str) -> TokenTamper {
        use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
        type Shared = (
            String,
            std::sync::Arc<std::sync::Mutex<Tamper>>,
            std::sync::Arc<std::sync::Mutex<Option<String>>>,
        );
        async fn token(
            State((upstream, mode, first)): State<Shared>,
            headers: HeaderMap,
            body: Bytes,
        ) -> (
            axum::http::StatusCode,
            [(&'static str, &'static str); 1],
            String,
        ) {
            if *mode.lock().expect("mode") == Tamper::Unavailable {
                return (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    [("content-type", "application/json")],
                    r#"{"error":"temporarily_unavailable"}"#.to_string(),
                );
            }
            let mut req = reqwest::Client::new().post(&upstream).body(body.to_vec());
            for name in ["content-type", "authorization", "accept"] {
                if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                    req = req.header(name, v);
                }
            }
            let res = req.send().await.expect("upstream token endpoint");
            let status = axum::http::StatusCode::from_u16(res.status().as_u16())
                .unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
            let mut json: serde_json::Value = res.json().await.unwrap_or_default();
            if let Some(id_token) = json["id_token"].as_str().map(str::to_string) {
                let remembered = {
                    let mut f = first.lock().expect("first");
                    f.get_or_insert(id_token.clone()).clone()
                };
                let mode = mode.lock().expect("mode").clone();
                let replaced = match mode {
                    Tamper::None | Tamper::Unavailable => id_token,
                    Tamper::ReplayFirst => remembered,
                    Tamper::SwapEmail(email) => swap_claim(&id_token, "email", &email),
                };
                json["id_token"] = serde_json::Value::String(replaced);
            }
            (
                status,
                [("content-type", "application/json")],
                json.to_string(),
            )
        }
        let mode = std::sync::Arc::new(std::sync::Mutex::new(Tamper::None));
        let state: Shared = (
            format!("{issuer}/token"),
            mode.clone(),
            std::sync::Arc::new(std::sync::Mutex::new(None)),
        );
        let router = Router::new().route("/token", post(token)).with_state(state);
        let addr = crate::serve_on_loopback(router).await;
        TokenTamper {
            url: format!("http://{addr}/token"),
            mode,
        }
    }

    pub fn set(&self, t: Tamper) {
        *self.mode.lock().expect("mode") = t;
    }
}

/// `jwt` with one payload claim changed; header and signature kept as they were.
fn swap_claim(jwt: &str, claim: &str, value: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("payload")).expect("claims");
    payload[claim] = serde_json::Value::String(value.to_string());
    format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    )
}
