//! The real OAuth2/OIDC server of the project's peers kit (`end2end/peers/oauth/oidc.mjs`,
//! panva/oidc-provider), started on a free port for one test and stopped with it. The tests and
//! the benchmark both use it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Oidc {
    pub issuer: String,
    child: Child,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

fn kit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../end2end/peers/oauth")
}

pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free ports. All are held at once and released together on return: picked one
/// at a time, the kernel may hand out the same port twice (two of the peers kit's daemons once
/// got one port, and Dovecot refused a "duplicate listener").
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: [std::net::TcpListener; N] =
        std::array::from_fn(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("free port"));
    held.map(|l| l.local_addr().expect("bound port").port())
}

impl Oidc {
    /// `knobs`: the kit's settings, e.g. `("ROTATE_REFRESH", "1")`, `("ACCESS_TTL", "5")`.
    pub async fn start(knobs: &[(&str, &str)]) -> Oidc {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("oidc.log");
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg("oidc.mjs")
            .current_dir(kit_dir())
            .env("PEERS_OIDC_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
            .stderr(Stdio::from(
                std::fs::File::options()
                    .append(true)
                    .open(&log)
                    .expect("log"),
            ));
        for (k, v) in knobs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .expect("node must be installed (scripts/install.sh)");
        let issuer = format!("http://127.0.0.1:{port}");
        let oidc = Oidc {
            issuer,
            child,
            log,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = client.get(oidc.discovery_url()).send().await {
                if r.status().is_success() {
                    return oidc;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "oidc-provider did not start: {}",
            std::fs::read_to_string(&oidc.log).unwrap_or_default()
        );
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Dynamic client registration (RFC 7591) for exactly this redirect URI.
    pub async fn register(&self, redirect_uri: &str) -> (String, String) {
        self.register_with(serde_json::json!({ "redirect_uris": [redirect_uri] }))
            .await
    }

    /// Registration with any metadata (e.g. `grant_types` without `refresh_token`).
    pub async fn register_with(&self, metadata: serde_json::Value) -> (String, String) {
        register_with(&self.issuer, metadata).await
    }
}

/// Dynamic client registration at any issuer of the kit (also the one [`crate::peers::Peers`]
/// starts) for exactly this redirect URI; returns the client id and secret.
pub async fn register(issuer: &str, redirect_uri: &str) -> (String, String) {
    register_with(
        issuer,
        serde_json::json!({ "redirect_uris": [redirect_uri] }),
    )
    .await
}

async fn register_with(issuer: &str, metadata: serde_json::Value) -> (String, String) {
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/reg"))
        .json(&metadata)
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("registration JSON");
    (
        res["client_id"].as_str().expect("client_id").to_string(),
        res["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_string(),
    )
}

impl Oidc {
    /// The provider's process id (the benchmark reads its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A generic OAuth2 mail server at this provider for client `cid`, inserted directly (the
    /// application with id 1 must exist); returns its id.
    pub async fn insert_generic_server(
        &self,
        db: &mut sqlx::AnyConnection,
        secrets: &app::ssr::crypto::SecretBox,
        subject: &str,
        cid: &str,
        secret: &str,
    ) -> i64 {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO mail_servers (subject, subject_key, auth_method, provider, client_id, application_id,
                auth_url, token_url, imap_host, imap_port, imap_encryption, smtp_host, smtp_port, smtp_encryption, scopes, created_at, updated_at)
             VALUES ($1, lower($1), 'oauth2', 'generic', $2, 1, $3, $4, '127.0.0.1', 993, 'ssl', '127.0.0.1', 465, 'ssl',
                     'openid email', $5, $5) RETURNING id",
        )
        .bind(subject)
        .bind(cid)
        .bind(format!("{}/auth", self.issuer))
        .bind(format!("{}/token", self.issuer))
        .bind(app::ssr::clock::Clock::default().now())
        .fetch_one(&mut *db)
        .await
        .expect("mail server");
        // Sealed with the row's id, as the server does.
        let sealed = secrets.seal_str(secret, &app::ssr::crypto::aad::CLIENT_SECRET.row(id));
        app::ssr::db::mail_servers::set_secret(&mut *db, id, Some(sealed))
            .await
            .expect("client secret");
        id
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Oidc {
    /// The environment that points Mailbridge's built-in Google provider at this server.
    pub fn google_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "MAILBRIDGE_GOOGLE_AUTH_URL".into(),
                format!("{}/auth", self.issuer),
            ),
            (
                "MAILBRIDGE_GOOGLE_TOKEN_URL".into(),
                format!("{}/token", self.issuer),
            ),
            (
                "MAILBRIDGE_GOOGLE_USERINFO_URL".into(),
                format!("{}/me", self.issuer),
            ),
            (
                "MAILBRIDGE_GOOGLE_REVOKE_URL".into(),
                format!("{}/token/revocation", self.issuer),
            ),
            // Its ID tokens are checked against its own keys, as Google's are against Google's.
            ("MAILBRIDGE_GOOGLE_ISSUER".into(), self.issuer.clone()),
            (
                "MAILBRIDGE_GOOGLE_JWKS_URL".into(),
                format!("{}/jwks", self.issuer),
            ),
        ]
    }

    /// Follows the provider's redirects from `auth_url` (with AUTO_APPROVE=1 and a login_hint
    /// it is a pure redirect chain) until it points at `redirect_uri`; returns that URL.
    pub async fn consent(&self, auth_url: &str, redirect_uri: &str) -> String {
        consent(&self.issuer, auth_url, redirect_uri).await
    }
}

/// Follows an authorization server's redirects (AUTO_APPROVE=1 with a login_hint) until they
/// point at `redirect_uri`; returns that URL.
pub async fn consent(issuer: &str, auth_url: &str, redirect_uri: &str) -> String {
    {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let mut url = auth_url.to_string();
        for _ in 0..20 {
            if url.starts_with(redirect_uri) {
                return url;
            }
            let res = browser.get(&url).send().await.expect("provider request");
            let loc = res
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .unwrap_or_else(|| panic!("provider stopped at {url} with {}", res.status()));
            url = if loc.starts_with("http") {
                loc
            } else {
                format!("{issuer}{loc}")
            };
        }
        panic!("too many redirects at the provider");
    }
}

/// One user's grant, made through the provider's authorization-code flow.
pub struct Grant {
    pub login: String,
    pub access: String,
    pub refresh: String,
}

impl Oidc {
    /// `n` grants for `mailboxN@example.test`, each through the real code flow (AUTO_APPROVE=1
    /// with a login_hint) and the token endpoint, 16 at a time.
    pub async fn grants(&self, cid: &str, secret: &str, redirect: &str, n: usize) -> Vec<Grant> {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let (issuer, cid, secret, redirect, sem) = (
                self.issuer.clone(),
                cid.to_string(),
                secret.to_string(),
                redirect.to_string(),
                sem.clone(),
            );
            tasks.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore");
                let login = format!("mailbox{i}@example.test");
                let auth = format!(
                    "{issuer}/auth?response_type=code&client_id={cid}&redirect_uri={}&scope=openid%20email&state=s{i}&login_hint={login}",
                    url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
                );
                let back = consent(&issuer, &auth, &redirect).await;
                let code = url::Url::parse(&back)
                    .expect("callback URL")
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .map(|(_, v)| v.into_owned())
                    .expect("code");
                let tok: serde_json::Value = reqwest::Client::new()
                    .post(format!("{issuer}/token"))
                    .basic_auth(&cid, Some(&secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", redirect.as_str()),
                    ])
                    .send()
                    .await
                    .expect("token request")
                    .json()
                    .await
                    .expect("token JSON");
                Grant {
                    login,
                    access: tok["access_token"].as_str().expect("access").to_string(),
                    refresh: tok["refresh_token"].as_str().expect("refresh").to_string(),
                }
            });
        }
        let mut out = Vec::with_capacity(n);
        while let Some(g) = tasks.join_next().await {
            out.push(g.expect("grant task"));
        }
        out
    }
}

