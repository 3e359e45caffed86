//! "Run test" against the real Dovecot and Postfix of the peers kit: IMAP on the STARTTLS and
//! the TLS port, SMTP on Postfix STARTTLS, Postfix implicit TLS and Dovecot submission,
//! XOAUTH2 and OAUTHBEARER, certificate validation, refusals and timeouts.

mod common;

use std::time::{Duration, Instant};

use app::domain::{Encryption, Role};
use app::ssr::mail::{self, Credential, ExtraCa, Mechanism, Protocol, Target};
use common::{google_draft, pairs, peers::Peers, TestApp};

struct Linked {
    peers: Peers,
    app: TestApp,
    account: i64,
    server: i64,
    admin_cookie: String,
    login: String,
}

async fn linked() -> Linked {
    let peers = Peers::start(&[]);
    let env = peers.mailbridge_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = common::spawn_with(&env).await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let admin_cookie = app.session_for(admin).await;
    let app_id = app.create_application(&admin_cookie, "Web").await;
    let list: serde_json::Value = app
        .call("/api/list_applications", &[], Some(&admin_cookie))
        .await
        .json()
        .await
        .unwrap();
    let redirect_uri = list[0]["redirect_uri"].as_str().unwrap().to_string();
    let reg: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/reg", peers.get("PEERS_ISSUER")))
        .json(&serde_json::json!({ "redirect_uris": [redirect_uri] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut d = google_draft(
        "Kit",
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
        app_id,
    );
    common::set(&mut d, "draft[imap_host]", "127.0.0.1");
    common::set(&mut d, "draft[imap_port]", &peers.get("PEERS_IMAPS_PORT"));
    common::set(&mut d, "draft[smtp_host]", "127.0.0.1");
    common::set(&mut d, "draft[smtp_port]", &peers.get("PEERS_SMTPS_PORT"));
    let res = app
        .call("/api/save_mail_server", &pairs(&d), Some(&admin_cookie))
        .await;
    assert_eq!(res.status(), 200);
    let server: i64 = res.json().await.unwrap();
    let login = "alice@example.test".to_string();
    let res = app
        .call(
            "/api/create_mail_account",
            &[
                ("name", "Alice"),
                ("mail_server_id", &server.to_string()),
                ("login", &login),
                ("owner_id", ""),
                ("password", ""),
            ],
            Some(&admin_cookie),
        )
        .await;
    let account: i64 = res.json().await.unwrap();
    let auth_url: String = app
        .call(
            "/api/start_authorization",
            &[("id", &account.to_string())],
            Some(&admin_cookie),
        )
        .await
        .json()
        .await
        .unwrap();
    let back = common::oidc::consent(&peers.get("PEERS_ISSUER"), &auth_url, &redirect_uri).await;
    let res = app
        .get(back.strip_prefix(&app.url).unwrap(), Some(&admin_cookie))
        .await;
    assert_eq!(
        res.headers()["location"],
        format!("/oauth/result?outcome=linked&account={account}")
    );
    Linked {
        peers,
        app,
        account,
        server,
        admin_cookie,
        login,
    }
}

impl Linked {
    async fn set_server(&self, imap_port: &str, imap_enc: &str, smtp_port: &str, smtp_enc: &str) {
        sqlx::query("UPDATE mail_servers SET imap_port = ?1, imap_encryption = ?2, smtp_port = ?3, smtp_encryption = ?4 WHERE id = ?5")
            .bind(self.peers.get(imap_port).parse::<i64>().unwrap())
            .bind(imap_enc)
            .bind(self.peers.get(smtp_port).parse::<i64>().unwrap())
            .bind(smtp_enc)
            .bind(self.server)
            .execute(&self.app.state.pool)
            .await
            .unwrap();
    }

    async fn token(&self) -> String {
        app::ssr::refresh::ensure_fresh(&self.app.state, self.account, 60)
            .await
            .unwrap()
    }

    fn target(&self, port: &str, encryption: Encryption, mechanism: Mechanism) -> Target {
        Target {
            host: "127.0.0.1".into(),
            port: self.peers.port(port),
            encryption,
            validate_certificate: true,
            login: self.login.clone(),
            mechanism,
        }
    }

    fn ca(&self) -> ExtraCa {
        ExtraCa::load(std::path::Path::new(&self.peers.get("PEERS_CA"))).unwrap()
    }
}

fn assert_ok(r: &app::api::mail_test::ProtocolResult, what: &str) {
    assert!(r.ok, "{what}: {} {:?}", r.message, r.steps);
}

#[tokio::test]
async fn imap_and_smtp_pass_on_every_port_with_both_mechanisms() {
    let l = linked().await;
    // Through the account, as "Run test" does: IMAP TLS + SMTP Postfix implicit TLS.
    let imap = mail::run_account_test(&l.app.state, l.account, Protocol::Imap)
        .await
        .unwrap();
    assert_ok(&imap, "IMAP TLS");
    assert!(imap.inbox_count.is_some());
    assert!(imap.message.contains("INBOX holds"));
    let smtp = mail::run_account_test(&l.app.state, l.account, Protocol::Smtp)
        .await
        .unwrap();
    assert_ok(&smtp, "SMTP TLS");
    let (imap_ok, smtp_ok, last_login): (bool, bool, Option<i64>) = sqlx::query_as(
        "SELECT test_imap_ok, test_smtp_ok, last_login_at FROM mail_accounts WHERE id = ?1",
    )
    .bind(l.account)
    .fetch_one(&l.app.state.pool)
    .await
    .unwrap();
    assert!(imap_ok && smtp_ok && last_login.is_some());

    // IMAP STARTTLS, Postfix STARTTLS, Dovecot submission without TLS.
    l.set_server(
        "PEERS_IMAP_PORT",
        "starttls",
        "PEERS_SMTP_STARTTLS_PORT",
        "starttls",
    )
    .await;
    assert_ok(
        &mail::run_account_test(&l.app.state, l.account, Protocol::Imap)
            .await
            .unwrap(),
        "IMAP STARTTLS",
    );
    assert_ok(
        &mail::run_account_test(&l.app.state, l.account, Protocol::Smtp)
            .await
            .unwrap(),
        "SMTP STARTTLS",
    );
    l.set_server(
        "PEERS_IMAP_PORT",
        "starttls",
        "PEERS_SUBMISSION_PORT",
        "none",
    )
    .await;
    assert_ok(
        &mail::run_account_test(&l.app.state, l.account, Protocol::Smtp)
            .await
            .unwrap(),
        "Dovecot submission",
    );

    // Both mechanisms explicitly, on each kind of port.
    let token = l.token().await;
    let ca = l.ca();
    let t = Duration::from_secs(5);
    for mech in [Mechanism::Auto, Mechanism::OAuthBearer] {
        let name = if mech == Mechanism::Auto {
            "XOAUTH2"
        } else {
            "OAUTHBEARER"
        };
        for (port, enc) in [
            ("PEERS_IMAPS_PORT", Encryption::SslTls),
            ("PEERS_IMAP_PORT", Encryption::StartTls),
        ] {
            let r = mail::imap(
                &l.target(port, enc, mech),
                &Credential::Bearer(token.clone()),
                &ca,
                t,
            )
            .await;
            assert_ok(&r, &format!("IMAP {port} {name}"));
            assert!(
                r.steps.iter().any(|s| s.name.contains(name)),
                "{:?}",
                r.steps
            );
        }
        for (port, enc) in [
            ("PEERS_SMTPS_PORT", Encryption::SslTls),
            ("PEERS_SMTP_STARTTLS_PORT", Encryption::StartTls),
            ("PEERS_SUBMISSION_PORT", Encryption::None),
        ] {
            let r = mail::smtp(
                &l.target(port, enc, mech),
                &Credential::Bearer(token.clone()),
                &ca,
                t,
            )
            .await;
            assert_ok(&r, &format!("SMTP {port} {name}"));
            assert!(
                r.steps.iter().any(|s| s.detail.contains(name)),
                "{:?}",
                r.steps
            );
        }
    }
}

#[tokio::test]
async fn certificates_wrong_logins_closed_ports_and_revoked_tokens_fail_clearly() {
    let l = linked().await;
    let token = l.token().await;
    let t = Duration::from_secs(5);

    // Without the kit's CA the certificate is not trusted, with a hint; "Validate certificate"
    // off connects anyway.
    let r = mail::imap(
        &l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto),
        &Credential::Bearer(token.clone()),
        &ExtraCa::default(),
        t,
    )
    .await;
    assert!(!r.ok);
    assert!(r.message.contains("UnknownIssuer"), "{}", r.message);
    assert!(r.hint.unwrap().contains("MAILBRIDGE_CA_FILE"));
    let r = mail::smtp(
        &l.target(
            "PEERS_SMTP_STARTTLS_PORT",
            Encryption::StartTls,
            Mechanism::Auto,
        ),
        &Credential::Bearer(token.clone()),
        &ExtraCa::default(),
        t,
    )
    .await;
    assert!(!r.ok);
    assert!(
        r.hint.unwrap_or_default().contains("MAILBRIDGE_CA_FILE"),
        "{}",
        r.message
    );
    let mut unvalidated = l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto);
    unvalidated.validate_certificate = false;
    assert_ok(
        &mail::imap(
            &unvalidated,
            &Credential::Bearer(token.clone()),
            &ExtraCa::default(),
            t,
        )
        .await,
        "validation off",
    );

    // A token for alice used as bob: an authentication failure, with the server's challenge.
    let mut wrong = l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto);
    wrong.login = "bob@example.test".into();
    let r = mail::imap(&wrong, &Credential::Bearer(token.clone()), &l.ca(), t).await;
    assert!(!r.ok && r.auth_failed);
    assert!(r.message.contains("refused the token"), "{}", r.message);
    let mut wrong = l.target("PEERS_SMTPS_PORT", Encryption::SslTls, Mechanism::Auto);
    wrong.login = "bob@example.test".into();
    let r = mail::smtp(&wrong, &Credential::Bearer(token.clone()), &l.ca(), t).await;
    assert!(!r.ok && r.auth_failed);
    assert!(r.message.contains("535"), "{}", r.message);

    // A closed port: a connection error, well within the timeout.
    let mut closed = l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto);
    closed.port = common::oidc::free_port();
    let started = Instant::now();
    let r = mail::imap(&closed, &Credential::Bearer(token.clone()), &l.ca(), t).await;
    assert!(!r.ok && !r.auth_failed);
    assert!(r.message.contains("cannot connect"), "{}", r.message);
    assert!(started.elapsed() < t);

    // Implicit TLS against the STARTTLS port: said so.
    let r = mail::imap(
        &l.target("PEERS_IMAP_PORT", Encryption::SslTls, Mechanism::Auto),
        &Credential::Bearer(token.clone()),
        &l.ca(),
        t,
    )
    .await;
    assert!(!r.ok);

    // Revoke the grant at the provider: the test refreshes once, is refused, and says so.
    let res = reqwest::Client::new()
        .post(format!("{}/token/revocation", l.peers.get("PEERS_ISSUER")))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let r = mail::run_account_test(&l.app.state, l.account, Protocol::Imap)
        .await
        .unwrap();
    assert!(!r.ok);
    assert!(r.message.contains("refused"), "{}", r.message);
    assert!(r.hint.unwrap().contains("authorize"), "hint");
    let status: String = sqlx::query_scalar("SELECT status FROM mail_accounts")
        .fetch_one(&l.app.state.pool)
        .await
        .unwrap();
    assert_eq!(status, "needs_reauth");
    let _ = &l.admin_cookie;
}

