//! `/metrics` (issue 16): off without `MAILBRIDGE_METRICS_TOKEN`, a bearer token when on,
//! Prometheus text that a parser of its own reads, and counters that move with what happens;
//! `/readyz`: the database and the background tasks' signs of life.

mod common;

use std::time::Duration;

use app::api::api_keys::CreateApiKey;
use app::domain::ApiKeyDraft;
use app::ssr::refresh;
use common::linked::Linked;

const TOKEN: &str = "metrics-token-0123456789abcdef";

async fn scrape(app: &common::TestApp, token: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(format!("{}/metrics", app.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// The samples of one scrape, by a Prometheus text parser.
async fn samples(app: &common::TestApp) -> prometheus_parse::Scrape {
    let res = scrape(app, Some(TOKEN)).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = res.text().await.unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"))
}

/// A counter's or gauge's value for these labels (0 when absent).
fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_are_off_without_a_token_and_need_it_when_on() {
    let off = common::spawn().await;
    assert_eq!(scrape(&off, Some(TOKEN)).await.status(), 404);

    let on = common::spawn_with(&[("MAILBRIDGE_METRICS_TOKEN", TOKEN)]).await;
    for presented in [None, Some("metrics-token-0123456789abcdeX"), Some("")] {
        let res = scrape(&on, presented).await;
        assert_eq!(res.status(), 401, "{presented:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        assert!(!res.text().await.unwrap().contains("mailbridge_"));
    }
    // By its IP, as a scraper would address one node.
    let by_ip = reqwest::Client::new()
        .get(format!("{}/metrics", on.url))
        .header("host", "10.0.0.7:9999")
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(by_ip.status(), 200);

    // A token too short to be one stops the start, naming the variable.
    let err = common::try_spawn_on(
        tempfile::tempdir().unwrap(),
        "sqlite::memory:",
        &[("MAILBRIDGE_METRICS_TOKEN", "short")],
    )
    .await
    .err()
    .unwrap();
    assert!(err.contains("MAILBRIDGE_METRICS_TOKEN"), "{err}");
}

#[tokio::test]
async fn counters_move_with_refreshes_hand_outs_tests_and_requests() {
    // The mail test goes to Google's host, unreachable here: it fails, quickly.
    let env = [
        ("MAILBRIDGE_METRICS_TOKEN", TOKEN),
        ("MAILBRIDGE_MAIL_TIMEOUT_SECS", "3"),
    ];
    let l = Linked::start(&[], &env, "alice@example.test").await;
    let before = samples(&l.app).await;
    assert_eq!(
        value(&before, "mailbridge_accounts", &[("status", "linked")]),
        1.0
    );
    assert_eq!(
        value(
            &before,
            "mailbridge_accounts",
            &[("status", "needs_reauth")]
        ),
        0.0,
        "every status is there, 0 when none"
    );

    refresh::refresh(&l.app.state, l.account, 0, true)
        .await
        .unwrap();
    let key = l
        .app
        .ok(
            CreateApiKey {
                draft: ApiKeyDraft {
                    name: "Metrics".into(),
                    all_servers: true,
                    perm_tokens: true,
                    ..Default::default()
                },
            },
            &l.admin,
        )
        .await
        .key;
    let res = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/accounts/{}/access-token",
            l.app.url, l.account
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    l.app.get("/mail-accounts", Some(&l.owner)).await;
    let test = l
        .app
        .ok(
            app::api::mail_test::TestMailAccount {
                id: l.account,
                protocol: app::domain::Protocol::Imap,
            },
            &l.owner,
        )
        .await;

    let after = samples(&l.app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(moved("mailbridge_refreshes_total", &[("outcome", "ok")]) >= 1.0);
    assert!(moved("mailbridge_refresh_duration_seconds_count", &[]) >= 1.0);
    assert!(moved("mailbridge_token_handouts_total", &[("via", "api")]) >= 1.0);
    let outcome = if test.ok { "passed" } else { "failed" };
    assert!(
        moved(
            "mailbridge_mail_tests_total",
            &[("protocol", "imap"), ("outcome", outcome)]
        ) >= 1.0
    );
    assert!(
        moved(
            "mailbridge_http_requests_total",
            &[("route", "/mail-accounts"), ("status", "200")]
        ) >= 1.0
    );
    assert!(
        moved(
            "mailbridge_http_requests_total",
            &[
                ("route", "/api/v1/accounts/:id/access-token"),
                ("status", "200")
            ]
        ) >= 1.0,
        "ids are taken out of the route label"
    );
    // Nothing secret in the text: no token, no key, no session.
    let text = scrape(&l.app, Some(TOKEN)).await.text().await.unwrap();
    let grant = l.refresh_token(l.account).await.unwrap();
    for secret in [
        key.as_str(),
        grant.as_str(),
        l.owner.as_str(),
        l.admin.as_str(),
    ] {
        assert!(!text.contains(secret));
    }
}

#[tokio::test]
async fn readyz_reports_the_database_and_each_background_task() {
    let app = common::spawn().await;
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), 503, "no task runs yet");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["tasks"]["refresh"]["alive"], false);

    let refreshing = refresh::spawn(app.state.clone(), app.state.refresh.clone());
    let _delivering = app.deliver();
    let _housekeeping = app::ssr::housekeeping::spawn(app.state.clone(), Duration::from_secs(600));
    let _notices = app.notify();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = app.get("/readyz", None).await;
        if res.status() == 200 {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["status"], "ready");
            for task in ["refresh", "webhooks", "housekeeping", "notices"] {
                assert_eq!(body["tasks"][task]["alive"], true, "{task}");
            }
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The database gone: not ready, and said why.
    refreshing.stop().await;
    app.state.pool.close().await;
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "error");
}

#[tokio::test]
async fn paths_no_route_matches_add_no_series() {
    let app = common::spawn_with(&[("MAILBRIDGE_METRICS_TOKEN", TOKEN)]).await;
    let (_, admin) = app
        .person("admin@example.test", app::domain::Role::Admin)
        .await;
    // Signed out, every path is a redirect to sign in; under /api/v1 a 401 or 404.
    for n in 0..25 {
        app.get(&format!("/junk-{n}/x"), None).await;
        app.get(&format!("/api/v1/junk-{n}"), None).await;
        app.get(&format!("/mail-accounts/{n}"), Some(&admin)).await;
    }
    let s = samples(&app).await;
    let routes: std::collections::BTreeSet<String> = s
        .samples
        .iter()
        .filter(|x| x.metric == "mailbridge_http_requests_total")
        .filter_map(|x| x.labels.get("route").map(str::to_string))
        .collect();
    assert!(!routes.iter().any(|r| r.contains("junk")), "{routes:?}");
    assert!(routes.contains("/mail-accounts/:id"), "{routes:?}");
    assert!(routes.contains("unmatched"), "{routes:?}");
    assert!(routes.len() < 15, "{routes:?}");
}
