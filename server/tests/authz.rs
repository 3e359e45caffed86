//! Every server function and every page, called by a signed-out visitor, a `user` and an
//! `admin`: the expected status for each is in one table. A server function or route missing
//! from the table fails the test.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use app::api::{
    activity::*, api_keys::*, app_passwords::*, applications::*, auth::*, mail_accounts::*,
    mail_servers::*, mail_test::*, settings::*, users::*, webhooks::*,
};
use app::domain::{ApiKeyDraft, MailServerDraft, Protocol, Role, WebhookDraft};
use app::error::AppError;
use common::TestApp;
use leptos::server_fn::ServerFn;
use serde::Serialize;

const ANON_PAGE: u16 = 303; // to /login?next=...

type Sent<'a> = Pin<Box<dyn Future<Output = reqwest::Response> + 'a>>;

/// Posts `args` as the browser does, for the raw status.
fn send<'a, F>(app: &'a TestApp, args: F, cookie: Option<&'a str>) -> Sent<'a>
where
    F: ServerFn + Serialize + 'a,
{
    Box::pin(async move { app.post(&args, cookie).await })
}

struct Fn {
    path: &'static str,
    /// The call's arguments, from the fixtures' ids and a fresh suffix.
    send: for<'a> fn(&'a TestApp, Ids, &str, Option<&'a str>) -> Sent<'a>,
    anon: u16,
    user: u16,
    admin: u16,
}

/// A row of the table: the server function's type (its path comes from it), the arguments
/// built from `|ids, uniq|`, and the expected status for anon, user and admin.
macro_rules! call {
    ($ty:ty, |$ids:pat_param, $uniq:pat_param| $args:expr, $anon:expr, $user:expr, $admin:expr) => {
        Fn {
            path: <$ty as ServerFn>::PATH,
            send: |app, $ids, $uniq, cookie| send::<$ty>(app, $args, cookie),
            anon: $anon,
            user: $user,
            admin: $admin,
        }
    };
}

fn s(v: &str) -> String {
    v.to_string()
}

