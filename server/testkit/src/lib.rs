//! Mailbridge's test kit: the real router on a random port with a fresh SQLite file, typed
//! calls of server functions (`Result<T, AppError>`, as the browser gets them), scenario
//! builders (admin, application, server, account) and the real peers (OIDC, Dovecot, Postfix).
//! Used by `server/tests` and `server/examples/bench.rs`; never by product code.

pub mod linked;
pub mod mailclient;
pub mod oidc;
pub mod peers;
pub mod postgres;
pub mod process;
pub mod scenario;
pub mod webhooks;

use std::collections::HashMap;

use app::domain::{DisplayName, Email, Password, Role};
use app::error::AppError;
use app::ssr::{sessions, AppState};
use leptos::server_fn::ServerFn;
use serde::{de::DeserializeOwned, Serialize};
use server::{config::Config, startup};

pub use app::domain::MailServerDraft;

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    /// The database this instance runs on (a second instance or a restart uses it again).
    pub db_url: String,
    /// The SMTP relay and IMAP proxy, when the environment asked for them.
    pub gateways: server::gateway::Gateways,
}

/// Set (to an admin URL of a running PostgreSQL, e.g. by `with-postgres`) to run the tests on
/// PostgreSQL: each test server then gets a database of its own in that cluster.
pub const TEST_POSTGRES: &str = "MAILBRIDGE_TEST_POSTGRES";

/// Whether this run's test servers use PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(TEST_POSTGRES).is_ok_and(|v| !v.is_empty())
}

/// A new, empty database for one test server: a SQLite file `name` in `dir`, or, when the run
/// is on PostgreSQL, a new database in that cluster.
pub async fn fresh_db(dir: &std::path::Path, name: &str) -> String {
    match std::env::var(TEST_POSTGRES) {
        Ok(admin) if !admin.is_empty() => postgres::fresh_database(&admin).await,
        _ => format!("sqlite://{}", dir.join(name).display()),
    }
}

pub async fn spawn() -> TestApp {
    spawn_with(&[]).await
}

pub async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_db(dir.path(), "test.db").await;
    spawn_on(dir, &db, extra).await
}

/// Starts a server on an existing data folder (a "restart" when one ran there before).
pub async fn spawn_on(dir: tempfile::TempDir, db: &str, extra: &[(&str, &str)]) -> TestApp {
    try_spawn_on(dir, db, extra)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"))
}

/// The same, with start-up errors returned (for tests of start-up itself).
pub async fn try_spawn_on(
    dir: tempfile::TempDir,
    db: &str,
    extra: &[(&str, &str)],
) -> Result<TestApp, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("LEPTOS_SITE_ADDR".into(), addr.to_string());
    env.insert("MAILBRIDGE_DATABASE_URL".into(), db.to_string());
    // The kit's peers listen on loopback; a test that needs the default (nothing private)
    // passes an empty value.
    env.insert(
        "MAILBRIDGE_ALLOW_PRIVATE_NETWORKS".into(),
        "127.0.0.0/8".into(),
    );
    // Beside the SQLite file by default; a PostgreSQL database has no folder, so one named
    // after the database stands in (never the working folder's data/): a restart or a second
    // instance on the same database finds the same key, as they do beside a SQLite file.
    if !db.starts_with("sqlite:") {
        env.insert(
            "MAILBRIDGE_SECRET_KEY_FILE".into(),
            postgres::key_file_for(db).display().to_string(),
        );
    }
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned()).map_err(|e| e.to_string())?;
    // The servers' logs on stderr, for a failing test's `--nocapture` run.
    if std::env::var_os("MAILBRIDGE_TEST_LOG").is_some() {
        server::telemetry::init(&config.log_format);
    }
    let state = startup::build_state(&config)
        .await
        .map_err(|e| e.to_string())?;
    let gateways = server::gateway::start(&state, &config)
        .await
        .map_err(|e| e.to_string())?;
    let router = startup::router(state.clone());
    let limits = startup::conn_limits(&state);
    tokio::spawn(server::serving::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    Ok(TestApp {
        url: format!("http://{addr}"),
        state,
        dir,
        db_url: db.to_string(),
        gateways,
    })
}

impl TestApp {
    /// Starts this instance's webhook delivery worker (the kit's servers run no background
    /// task unless a test asks); it stops when the returned worker is dropped or stopped.
    pub fn deliver(&self) -> app::ssr::webhooks::worker::Worker {
        app::ssr::webhooks::worker::spawn(self.state.clone())
    }

    /// Starts this instance's notice worker (a round every 5 s).
    pub fn notify(&self) -> app::ssr::notices::Worker {
        app::ssr::notices::spawn(self.state.clone())
    }

    /// A second instance on this one's database (and its key file): what a load balancer
    /// would have behind the same address.
    pub async fn beside(&self, extra: &[(&str, &str)]) -> TestApp {
        let own = tempfile::tempdir().expect("temp dir");
        let key = self.dir.path().join("secret.key");
        let key = key.to_string_lossy().to_string();
        let mut env: Vec<(&str, &str)> = Vec::new();
        // On PostgreSQL the kit already names the key file after the database.
        if self.db_url.starts_with("sqlite:") {
            env.push(("MAILBRIDGE_SECRET_KEY_FILE", key.as_str()));
        }
        env.extend_from_slice(extra);
        spawn_on(own, &self.db_url, &env).await
    }
}

