mod common;

use app::domain::Role;
use common::{google_draft, oidc::Oidc, pairs, set};

async fn admin(app: &common::TestApp) -> String {
    let id = app.add_user("admin@example.test", Role::Admin).await;
    app.session_for(id).await
}

fn field(body: &serde_json::Value) -> (String, String) {
    (
        body["Field"]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["Field"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn applications_have_unguessable_keys_and_validated_fields() {
    let app =
        common::spawn_with(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com/bridge")]).await;
    let cookie = admin(&app).await;
    let id = app.create_application(&cookie, "Google Workspace").await;
    let list: serde_json::Value = app
        .call("/api/list_applications", &[], Some(&cookie))
        .await
        .json()
        .await
        .unwrap();
    let uri = list[0]["redirect_uri"].as_str().unwrap().to_string();
    let key = uri
        .strip_prefix("https://mail.example.com/bridge/oauth/callback/")
        .expect("public URL + path");
    assert!(key.len() >= 22, "at least 128 bits");
    assert!(key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));

    // Duplicate name (any case) and a bad range are field errors; nothing is saved.
    for (name, ips, expected) in [
        ("google workspace", "", "Name"),
        ("Other", "10.0.0.0/33", "Allowed IP addresses"),
        ("", "", "Name"),
    ] {
        let res = app
            .call(
                "/api/save_application",
                &[
                    ("id", ""),
                    ("name", name),
                    ("active", "true"),
                    ("allowed_ips", ips),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(res.status(), 422);
        assert_eq!(field(&res.json().await.unwrap()).0, expected);
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // Regenerating the key changes the URI at once.
    let res = app
        .call(
            "/api/regenerate_application_key",
            &[("id", &id.to_string())],
            Some(&cookie),
        )
        .await;
    let new_uri: String = res.json().await.unwrap();
    assert_ne!(new_uri, uri);
    assert!(new_uri.starts_with("https://mail.example.com/bridge/oauth/callback/"));
}

#[tokio::test]
async fn a_google_server_keeps_its_secret_encrypted_and_never_returns_it() {
    let app = common::spawn().await;
    let cookie = admin(&app).await;
    let app_id = app.create_application(&cookie, "Web").await;
    let secret = "GOCSPX-very-secret-value-0123456789";
    let draft = google_draft(
        "Company Gmail",
        "1234.apps.googleusercontent.com",
        secret,
        app_id,
    );
    let res = app
        .call("/api/save_mail_server", &pairs(&draft), Some(&cookie))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let id: i64 = sqlx::query_scalar("SELECT id FROM mail_servers")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();

    for (path, body) in [
        ("/api/get_mail_server", vec![("id", id.to_string())]),
        (
            "/api/list_mail_servers",
            vec![
                ("page", "0".to_string()),
                ("descending", "false".to_string()),
            ],
        ),
    ] {
        let b: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let text = app
            .call(path, &b, Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(secret), "{path} leaked the secret");
    }
    let edit: serde_json::Value = app
        .call(
            "/api/get_mail_server",
            &[("id", &id.to_string())],
            Some(&cookie),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edit["secret_set"], true);
    assert_eq!(edit["draft"]["client_secret"], "");

    // Edit without a secret keeps the stored one; the IMAP port change is saved.
    let mut again = draft.clone();
    set(&mut again, "id", &id.to_string());
    set(&mut again, "draft[client_secret]", "");
    set(&mut again, "draft[imap_port]", "1993");
    let res = app
        .call("/api/save_mail_server", &pairs(&again), Some(&cookie))
        .await;
    assert_eq!(res.status(), 200);
    let (port, blob): (i64, Vec<u8>) =
        sqlx::query_as("SELECT imap_port, client_secret_enc FROM mail_servers WHERE id = ?1")
            .bind(id)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(port, 1993);
    assert_eq!(
        app.state
            .secrets
            .open_str(&blob, "mail_servers.client_secret")
            .unwrap(),
        secret
    );

    // Not in plaintext anywhere in the SQLite files (database, WAL, shared memory).
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[tokio::test]
async fn bad_input_is_a_field_error_and_saves_nothing() {
    let app = common::spawn().await;
    let cookie = admin(&app).await;
    let app_id = app.create_application(&cookie, "Web").await;
    let ok = google_draft("Taken", "id", "secret", app_id);
    assert_eq!(
        app.call("/api/save_mail_server", &pairs(&ok), Some(&cookie))
            .await
            .status(),
        200
    );

    let cases: &[(&str, &str, &str)] = &[
        ("draft[subject]", "", "Subject"),
        ("draft[subject]", "TAKEN", "Subject"),
        ("draft[subject]", &"x".repeat(51), "Subject"),
        ("draft[imap_port]", "70000", "IMAP port"),
        ("draft[smtp_host]", "not a host", "SMTP host"),
        ("draft[client_id]", "", "Client ID"),
        ("draft[client_secret]", "", "Client secret"),
        ("draft[application_id]", "", "Redirect URI"),
        ("draft[application_id]", "999", "Redirect URI"),
        ("draft[provider]", "yahoo", "OAuth provider"),
    ];
    for (key, value, expected) in cases {
        let mut d = google_draft("Fresh", "id", "secret", app_id);
        set(&mut d, key, value);
        let res = app
            .call("/api/save_mail_server", &pairs(&d), Some(&cookie))
            .await;
        assert_eq!(res.status(), 422, "{key}={value}");
        let (f, msg) = field(&res.json().await.unwrap());
        assert_eq!(f, *expected, "{key}={value}: {msg}");
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_servers")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_generic_server_stores_the_endpoints_of_a_real_discovery_document() {
    let oidc = Oidc::start(&[]).await;
    let app = common::spawn().await;
    let cookie = admin(&app).await;
    let app_id = app.create_application(&cookie, "Web").await;
    let mut d = google_draft("Private cloud", "client", "secret", app_id);
    set(&mut d, "draft[provider]", "generic");
    d.push(("draft[issuer_url]".into(), oidc.issuer.clone()));
    d.push(("draft[scopes]".into(), "openid email offline_access".into()));
    let res = app
        .call("/api/save_mail_server", &pairs(&d), Some(&cookie))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (auth, token, userinfo, revoke): (String, String, Option<String>, Option<String>) =
        sqlx::query_as(
            "SELECT auth_url, token_url, userinfo_url, revocation_url FROM mail_servers",
        )
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(auth, format!("{}/auth", oidc.issuer));
    assert_eq!(token, format!("{}/token", oidc.issuer));
    assert_eq!(
        userinfo.as_deref(),
        Some(format!("{}/me", oidc.issuer).as_str())
    );
    assert_eq!(
        revoke.as_deref(),
        Some(format!("{}/token/revocation", oidc.issuer).as_str())
    );

    // An issuer that does not answer is an "Issuer URL" error saying so; nothing saved.
    let port = common::oidc::free_port();
    set(&mut d, "draft[subject]", "Unreachable");
    set(
        &mut d,
        "draft[issuer_url]",
        &format!("http://127.0.0.1:{port}"),
    );
    let res = app
        .call("/api/save_mail_server", &pairs(&d), Some(&cookie))
        .await;
    assert_eq!(res.status(), 422);
    let (f, msg) = field(&res.json().await.unwrap());
    assert_eq!(f, "Issuer URL");
    assert!(msg.contains("could not reach"), "{msg}");
    // A wrong path answers 404: also named.
    set(
        &mut d,
        "draft[issuer_url]",
        &format!("{}/nope", oidc.issuer),
    );
    let res = app
        .call("/api/save_mail_server", &pairs(&d), Some(&cookie))
        .await;
    let (f, msg) = field(&res.json().await.unwrap());
    assert_eq!(f, "Issuer URL");
    assert!(msg.contains("404") || msg.contains("issuer"), "{msg}");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_servers")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn deleting_needs_explicit_confirmation_when_accounts_are_linked_and_apps_in_use_stay() {
    let app = common::spawn().await;
    let cookie = admin(&app).await;
    let app_id = app.create_application(&cookie, "Web").await;
    let d = google_draft("With accounts", "id", "secret", app_id);
    assert_eq!(
        app.call("/api/save_mail_server", &pairs(&d), Some(&cookie))
            .await
            .status(),
        200
    );
    let server: i64 = sqlx::query_scalar("SELECT id FROM mail_servers")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let owner: i64 = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    for login in ["a@example.test", "b@example.test"] {
        sqlx::query("INSERT INTO mail_accounts (mail_server_id, owner_id, name, login, login_key, created_at, updated_at) VALUES (?1, ?2, 'x', ?3, ?3, 0, 0)")
            .bind(server)
            .bind(owner)
            .bind(login)
            .execute(&app.state.pool)
            .await
            .unwrap();
    }
    // The application is in use: refused with the server's name.
    let res = app
        .call(
            "/api/delete_application",
            &[("id", &app_id.to_string())],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("With accounts"));

    let res = app
        .call(
            "/api/delete_mail_server",
            &[("id", &server.to_string()), ("confirm_accounts", "0")],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("2 mail accounts"));
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_accounts")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
    let res = app
        .call(
            "/api/delete_mail_server",
            &[("id", &server.to_string()), ("confirm_accounts", "2")],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_accounts")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let res = app
        .call(
            "/api/delete_application",
            &[("id", &app_id.to_string())],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_wrong_or_missing_secret_key_stops_start_up_instead_of_losing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("k.db").display());
    let first = common::spawn_on(tempfile::tempdir().unwrap(), &db, &[]).await;
    assert!(dir.path().join("secret.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    first.state.pool.close().await;

    let lookup = |extra: Vec<(&'static str, String)>| {
        let db = db.clone();
        move |k: &str| {
            if k == "MAILBRIDGE_DATABASE_URL" {
                return Some(db.clone());
            }
            extra.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        }
    };
    let wrong = server::Config::from_lookup(lookup(vec![(
        "MAILBRIDGE_SECRET_KEY",
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=".into(),
    )]))
    .unwrap();
    let err = server::startup::build_state(&wrong)
        .await
        .err()
        .expect("wrong key must fail")
        .to_string();
    assert!(err.contains("MAILBRIDGE_SECRET_KEY"), "{err}");

    let bad = server::Config::from_lookup(lookup(vec![("MAILBRIDGE_SECRET_KEY", "short".into())]))
        .unwrap();
    let err = server::startup::build_state(&bad)
        .await
        .err()
        .expect("bad key must fail")
        .to_string();
    assert!(err.contains("32 bytes"), "{err}");

    std::fs::remove_file(dir.path().join("secret.key")).unwrap();
    let missing = server::Config::from_lookup(lookup(vec![])).unwrap();
    let err = server::startup::build_state(&missing)
        .await
        .err()
        .expect("missing key must fail")
        .to_string();
    assert!(err.contains("missing"), "{err}");
    assert!(
        !dir.path().join("secret.key").exists(),
        "no new key may replace the lost one"
    );
}

#[tokio::test]
async fn mail_account_lists_filter_for_admins_and_show_users_only_their_own() {
    let app = common::spawn().await;
    let cookie = admin(&app).await;
    let app_id = app.create_application(&cookie, "Web").await;
    let mut servers = vec![];
    for subject in ["One", "Two"] {
        let d = google_draft(subject, "id", "secret", app_id);
        servers.push(
            app.call("/api/save_mail_server", &pairs(&d), Some(&cookie))
                .await
                .json::<i64>()
                .await
                .unwrap(),
        );
    }
    let ann = app.add_user("ann@example.test", Role::User).await;
    let ben = app.add_user("ben@example.test", Role::User).await;
    for (owner, server, login) in [
        (ann, servers[0], "a1@example.test"),
        (ann, servers[1], "a2@example.test"),
        (ben, servers[1], "b1@example.test"),
    ] {
        let res = app
            .call(
                "/api/create_mail_account",
                &[
                    ("name", ""),
                    ("mail_server_id", &server.to_string()),
                    ("login", login),
                    ("owner_id", &owner.to_string()),
                    ("password", ""),
                ],
                Some(&cookie),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    sqlx::query("UPDATE mail_accounts SET status = 'needs_reauth' WHERE login = 'a2@example.test'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let list = |cookie: String, server: String, owner: String, status: &'static str| {
        let app = &app;
        async move {
            let res = app
                .call(
                    "/api/list_mail_accounts",
                    &[
                        ("server_id", &server),
                        ("owner_id", &owner),
                        ("status", status),
                        ("page", "0"),
                    ],
                    Some(&cookie),
                )
                .await;
            let page: serde_json::Value = res.json().await.unwrap();
            let mut logins: Vec<String> = page["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["login"].as_str().unwrap().to_string())
                .collect();
            logins.sort();
            (logins, page["total"].as_i64().unwrap())
        }
    };
    assert_eq!(
        list(cookie.clone(), String::new(), String::new(), "")
            .await
            .1,
        3
    );
    assert_eq!(
        list(cookie.clone(), servers[1].to_string(), String::new(), "")
            .await
            .0,
        ["a2@example.test", "b1@example.test"]
    );
    assert_eq!(
        list(cookie.clone(), String::new(), ann.to_string(), "")
            .await
            .0,
        ["a1@example.test", "a2@example.test"]
    );
    assert_eq!(
        list(cookie.clone(), String::new(), String::new(), "needs_reauth")
            .await
            .0,
        ["a2@example.test"]
    );
    // Ben sees his own only, whatever owner he asks for.
    let ben_cookie = app.session_for(ben).await;
    assert_eq!(
        list(ben_cookie.clone(), String::new(), String::new(), "")
            .await
            .0,
        ["b1@example.test"]
    );
    assert_eq!(
        list(ben_cookie.clone(), String::new(), ann.to_string(), "")
            .await
            .0,
        ["b1@example.test"]
    );
    // And he cannot create one for Ann.
    let res = app
        .call(
            "/api/create_mail_account",
            &[
                ("name", ""),
                ("mail_server_id", &servers[0].to_string()),
                ("login", "x@example.test"),
                ("owner_id", &ann.to_string()),
                ("password", ""),
            ],
            Some(&ben_cookie),
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn the_server_list_sorts_by_subject_both_ways_and_pages_by_fifty() {
    let app = common::spawn().await;
    let cookie = admin(&app).await;
    let app_id = app.create_application(&cookie, "Web").await;
    for i in 0..53 {
        let d = google_draft(&format!("Server {i:02}"), "id", "secret", app_id);
        assert_eq!(
            app.call("/api/save_mail_server", &pairs(&d), Some(&cookie))
                .await
                .status(),
            200
        );
    }
    let subjects = |page: &'static str, descending: &'static str| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let p: serde_json::Value = app
                .call(
                    "/api/list_mail_servers",
                    &[("page", page), ("descending", descending)],
                    Some(&cookie),
                )
                .await
                .json()
                .await
                .unwrap();
            let rows: Vec<String> = p["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["subject"].as_str().unwrap().to_string())
                .collect();
            (rows, p["total"].as_i64().unwrap())
        }
    };
    let (first, total) = subjects("0", "false").await;
    assert_eq!(total, 53);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "Server 00");
    let (second, second_total) = subjects("1", "false").await;
    assert_eq!(second, ["Server 50", "Server 51", "Server 52"]);
    assert_eq!(second_total, 53);
    // Past the end: no rows, and still the right total.
    let (past, past_total) = subjects("7", "false").await;
    assert!(past.is_empty());
    assert_eq!(past_total, 53);
    let (desc, _) = subjects("0", "true").await;
    assert_eq!(desc[0], "Server 52");
}