/// `ids`: {victim} a user the calls may change, {app}/{server}/{account} an application, a mail
/// server and a mail account, {spare_*} ones that may be deleted; `uniq` a fresh suffix.
#[rustfmt::skip]
const FUNCTIONS: &[Fn] = &[
    call!(CurrentUser, |_, _| CurrentUser {}, 200, 200, 200),
    call!(Login, |_, _| Login { email: s("nobody@example.test"), password: s("wrong password!") }, 401, 401, 401),
    call!(Logout, |_, _| Logout {}, 200, 200, 200),
    call!(ChangeOwnPassword, |_, _| ChangeOwnPassword { current_password: s("not it at all"), new_password: s("a brand new password") }, 401, 422, 422),
    call!(GetOrganisationName, |_, _| GetOrganisationName {}, 401, 200, 200),
    call!(DashboardHealth, |_, _| DashboardHealth {}, 401, 403, 200),
    call!(GetNotificationSettings, |_, _| GetNotificationSettings {}, 401, 403, 200),
    call!(SetNotificationSender, |_, _| SetNotificationSender { account_id: s("") }, 401, 403, 200),
    call!(SetOrganisationName, |_, u| SetOrganisationName { name: format!("Org {u}") }, 401, 403, 200),
    call!(ListUsers, |_, _| ListUsers {}, 401, 403, 200),
    call!(GetUser, |ids, _| GetUser { id: ids.victim }, 401, 403, 200),
    call!(CreateUser, |_, u| CreateUser { email: format!("new-{u}@example.test"), name: s("New"), role: s("user"), password: s("long enough password") }, 401, 403, 200),
    call!(UpdateUser, |ids, _| UpdateUser { id: ids.victim, name: s("Victim"), role: s("user"), active: true }, 401, 403, 200),
    call!(SetUserPassword, |ids, _| SetUserPassword { id: ids.victim, password: s("another long password") }, 401, 403, 200),
    call!(ListApplications, |_, _| ListApplications {}, 401, 403, 200),
    call!(GetApplication, |ids, _| GetApplication { id: ids.app }, 401, 403, 200),
    call!(SaveApplication, |_, u| SaveApplication { id: s(""), name: format!("App {u}"), active: true, allowed_ips: s("") }, 401, 403, 200),
    call!(RegenerateApplicationKey, |ids, _| RegenerateApplicationKey { id: ids.app }, 401, 403, 200),
    call!(DeleteApplication, |ids, _| DeleteApplication { id: ids.spare_app }, 401, 403, 200),
    call!(ListMailServers, |_, _| ListMailServers { page: 0, descending: false }, 401, 403, 200),
    call!(GetMailServer, |ids, _| GetMailServer { id: ids.server }, 401, 403, 200),
    call!(SaveMailServer, |_, u| SaveMailServer { id: s(""), draft: MailServerDraft { subject: format!("S {u}"), auth_method: s("password"), imap_host: s("imap.example.test"), imap_port: s("993"), imap_encryption: s("ssl"), smtp_host: s("smtp.example.test"), smtp_port: s("465"), smtp_encryption: s("ssl"), ..Default::default() } }, 401, 403, 200),
    call!(DeleteMailServer, |ids, _| DeleteMailServer { id: ids.spare_server, confirm_accounts: 0 }, 401, 403, 200),
    call!(ListMailAccounts, |_, _| ListMailAccounts { server_id: s(""), owner_id: s(""), status: s(""), page: 0 }, 401, 200, 200),
    call!(GetMailAccount, |ids, _| GetMailAccount { id: ids.account }, 401, 200, 200),
    call!(MailAccountChoices, |_, _| MailAccountChoices {}, 401, 200, 200),
    call!(CreateMailAccount, |ids, u| common::new_account(ids.server, &format!("box-{u}@example.test"), "", ""), 401, 200, 200),
    call!(DeleteMailAccount, |ids, _| DeleteMailAccount { id: ids.spare_account }, 401, 404, 200),
    call!(StartAuthorization, |ids, _| StartAuthorization { id: ids.account }, 401, 200, 200),
    call!(UnlinkMailAccount, |ids, _| UnlinkMailAccount { id: ids.account }, 401, 200, 200),
    call!(AccountStatusCounts, |_, _| AccountStatusCounts {}, 401, 200, 200),
    call!(AccountsNeedingMe, |_, _| AccountsNeedingMe {}, 401, 200, 200),
    call!(TestMailAccount, |ids, _| TestMailAccount { id: ids.account, protocol: Protocol::Imap }, 401, 200, 200),
    call!(TestMailAccount, |ids, _| TestMailAccount { id: ids.account, protocol: Protocol::Smtp }, 401, 200, 200),
    call!(TokenHandouts, |ids, _| TokenHandouts { id: ids.account }, 401, 200, 200),
    call!(ListAppPasswords, |ids, _| ListAppPasswords { account_id: ids.account }, 401, 200, 200),
    // The account is not linked: refused for its owner and an admin alike.
    call!(CreateAppPassword, |ids, u| CreateAppPassword { account_id: ids.account, name: format!("P {u}") }, 401, 409, 409),
    call!(RevokeAppPassword, |ids, _| RevokeAppPassword { account_id: ids.account, id: 999_999 }, 401, 404, 404),
    call!(ListApiKeys, |_, _| ListApiKeys {}, 401, 403, 200),
    call!(CreateApiKey, |_, u| CreateApiKey { draft: ApiKeyDraft { name: format!("Key {u}"), all_servers: true, perm_tokens: true, ..Default::default() } }, 401, 403, 200),
    call!(RevokeApiKey, |_, _| RevokeApiKey { id: 999_999 }, 401, 403, 404),
    call!(ListWebhooks, |_, _| ListWebhooks {}, 401, 403, 200),
    call!(GetWebhook, |ids, _| GetWebhook { id: ids.webhook }, 401, 403, 200),
    call!(CreateWebhook, |_, _| CreateWebhook { draft: hook_draft() }, 401, 403, 200),
    call!(UpdateWebhook, |ids, _| UpdateWebhook { id: ids.webhook, draft: hook_draft() }, 401, 403, 200),
    call!(DeleteWebhook, |ids, _| DeleteWebhook { id: ids.spare_webhook }, 401, 403, 200),
    call!(SendTestEvent, |ids, _| SendTestEvent { id: ids.webhook }, 401, 403, 200),
    call!(Redeliver, |ids, _| Redeliver { webhook_id: ids.webhook, delivery_id: 999_999 }, 401, 403, 409),
    call!(ListActivity, |_, _| ListActivity { query: Default::default(), page: 0 }, 401, 403, 200),
    call!(GetAccountTimeline, |ids, _| GetAccountTimeline { id: ids.account }, 401, 200, 200),
];

/// A webhook to a closed port (nothing is delivered in this test).
fn hook_draft() -> WebhookDraft {
    WebhookDraft {
        url: s("http://127.0.0.1:9/hook"),
        events: vec![s("account.linked")],
        active: true,
    }
}

struct Page {
    path: &'static str,
    anon: u16,
    user: u16,
    admin: u16,
}