#[tokio::test]
async fn a_password_server_and_account_pass_the_same_test() {
    let peers = Peers::start(&[(
        "PEERS_PASSWORD_USERS",
        "pwuser@example.test=mailbox-password-1",
    )]);
    let env = peers.mailbridge_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = common::spawn_with(&env).await;
    let admin = app.add_user("admin@example.test", Role::Admin).await;
    let cookie = app.session_for(admin).await;
    let body = [
        ("id", "".to_string()),
        ("draft[subject]", "Password mail".to_string()),
        ("draft[auth_method]", "password".to_string()),
        ("draft[imap_host]", "127.0.0.1".to_string()),
        ("draft[imap_port]", peers.get("PEERS_IMAP_PORT")),
        ("draft[imap_encryption]", "starttls".to_string()),
        ("draft[smtp_host]", "127.0.0.1".to_string()),
        ("draft[smtp_port]", peers.get("PEERS_SMTP_STARTTLS_PORT")),
        ("draft[smtp_encryption]", "starttls".to_string()),
        ("draft[validate_certificate]", "true".to_string()),
        ("draft[active]", "true".to_string()),
        ("draft[visible_to_users]", "true".to_string()),
    ];
    let body: Vec<(&str, &str)> = body.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app
        .call("/api/save_mail_server", &body, Some(&cookie))
        .await;
    assert_eq!(res.status(), 200);
    let server: i64 = res.json().await.unwrap();
    let res = app
        .call(
            "/api/create_mail_account",
            &[
                ("name", "Pw"),
                ("mail_server_id", &server.to_string()),
                ("login", "pwuser@example.test"),
                ("owner_id", ""),
                ("password", "mailbox-password-1"),
            ],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    let account: i64 = res.json().await.unwrap();
    let res = app
        .call(
            "/api/test_imap",
            &[("id", &account.to_string())],
            Some(&cookie),
        )
        .await;
    assert_eq!(res.status(), 200);
    let imap: app::api::mail_test::ProtocolResult = res.json().await.unwrap();
    assert_ok(&imap, "password IMAP");
    let smtp: app::api::mail_test::ProtocolResult = app
        .call(
            "/api/test_smtp",
            &[("id", &account.to_string())],
            Some(&cookie),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_ok(&smtp, "password SMTP");
    // The stored password is encrypted, and a wrong one is refused by the server.
    sqlx::query("UPDATE mail_accounts SET password_enc = ?1")
        .bind(
            app.state
                .secrets
                .seal_str("wrong password", "mail_accounts.password"),
        )
        .execute(&app.state.pool)
        .await
        .unwrap();
    let imap: app::api::mail_test::ProtocolResult = app
        .call(
            "/api/test_imap",
            &[("id", &account.to_string())],
            Some(&cookie),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!imap.ok && imap.auth_failed, "{}", imap.message);
}
