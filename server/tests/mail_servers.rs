mod common;

use app::api::applications::{
    DeleteApplication, ListApplications, RegenerateApplicationKey, SaveApplication,
};
use app::api::mail_accounts::ListMailAccounts;
use app::api::mail_servers::{DeleteMailServer, GetMailServer, ListMailServers, SaveMailServer};
use app::domain::{AccountStatus, MailServerDraft, Role};
use app::error::AppError;
use app::ssr::crypto::aad;
use common::{fields, google_draft, new_account, oidc::Oidc, TestApp};

/// Saving a new mail server from `draft`, as the form does (the raw answer, to look at refusals).
async fn save(app: &TestApp, cookie: &str, draft: MailServerDraft) -> common::Answer<i64> {
    app.call(
        SaveMailServer {
            id: String::new(),
            draft,
        },
        Some(cookie),
    )
    .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn applications_have_unguessable_keys_and_validated_fields() {
    let app =
        common::spawn_with(&[("MAILBRIDGE_PUBLIC_URL", "https://mail.example.com/bridge")]).await;
    let cookie = app.admin().await;
    let id = app.create_application(&cookie, "Google Workspace").await;
    let list = app.ok(ListApplications {}, &cookie).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    let uri = list[0].redirect_uri.clone();
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
        let answer = app
            .call(
                SaveApplication {
                    id: String::new(),
                    name: name.into(),
                    active: true,
                    allowed_ips: ips.into(),
                },
                Some(&cookie),
            )
            .await;
        assert!(
            matches!(&answer, Err((422, e)) if e.is_invalid()),
            "{name}/{ips}: {answer:?}"
        );
        assert_eq!(fields(&answer), vec![expected], "{name}/{ips}");
    }
    assert_eq!(count(&app, "applications").await, 1);

    // Regenerating the key changes the URI at once.
    let new_uri = app.ok(RegenerateApplicationKey { id }, &cookie).await;
    assert_ne!(new_uri, uri);
    assert!(new_uri.starts_with("https://mail.example.com/bridge/oauth/callback/"));
    assert_eq!(app.redirect_uri(&cookie, id).await, new_uri);
}