#[rustfmt::skip]
const PAGES: &[Page] = &[
    Page { path: "/login", anon: 200, user: 200, admin: 200 },
    Page { path: "/", anon: ANON_PAGE, user: 200, admin: 200 },
    Page { path: "/mail-servers", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/mail-servers/new", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/mail-servers/{server}", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/applications", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/applications/{app}", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/mail-accounts", anon: ANON_PAGE, user: 200, admin: 200 },
    Page { path: "/mail-accounts/{account}", anon: ANON_PAGE, user: 200, admin: 200 },
    Page { path: "/oauth/result", anon: ANON_PAGE, user: 200, admin: 200 },
    Page { path: "/users", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/users/{victim}", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/profile", anon: ANON_PAGE, user: 200, admin: 200 },
    Page { path: "/api-keys", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/webhooks", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/webhooks/{webhook}", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/activity", anon: ANON_PAGE, user: 403, admin: 200 },
    Page { path: "/settings", anon: ANON_PAGE, user: 403, admin: 200 },
];

/// Plain axum routes outside Leptos.
#[rustfmt::skip]
const ROUTES: &[Page] = &[
    Page { path: "/healthz", anon: 200, user: 200, admin: 200 },
    // No background task runs in this test server: not ready, for anyone.
    Page { path: "/readyz", anon: 503, user: 503, admin: 503 },
    // Off without MAILBRIDGE_METRICS_TOKEN (tests/metrics.rs covers it on).
    Page { path: "/metrics", anon: 404, user: 404, admin: 404 },
    Page { path: "/activity.csv", anon: ANON_PAGE, user: 403, admin: 200 },
    // The REST API answers to API keys, not sessions: 401 for every visitor.
    Page { path: "/api/v1/accounts", anon: 401, user: 401, admin: 401 },
    Page { path: "/api/v1/openapi.json", anon: 200, user: 200, admin: 200 },
    // Signed out: to /login; signed in with a bad key: to the result page.
    Page { path: "/oauth/callback/not-a-key?state=x&code=y", anon: 303, user: 303, admin: 303 },
];

/// Ids of the records the calls may read or change.
#[derive(Clone, Copy)]
struct Ids {
    victim: i64,
    app: i64,
    spare_app: i64,
    server: i64,
    spare_server: i64,
    account: i64,
    spare_account: i64,
    webhook: i64,
    spare_webhook: i64,
}

fn fill(s: &str, ids: Ids, uniq: &str) -> String {
    s.replace("{victim}", &ids.victim.to_string())
        .replace("{spare_app}", &ids.spare_app.to_string())
        .replace("{app}", &ids.app.to_string())
        .replace("{spare_server}", &ids.spare_server.to_string())
        .replace("{spare_account}", &ids.spare_account.to_string())
        .replace("{account}", &ids.account.to_string())
        .replace("{spare_webhook}", &ids.spare_webhook.to_string())
        .replace("{webhook}", &ids.webhook.to_string())
        .replace("{server}", &ids.server.to_string())
        .replace("{uniq}", uniq)
}

async fn fixtures(app: &TestApp, admin: i64, user: i64) -> Ids {
    let cookie = app.session_for(admin).await;
    let app_id = app.create_application(&cookie, "Fixture app").await;
    let spare_app = app.create_application(&cookie, "Spare app").await;
    let mut ids = vec![];
    for subject in ["Fixture server", "Spare server"] {
        let d = common::google_draft(subject, "id", "secret", app_id);
        ids.push(app.create_server(&cookie, d).await);
    }
    let mut accounts = vec![];
    for (owner, login) in [(user, "mine@example.test"), (admin, "spare@example.test")] {
        let c = app.session_for(owner).await;
        let form = CreateMailAccount {
            name: "Box".into(),
            ..common::new_account(ids[0], login, "", "")
        };
        accounts.push(app.ok(form, &c).await);
    }
    let mut hooks = vec![];
    for _ in 0..2 {
        let created = app
            .ok(
                CreateWebhook {
                    draft: hook_draft(),
                },
                &cookie,
            )
            .await;
        hooks.push(created.id);
    }
    Ids {
        victim: 0,
        app: app_id,
        spare_app,
        server: ids[0],
        spare_server: ids[1],
        account: accounts[0],
        spare_account: accounts[1],
        webhook: hooks[0],
        spare_webhook: hooks[1],
    }
}

#[test]
fn the_table_covers_every_server_function_and_page() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect();
    let table: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.path.to_string()).collect();
    assert_eq!(
        registered, table,
        "server functions and the authorisation table differ"
    );

    let routes: BTreeSet<String> = leptos_axum::generate_route_list(app::App)
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    let pages: BTreeSet<String> = PAGES
        .iter()
        .map(|p| {
            p.path
                .replace("{victim}", "{id}")
                .replace("{server}", "{id}")
                .replace("{app}", "{id}")
                .replace("{account}", "{id}")
                .replace("{webhook}", "{id}")
        })
        .collect();
    assert_eq!(routes, pages, "pages and the authorisation table differ");
}

