//! E-mail notices (issue 16) against the real kit: a mailbox Mailbridge holds is chosen as the
//! "Notification sender"; when another owner's grant is revoked at the provider, a notice goes
//! through the sender's SMTP (XOAUTH2 at the kit's Postfix) into the owner's Dovecot mailbox,
//! with a link to the account that works; admins get the daily digest. No sender: no mail.

mod common;

use app::api::settings::{DashboardHealth, SetNotificationSender};
use app::domain::{AccountStatus, Role};
use app::ssr::refresh;
use common::peers::Kit;

/// Outbox notices in `state`.
async fn notices(kit: &Kit, state: &str) -> i64 {
    app::ssr::db::notices::count_in(&kit.app.state.pool, state)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_owner_is_told_through_the_sender_mailbox_and_the_link_leads_back() {
    let kit = Kit::start().await;
    let app = &kit.app;
    let sender = kit.linked(&kit.admin, "alice@example.test").await;
    let (_, owner) = app.person("bob@example.test", Role::User).await;
    let bobs = kit.linked(&owner, "bob@example.test").await;

    // No sender set: nothing is queued or sent, and the dashboard says so.
    kit.revoke(bobs).await;
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(
        notices(&kit, "pending").await + notices(&kit, "sent").await,
        0
    );
    let h = app.ok(DashboardHealth {}, &kit.admin).await;
    assert_eq!(h.notification_sender, None);
    let html = app.get("/", Some(&kit.admin)).await.text().await.unwrap();
    assert!(html.contains("No notification sender is set"));
    kit.authorize(&owner, bobs).await;

    // A sender: alice's mailbox, through the kit's Postfix with XOAUTH2.
    app.ok(
        SetNotificationSender {
            account_id: sender.to_string(),
        },
        &kit.admin,
    )
    .await;
    let h = app.ok(DashboardHealth {}, &kit.admin).await;
    assert_eq!(h.notification_sender.as_deref(), Some("alice@example.test"));
    kit.revoke(bobs).await;
    assert_eq!(notices(&kit, "pending").await, 1, "queued with the change");
    app::ssr::notices::round(&app.state).await.unwrap();
    // The owner's notice, and the admins' digest of the day.
    assert_eq!(notices(&kit, "sent").await, 2);

    let mail = kit.mailbox("bob@example.test", 1).await;
    // Quoted-printable: soft line breaks joined again.
    let notice = mail
        .iter()
        .map(|m| m.replace("=\r\n", "").replace("=\n", ""))
        .find(|m| m.contains("needs you to authorise it again"))
        .expect("the notice");
    assert!(
        notice.contains("From: Mailbridge <alice@example.test>"),
        "{notice}"
    );
    assert!(notice.contains("To: bob@example.test"));
    let link = format!("{}/mail-accounts/{bobs}", app.url);
    assert!(notice.contains(&link), "{notice}");
    assert!(
        notice.contains("invalid_grant"),
        "the provider's words: {notice}"
    );
    let digest = kit.mailbox("admin@example.test", 1).await;
    assert!(digest
        .iter()
        .any(|m| m.contains("daily digest") && m.contains("bob@example.test")));

    // The link: signed out, to sign in first; signed in, the account with "Authorize again".
    let path = link.strip_prefix(&app.url).unwrap();
    let res = app.get(path, None).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login?next="));
    let page = app.get(path, Some(&owner)).await.text().await.unwrap();
    assert!(page.contains("Authorize again"));
    kit.authorize(&owner, bobs).await;

    // Sent once: another round sends nothing new.
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(notices(&kit, "sent").await, 2);
    assert_eq!(notices(&kit, "pending").await, 0);
}

#[tokio::test]
async fn a_notice_for_a_mailbox_authorised_again_meanwhile_is_dropped() {
    let kit = Kit::start().await;
    let app = &kit.app;
    let sender = kit.linked(&kit.admin, "alice@example.test").await;
    let (_, owner) = app.person("bob@example.test", Role::User).await;
    let bobs = kit.linked(&owner, "bob@example.test").await;
    app.ok(
        SetNotificationSender {
            account_id: sender.to_string(),
        },
        &kit.admin,
    )
    .await;
    kit.revoke(bobs).await;
    kit.authorize(&owner, bobs).await;
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(
        notices(&kit, "dropped").await,
        2,
        "the notice and an empty digest"
    );
    assert_eq!(notices(&kit, "sent").await, 0);
    // A user's mailbox cannot be the sender (what it sends stays in its Sent folder).
    match app
        .call(
            SetNotificationSender {
                account_id: bobs.to_string(),
            },
            Some(&kit.admin),
        )
        .await
    {
        Err((422, e)) => assert_eq!(e.field_names(), vec!["Notification sender"]),
        other => panic!("{other:?}"),
    }
    // A sender that cannot send holds notices back instead of spending their attempts, and the
    // dashboard says why.
    kit.revoke(sender).await;
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(
        notices(&kit, "pending").await,
        1,
        "the sender's own notice waits"
    );
    let attempts: i64 =
        sqlx::query_scalar("SELECT MAX(attempts) FROM notices WHERE state = 'pending'")
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 0);
    let h = app.ok(DashboardHealth {}, &kit.admin).await;
    assert_eq!(h.notification_sender, None);
    assert!(h.notification_problem.unwrap().contains("needs_reauth"));
    // Only a linked mailbox can be the sender.
    match app
        .call(
            SetNotificationSender {
                account_id: "999".into(),
            },
            Some(&kit.admin),
        )
        .await
    {
        Err((422, e)) => assert_eq!(e.field_names(), vec!["Notification sender"]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_owner_is_told_once_when_a_mailbox_stays_in_error() {
    let kit = Kit::start_with(&[("MAILBRIDGE_NOTIFY_ERROR_AFTER_MINS", "5")]).await;
    let app = &kit.app;
    let sender = kit.linked(&kit.admin, "alice@example.test").await;
    let (_, owner) = app.person("carol@example.test", Role::User).await;
    let carols = kit.linked(&owner, "carol@example.test").await;
    app.ok(
        SetNotificationSender {
            account_id: sender.to_string(),
        },
        &kit.admin,
    )
    .await;
    // The provider stops answering (paused, so it keeps its grants): the refresh times out and
    // the account is in error.
    let pid = std::fs::read_to_string(
        std::path::PathBuf::from(kit.peers.get("PEERS_VAR")).join("run/oidc.pid"),
    )
    .unwrap();
    let signal = |sig: &str| {
        assert!(std::process::Command::new("kill")
            .args([sig, pid.trim()])
            .status()
            .unwrap()
            .success());
    };
    signal("-STOP");
    let failed = refresh::refresh(&app.state, carols, 0, true).await;
    signal("-CONT");
    assert!(failed.is_err());
    let view = app::ssr::db::mail_accounts::view(&app.state.pool, carols)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.status, AccountStatus::Error);

    // Not yet: the error is younger than 5 minutes.
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(notices(&kit, "sent").await, 1, "only the digest");
    app.advance_clock(5 * 60 + 1);
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(notices(&kit, "sent").await, 2);
    let mail = kit.mailbox("carol@example.test", 1).await;
    let notice = mail[0].replace("=\r\n", "").replace("=\n", "");
    assert!(notice.contains("has been failing to refresh"), "{notice}");
    assert!(notice.contains("over 5 minutes"));
    // Once per episode.
    app.advance_clock(60);
    app::ssr::notices::round(&app.state).await.unwrap();
    assert_eq!(notices(&kit, "sent").await, 2);
}