#[tokio::test]
async fn a_google_server_keeps_its_secret_encrypted_and_never_returns_it() {
    let app = common::spawn().await;
    let cookie = app.admin().await;
    let app_id = app.create_application(&cookie, "Web").await;
    let secret = "GOCSPX-very-secret-value-0123456789";
    let draft = google_draft(
        "Company Gmail",
        "1234.apps.googleusercontent.com",
        secret,
        app_id,
    );
    let id = app.create_server(&cookie, draft.clone()).await;
    let stored: i64 = sqlx::query_scalar("SELECT id FROM mail_servers")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored, id);

    // What goes over the wire, byte for byte: never the secret.
    for res in [
        app.post(&GetMailServer { id }, Some(&cookie)).await,
        app.post(
            &ListMailServers {
                page: 0,
                descending: false,
            },
            Some(&cookie),
        )
        .await,
    ] {
        let url = res.url().path().to_string();
        assert_eq!(res.status(), 200, "{url}");
        let text = res.text().await.unwrap();
        assert!(!text.contains(secret), "{url} leaked the secret");
    }
    let edit = app.ok(GetMailServer { id }, &cookie).await;
    assert!(edit.secret_set);
    assert_eq!(edit.draft.client_secret, "");

    // Edit without a secret keeps the stored one; the IMAP port change is saved.
    let again = MailServerDraft {
        client_secret: String::new(),
        imap_port: "1993".into(),
        ..draft
    };
    let saved = app
        .ok(
            SaveMailServer {
                id: id.to_string(),
                draft: again,
            },
            &cookie,
        )
        .await;
    assert_eq!(saved, id);
    let (port, blob): (i64, Vec<u8>) =
        sqlx::query_as("SELECT imap_port, client_secret_enc FROM mail_servers WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(port, 1993);
    assert_eq!(
        app.state
            .secrets
            .open_str(&blob, &aad::CLIENT_SECRET.row(id))
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
    let cookie = app.admin().await;
    let app_id = app.create_application(&cookie, "Web").await;
    app.create_server(&cookie, google_draft("Taken", "id", "secret", app_id))
        .await;

    let fresh = || google_draft("Fresh", "id", "secret", app_id);
    let long = "x".repeat(51);
    let cases: Vec<(&str, MailServerDraft, &str)> = vec![
        (
            "subject=",
            MailServerDraft {
                subject: String::new(),
                ..fresh()
            },
            "Subject",
        ),
        (
            "subject=TAKEN",
            MailServerDraft {
                subject: "TAKEN".into(),
                ..fresh()
            },
            "Subject",
        ),
        (
            "subject=x*51",
            MailServerDraft {
                subject: long.clone(),
                ..fresh()
            },
            "Subject",
        ),
        (
            "imap_port=70000",
            MailServerDraft {
                imap_port: "70000".into(),
                ..fresh()
            },
            "IMAP port",
        ),
        (
            "smtp_host=not a host",
            MailServerDraft {
                smtp_host: "not a host".into(),
                ..fresh()
            },
            "SMTP host",
        ),
        (
            "client_id=",
            MailServerDraft {
                client_id: String::new(),
                ..fresh()
            },
            "Client ID",
        ),
        (
            "client_secret=",
            MailServerDraft {
                client_secret: String::new(),
                ..fresh()
            },
            "Client secret",
        ),
        (
            "application_id=",
            MailServerDraft {
                application_id: String::new(),
                ..fresh()
            },
            "Redirect URI",
        ),
        (
            "application_id=999",
            MailServerDraft {
                application_id: "999".into(),
                ..fresh()
            },
            "Redirect URI",
        ),
        (
            "provider=yahoo",
            MailServerDraft {
                provider: "yahoo".into(),
                ..fresh()
            },
            "OAuth provider",
        ),
    ];
    for (what, draft, expected) in cases {
        let answer = save(&app, &cookie, draft).await;
        assert!(
            matches!(&answer, Err((422, e)) if e.is_invalid()),
            "{what}: {answer:?}"
        );
        assert_eq!(fields(&answer), vec![expected], "{what}: {answer:?}");
    }
    assert_eq!(count(&app, "mail_servers").await, 1);

    // Several bad fields at once: every one is named, in form order.
    let answer = save(
        &app,
        &cookie,
        MailServerDraft {
            subject: String::new(),
            client_secret: String::new(),
            imap_port: "70000".into(),
            smtp_host: "not a host".into(),
            ..fresh()
        },
    )
    .await;
    assert_eq!(
        fields(&answer),
        vec!["Subject", "Client secret", "IMAP port", "SMTP host"]
    );
    assert_eq!(count(&app, "mail_servers").await, 1);
}

#[tokio::test]
async fn a_generic_server_stores_the_endpoints_of_a_real_discovery_document() {
    let oidc = Oidc::start(&[]).await;
    let app = common::spawn().await;
    let cookie = app.admin().await;
    let app_id = app.create_application(&cookie, "Web").await;
    let d = MailServerDraft {
        provider: "generic".into(),
        issuer_url: oidc.issuer.clone(),
        scopes: "openid email offline_access".into(),
        ..google_draft("Private cloud", "client", "secret", app_id)
    };
    app.create_server(&cookie, d.clone()).await;
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
    let unreachable = MailServerDraft {
        subject: "Unreachable".into(),
        issuer_url: format!("http://127.0.0.1:{port}"),
        ..d.clone()
    };
    let answer = save(&app, &cookie, unreachable.clone()).await;
    assert!(matches!(&answer, Err((422, _))), "{answer:?}");
    assert_eq!(fields(&answer), vec!["Issuer URL"]);
    let msg = answer.unwrap_err().1.for_field("Issuer URL").unwrap();
    assert!(msg.contains("could not reach"), "{msg}");
    // A wrong path answers 404: also named.
    let answer = save(
        &app,
        &cookie,
        MailServerDraft {
            issuer_url: format!("{}/nope", oidc.issuer),
            ..unreachable
        },
    )
    .await;
    assert!(matches!(&answer, Err((422, _))), "{answer:?}");
    assert_eq!(fields(&answer), vec!["Issuer URL"]);
    let msg = answer.unwrap_err().1.for_field("Issuer URL").unwrap();
    assert!(msg.contains("404") || msg.contains("issuer"), "{msg}");
    assert_eq!(count(&app, "mail_servers").await, 1);
}

#[tokio::test]
async fn deleting_needs_explicit_confirmation_when_accounts_are_linked_and_apps_in_use_stay() {
    let app = common::spawn().await;
    let cookie = app.admin().await;
    let app_id = app.create_application(&cookie, "Web").await;
    let server = app
        .create_server(
            &cookie,
            google_draft("With accounts", "id", "secret", app_id),
        )
        .await;
    for login in ["a@example.test", "b@example.test"] {
        app.create_account(&cookie, server, login).await;
    }
    // The application is in use: refused with the server's name.
    let answer = app
        .call(DeleteApplication { id: app_id }, Some(&cookie))
        .await;
    match &answer {
        Err((409, AppError::Refused(msg))) => assert!(msg.contains("With accounts"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let answer = app
        .call(
            DeleteMailServer {
                id: server,
                confirm_accounts: 0,
            },
            Some(&cookie),
        )
        .await;
    match &answer {
        Err((409, AppError::Refused(msg))) => assert!(msg.contains("2 mail accounts"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(count(&app, "mail_accounts").await, 2);
    app.ok(
        DeleteMailServer {
            id: server,
            confirm_accounts: 2,
        },
        &cookie,
    )
    .await;
    assert_eq!(count(&app, "mail_accounts").await, 0);
    app.ok(DeleteApplication { id: app_id }, &cookie).await;
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
    let cookie = app.admin().await;
    let app_id = app.create_application(&cookie, "Web").await;
    let mut servers = vec![];
    for subject in ["One", "Two"] {
        servers.push(
            app.create_server(&cookie, google_draft(subject, "id", "secret", app_id))
                .await,
        );
    }
    let (ann, _) = app.person("ann@example.test", Role::User).await;
    let (ben, ben_cookie) = app.person("ben@example.test", Role::User).await;
    for (owner, server, login) in [
        (ann, servers[0], "a1@example.test"),
        (ann, servers[1], "a2@example.test"),
        (ben, servers[1], "b1@example.test"),
    ] {
        app.ok(new_account(server, login, &owner.to_string(), ""), &cookie)
            .await;
    }
    sqlx::query("UPDATE mail_accounts SET status = $1 WHERE login = 'a2@example.test'")
        .bind(AccountStatus::NeedsReauth)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let list = |cookie: String, server: String, owner: String, status: Option<AccountStatus>| {
        let app = &app;
        async move {
            let page = app
                .ok(
                    ListMailAccounts {
                        server_id: server,
                        owner_id: owner,
                        status: status.map(AccountStatus::code).unwrap_or("").into(),
                        page: 0,
                    },
                    &cookie,
                )
                .await;
            let mut logins: Vec<String> = page.rows.into_iter().map(|r| r.login).collect();
            logins.sort();
            (logins, page.total)
        }
    };
    assert_eq!(
        list(cookie.clone(), String::new(), String::new(), None)
            .await
            .1,
        3
    );
    assert_eq!(
        list(cookie.clone(), servers[1].to_string(), String::new(), None)
            .await
            .0,
        ["a2@example.test", "b1@example.test"]
    );
    assert_eq!(
        list(cookie.clone(), String::new(), ann.to_string(), None)
            .await
            .0,
        ["a1@example.test", "a2@example.test"]
    );
    assert_eq!(
        list(
            cookie.clone(),
            String::new(),
            String::new(),
            Some(AccountStatus::NeedsReauth)
        )
        .await
        .0,
        ["a2@example.test"]
    );
    // Ben sees his own only, whatever owner he asks for.
    assert_eq!(
        list(ben_cookie.clone(), String::new(), String::new(), None)
            .await
            .0,
        ["b1@example.test"]
    );
    assert_eq!(
        list(ben_cookie.clone(), String::new(), ann.to_string(), None)
            .await
            .0,
        ["b1@example.test"]
    );
    // And he cannot create one for Ann.
    let answer = app
        .call(
            new_account(servers[0], "x@example.test", &ann.to_string(), ""),
            Some(&ben_cookie),
        )
        .await;
    assert_eq!(answer, Err((403, AppError::Forbidden)));
}

#[tokio::test]
async fn the_server_list_sorts_by_subject_both_ways_and_pages_by_fifty() {
    let app = common::spawn().await;
    let cookie = app.admin().await;
    let app_id = app.create_application(&cookie, "Web").await;
    for i in 0..53 {
        app.create_server(
            &cookie,
            google_draft(&format!("Server {i:02}"), "id", "secret", app_id),
        )
        .await;
    }
    let subjects = |page: i64, descending: bool| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let p = app.ok(ListMailServers { page, descending }, &cookie).await;
            let rows: Vec<String> = p.rows.into_iter().map(|r| r.subject).collect();
            (rows, p.total)
        }
    };
    let (first, total) = subjects(0, false).await;
    assert_eq!(total, 53);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0], "Server 00");
    let (second, second_total) = subjects(1, false).await;
    assert_eq!(second, ["Server 50", "Server 51", "Server 52"]);
    assert_eq!(second_total, 53);
    // Past the end: no rows, and still the right total.
    let (past, past_total) = subjects(7, false).await;
    assert!(past.is_empty());
    assert_eq!(past_total, 53);
    let (desc, _) = subjects(0, true).await;
    assert_eq!(desc[0], "Server 52");
}
