//! Starts the real router on a random port with a fresh SQLite file.
#![allow(dead_code)]

use std::collections::HashMap;

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("LEPTOS_SITE_ADDR".into(), addr.to_string());
    env.insert(
        "MAILBRIDGE_DATABASE_URL".into(),
        format!("sqlite://{}", dir.path().join("test.db").display()),
    );
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let state = startup::build_state(&config).await.expect("state");
    let app = startup::router(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("client");
    TestApp {
        url: format!("http://{addr}"),
        state,
        dir,
        client,
    }
}
