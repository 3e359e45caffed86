//! Hostile input in every text field, and many signed-in users at once.

mod common;

use app::api::{
    applications::SaveApplication,
    auth::Login,
    mail_accounts::{AccountStatusCounts, CreateMailAccount, ListMailAccounts},
    mail_servers::SaveMailServer,
    settings::SetOrganisationName,
    users::{CreateUser, UpdateUser},
};
use app::domain::{MailServerDraft, Role};
use common::TestApp;
use leptos::server_fn::ServerFn;
use serde::Serialize;

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

/// Sends `args` (carrying the hostile value `v`) as `cookie`'s owner; notes a 5xx, or anything
/// but 413 for a body over the limit.
async fn probe<F>(app: &TestApp, args: F, cookie: &str, v: &str, failures: &mut Vec<String>)
where
    F: ServerFn + Serialize,
{
    let path = F::PATH;
    let res = app.post(&args, Some(cookie)).await;
    let status = res.status().as_u16();
    if v.len() > server::startup::MAX_BODY_BYTES && status != 413 {
        failures.push(format!("{path} with 1 MB: {status}, expected 413"));
        return;
    }
    if status >= 500 {
        failures.push(format!(
            "{path} with {:?}…: {status} {}",
            v.chars().take(20).collect::<String>(),
            res.text().await.unwrap_or_default()
        ));
    }
}

/// The mail server form's text fields a visitor can type into.
const DRAFT_FIELDS: &[&str] = &[
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
];

fn set_field(d: &mut MailServerDraft, field: &str, v: &str) {
    let slot = match field {
        "subject" => &mut d.subject,
        "client_id" => &mut d.client_id,
        "client_secret" => &mut d.client_secret,
        "issuer_url" => &mut d.issuer_url,
        "scopes" => &mut d.scopes,
        "tenant" => &mut d.tenant,
        "imap_host" => &mut d.imap_host,
        "imap_port" => &mut d.imap_port,
        "smtp_host" => &mut d.smtp_host,
        "smtp_port" => &mut d.smtp_port,
        "provider" => &mut d.provider,
        "auth_method" => &mut d.auth_method,
        "imap_encryption" => &mut d.imap_encryption,
        other => panic!("no draft field {other}"),
    };
    *slot = v.to_string();
}

#[tokio::test]
async fn hostile_input_never_causes_a_server_error_and_is_rendered_inert() {
    let app = common::spawn().await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let cookie = app.session_for(admin).await;
    let app_id = app.create_application(&cookie, "Fixture").await;
    let d = common::google_draft("Fixture server", "id", "secret", app_id);
    let server = app.create_server(&cookie, d).await;

    let mut failures = vec![];
    for value in hostile() {
        let v = value.as_str();
        let f = &mut failures;
        let args = SetOrganisationName { name: v.into() };
        probe(&app, args, &cookie, v, f).await;
        let args = Login {
            email: v.into(),
            password: v.into(),
        };
        probe(&app, args, &cookie, v, f).await;
        let args = CreateUser {
            email: v.into(),
            name: v.into(),
            role: v.into(),
            password: v.into(),
        };
        probe(&app, args, &cookie, v, f).await;
        let args = UpdateUser {
            id: admin,
            name: v.into(),
            role: "admin".into(),
            active: true,
        };
        probe(&app, args, &cookie, v, f).await;
        let args = SaveApplication {
            id: String::new(),
            name: v.into(),
            active: true,
            allowed_ips: v.into(),
        };
        probe(&app, args, &cookie, v, f).await;
        let args = CreateMailAccount {
            name: v.into(),
            ..common::new_account(server, v, "", v)
        };
        probe(&app, args, &cookie, v, f).await;
        let args = ListMailAccounts {
            server_id: v.into(),
            owner_id: v.into(),
            status: v.into(),
            page: 0,
        };
        probe(&app, args, &cookie, v, f).await;
        for field in DRAFT_FIELDS {
            let mut draft = common::google_draft("Hostile", "id", "secret", app_id);
            if *field == "issuer_url" || *field == "scopes" {
                draft.provider = "generic".into();
            }
            set_field(&mut draft, field, v);
            let args = SaveMailServer {
                id: String::new(),
                draft,
            };
            probe(&app, args, &cookie, v, f).await;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Whatever was accepted is shown inert: the markup arrives escaped.
    app.ok(
        SaveApplication {
            id: String::new(),
            name: "<b>bold</b><script>x()</script>".into(),
            active: true,
            allowed_ips: String::new(),
        },
        &cookie,
    )
    .await;
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

/// A server function's form post on the shared `client` (one connection pool for all the
/// requests, as a browser has), signed in with `cookie`.
fn form_post<F>(
    client: &reqwest::Client,
    app: &TestApp,
    cookie: &str,
    args: &F,
) -> reqwest::RequestBuilder
where
    F: ServerFn + Serialize,
{
    client
        .post(format!("{}{}", app.url, F::PATH))
        .header("cookie", cookie)
        .header("origin", app.origin())
        .form(args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests_from_several_users_all_succeed() {
    let app = std::sync::Arc::new(common::spawn().await);
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let admin_cookie = app.session_for(admin).await;
    let app_id = app.create_application(&admin_cookie, "Web").await;
    let d = common::google_draft("Shared", "id", "secret", app_id);
    let server = app.create_server(&admin_cookie, d).await;
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
                    let form = CreateMailAccount {
                        name: "Box".into(),
                        ..common::new_account(server, &login, "", "")
                    };
                    form_post(&client, &app, &cookie, &form).send().await
                }
                3 => {
                    let form = ListMailAccounts {
                        server_id: String::new(),
                        owner_id: String::new(),
                        status: String::new(),
                        page: 0,
                    };
                    form_post(&client, &app, &cookie, &form).send().await
                }
                _ => {
                    form_post(&client, &app, &cookie, &AccountStatusCounts {})
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