/// Accounts linked through the provider's real code flow, stored as due for a refresh.
pub struct Seeded {
    pub server: i64,
    pub client_id: String,
    pub client_secret: String,
    pub grants: Vec<Grant>,
    pub accounts: Vec<i64>,
}

impl Oidc {
    /// `n` grants from this provider for `owner`, on a generic mail server (application 1 must
    /// exist and be `redirect`'s), stored as linked with an access token already expired — the
    /// way the refresh tests start. Through the app's own db functions, sealed for their rows.
    pub async fn seed_due_grants(
        &self,
        state: &app::ssr::AppState,
        owner: i64,
        redirect: &str,
        n: usize,
    ) -> Seeded {
        use app::ssr::crypto::aad;
        use app::ssr::db::mail_accounts::{self, NewAccount};
        let (client_id, client_secret) = self
            .register_with(serde_json::json!({
                "redirect_uris": [redirect],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .await;
        let grants = self.grants(&client_id, &client_secret, redirect, n).await;
        let t0 = state.clock.now();
        let mut tx = state.pool.begin().await.expect("tx");
        let server = self
            .insert_generic_server(
                &mut tx,
                &state.secrets,
                "Rotating",
                &client_id,
                &client_secret,
            )
            .await;
        let mut accounts = vec![];
        for g in &grants {
            let id = mail_accounts::insert(
                &mut *tx,
                NewAccount {
                    mail_server_id: server,
                    owner_id: owner,
                    name: &g.login,
                    login: &g.login,
                    login_key: g.login.to_lowercase(),
                    status: app::domain::AccountStatus::Pending,
                },
                t0,
            )
            .await
            .expect("account");
            mail_accounts::save_grant(
                &mut *tx,
                id,
                state
                    .secrets
                    .seal_str(&g.access, &aad::ACCESS_TOKEN.row(id)),
                state
                    .secrets
                    .seal_str(&g.refresh, &aad::REFRESH_TOKEN.row(id)),
                t0 - 1,
                "openid email",
                t0,
                None,
            )
            .await
            .expect("grant");
            accounts.push(id);
        }
        tx.commit().await.expect("commit");
        Seeded {
            server,
            client_id,
            client_secret,
            grants,
            accounts,
        }
    }

    /// Whether the provider reports `token` (one issued to client `cid`) active (RFC 7662).
    pub async fn is_active(&self, cid: &str, secret: &str, token: &str) -> bool {
        introspect_active(&self.issuer, cid, secret, token).await
    }
}

impl Oidc {
    /// Asserts that `state`'s database holds exactly `n` accounts, every one `linked` with a
    /// refresh token this provider reports active for client (`cid`, `secret`): none lost.
    pub async fn assert_every_grant_alive(
        &self,
        state: &app::ssr::AppState,
        cid: &str,
        secret: &str,
        n: usize,
    ) {
        use app::domain::AccountStatus;
        use app::ssr::crypto::aad;
        let rows: Vec<(i64, AccountStatus, Vec<u8>)> =
            sqlx::query_as("SELECT id, status, refresh_token_enc FROM mail_accounts ORDER BY id")
                .fetch_all(&state.pool)
                .await
                .expect("accounts");
        assert_eq!(rows.len(), n);
        for (id, status, blob) in rows {
            assert_eq!(status, AccountStatus::Linked, "account {id}");
            let token = state
                .secrets
                .open_str(&blob, &aad::REFRESH_TOKEN.row(id))
                .expect("decrypts");
            assert!(
                self.is_active(cid, secret, &token).await,
                "account {id}'s grant is alive"
            );
        }
    }
}

/// [`Oidc::is_active`] without the provider at hand (for tasks of their own).
pub async fn introspect_active(issuer: &str, cid: &str, secret: &str, token: &str) -> bool {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/token/introspection"))
        .basic_auth(cid, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection")
        .json()
        .await
        .expect("introspection JSON");
    answer["active"] == serde_json::Value::Bool(true)
}
