//! "Run test" against the real Dovecot and Postfix of the peers kit: IMAP on the STARTTLS and
//! the TLS port, SMTP on Postfix STARTTLS, Postfix implicit TLS and Dovecot submission,
//! XOAUTH2 and OAUTHBEARER, certificate validation, refusals and timeouts.

mod common;

use std::time::{Duration, Instant};

use app::api::mail_accounts::{
    CreateMailAccount, DeleteMailAccount, GetMailAccount, StartAuthorization,
};
use app::api::mail_servers::SaveMailServer;
use app::api::mail_test::TestMailAccount;
use app::domain::{AccountStatus, Encryption, MailServerDraft, Protocol, ProtocolResult};
use app::error::AppError;
use app::ssr::crypto::aad;
use app::ssr::mail::{self, Credential, ExtraCa, Mechanism, Target};
use app::ssr::outbound::NetPolicy;
use common::peers::{password_server, spawn_for, Peers};
use common::{new_account, TestApp};

/// Scenario builder this file needs and the kit lacks: a Google-type server at the peers'
/// authorization server and mail daemons, with one mailbox (alice) authorised through the real
/// code flow and callback.
struct Linked {
    peers: Peers,
    app: TestApp,
    account: i64,
    server: i64,
    draft: MailServerDraft,
    admin_cookie: String,
    login: String,
    redirect_uri: String,
}

/// Mailbridge started with the peers' environment (their AS as Google, their CA trusted).
async fn linked() -> Linked {
    let peers = Peers::start(&[]);
    let app = spawn_for(&peers).await;
    let admin_cookie = app.admin().await;
    let app_id = app.create_application(&admin_cookie, "Web").await;
    let redirect_uri = app.redirect_uri(&admin_cookie, app_id).await;
    let issuer = peers.get("PEERS_ISSUER");
    let (client_id, client_secret) = common::oidc::register(&issuer, &redirect_uri).await;
    let draft =
        common::peers::oauth_server_draft(&peers, "Kit", &client_id, &client_secret, app_id);
    let server = app.create_server(&admin_cookie, draft.clone()).await;
    let login = "alice@example.test".to_string();
    let account = app
        .ok(
            CreateMailAccount {
                name: "Alice".into(),
                ..new_account(server, &login, "", "")
            },
            &admin_cookie,
        )
        .await;
    let l = Linked {
        peers,
        app,
        account,
        server,
        draft,
        admin_cookie,
        login,
        redirect_uri,
    };
    l.authorize().await;
    l
}

impl Linked {
    /// "Authorize" through the kit's provider, which approves the login hint.
    async fn authorize(&self) {
        let auth_url = self
            .app
            .ok(StartAuthorization { id: self.account }, &self.admin_cookie)
            .await;
        let issuer = self.peers.get("PEERS_ISSUER");
        let back = common::oidc::consent(&issuer, &auth_url, &self.redirect_uri).await;
        let res = self
            .app
            .get(
                back.strip_prefix(&self.app.url).unwrap(),
                Some(&self.admin_cookie),
            )
            .await;
        assert_eq!(
            res.headers()["location"],
            format!("/oauth/result?outcome=linked&account={}", self.account)
        );
    }

    /// Points the mail server at other peer ports, through the edit form (the stored client
    /// secret is kept), confirming that the linked mailbox must be authorised again — and
    /// authorises it again.
    async fn set_server(
        &self,
        imap_port: &str,
        imap_enc: Encryption,
        smtp_port: &str,
        smtp_enc: Encryption,
    ) {
        let draft = MailServerDraft {
            client_secret: String::new(),
            imap_port: self.peers.get(imap_port),
            imap_encryption: imap_enc.code().into(),
            smtp_port: self.peers.get(smtp_port),
            smtp_encryption: smtp_enc.code().into(),
            confirm_linked: 1,
            ..self.draft.clone()
        };
        self.app
            .ok(
                SaveMailServer {
                    id: self.server.to_string(),
                    draft,
                },
                &self.admin_cookie,
            )
            .await;
        let view = self
            .app
            .ok(GetMailAccount { id: self.account }, &self.admin_cookie)
            .await;
        assert_eq!(view.status, app::domain::AccountStatus::NeedsReauth);
        self.authorize().await;
    }