#[tokio::test]
async fn every_caller_gets_the_expected_status() {
    let app = common::spawn().await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let user = app.add_user("user@example.test", Role::User).await;
    let victim = app.add_user("victim@example.test", Role::User).await;
    let ids = Ids {
        victim,
        ..fixtures(&app, admin, user).await
    };

    let mut failures = vec![];
    for (i, f) in FUNCTIONS.iter().enumerate() {
        for (who, expected) in [("anon", f.anon), ("user", f.user), ("admin", f.admin)] {
            // A fresh session per call, so logout or a password change does not affect the next.
            let cookie = match who {
                "user" => Some(app.session_for(user).await),
                "admin" => Some(app.session_for(admin).await),
                _ => None,
            };
            let uniq = format!("{i}-{who}");
            let res = (f.send)(&app, ids, &uniq, cookie.as_deref()).await;
            let status = res.status().as_u16();
            if status != expected {
                failures.push(format!(
                    "{} as {who}: expected {expected}, got {status}: {}",
                    f.path,
                    res.text().await.unwrap_or_default()
                ));
            }
        }
    }
    for p in PAGES.iter().chain(ROUTES) {
        for (who, expected) in [("anon", p.anon), ("user", p.user), ("admin", p.admin)] {
            let cookie = match who {
                "user" => Some(app.session_for(user).await),
                "admin" => Some(app.session_for(admin).await),
                _ => None,
            };
            let path = fill(p.path, ids, "");
            let res = app.get(&path, cookie.as_deref()).await;
            let status = res.status().as_u16();
            if status != expected {
                failures.push(format!(
                    "GET {path} as {who}: expected {expected}, got {status}"
                ));
            }
            if status == 303 && who == "anon" {
                let loc = res
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if !loc.starts_with("/login?next=") {
                    failures.push(format!("GET {path} as {who}: redirected to {loc}"));
                }
            }
            if status == 403 {
                let html = res.text().await.unwrap_or_default();
                if !html.contains("403") || !html.contains("permission") {
                    failures.push(format!("GET {path} as {who}: 403 without an explanation"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Signed out: 401 Unauthorized; signed in as a user: 403 Forbidden.
fn refused<T>(cookie: Option<&str>, answer: &common::Answer<T>) -> bool {
    matches!(
        (cookie, answer),
        (None, Err((401, AppError::Unauthorized))) | (Some(_), Err((403, AppError::Forbidden)))
    )
}

#[tokio::test]
async fn refused_calls_change_nothing() {
    let app = common::spawn().await;
    let user = app.add_user("user@example.test", Role::User).await;
    let cookie = app.session_for(user).await;
    let users_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    for c in [None, Some(cookie.as_str())] {
        let answer = app
            .call(
                SetOrganisationName {
                    name: "Hijacked".into(),
                },
                c,
            )
            .await;
        assert!(refused(c, &answer), "{answer:?}");
        let answer = app
            .call(
                CreateUser {
                    email: "x@example.test".into(),
                    name: "X".into(),
                    role: "admin".into(),
                    password: "long enough password".into(),
                },
                c,
            )
            .await;
        assert!(refused(c, &answer), "{answer:?}");
        let answer = app
            .call(
                UpdateUser {
                    id: user,
                    name: "X".into(),
                    role: "admin".into(),
                    active: true,
                },
                c,
            )
            .await;
        assert!(refused(c, &answer), "{answer:?}");
    }
    let org: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'organisation_name'")
            .fetch_optional(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(org, None);
    let users_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(users_before, users_after);
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(user)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(role, "user");
}

#[tokio::test]
async fn a_cross_origin_post_with_a_valid_session_is_refused_and_changes_nothing() {
    let app = common::spawn().await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let cookie = app.session_for(admin).await;
    let url = format!("{}{}", app.url, <SetOrganisationName as ServerFn>::PATH);
    let pwned = SetOrganisationName {
        name: "Pwned".into(),
    };
    let hostile = |origin: &'static str| {
        common::new_client()
            .post(&url)
            .header("cookie", &cookie)
            .header("origin", origin)
            .form(&pwned)
    };
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let res = hostile(origin).send().await.unwrap();
        assert_eq!(res.status(), 403, "{origin}");
    }
    // Referer alone is checked the same way.
    let res = common::new_client()
        .post(&url)
        .header("cookie", &cookie)
        .header("referer", "http://evil.example/page")
        .form(&pwned)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let org: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'organisation_name'")
            .fetch_optional(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(org, None);
    // The same call from our own origin works.
    let answer = app
        .call(
            SetOrganisationName {
                name: "Ours".into(),
            },
            Some(&cookie),
        )
        .await;
    assert!(answer.is_ok(), "{answer:?}");
}
