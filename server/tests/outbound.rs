//! Outbound calls (issue 13): only public addresses unless MAILBRIDGE_ALLOW_PRIVATE_NETWORKS
//! opens a range, checked on the address connected to; plain http only inside such a range;
//! every answer read with a size cap.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use app::api::{mail_servers, mail_test};
use app::domain::{MailServerDraft, Protocol, Role};
use app::ssr::crypto::aad;
use app::ssr::refresh::{self, RefreshError};
use common::{fields, new_account, password_draft, TestApp};

/// A loopback HTTP server that counts connections and answers each with `status` and `body`
/// (no Content-Length: the body ends when the connection closes, as a hostile server would).
async fn http_server(body: Arc<Vec<u8>>) -> (u16, Arc<AtomicUsize>) {
    http_server_counting(body).await.0
}

/// The same, also counting the body bytes it managed to send.
async fn http_server_counting(body: Arc<Vec<u8>>) -> ((u16, Arc<AtomicUsize>), Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let (h, sent_by_all) = (hits.clone(), sent.clone());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            let sent = sent_by_all.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
                let _ = s.write_all(head.as_bytes()).await;
                for chunk in body.chunks(16 * 1024) {
                    if s.write_all(chunk).await.is_err() {
                        return;
                    }
                    sent.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            });
        }
    });
    ((port, hits), sent)
}

fn generic(issuer: &str, app_id: i64) -> MailServerDraft {
    MailServerDraft {
        provider: "generic".into(),
        issuer_url: issuer.into(),
        scopes: "openid email".into(),
        ..common::google_draft("Generic", "id", "secret", app_id)
    }
}

/// The message on the form's Issuer URL field after saving `issuer`.
async fn issuer_error(app: &TestApp, admin: &str, app_id: i64, issuer: &str) -> String {
    let r = app
        .call(
            mail_servers::SaveMailServer {
                id: String::new(),
                draft: generic(issuer, app_id),
            },
            Some(admin),
        )
        .await;
    assert_eq!(fields(&r), ["Issuer URL"], "{issuer}: {r:?}");
    match r {
        Err((_, e)) => e.for_field("Issuer URL").unwrap_or_default(),
        Ok(_) => unreachable!(),
    }
}

/// An account on a Google server whose token, userinfo and revocation endpoints are `base`,
/// holding a (made-up) grant that is due for a refresh.
async fn account_with_grant(app: &TestApp, admin: &str) -> i64 {
    let app_id = app.create_application(admin, "Web").await;
    let server = app
        .create_server(
            admin,
            common::google_draft("Google", "id", "secret", app_id),
        )
        .await;
    let (_, owner) = app.person("owner@example.test", Role::User).await;
    let id = app
        .create_account(&owner, server, "owner@example.test")
        .await;
    let t = app.state.clock.now();
    app::ssr::db::mail_accounts::save_grant(
        &app.state.pool,
        id,
        app.state
            .secrets
            .seal_str("access", &aad::ACCESS_TOKEN.row(id)),
        app.state
            .secrets
            .seal_str("refresh", &aad::REFRESH_TOKEN.row(id)),
        t - 1,
        "openid",
        t,
        None,
    )
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn no_outbound_call_reaches_a_private_address_unless_its_range_is_allowed() {
    let (port, hits) = http_server(Arc::new(b"{}".to_vec())).await;
    let base = format!("http://127.0.0.1:{port}");
    let app = common::spawn_with(&[
        ("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS", ""),
        ("MAILBRIDGE_GOOGLE_TOKEN_URL", &format!("{base}/token")),
        ("MAILBRIDGE_GOOGLE_REVOKE_URL", &format!("{base}/revoke")),
        ("MAILBRIDGE_MAIL_TIMEOUT_SECS", "2"),
    ])
    .await;
    let admin = app.admin().await;
    let app_id = app.create_application(&admin, "Apps").await;

    // Discovery: by address and by a name that resolves to loopback.
    for issuer in [base.clone(), format!("http://localhost:{port}")] {
        let m = issuer_error(&app, &admin, app_id, &issuer).await;
        assert!(
            m.contains("loopback") && m.contains("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS"),
            "{m}"
        );
    }
    // Cloud metadata, link-local: refused before any packet (nothing listens there anyway).
    let m = issuer_error(&app, &admin, app_id, "https://169.254.169.254").await;
    assert!(m.contains("link-local"), "{m}");
    // Plain http to a public address: refused, https is required.
    let m = issuer_error(&app, &admin, app_id, "http://93.184.216.34").await;
    assert!(m.contains("use https"), "{m}");
    // An issuer with a query is not an issuer.
    let m = issuer_error(&app, &admin, app_id, "https://id.example.com/?tenant=x").await;
    assert!(m.contains("query"), "{m}");

    // Token refresh and revocation at a loopback endpoint.
    let id = account_with_grant(&app, &admin).await;
    let r = refresh::refresh(&app.state, id, 0, true).await;
    match r {
        Err(RefreshError::Transient(m)) => assert!(m.contains("loopback"), "{m}"),
        other => panic!("expected a refused refresh, got {other:?}"),
    }

    // IMAP and SMTP of a password server on loopback.
    let mut d = password_draft("Local", "127.0.0.1", port, port);
    d.imap_encryption = "none".into();
    d.smtp_encryption = "none".into();
    let server = app.create_server(&admin, d).await;
    let account = app
        .ok(new_account(server, "a@example.test", "", "pw"), &admin)
        .await;
    for protocol in [Protocol::Imap, Protocol::Smtp] {
        let r = app
            .ok(
                mail_test::TestMailAccount {
                    id: account,
                    protocol,
                },
                &admin,
            )
            .await;
        assert!(!r.ok && r.message.contains("loopback"), "{}", r.message);
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the loopback server"
    );
}

#[tokio::test]
async fn answers_are_read_with_a_size_cap() {
    // 64 MB of JSON-ish bytes for discovery, 1 MB for the token endpoint.
    let ((big, _), sent) = http_server_counting(Arc::new(vec![b' '; 64 * 1024 * 1024])).await;
    let (token, _) = http_server(Arc::new(vec![b' '; 1024 * 1024])).await;
    let app = common::spawn_with(&[(
        "MAILBRIDGE_GOOGLE_TOKEN_URL",
        &format!("http://127.0.0.1:{token}/token"),
    )])
    .await;
    let admin = app.admin().await;
    let app_id = app.create_application(&admin, "Apps").await;
    let started = std::time::Instant::now();
    let m = issuer_error(&app, &admin, app_id, &format!("http://127.0.0.1:{big}")).await;
    assert!(m.contains("512 KB"), "{m}");
    // Mailbridge stopped reading at the cap: the server could not send it all (what it did
    // send beyond 512 KB sits in the socket buffers).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent = sent.load(Ordering::SeqCst);
    assert!(sent < 32 * 1024 * 1024, "{sent} bytes were read");
    let id = account_with_grant(&app, &admin).await;
    match refresh::refresh(&app.state, id, 0, true).await {
        Err(RefreshError::Transient(m)) => assert!(m.contains("64 KB"), "{m}"),
        other => panic!("expected a capped answer, got {other:?}"),
    }
    assert!(started.elapsed().as_secs() < 10);
}