    async fn run_test(&self, protocol: Protocol) -> ProtocolResult {
        mail::run_account_test(&self.app.state, self.account, protocol)
            .await
            .unwrap()
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

fn assert_ok(r: &ProtocolResult, what: &str) {
    assert!(r.ok, "{what}: {} {:?}", r.message, r.steps);
}

#[tokio::test]
async fn imap_and_smtp_pass_on_every_port_with_both_mechanisms() {
    let l = linked().await;
    // Through the account, as "Run test" does: IMAP TLS + SMTP Postfix implicit TLS.
    let imap = l.run_test(Protocol::Imap).await;
    assert_ok(&imap, "IMAP TLS");
    assert!(imap.inbox_count.is_some());
    assert!(imap.message.contains("INBOX holds"));
    let smtp = l.run_test(Protocol::Smtp).await;
    assert_ok(&smtp, "SMTP TLS");
    let view = l
        .app
        .ok(GetMailAccount { id: l.account }, &l.admin_cookie)
        .await;
    assert_eq!(view.test_imap_ok, Some(true));
    assert_eq!(view.test_smtp_ok, Some(true));
    assert!(view.last_login_at.is_some());

    // IMAP STARTTLS, Postfix STARTTLS.
    l.set_server(
        "PEERS_IMAP_PORT",
        Encryption::StartTls,
        "PEERS_SMTP_STARTTLS_PORT",
        Encryption::StartTls,
    )
    .await;
    assert_ok(&l.run_test(Protocol::Imap).await, "IMAP STARTTLS");
    assert_ok(&l.run_test(Protocol::Smtp).await, "SMTP STARTTLS");

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
            let r = mail::test(
                Protocol::Imap,
                &l.target(port, enc, mech),
                &Credential::Bearer(token.clone()),
                &ca,
                &loopback(),
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
        ] {
            let r = mail::test(
                Protocol::Smtp,
                &l.target(port, enc, mech),
                &Credential::Bearer(token.clone()),
                &ca,
                &loopback(),
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
    let bearer = || Credential::Bearer(token.clone());

    // Without the kit's CA the certificate is not trusted, with a hint; "Validate certificate"
    // off connects anyway.
    let r = mail::test(
        Protocol::Imap,
        &l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto),
        &bearer(),
        &ExtraCa::default(),
        &loopback(),
        t,
    )
    .await;
    assert!(!r.ok);
    assert!(r.message.contains("UnknownIssuer"), "{}", r.message);
    assert!(r.hint.unwrap().contains("MAILBRIDGE_CA_FILE"));
    let r = mail::test(
        Protocol::Smtp,
        &l.target(
            "PEERS_SMTP_STARTTLS_PORT",
            Encryption::StartTls,
            Mechanism::Auto,
        ),
        &bearer(),
        &ExtraCa::default(),
        &loopback(),
        t,
    )
    .await;
    assert!(!r.ok);
    assert!(
        r.hint.unwrap_or_default().contains("MAILBRIDGE_CA_FILE"),
        "{}",
        r.message
    );
    // Neither "Validate certificate" off nor Dovecot's unencrypted submission port get a
    // token: it is refused before connecting.
    let unvalidated = Target {
        validate_certificate: false,
        ..l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto)
    };
    let plain = l.target("PEERS_SUBMISSION_PORT", Encryption::None, Mechanism::Auto);
    for (protocol, target) in [(Protocol::Imap, &unvalidated), (Protocol::Smtp, &plain)] {
        let r = mail::test(protocol, target, &bearer(), &l.ca(), &loopback(), t).await;
        assert!(!r.ok && r.message.contains("not sent"), "{}", r.message);
        assert!(r.steps.is_empty(), "{:?}", r.steps);
    }

    // A token for alice used as bob: an authentication failure, with the server's challenge.
    let wrong = Target {
        login: "bob@example.test".into(),
        ..l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto)
    };
    let r = mail::test(Protocol::Imap, &wrong, &bearer(), &l.ca(), &loopback(), t).await;
    assert!(!r.ok && r.auth_failed);
    assert!(r.message.contains("refused the token"), "{}", r.message);
    let wrong = Target {
        login: "bob@example.test".into(),
        ..l.target("PEERS_SMTPS_PORT", Encryption::SslTls, Mechanism::Auto)
    };
    let r = mail::test(Protocol::Smtp, &wrong, &bearer(), &l.ca(), &loopback(), t).await;
    assert!(!r.ok && r.auth_failed);
    assert!(r.message.contains("535"), "{}", r.message);

    // A closed port: a connection error, well within the timeout.
    let closed = Target {
        port: common::oidc::free_port(),
        ..l.target("PEERS_IMAPS_PORT", Encryption::SslTls, Mechanism::Auto)
    };
    let started = Instant::now();
    let r = mail::test(Protocol::Imap, &closed, &bearer(), &l.ca(), &loopback(), t).await;
    assert!(!r.ok && !r.auth_failed);
    assert!(r.message.contains("cannot connect"), "{}", r.message);
    assert!(started.elapsed() < t);

    // Implicit TLS against the STARTTLS port: said so.
    let r = mail::test(
        Protocol::Imap,
        &l.target("PEERS_IMAP_PORT", Encryption::SslTls, Mechanism::Auto),
        &bearer(),
        &l.ca(),
        &loopback(),
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
    let r = l.run_test(Protocol::Imap).await;
    assert!(!r.ok);
    assert!(r.message.contains("refused"), "{}", r.message);
    assert!(r.hint.unwrap().contains("authorize"), "hint");
    let view = l
        .app
        .ok(GetMailAccount { id: l.account }, &l.admin_cookie)
        .await;
    assert_eq!(view.status, AccountStatus::NeedsReauth);
}

#[tokio::test]
async fn a_password_server_and_account_pass_the_same_test() {
    let peers = Peers::start(&[(
        "PEERS_PASSWORD_USERS",
        "pwuser@example.test=mailbox-password-1",
    )]);
    let app = spawn_for(&peers).await;
    let cookie = app.admin().await;
    let server = password_server(&app, &cookie, &peers).await;
    let account = app
        .ok(
            CreateMailAccount {
                name: "Pw".into(),
                ..new_account(server, "pwuser@example.test", "", "mailbox-password-1")
            },
            &cookie,
        )
        .await;
    let test = |protocol| TestMailAccount {
        id: account,
        protocol,
    };
    let imap = app.ok(test(Protocol::Imap), &cookie).await;
    assert_ok(&imap, "password IMAP");
    let smtp = app.ok(test(Protocol::Smtp), &cookie).await;
    assert_ok(&smtp, "password SMTP");
    // The stored password is encrypted, and a wrong one is refused by the server.
    let blob: Vec<u8> = sqlx::query_scalar("SELECT password_enc FROM mail_accounts WHERE id = $1")
        .bind(account)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(!blob
        .windows("mailbox-password-1".len())
        .any(|w| w == b"mailbox-password-1"));
    assert_eq!(
        app.state
            .secrets
            .open_str(&blob, &aad::ACCOUNT_PASSWORD.row(account))
            .unwrap(),
        "mailbox-password-1"
    );
    sqlx::query("UPDATE mail_accounts SET password_enc = $1")
        .bind(
            app.state
                .secrets
                .seal_str("wrong password", &aad::ACCOUNT_PASSWORD.row(account)),
        )
        .execute(&app.state.pool)
        .await
        .unwrap();
    let imap = app.ok(test(Protocol::Imap), &cookie).await;
    assert!(!imap.ok && imap.auth_failed, "{}", imap.message);
    assert!(
        imap.hint.unwrap_or_default().contains("password"),
        "a password hint, not a token one"
    );

    // Guessing the mailbox's password through tests (delete, add with the next guess, test) is
    // held to the sign-in page's pace: 5 refused logins per 15 minutes, then 429.
    let mut account = account;
    for guess in 2..=5 {
        app.ok(DeleteMailAccount { id: account }, &cookie).await;
        account = app
            .ok(
                new_account(server, "pwuser@example.test", "", &format!("guess {guess}")),
                &cookie,
            )
            .await;
        let r = app
            .ok(
                TestMailAccount {
                    id: account,
                    protocol: Protocol::Smtp,
                },
                &cookie,
            )
            .await;
        assert!(r.auth_failed, "{}", r.message);
    }
    match app
        .call(
            TestMailAccount {
                id: account,
                protocol: Protocol::Imap,
            },
            Some(&cookie),
        )
        .await
    {
        Err((429, AppError::RateLimited { message, .. })) => {
            assert!(message.contains("failed password logins"), "{message}")
        }
        other => panic!("expected 429, got {other:?}"),
    }
}

/// A password mail server on the kit's Dovecot IMAP and Postfix submission (STARTTLS both).
/// Outbound calls to the kit's peers on loopback, as the tests allow them.
fn loopback() -> NetPolicy {
    NetPolicy::new(app::domain::CidrList::parse("127.0.0.0/8").unwrap())
}

#[tokio::test]
async fn password_guesses_sent_at_once_are_counted_before_they_are_tried() {
    let peers = Peers::start(&[]);
    let app = spawn_for(&peers).await;
    let cookie = app.admin().await;
    let server = password_server(&app, &cookie, &peers).await;
    let mut accounts = vec![];
    for i in 0..10 {
        let login = format!("guess{i}@example.test");
        let id = app
            .ok(
                new_account(server, &login, "", &format!("guess {i}")),
                &cookie,
            )
            .await;
        accounts.push(id);
    }
    // Ten wrong passwords at once: five are tried (the sign-in page's limit), five refused
    // before they reach the mail server.
    let calls = accounts.iter().map(|&id| {
        app.call(
            TestMailAccount {
                id,
                protocol: Protocol::Imap,
            },
            Some(&cookie),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err((429, _))))
        .count();
    let tried = results
        .iter()
        .filter(|r| matches!(r, Ok(p) if p.auth_failed))
        .count();
    assert_eq!((tried, limited), (5, 5), "{results:?}");
}

#[tokio::test]
async fn a_token_from_the_api_logs_in_to_dovecot_and_postfix_with_both_mechanisms() {
    let l = linked().await;
    let key = l
        .app
        .ok(
            app::api::api_keys::CreateApiKey {
                draft: app::domain::ApiKeyDraft {
                    name: "Mail client".into(),
                    all_servers: true,
                    perm_tokens: true,
                    ..Default::default()
                },
            },
            &l.admin_cookie,
        )
        .await
        .key;
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/accounts/{}/access-token",
            l.app.url, l.account
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"]
        .as_str()
        .expect("a token")
        .to_string();
    assert_eq!(
        answer["imap"]["port"].as_i64().unwrap().to_string(),
        l.peers.port("PEERS_IMAPS_PORT").to_string()
    );
    let (ca, t) = (l.ca(), Duration::from_secs(5));
    for mech in [Mechanism::Auto, Mechanism::OAuthBearer] {
        for (protocol, port) in [
            (Protocol::Imap, "PEERS_IMAPS_PORT"),
            (Protocol::Smtp, "PEERS_SMTPS_PORT"),
        ] {
            let r = mail::test(
                protocol,
                &l.target(port, Encryption::SslTls, mech),
                &Credential::Bearer(token.clone()),
                &ca,
                &loopback(),
                t,
            )
            .await;
            assert_ok(
                &r,
                &format!("{protocol:?} {port} {mech:?} with the API's token"),
            );
        }
    }
}
