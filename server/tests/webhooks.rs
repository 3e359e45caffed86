//! Webhooks (issue 15): each account change reaches a receiver once, signed, in order per
//! account, without a token; a failing receiver is retried with backoff and given up; redirects
//! are not followed, private addresses not reached; two instances send each event once; the
//! secret is shown once and stored sealed.

mod common;

use std::time::Duration;

use app::api::mail_accounts::{DeleteMailAccount, UnlinkMailAccount};
use app::api::mail_servers::DeleteMailServer;
use app::api::mail_test::TestMailAccount;
use app::api::webhooks::{
    CreateWebhook, GetWebhook, ListWebhooks, Redeliver, SendTestEvent, UpdateWebhook,
};
use app::domain::{DeliveryState, EventKind, Protocol, WebhookDraft};
use app::error::AppError;
use app::ssr::crypto::aad;
use app::ssr::refresh;
use app::ssr::webhooks::worker::{retry_delay, MAX_ATTEMPTS};
use common::linked::{Linked, Tamper, TokenTamper};
use common::webhooks::{Mode, Receiver};

fn draft(url: &str, events: &[EventKind]) -> WebhookDraft {
    WebhookDraft {
        url: url.into(),
        events: events.iter().map(|k| k.code().to_string()).collect(),
        active: true,
    }
}

/// Creates a webhook as `admin`; its id and signing secret.
async fn create(app: &common::TestApp, admin: &str, d: WebhookDraft) -> (i64, String) {
    let c = app.ok(CreateWebhook { draft: d }, admin).await;
    (c.id, c.secret)
}

