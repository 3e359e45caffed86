//! Starts the real router on a random port with a fresh SQLite file, and signs people in.
#![allow(dead_code)]

use std::collections::HashMap;

use app::domain::{DisplayName, Email, Password, Role};
use app::ssr::AppState;
use server::{config::Config, startup};

pub struct TestApp {
    pub url: String,
    pub state: AppState,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

pub async fn spawn() -> TestApp {
    spawn_with(&[]).await
}

pub async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("test.db").display());
    spawn_on(dir, &db, extra).await
}

/// Starts a server on an existing data folder (a "restart" when one ran there before).
pub async fn spawn_on(dir: tempfile::TempDir, db: &str, extra: &[(&str, &str)]) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("LEPTOS_SITE_ADDR".into(), addr.to_string());
    env.insert("MAILBRIDGE_DATABASE_URL".into(), db.to_string());
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let state = startup::build_state(&config).await.expect("state");
    let app = startup::router(state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(startup::no_delay(listener), app).await;
    });
    TestApp {
        url: format!("http://{addr}"),
        state,
        dir,
        client: new_client(),
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        // A request that never gets an answer fails the test at that line instead of hanging.
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// The origin a browser on the configured public URL would send.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.state.settings.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.url.clone())
    }

    pub async fn add_user(&self, email: &str, role: Role) -> i64 {
        app::ssr::auth::insert_user(
            &self.state.pool,
            &Email::parse(email).unwrap(),
            &DisplayName::parse("Test person").unwrap(),
            role,
            &Password::parse(PASSWORD).unwrap(),
        )
        .await
        .expect("insert user")
    }

    /// A session cookie for `user_id`, made directly (no password hashing) for speed.
    pub async fn session_for(&self, user_id: i64) -> String {
        let token = app::ssr::auth::create_session(&self.state.pool, user_id)
            .await
            .unwrap();
        format!("{}={token}", app::ssr::auth::SESSION_COOKIE)
    }

    /// Calls a server function with a form body, as the browser does.
    pub async fn call(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let client = new_client();
        let mut req = client
            .post(format!("{}{path}", self.url))
            .header("origin", self.origin())
            .form(form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = new_client().get(format!("{}{path}", self.url));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send().await.expect("request")
    }

    /// Signs in through the real server function; returns the Set-Cookie pair on success.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        cookie: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let res = self
            .call(
                "/api/login",
                &[("email", email), ("password", password)],
                cookie,
            )
            .await;
        let status = res.status().as_u16();
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(app::ssr::auth::SESSION_COOKIE))
            .map(|v| v.split(';').next().unwrap_or_default().to_string());
        let body = res.text().await.unwrap_or_default();
        (status, cookie, body)
    }
}

pub mod oidc;
pub mod peers;

/// Form fields of a Google-type mail server draft for `save_mail_server`.
pub fn google_draft(
    subject: &str,
    client_id: &str,
    secret: &str,
    app_id: i64,
) -> Vec<(String, String)> {
    let mut v = vec![
        ("subject", subject.to_string()),
        ("auth_method", "oauth2".into()),
        ("provider", "google".into()),
        ("client_id", client_id.into()),
        ("client_secret", secret.into()),
        ("application_id", app_id.to_string()),
        ("imap_host", "imap.gmail.com".into()),
        ("imap_port", "993".into()),
        ("imap_encryption", "ssl".into()),
        ("smtp_host", "smtp.gmail.com".into()),
        ("smtp_port", "465".into()),
        ("smtp_encryption", "ssl".into()),
        ("validate_certificate", "true".into()),
        ("active", "true".into()),
        ("visible_to_users", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (format!("draft[{k}]"), v))
    .collect::<Vec<_>>();
    v.push(("id".into(), String::new()));
    v
}

pub fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub fn set(v: &mut [(String, String)], key: &str, value: &str) {
    for (k, val) in v.iter_mut() {
        if k == key {
            *val = value.to_string();
        }
    }
}

impl TestApp {
    pub async fn create_application(&self, cookie: &str, name: &str) -> i64 {
        let res = self
            .call(
                "/api/save_application",
                &[
                    ("id", ""),
                    ("name", name),
                    ("active", "true"),
                    ("allowed_ips", ""),
                ],
                Some(cookie),
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}
