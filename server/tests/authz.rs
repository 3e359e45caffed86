//! Every server function and every page, called by a signed-out visitor, a `user` and an
//! `admin`: the expected status for each is in one table. A server function or route missing
//! from the table fails the test.

mod common;

use std::collections::BTreeSet;

use app::domain::Role;

const ANON_PAGE: u16 = 303; // to /login?next=...

struct Fn {
    path: &'static str,
    body: &'static [(&'static str, &'static str)],
    anon: u16,
    user: u16,
    admin: u16,
}

/// Placeholders in bodies and paths: {victim} a user the calls may change, {app}/{server} an
/// application and a mail server, {spare_app}/{spare_server} ones that may be deleted, {uniq} a
/// fresh suffix.
#[rustfmt::skip]
const FUNCTIONS: &[Fn] = &[
    Fn { path: "/api/current_user", body: &[], anon: 200, user: 200, admin: 200 },
    Fn { path: "/api/login", body: &[("email", "nobody@example.test"), ("password", "wrong password!")], anon: 401, user: 401, admin: 401 },
    Fn { path: "/api/logout", body: &[], anon: 200, user: 200, admin: 200 },
    Fn { path: "/api/change_own_password", body: &[("current_password", "not it at all"), ("new_password", "a brand new password")], anon: 401, user: 422, admin: 422 },
    Fn { path: "/api/get_organisation_name", body: &[], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/set_organisation_name", body: &[("name", "Org {uniq}")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/list_users", body: &[], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/get_user", body: &[("id", "{victim}")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/create_user", body: &[("email", "new-{uniq}@example.test"), ("name", "New"), ("role", "user"), ("password", "long enough password")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/update_user", body: &[("id", "{victim}"), ("name", "Victim"), ("role", "user"), ("active", "true")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/set_user_password", body: &[("id", "{victim}"), ("password", "another long password")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/list_applications", body: &[], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/get_application", body: &[("id", "{app}")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/save_application", body: &[("id", ""), ("name", "App {uniq}"), ("active", "true"), ("allowed_ips", "")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/regenerate_application_key", body: &[("id", "{app}")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/delete_application", body: &[("id", "{spare_app}")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/list_mail_servers", body: &[("page", "0"), ("descending", "false")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/get_mail_server", body: &[("id", "{server}")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/save_mail_server", body: &[("id", ""), ("draft[subject]", "S {uniq}"), ("draft[auth_method]", "password"), ("draft[imap_host]", "imap.example.test"), ("draft[imap_port]", "993"), ("draft[imap_encryption]", "ssl"), ("draft[smtp_host]", "smtp.example.test"), ("draft[smtp_port]", "465"), ("draft[smtp_encryption]", "ssl")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/delete_mail_server", body: &[("id", "{spare_server}"), ("confirm_accounts", "0")], anon: 401, user: 403, admin: 200 },
    Fn { path: "/api/list_mail_accounts", body: &[("server_id", ""), ("owner_id", ""), ("status", ""), ("page", "0")], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/get_mail_account", body: &[("id", "{account}")], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/mail_account_choices", body: &[], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/create_mail_account", body: &[("name", ""), ("mail_server_id", "{server}"), ("login", "box-{uniq}@example.test"), ("owner_id", ""), ("password", "")], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/delete_mail_account", body: &[("id", "{spare_account}")], anon: 401, user: 404, admin: 200 },
    Fn { path: "/api/start_authorization", body: &[("id", "{account}")], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/unlink_mail_account", body: &[("id", "{account}")], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/account_status_counts", body: &[], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/test_imap", body: &[("id", "{account}")], anon: 401, user: 200, admin: 200 },
    Fn { path: "/api/test_smtp", body: &[("id", "{account}")], anon: 401, user: 200, admin: 200 },
];

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
];

/// Plain axum routes outside Leptos.
#[rustfmt::skip]
const ROUTES: &[Page] = &[
    Page { path: "/healthz", anon: 200, user: 200, admin: 200 },
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
}

fn fill(s: &str, ids: Ids, uniq: &str) -> String {
    s.replace("{victim}", &ids.victim.to_string())
        .replace("{spare_app}", &ids.spare_app.to_string())
        .replace("{app}", &ids.app.to_string())
        .replace("{spare_server}", &ids.spare_server.to_string())
        .replace("{spare_account}", &ids.spare_account.to_string())
        .replace("{account}", &ids.account.to_string())
        .replace("{server}", &ids.server.to_string())
        .replace("{uniq}", uniq)
}

async fn fixtures(app: &common::TestApp, admin: i64, user: i64) -> Ids {
    let cookie = app.session_for(admin).await;
    let app_id = app.create_application(&cookie, "Fixture app").await;
    let spare_app = app.create_application(&cookie, "Spare app").await;
    let mut ids = vec![];
    for subject in ["Fixture server", "Spare server"] {
        let d = common::google_draft(subject, "id", "secret", app_id);
        let res = app
            .call("/api/save_mail_server", &common::pairs(&d), Some(&cookie))
            .await;
        assert_eq!(res.status(), 200);
        ids.push(res.json::<i64>().await.unwrap());
    }
    let mut accounts = vec![];
    for (owner, login) in [(user, "mine@example.test"), (admin, "spare@example.test")] {
        let c = app.session_for(owner).await;
        let server = ids[0].to_string();
        let body = [
            ("name", "Box"),
            ("mail_server_id", server.as_str()),
            ("login", login),
            ("owner_id", ""),
            ("password", ""),
        ];
        let res = app.call("/api/create_mail_account", &body, Some(&c)).await;
        assert_eq!(res.status(), 200);
        accounts.push(res.json::<i64>().await.unwrap());
    }
    Ids {
        victim: 0,
        app: app_id,
        spare_app,
        server: ids[0],
        spare_server: ids[1],
        account: accounts[0],
        spare_account: accounts[1],
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
            let body: Vec<(String, String)> = f
                .body
                .iter()
                .map(|(k, v)| (k.to_string(), fill(v, ids, &uniq)))
                .collect();
            let body: Vec<(&str, &str)> =
                body.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let res = app.call(f.path, &body, cookie.as_deref()).await;
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
        let res = app
            .call("/api/set_organisation_name", &[("name", "Hijacked")], c)
            .await;
        assert!(matches!(res.status().as_u16(), 401 | 403));
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(
            body.get("Unauthorized").is_some() || body == "Unauthorized" || body == "Forbidden",
            "{body}"
        );
        let res = app
            .call(
                "/api/create_user",
                &[
                    ("email", "x@example.test"),
                    ("name", "X"),
                    ("role", "admin"),
                    ("password", "long enough password"),
                ],
                c,
            )
            .await;
        assert!(matches!(res.status().as_u16(), 401 | 403));
        let res = app
            .call(
                "/api/update_user",
                &[
                    ("id", &user.to_string()),
                    ("name", "X"),
                    ("role", "admin"),
                    ("active", "true"),
                ],
                c,
            )
            .await;
        assert!(matches!(res.status().as_u16(), 401 | 403));
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
    let role: String = sqlx::query_scalar("SELECT role FROM users WHERE id = ?1")
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
    let hostile = |origin: &'static str| {
        common::new_client()
            .post(format!("{}/api/set_organisation_name", app.url))
            .header("cookie", &cookie)
            .header("origin", origin)
            .form(&[("name", "Pwned")])
    };
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let res = hostile(origin).send().await.unwrap();
        assert_eq!(res.status(), 403, "{origin}");
    }
    // Referer alone is checked the same way.
    let res = common::new_client()
        .post(format!("{}/api/set_organisation_name", app.url))
        .header("cookie", &cookie)
        .header("referer", "http://evil.example/page")
        .form(&[("name", "Pwned")])
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
    let res = app
        .call(
            "/api/set_organisation_name",
            &[("name", "Ours")],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
}