/// Waits until a delivery of `webhook` has made `attempts` attempts (read in the database: the
/// tests move the clock past any session's life).
async fn attempts_reach(app: &common::TestApp, webhook: i64, attempts: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let most: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(attempts) FROM webhook_deliveries WHERE webhook_id = $1",
        )
        .bind(webhook)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
        if most.unwrap_or(0) >= attempts {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no attempt {attempts} (got {most:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_account_change_reaches_the_receiver_once_signed_in_order_and_without_a_token() {
    let oidc = common::oidc::Oidc::start(&[("ROTATE_REFRESH", "1")]).await;
    let tamper = TokenTamper::start(&oidc.issuer).await;
    let l = Linked::start_with(
        oidc,
        &[("MAILBRIDGE_GOOGLE_TOKEN_URL", tamper.url.as_str())],
        "alice@example.test",
    )
    .await;
    let _worker = l.app.deliver();
    let all = Receiver::start().await;
    let linked_only = Receiver::start().await;
    let (_, secret) = create(&l.app, &l.admin, draft(&all.url, &EventKind::ACCOUNT)).await;
    let (_, other_secret) = create(
        &l.app,
        &l.admin,
        draft(&linked_only.url, &[EventKind::Linked]),
    )
    .await;
    let st = &l.app.state;
    let mut tokens = Vec::new();
    let mut remember = |l: &Linked, t: Option<String>| {
        tokens.extend(t.into_iter().chain([l.admin.clone(), l.owner.clone()]))
    };
    remember(&l, l.refresh_token(l.account).await);

    // An outage: error once (the second failure is no news), then recovered.
    tamper.set(Tamper::Unavailable);
    refresh::refresh(st, l.account, 0, true).await.unwrap_err();
    l.app.advance_clock(3600);
    refresh::refresh(st, l.account, 0, true).await.unwrap_err();
    tamper.set(Tamper::None);
    l.app.advance_clock(3600);
    refresh::refresh(st, l.account, 0, true).await.unwrap();
    remember(&l, l.refresh_token(l.account).await);
    // The grant revoked at the provider: needs_reauth; authorised again: linked.
    l.revoke_grant(l.account).await;
    assert_eq!(l.authorize(&l.owner, l.account).await, "linked");
    remember(&l, l.refresh_token(l.account).await);
    // Unlinked, linked again, deleted.
    l.app
        .ok(UnlinkMailAccount { id: l.account }, &l.owner)
        .await;
    assert_eq!(l.authorize(&l.owner, l.account).await, "linked");
    remember(&l, l.refresh_token(l.account).await);
    l.app
        .ok(DeleteMailAccount { id: l.account }, &l.owner)
        .await;

    let expected = [
        "account.error",
        "account.recovered",
        "account.needs_reauth",
        "account.linked",
        "account.unlinked",
        "account.linked",
        "account.deleted",
    ];
    let got = all
        .wait_taken(expected.len(), Duration::from_secs(10))
        .await;
    // A moment more: nothing else may arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_all = all.received();
    assert_eq!(got_all.len(), got.len(), "each event was sent once");
    let kinds: Vec<String> = got.iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds, expected,
        "every change, once, in the order it happened"
    );
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), expected.len(), "one message id per event");
    for r in &got {
        assert!(r.verified_with(&secret), "signature of {}", r.kind());
        assert!(
            !r.verified_with(&other_secret),
            "signed with its own webhook's secret"
        );
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!(ts <= l.app.state.clock.now(), "the time it was sent");
        let body = r.json();
        assert_eq!(body["data"]["id"], l.account);
        assert_eq!(body["data"]["login"], "alice@example.test");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        for secret_value in &tokens {
            assert!(
                !r.body.contains(secret_value.as_str()),
                "a token or session in {}",
                r.body
            );
        }
        let fields: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
        for key in [
            "access_token",
            "refresh_token",
            "password",
            "secret",
            "client_secret",
        ] {
            assert!(
                !fields.iter().any(|f| f.as_str() == key),
                "{key} in {}",
                r.body
            );
        }
    }
    assert_eq!(got[0].json()["data"]["status"], "error");
    assert!(got[0].json()["data"]["last_error"]
        .as_str()
        .unwrap()
        .contains("Refreshing failed"));
    assert_eq!(got[2].json()["data"]["status"], "needs_reauth");
    assert_eq!(got[4].json()["data"]["status"], "pending");

    // The other webhook wanted only account.linked.
    let theirs = linked_only.wait_taken(2, Duration::from_secs(10)).await;
    let kinds: Vec<String> = theirs.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["account.linked", "account.linked"]);
    assert!(theirs.iter().all(|r| r.verified_with(&other_secret)));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_in_order_then_given_up_and_redelivered() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let _worker = app.deliver();
    let rx = Receiver::start().await;
    rx.set(Mode::Status(500));
    let (hook, secret) = create(&app, &admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    app.ok(SendTestEvent { id: hook }, &admin).await;
    attempts_reach(&app, hook, 1).await;
    let d = app.ok(GetWebhook { id: hook }, &admin).await.deliveries[0].clone();
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!(d.last_code, Some(500));
    assert_eq!(d.next_attempt_at, Some(d.last_attempt_at.unwrap() + 30));
    assert!(d.last_error.unwrap().contains("500"));
    // Not before its time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.received().len(), 1);
    for attempt in 1..MAX_ATTEMPTS {
        app.advance_clock(retry_delay(attempt));
        attempts_reach(&app, hook, attempt + 1).await;
    }
    // Days went by: a new session.
    let (_, admin) = app
        .person("admin2@example.test", app::domain::Role::Admin)
        .await;
    let d = app.ok(GetWebhook { id: hook }, &admin).await;
    assert_eq!(d.deliveries[0].state, DeliveryState::Failed);
    assert_eq!(d.deliveries[0].next_attempt_at, None);
    assert_eq!(d.webhook.failed, 1);
    assert_eq!(rx.received().len() as i64, MAX_ATTEMPTS);
    let ids: std::collections::BTreeSet<String> = rx.received().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same message id");

    // Redeliver, to a receiver that works now.
    rx.set(Mode::Ok);
    app.ok(
        Redeliver {
            webhook_id: hook,
            delivery_id: d.deliveries[0].id,
        },
        &admin,
    )
    .await;
    let taken = rx.wait_taken(1, Duration::from_secs(10)).await;
    assert!(taken[0].verified_with(&secret));
    assert_eq!(taken[0].kind(), "webhook.test");
    let d = app.ok(GetWebhook { id: hook }, &admin).await.deliveries[0].clone();
    assert_eq!(
        (d.state, d.last_code),
        (DeliveryState::Delivered, Some(200))
    );
    // Another webhook's delivery cannot be redelivered through this one.
    let (other, _) = create(&app, &admin, draft(&rx.url, &[EventKind::Linked])).await;
    match app
        .call(
            Redeliver {
                webhook_id: other,
                delivery_id: d.id,
            },
            Some(&admin),
        )
        .await
    {
        Err((409, AppError::Refused(_))) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn one_accounts_events_wait_for_the_earlier_one_and_arrive_in_order() {
    let oidc = common::oidc::Oidc::start(&[]).await;
    let tamper = TokenTamper::start(&oidc.issuer).await;
    let l = Linked::start_with(
        oidc,
        &[("MAILBRIDGE_GOOGLE_TOKEN_URL", tamper.url.as_str())],
        "alice@example.test",
    )
    .await;
    let second = l.link_another("bob@example.test").await;
    let _worker = l.app.deliver();
    let rx = Receiver::start().await;
    rx.set(Mode::Status(503));
    create(&l.app, &l.admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    let st = &l.app.state;
    // alice: error then recovered; bob: unlinked.
    tamper.set(Tamper::Unavailable);
    refresh::refresh(st, l.account, 0, true).await.unwrap_err();
    rx.wait_received(1, Duration::from_secs(10)).await;
    tamper.set(Tamper::None);
    refresh::refresh(st, l.account, 0, true).await.unwrap();
    l.app.ok(UnlinkMailAccount { id: second }, &l.owner).await;
    // bob's event is not held up by alice's; alice's second waits for her first.
    let got = rx.wait_received(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kinds: Vec<String> = rx.received().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, ["account.error", "account.unlinked"], "{got:?}");
    rx.set(Mode::Ok);
    l.app.advance_clock(30);
    let taken = rx.wait_taken(3, Duration::from_secs(10)).await;
    let alices: Vec<String> = taken
        .iter()
        .filter(|r| r.json()["data"]["id"] == l.account)
        .map(|r| r.kind())
        .collect();
    assert_eq!(
        alices,
        ["account.error", "account.recovered"],
        "alice's events in their order"
    );
    assert_eq!(taken.len(), 3);
}

#[tokio::test]
async fn redirects_are_not_followed_and_private_addresses_not_reached() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let _worker = app.deliver();
    let target = Receiver::start().await;
    let rx = Receiver::start().await;
    rx.set(Mode::Redirect(target.url.clone()));
    let (hook, _) = create(&app, &admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    app.ok(SendTestEvent { id: hook }, &admin).await;
    attempts_reach(&app, hook, 1).await;
    let d = app.ok(GetWebhook { id: hook }, &admin).await.deliveries[0].clone();
    assert_eq!(d.last_code, Some(307));
    assert!(d.last_error.unwrap().contains("redirect"));
    assert_eq!(d.state, DeliveryState::Pending, "retried later");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(target.received().is_empty(), "the redirect was followed");

    // A private address is refused when typed, and a name that resolves to one (loopback, not
    // allowed here) is refused at delivery: nothing reaches it.
    let strict = common::spawn_with(&[("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS", "")]).await;
    let admin = strict.admin().await;
    let _worker = strict.deliver();
    for url in ["http://10.1.2.3/hook", "https://169.254.169.254/latest"] {
        match strict
            .call(
                CreateWebhook {
                    draft: draft(url, &[EventKind::Linked]),
                },
                Some(&admin),
            )
            .await
        {
            Err((422, e)) => assert_eq!(e.field_names(), vec!["URL"], "{url}"),
            other => panic!("{url} was accepted: {other:?}"),
        }
    }
    let local = Receiver::start().await;
    let by_name = local.url.replace("127.0.0.1", "localhost");
    let (hook, _) = create(&strict, &admin, draft(&by_name, &EventKind::ACCOUNT)).await;
    strict.ok(SendTestEvent { id: hook }, &admin).await;
    attempts_reach(&strict, hook, 1).await;
    let d = strict.ok(GetWebhook { id: hook }, &admin).await.deliveries[0].clone();
    assert_eq!(d.last_code, None);
    assert!(
        d.last_error
            .clone()
            .unwrap()
            .contains("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS"),
        "{d:?}"
    );
    assert!(local.received().is_empty(), "a private address was reached");
}

#[tokio::test]
async fn the_secret_is_shown_once_and_stored_sealed_and_bad_input_changes_nothing() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let rx = Receiver::start().await;
    let (hook, secret) = create(&app, &admin, draft(&rx.url, &[EventKind::Linked])).await;
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    let listed = app.ok(ListWebhooks {}, &admin).await;
    let detail = app.ok(GetWebhook { id: hook }, &admin).await;
    let shown = format!("{listed:?}{detail:?}");
    assert!(!shown.contains(&secret[6..]), "the secret was shown again");
    let blob: Vec<u8> = sqlx::query_scalar("SELECT secret_enc FROM webhooks WHERE id = $1")
        .bind(hook)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(!blob.windows(10).any(|w| w == &secret.as_bytes()[6..16]));
    assert_eq!(
        app.state
            .secrets
            .open_str(&blob, &aad::WEBHOOK_SECRET.row(hook))
            .unwrap(),
        secret
    );
    // Bad input names its field and changes nothing.
    match app
        .call(
            UpdateWebhook {
                id: hook,
                draft: draft("ftp://x", &[]),
            },
            Some(&admin),
        )
        .await
    {
        Err((422, e)) => assert_eq!(e.field_names(), vec!["URL", "Events"]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.ok(GetWebhook { id: hook }, &admin).await.webhook.url,
        rx.url
    );
    // Who may call these: server/tests/authz.rs.
}

#[tokio::test]
async fn tests_passed_and_failed_and_a_deleted_server_are_events() {
    let peers = common::peers::Peers::start(&[(
        "PEERS_PASSWORD_USERS",
        "pwuser@example.test=mailbox-password-1",
    )]);
    let app = common::peers::spawn_for(&peers).await;
    let admin = app.admin().await;
    let _worker = app.deliver();
    let rx = Receiver::start().await;
    let (_, secret) = create(&app, &admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    let server = common::peers::password_server(&app, &admin, &peers).await;
    let good = app
        .ok(
            common::new_account(server, "pwuser@example.test", "", "mailbox-password-1"),
            &admin,
        )
        .await;
    let bad = app
        .ok(
            app::api::mail_accounts::CreateMailAccount {
                name: "Wrong".into(),
                ..common::new_account(server, "nobody@example.test", "", "not the password")
            },
            &admin,
        )
        .await;
    let passed = app
        .ok(
            TestMailAccount {
                id: good,
                protocol: Protocol::Imap,
            },
            &admin,
        )
        .await;
    assert!(passed.ok, "{}", passed.message);
    let failed = app
        .ok(
            TestMailAccount {
                id: bad,
                protocol: Protocol::Smtp,
            },
            &admin,
        )
        .await;
    assert!(!failed.ok);
    app.ok(
        DeleteMailServer {
            id: server,
            confirm_accounts: 2,
        },
        &admin,
    )
    .await;
    let got = rx.wait_taken(6, Duration::from_secs(10)).await;
    let summary: Vec<(String, i64)> = got
        .iter()
        .map(|r| (r.kind(), r.json()["data"]["id"].as_i64().unwrap()))
        .collect();
    // A password mailbox is linked from its creation.
    let mut linked = summary[..2].to_vec();
    linked.sort();
    assert_eq!(
        linked,
        [
            ("account.linked".to_string(), good),
            ("account.linked".to_string(), bad)
        ]
    );
    let (got, summary) = (&got[2..], &summary[2..]);
    assert_eq!(
        summary[..2],
        [
            ("account.test_passed".to_string(), good),
            ("account.test_failed".to_string(), bad),
        ]
    );
    let mut deleted = summary[2..].to_vec();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            ("account.deleted".to_string(), good),
            ("account.deleted".to_string(), bad)
        ]
    );
    let test = &got[0].json()["data"]["test"];
    assert_eq!(
        (test["protocol"].as_str(), test["ok"].as_bool()),
        (Some("imap"), Some(true))
    );
    assert_eq!(got[1].json()["data"]["test"]["protocol"], "smtp");
    assert!(got.iter().all(|r| r.verified_with(&secret)));
    assert!(got
        .iter()
        .all(|r| !r.body.contains("mailbox-password-1") && !r.body.contains("not the password")));
}

#[tokio::test]
async fn two_instances_send_each_event_exactly_once() {
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let admin = a.admin().await;
    let rx = Receiver::start().await;
    let (hook, secret) = create(&a, &admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    const EVENTS: usize = 200;
    for _ in 0..EVENTS {
        a.ok(SendTestEvent { id: hook }, &admin).await;
    }
    // Both instances' workers start together on the same outbox.
    let started = std::time::Instant::now();
    let wa = a.deliver();
    let wb = b.deliver();
    let got = rx.wait_taken(EVENTS, Duration::from_secs(60)).await;
    eprintln!(
        "{EVENTS} events delivered by two instances in {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    wa.stop().await;
    wb.stop().await;
    let all = rx.received();
    let ids: std::collections::BTreeSet<&str> = all.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), EVENTS);
    assert_eq!(all.len(), EVENTS, "an event was sent twice");
    assert!(got.iter().all(|r| r.verified_with(&secret)));
    let d = a.ok(GetWebhook { id: hook }, &admin).await;
    assert_eq!((d.webhook.pending, d.webhook.failed), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_events_survive_kill_9_and_each_is_taken_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::fresh_db(dir.path(), "outbox.db").await;
    // The in-process server writes the events (it runs no delivery worker); the real binary,
    // in a process of its own, delivers them.
    let app = common::spawn_on(dir, &db, &[]).await;
    let admin = app.admin().await;
    let rx = Receiver::start().await;
    rx.set(Mode::Hang);
    let (hook, secret) = create(&app, &admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    // Three mailboxes on a server that refuses connections: each test is an account.test_failed.
    let server = app
        .create_server(&admin, common::password_draft("Closed", "127.0.0.1", 1, 1))
        .await;
    let mut accounts = Vec::new();
    for n in 0..3 {
        let login = format!("box{n}@example.test");
        accounts.push(
            app.ok(common::new_account(server, &login, "", "pw"), &admin)
                .await,
        );
    }
    for _round in 0..3 {
        for id in &accounts {
            let r = app
                .ok(
                    TestMailAccount {
                        id: *id,
                        protocol: Protocol::Imap,
                    },
                    &admin,
                )
                .await;
            assert!(!r.ok);
        }
    }
    for _ in 0..5 {
        app.ok(SendTestEvent { id: hook }, &admin).await;
    }
    // 3 linked (password mailboxes are linked when created), 9 test_failed, 5 test events.
    const EVENTS: usize = 17;

    let bin = env!("CARGO_BIN_EXE_mailbridge");
    let env = [("MAILBRIDGE_WEBHOOK_CONCURRENCY", "4")];
    let mut first = common::process::ServerProcess::start(bin, app.dir.path(), &db, 1, &env);
    // Four deliveries in flight at a receiver that does not answer, the rest waiting.
    rx.wait_received(4, Duration::from_secs(30)).await;
    first.stop(common::process::Stop::Kill9);
    let hung = rx.received().len();
    assert_eq!(hung, 4, "at most 4 at once");
    rx.set(Mode::Ok);
    let restarted = std::time::Instant::now();
    let _second = common::process::ServerProcess::start(bin, app.dir.path(), &db, 2, &env);
    // The killed instance's claims run out (15 s), then everything goes.
    let taken = rx.wait_taken(EVENTS, Duration::from_secs(60)).await;
    eprintln!(
        "all {EVENTS} events taken {:?} after the restart",
        restarted.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let taken_now = rx.taken();
    assert_eq!(taken_now.len(), EVENTS, "an event was taken twice");
    let ids: std::collections::BTreeSet<&str> = taken.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), EVENTS);
    assert!(taken.iter().all(|r| r.verified_with(&secret)));
    for account in &accounts {
        let written: Vec<String> = sqlx::query_scalar(
            "SELECT message_id FROM webhook_events WHERE account_id = $1 ORDER BY id",
        )
        .bind(account)
        .fetch_all(&app.state.pool)
        .await
        .unwrap();
        let arrived: Vec<String> = taken
            .iter()
            .filter(|r| r.json()["data"]["id"] == *account)
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(arrived, written, "account {account}'s events in order");
    }
    let left: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE state <> 'delivered'")
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_is_left_after_10_seconds_and_tried_again_later() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let _worker = app.deliver();
    let rx = Receiver::start().await;
    rx.set(Mode::Hang);
    let (hook, _) = create(&app, &admin, draft(&rx.url, &EventKind::ACCOUNT)).await;
    app.ok(SendTestEvent { id: hook }, &admin).await;
    let started = std::time::Instant::now();
    attempts_reach(&app, hook, 1).await;
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(12)).contains(&waited),
        "{waited:?}"
    );
    let d = app.ok(GetWebhook { id: hook }, &admin).await.deliveries[0].clone();
    assert_eq!((d.state, d.last_code), (DeliveryState::Pending, None));
    assert!(d.last_error.unwrap().contains("no answer within 10 s"));
    assert!(d.last_duration_ms.unwrap() >= 10_000);
    // 30 s after the attempt gave up, which was 10 s after it began.
    let next = d.next_attempt_at.unwrap() - d.last_attempt_at.unwrap();
    assert!((40..=42).contains(&next), "{next}");
}
