//! Hostile input in every text field, and many signed-in users at once.

mod common;

use app::domain::Role;

/// Inputs that have broken web apps: markup and script, NUL and control characters,
/// right-to-left overrides, very long strings.
fn hostile() -> Vec<String> {
    vec![
        "<script>alert(1)</script>".into(),
        "\"><img src=x onerror=alert(1)>".into(),
        "a\u{0}b".into(),
        "line\r\nbreak\u{7}".into(),
        "\u{202E}gnp.exe\u{202C}".into(),
        "' OR 1=1; DROP TABLE users; --".into(),
        "x".repeat(100_000),
        // Over the 256 KB body limit: refused with 413 and a message, never a 5xx.
        "x".repeat(1 << 20),
        "é".repeat(60),
        String::new(),
    ]
}

#[tokio::test]
async fn hostile_input_never_causes_a_server_error_and_is_rendered_inert() {
    let app = common::spawn().await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let cookie = app.session_for(admin).await;
    let app_id = app.create_application(&cookie, "Fixture").await;
    let d = common::google_draft("Fixture server", "id", "secret", app_id);
    let server: i64 = app
        .call("/api/save_mail_server", &common::pairs(&d), Some(&cookie))
        .await
        .json()
        .await
        .unwrap();

    let mut failures = vec![];
    for value in hostile() {
        let v = value.as_str();
        let server_s = server.to_string();
        let admin_s = admin.to_string();
        let calls: Vec<(&str, Vec<(String, String)>)> = vec![
            (
                "/api/set_organisation_name",
                vec![("name".into(), v.into())],
            ),
            (
                "/api/login",
                vec![("email".into(), v.into()), ("password".into(), v.into())],
            ),
            (
                "/api/create_user",
                vec![
                    ("email".into(), v.into()),
                    ("name".into(), v.into()),
                    ("role".into(), v.into()),
                    ("password".into(), v.into()),
                ],
            ),
            (
                "/api/update_user",
                vec![
                    ("id".into(), admin_s.clone()),
                    ("name".into(), v.into()),
                    ("role".into(), "admin".into()),
                    ("active".into(), "true".into()),
                ],
            ),
            (
                "/api/save_application",
                vec![
                    ("id".into(), "".into()),
                    ("name".into(), v.into()),
                    ("active".into(), "true".into()),
                    ("allowed_ips".into(), v.into()),
                ],
            ),
            (
                "/api/create_mail_account",
                vec![
                    ("name".into(), v.into()),
                    ("mail_server_id".into(), server_s.clone()),
                    ("login".into(), v.into()),
                    ("owner_id".into(), "".into()),
                    ("password".into(), v.into()),
                ],
            ),
            (
                "/api/list_mail_accounts",
                vec![
                    ("server_id".into(), v.into()),
                    ("owner_id".into(), v.into()),
                    ("status".into(), v.into()),
                    ("page".into(), "0".into()),
                ],
            ),
        ];
        let mut all = calls;
        for field in [
            "subject",
            "client_id",
            "client_secret",
            "issuer_url",
            "scopes",
            "tenant",
            "imap_host",
            "imap_port",
            "smtp_host",
            "smtp_port",
            "provider",
            "auth_method",
            "imap_encryption",
        ] {
            let mut d = common::google_draft("Hostile", "id", "secret", app_id);
            let key = format!("draft[{field}]");
            if field == "issuer_url" || field == "scopes" {
                common::set(&mut d, "draft[provider]", "generic");
            }
            if d.iter().any(|(k, _)| *k == key) {
                common::set(&mut d, &key, v);
            } else {
                d.push((key, v.into()));
            }
            all.push(("/api/save_mail_server", d));
        }
        for (path, body) in all {
            let pairs: Vec<(&str, &str)> =
                body.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let res = app.call(path, &pairs, Some(&cookie)).await;
            let status = res.status().as_u16();
            if v.len() > server::startup::MAX_BODY_BYTES && status != 413 {
                failures.push(format!("{path} with 1 MB: {status}, expected 413"));
                continue;
            }
            if status >= 500 {
                failures.push(format!(
                    "{path} with {:?}…: {status} {}",
                    v.chars().take(20).collect::<String>(),
                    res.text().await.unwrap_or_default()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Whatever was accepted is shown inert: the markup arrives escaped.
    let res = app
        .call(
            "/api/save_application",
            &[
                ("id", ""),
                ("name", "<b>bold</b><script>x()</script>"),
                ("active", "true"),
                ("allowed_ips", ""),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    for page in ["/applications", "/mail-servers", "/mail-accounts", "/users"] {
        let html = app.get(page, Some(&cookie)).await.text().await.unwrap();
        assert!(
            !html.contains("<script>alert(1)</script>"),
            "{page} echoes a script"
        );
        assert!(!html.contains("<img src=x onerror"), "{page} echoes markup");
        assert!(
            !html.contains("<script>x()</script>"),
            "{page} echoes a script"
        );
    }
    let html = app
        .get("/applications", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt;") || html.contains("&lt;b>bold&lt;/b>"),
        "the name is shown, escaped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_from_several_users_all_succeed() {
    let app = std::sync::Arc::new(common::spawn().await);
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let admin_cookie = app.session_for(admin).await;
    let app_id = app.create_application(&admin_cookie, "Web").await;
    let d = common::google_draft("Shared", "id", "secret", app_id);
    let server: i64 = app
        .call(
            "/api/save_mail_server",
            &common::pairs(&d),
            Some(&admin_cookie),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut cookies = vec![admin_cookie.clone()];
    for i in 0..5 {
        let u = app
            .add_user(&format!("user{i}@example.test"), Role::User)
            .await;
        cookies.push(app.session_for(u).await);
    }
    let client = common::new_client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000usize {
        let app = app.clone();
        let cookie = cookies[i % cookies.len()].clone();
        let client = client.clone();
        tasks.spawn(async move {
            let res = match i % 5 {
                0 => {
                    client
                        .get(format!("{}/mail-accounts", app.url))
                        .header("cookie", &cookie)
                        .send()
                        .await
                }
                1 => {
                    client
                        .get(format!("{}/", app.url))
                        .header("cookie", &cookie)
                        .send()
                        .await
                }
                2 => {
                    let login = format!("box{i}@example.test");
                    client
                        .post(format!("{}/api/create_mail_account", app.url))
                        .header("cookie", &cookie)
                        .header("origin", &app.url)
                        .form(&[
                            ("name", "Box"),
                            ("mail_server_id", &server.to_string()),
                            ("login", &login),
                            ("owner_id", ""),
                            ("password", ""),
                        ])
                        .send()
                        .await
                }
                3 => {
                    client
                        .post(format!("{}/api/list_mail_accounts", app.url))
                        .header("cookie", &cookie)
                        .header("origin", &app.url)
                        .form(&[
                            ("server_id", ""),
                            ("owner_id", ""),
                            ("status", ""),
                            ("page", "0"),
                        ])
                        .send()
                        .await
                }
                _ => {
                    client
                        .post(format!("{}/api/account_status_counts", app.url))
                        .header("cookie", &cookie)
                        .header("origin", &app.url)
                        .send()
                        .await
                }
            };
            match res {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!(
                    "{i}: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                )),
                Err(e) => Err(format!("{i}: {e}")),
            }
        });
    }
    let mut errors = vec![];
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.unwrap() {
            errors.push(e);
        }
    }
    assert!(
        errors.is_empty(),
        "{} errors, e.g. {:?}",
        errors.len(),
        errors.iter().take(3).collect::<Vec<_>>()
    );
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_accounts")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 200, "every write landed");
}
