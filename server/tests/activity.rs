//! The audit trail (issue 16): each kind of change written with who, when and from where,
//! never a secret; the Activity page's filters, pages of 50 and CSV export; an account's
//! timeline with its refreshes counted per day; retention.

mod common;

use app::api::activity::{GetAccountTimeline, ListActivity};
use app::api::api_keys::{CreateApiKey, RevokeApiKey};
use app::api::applications::{DeleteApplication, RegenerateApplicationKey, SaveApplication};
use app::api::mail_accounts::{DeleteMailAccount, UnlinkMailAccount};
use app::api::mail_servers::SaveMailServer;
use app::api::users::{CreateUser, SetUserPassword, UpdateUser};
use app::api::webhooks::{CreateWebhook, DeleteWebhook, UpdateWebhook};
use app::domain::{ActivityQuery, ApiKeyDraft, Role, WebhookDraft};
use app::error::AppError;
use app::ssr::refresh;
use common::linked::Linked;
use sqlx::Row;

fn kind(k: &str) -> ActivityQuery {
    ActivityQuery {
        kind: k.into(),
        ..Default::default()
    }
}

/// Every value of every audit row, as text: what a grep for secrets reads.
async fn whole_trail(pool: &app::ssr::db::Pool) -> String {
    let rows = sqlx::query(
        "SELECT at, actor_kind, COALESCE(actor_id, 0), actor_label, kind, summary,
            COALESCE(client_addr, '') FROM audit_events",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r.get::<String, _>(1),
                r.get::<String, _>(3),
                r.get::<String, _>(4),
                r.get::<String, _>(5),
                r.get::<String, _>(6)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_kind_of_change_is_recorded_with_who_and_where_and_never_a_secret() {
    let l = Linked::start(
        &[],
        &[("MAILBRIDGE_MAIL_TIMEOUT_SECS", "3")],
        "alice@example.test",
    )
    .await;
    let app = &l.app;
    let admin = &l.admin;
    let mut secrets: Vec<String> = vec![l.client_secret.clone(), admin.clone(), l.owner.clone()];
    secrets.extend(l.refresh_token(l.account).await);

    // Sign-ins, refused and accepted.
    let (status, _, _) = app
        .login("owner@example.test", "wrong password!!", None)
        .await;
    assert_eq!(status, 401);
    let (_, cookie, _) = app
        .login("owner@example.test", common::PASSWORD, None)
        .await;
    secrets.push(cookie.unwrap());
    // Users.
    let bob = app
        .ok(
            CreateUser {
                email: "bob@example.test".into(),
                name: "Bob".into(),
                role: "user".into(),
                password: "bob's long password".into(),
            },
            admin,
        )
        .await;
    app.ok(
        UpdateUser {
            id: bob,
            name: "Robert".into(),
            role: "admin".into(),
            active: true,
        },
        admin,
    )
    .await;
    app.ok(
        SetUserPassword {
            id: bob,
            password: "another long password".into(),
        },
        admin,
    )
    .await;
    // Applications.
    let spare = app.create_application(admin, "Spare").await;
    app.ok(
        SaveApplication {
            id: spare.to_string(),
            name: "Spare two".into(),
            active: true,
            allowed_ips: "10.0.0.0/8".into(),
        },
        admin,
    )
    .await;
    app.ok(RegenerateApplicationKey { id: spare }, admin).await;
    app.ok(DeleteApplication { id: spare }, admin).await;
    // The mail server: a visible setting, and a new client secret (never its value).
    let app_id = 1;
    app.ok(
        SaveMailServer {
            id: l.server.to_string(),
            draft: app::domain::MailServerDraft {
                visible_to_users: false,
                ..common::google_draft(
                    "Google (local)",
                    &l.client_id,
                    "a-brand-new-client-secret",
                    app_id,
                )
            },
        },
        admin,
    )
    .await;
    secrets.push("a-brand-new-client-secret".into());
    // And back to the one the provider knows (so the mailbox can be authorised again below).
    app.ok(
        SaveMailServer {
            id: l.server.to_string(),
            draft: app::domain::MailServerDraft {
                visible_to_users: false,
                ..common::google_draft("Google (local)", &l.client_id, &l.client_secret, app_id)
            },
        },
        admin,
    )
    .await;
    // An API key, used and revoked.
    let key = app
        .ok(
            CreateApiKey {
                draft: ApiKeyDraft {
                    name: "Helpdesk".into(),
                    all_servers: true,
                    perm_tokens: true,
                    ..Default::default()
                },
            },
            admin,
        )
        .await;
    secrets.push(key.key.clone());
    let res = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/accounts/{}/access-token",
            app.url, l.account
        ))
        .bearer_auth(&key.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let handed: serde_json::Value = res.json().await.unwrap();
    secrets.push(handed["access_token"].as_str().unwrap().to_string());
    app.ok(RevokeApiKey { id: key.id }, admin).await;
    // A webhook.
    let hook = app
        .ok(
            CreateWebhook {
                draft: WebhookDraft {
                    url: "http://127.0.0.1:9/hook?token=receiver-secret".into(),
                    events: vec!["account.linked".into()],
                    active: true,
                },
            },
            admin,
        )
        .await;
    secrets.extend([hook.secret.clone(), "receiver-secret".into()]);
    app.ok(
        UpdateWebhook {
            id: hook.id,
            draft: WebhookDraft {
                url: "http://127.0.0.1:9/hook?token=receiver-secret".into(),
                events: vec!["account.deleted".into()],
                active: false,
            },
        },
        admin,
    )
    .await;
    app.ok(DeleteWebhook { id: hook.id }, admin).await;
    // The account: a failing test, a revoked grant, unlink, delete.
    app.ok(
        app::api::mail_test::TestMailAccount {
            id: l.account,
            protocol: app::domain::Protocol::Imap,
        },
        &l.owner,
    )
    .await;
    secrets.push(l.revoke_grant(l.account).await);
    assert_eq!(l.authorize(&l.owner, l.account).await, "linked");
    secrets.extend(l.refresh_token(l.account).await);
    app.ok(UnlinkMailAccount { id: l.account }, &l.owner).await;
    app.ok(DeleteMailAccount { id: l.account }, &l.owner).await;

    let expect = [
        "sign_in_failed",
        "sign_in",
        "user.created",
        "user.changed",
        "user.password_set",
        "application.created",
        "application.changed",
        "application.deleted",
        "server.created",
        "server.changed",
        "api_key.created",
        "api_key.revoked",
        "webhook.created",
        "webhook.changed",
        "webhook.deleted",
        "account.created",
        "account.linked",
        "account.test_failed",
        "account.needs_reauth",
        "account.unlinked",
        "account.deleted",
        "token.handed_out",
    ];
    for k in expect {
        let page = app
            .ok(
                ListActivity {
                    query: kind(k),
                    page: 0,
                },
                admin,
            )
            .await;
        assert!(page.total >= 1, "no {k} entry");
    }
    let entries = |k: &str| {
        let q = kind(k);
        async move { app.ok(ListActivity { query: q, page: 0 }, admin).await.rows }
    };
    let failed = entries("sign_in_failed").await;
    assert_eq!(failed[0].actor_label, "anonymous");
    assert_eq!(failed[0].client_addr.as_deref(), Some("127.0.0.1"));
    let changed = entries("user.changed").await;
    assert!(
        changed[0].summary.contains("Name 'Bob' → 'Robert'"),
        "{}",
        changed[0].summary
    );
    assert!(changed[0].summary.contains("Role 'user' → 'admin'"));
    assert_eq!(changed[0].actor_kind, "user");
    assert_eq!(changed[0].actor_label, "admin@example.test");
    let server = entries("server.changed").await;
    assert_eq!(server.len(), 2);
    assert!(
        server[1].summary.contains("Visible to users 'yes' → 'no'"),
        "{}",
        server[1].summary
    );
    assert!(server
        .iter()
        .all(|e| e.summary.contains("Client secret changed")));
    let handed = entries("token.handed_out").await;
    assert_eq!(
        (
            handed[0].actor_kind.as_str(),
            handed[0].actor_label.as_str()
        ),
        ("api_key", "Helpdesk")
    );
    // A test runs in a task of its own, and the callback outside the server functions: both
    // are still the owner's doing.
    let tested = entries("account.test_failed").await;
    assert_eq!(
        (
            tested[0].actor_kind.as_str(),
            tested[0].actor_label.as_str()
        ),
        ("user", "owner@example.test")
    );
    let linked = entries("account.linked").await;
    assert_eq!(
        (
            linked[0].actor_kind.as_str(),
            linked[0].actor_label.as_str()
        ),
        ("user", "owner@example.test")
    );
    assert_eq!(linked[0].client_addr.as_deref(), Some("127.0.0.1"));
    let reauth = entries("account.needs_reauth").await;
    assert_eq!(reauth[0].actor_kind, "system", "a refresh is the system's");
    assert!(reauth[0].summary.contains("invalid_grant"));

    // No secret in any column of any row.
    let trail = whole_trail(&app.state.pool).await;
    for s in &secrets {
        assert!(
            !trail.contains(s.as_str()),
            "a secret in the audit trail: {s}"
        );
    }
}

#[tokio::test]
async fn the_activity_page_filters_pages_by_fifty_and_exports_csv() {
    let app = common::spawn().await;
    let (admin_id, admin) = app.person("admin@example.test", Role::Admin).await;
    let (_, user) = app.person("user@example.test", Role::User).await;
    for n in 0..60 {
        app.ok(
            CreateUser {
                email: format!("u{n}@example.test"),
                name: format!("User {n}"),
                role: "user".into(),
                password: "a long enough password".into(),
            },
            &admin,
        )
        .await;
    }
    // An address a spreadsheet would run as a formula, signing in.
    app.ok(
        CreateUser {
            email: "=1+1@example.test".into(),
            name: "Formula".into(),
            role: "user".into(),
            password: "a long enough password".into(),
        },
        &admin,
    )
    .await;
    let (status, _, _) = app
        .login("=1+1@example.test", "a long enough password", None)
        .await;
    assert_eq!(status, 200);
    let created = kind("user.created");
    let first = app
        .ok(
            ListActivity {
                query: created.clone(),
                page: 0,
            },
            &admin,
        )
        .await;
    // And the two the test kit created.
    assert_eq!((first.rows.len(), first.total), (50, 63));
    let second = app
        .ok(
            ListActivity {
                query: created.clone(),
                page: 1,
            },
            &admin,
        )
        .await;
    assert_eq!(second.rows.len(), 13);
    assert!(first.rows[0].at >= second.rows[0].at, "newest first");
    // Past the end: no rows, and still the count (so the pager can go back).
    let past = app
        .ok(
            ListActivity {
                query: created.clone(),
                page: 5,
            },
            &admin,
        )
        .await;
    assert_eq!((past.rows.len(), past.total), (0, 63));
    // By who did it (or whom it is about): the 61 the admin created and the admin's own creation.
    let by_admin = ActivityQuery {
        user_id: admin_id.to_string(),
        ..created.clone()
    };
    assert_eq!(
        app.ok(
            ListActivity {
                query: by_admin,
                page: 0
            },
            &admin
        )
        .await
        .total,
        62
    );
    // By date: nothing tomorrow; a bad date names its field and lists nothing.
    let tomorrow = time::OffsetDateTime::from_unix_timestamp(app.state.clock.now() + 86_400)
        .unwrap()
        .date();
    let later = ActivityQuery {
        from: tomorrow.to_string(),
        ..Default::default()
    };
    assert_eq!(
        app.ok(
            ListActivity {
                query: later,
                page: 0
            },
            &admin
        )
        .await
        .total,
        0
    );
    let bad = ActivityQuery {
        from: "yesterday".into(),
        ..Default::default()
    };
    match app
        .call(
            ListActivity {
                query: bad,
                page: 0,
            },
            Some(&admin),
        )
        .await
    {
        Err((422, e)) => assert_eq!(e.field_names(), vec!["From"]),
        other => panic!("{other:?}"),
    }

    // The CSV: the same filter, every row, formulas defused; admins only.
    let csv = app
        .get_with("/activity.csv?kind=user.created", Some(&admin), &[])
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("time,actor_kind,actor,kind"));
    assert_eq!(lines.len(), 64);
    let sign_ins = app
        .get_with("/activity.csv?kind=sign_in", Some(&admin), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(sign_ins.contains(",\"'=1+1@example.test\","), "{sign_ins}");
    assert!(
        !sign_ins.contains(",\"=1+1"),
        "a cell starts with a formula"
    );
    let refused = app
        .get_with("/activity.csv?kind=user.created", Some(&user), &[])
        .await;
    assert_eq!(refused.status(), 403);
    let bad = app
        .get_with("/activity.csv?from=nope", Some(&admin), &[])
        .await;
    assert_eq!(bad.status(), 422);
    match app
        .call(
            ListActivity {
                query: created,
                page: 0,
            },
            Some(&user),
        )
        .await
    {
        Err((403, AppError::Forbidden)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_accounts_timeline_is_for_its_owner_and_counts_refreshes_per_day() {
    let l = Linked::start(
        &[],
        &[("MAILBRIDGE_AUDIT_RETENTION_DAYS", "30")],
        "alice@example.test",
    )
    .await;
    for _ in 0..3 {
        refresh::refresh(&l.app.state, l.account, 0, true)
            .await
            .unwrap();
    }
    let t = l
        .app
        .ok(GetAccountTimeline { id: l.account }, &l.owner)
        .await;
    let today = l.app.state.clock.now().div_euclid(86_400);
    assert_eq!(t.refreshes, vec![(today, 3)]);
    let kinds: Vec<&str> = t.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["account.linked", "account.created"],
        "newest first, no refresh entries"
    );
    // Another user: as if it did not exist.
    let (_, stranger) = l.app.person("stranger@example.test", Role::User).await;
    match l
        .app
        .call(GetAccountTimeline { id: l.account }, Some(&stranger))
        .await
    {
        Err((404, _)) => {}
        other => panic!("{other:?}"),
    }
    // Past the retention, entries and counts go.
    l.app.advance_clock(31 * 86_400);
    let purged = app::ssr::housekeeping::purge(&l.app.state).await.unwrap();
    assert!(purged.audit >= 3, "{purged:?}");
    let (_, admin) = l.app.person("later@example.test", Role::Admin).await;
    let t = l.app.ok(GetAccountTimeline { id: l.account }, &admin).await;
    assert!(t.entries.is_empty() && t.refreshes.is_empty(), "{t:?}");
}

#[tokio::test]
async fn an_owner_sees_a_banner_on_every_page_while_a_mailbox_needs_them() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let page = |path: &'static str, cookie: String| {
        let app = &l.app;
        async move { app.get(path, Some(&cookie)).await.text().await.unwrap() }
    };
    assert!(!page("/", l.owner.clone()).await.contains("needs-you"));
    l.revoke_grant(l.account).await;
    for path in ["/", "/mail-accounts", "/profile"] {
        let html = page(path, l.owner.clone()).await;
        assert!(html.contains("id=\"needs-you\""), "{path}");
        assert!(html.contains("alice@example.test"));
        assert!(html.contains(&format!("/mail-accounts/{}", l.account)));
    }
    // Not someone else's: the admin owns no mailbox here.
    assert!(!page("/", l.admin.clone()).await.contains("needs-you"));
    // Authorised again: gone.
    assert_eq!(l.authorize(&l.owner, l.account).await, "linked");
    assert!(!page("/", l.owner.clone()).await.contains("needs-you"));
}