/// Serves `router` on a free loopback port for the rest of the test; its address.
pub async fn serve_on_loopback(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A client like a browser's: keeps cookies, never follows redirects (tests look at them),
/// and gives up after 30 s so a hang fails the test at its line.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

pub const PASSWORD: &str = "correct horse battery";

/// A server function's answer as the browser decodes it: the value, or the `AppError` with the
/// HTTP status it came with.
pub type Answer<T> = Result<T, (u16, AppError)>;

impl TestApp {
    /// The `Host` a browser (or a proxy forwarding it) sends for the configured public URL:
    /// the first the server answers to.
    pub fn host(&self) -> String {
        self.state
            .settings
            .allowed_hosts
            .first()
            .cloned()
            .unwrap_or_default()
    }

    /// The origin a browser on the configured public URL would send.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.state.settings.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.url.clone())
    }

    pub async fn add_user(&self, email: &str, role: Role) -> i64 {
        app::ssr::service::users::create(
            &self.state.pool,
            self.state.clock.now(),
            &Email::parse(email).expect("email"),
            &DisplayName::parse("Test person").expect("name"),
            role,
            &Password::parse(PASSWORD).expect("password"),
        )
        .await
        .expect("insert user")
    }

    /// A session cookie for `user_id`, made directly (no password hashing) for speed.
    pub async fn session_for(&self, user_id: i64) -> String {
        let token = sessions::create(&self.state, user_id)
            .await
            .expect("session");
        let name = sessions::cookie_name(self.state.settings.secure_cookies());
        format!("{name}={token}")
    }

    /// Posts a server function's arguments as the browser does (a form, with this site's
    /// Origin) and returns the raw response, for tests about statuses and headers.
    pub async fn post<F>(&self, args: &F, cookie: Option<&str>) -> reqwest::Response
    where
        F: ServerFn + Serialize,
    {
        self.post_with(args, cookie, &[]).await
    }

    /// [`TestApp::post`] with extra headers (e.g. `X-Forwarded-For`).
    pub async fn post_with<F>(
        &self,
        args: &F,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response
    where
        F: ServerFn + Serialize,
    {
        let body = serde_qs::to_string(args).expect("form encoding");
        let mut req = new_client()
            .post(format!("{}{}", self.url, F::PATH))
            .header("host", self.host())
            .header("origin", self.origin())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request")
    }

    /// Calls a server function as `cookie`'s owner and decodes its answer.
    pub async fn call<F>(&self, args: F, cookie: Option<&str>) -> Answer<F::Output>
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned,
    {
        decode::<F::Output>(self.post(&args, cookie).await).await
    }

    /// Calls a server function that must succeed; panics with the error otherwise.
    pub async fn ok<F>(&self, args: F, cookie: &str) -> F::Output
    where
        F: ServerFn<Error = AppError> + Serialize,
        F::Output: DeserializeOwned,
    {
        let path = F::PATH;
        match self.call(args, Some(cookie)).await {
            Ok(v) => v,
            Err((status, e)) => panic!("{path} answered {status}: {e:?}"),
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        self.get_with(path, cookie, &[]).await
    }

    /// [`TestApp::get`] with extra headers.
    pub async fn get_with(
        &self,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = new_client()
            .get(format!("{}{path}", self.url))
            .header("host", self.host());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request")
    }

    /// Signs in through the real server function; returns the status, the session cookie
    /// pair on success, and the answer.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        cookie: Option<&str>,
    ) -> (u16, Option<String>, Answer<()>) {
        let args = app::api::auth::Login {
            email: email.into(),
            password: password.into(),
        };
        let res = self.post(&args, cookie).await;
        let status = res.status().as_u16();
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(sessions::cookie_name(self.state.settings.secure_cookies())))
            .map(|v| v.split(';').next().unwrap_or_default().to_string());
        (status, cookie, decode::<()>(res).await)
    }

    /// Moves the server's clock forward instead of sleeping.
    pub fn advance_clock(&self, secs: i64) {
        self.state.clock.advance(secs);
    }
}

/// Decodes a server function's response: JSON of the value on 2xx, JSON of an `AppError`
/// otherwise (a body that is neither fails the test, with what it was).
pub async fn decode<T: DeserializeOwned>(res: reqwest::Response) -> Answer<T> {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    if (200..300).contains(&status) {
        Ok(serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer {status} is not the expected JSON ({e}): {text}")))
    } else {
        let err = serde_json::from_str::<AppError>(&text)
            .unwrap_or_else(|e| panic!("error {status} is not an AppError ({e}): {text}"));
        Err((status, err))
    }
}

/// The field labels of a refused form, in order (empty when the error is not about fields).
pub fn fields<T: std::fmt::Debug>(answer: &Answer<T>) -> Vec<String> {
    match answer {
        Err((_, e)) => e.field_names().into_iter().map(str::to_string).collect(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}
