//! The dashboard (issue 16): a first-run checklist on a new installation, ticked step by step;
//! then a health page — failing servers, next expiries, the last refresh, outcomes per day —
//! and counts that link to the filtered list.

mod common;

use app::api::settings::DashboardHealth;
use app::domain::{AccountStatus, Role};
use app::ssr::refresh;
use common::linked::Linked;

#[tokio::test]
async fn a_new_installation_gets_a_checklist_and_a_working_one_its_health() {
    let fresh = common::spawn().await;
    let admin = fresh.admin().await;
    let h = fresh.ok(DashboardHealth {}, &admin).await;
    assert_eq!(
        (
            h.checklist.application,
            h.checklist.server,
            h.checklist.linked,
            h.checklist.tested
        ),
        (false, false, false, false)
    );
    let html = fresh.get("/", Some(&admin)).await.text().await.unwrap();
    assert!(html.contains("id=\"first-run\""));
    assert!(html.contains("Create an application"));
    // Users get their counts, not the health page.
    let (_, user) = fresh.person("user@example.test", Role::User).await;
    assert_eq!(
        fresh
            .call(DashboardHealth {}, Some(&user))
            .await
            .unwrap_err()
            .0,
        403
    );

    let l = Linked::start(&[], &[], "alice@example.test").await;
    let h = l.app.ok(DashboardHealth {}, &l.admin).await;
    let c = h.checklist;
    assert_eq!(
        (c.application, c.server, c.linked, c.tested),
        (true, true, true, false)
    );
    assert!(!c.done());

    refresh::refresh(&l.app.state, l.account, 0, true)
        .await
        .unwrap();
    let second = l.link_another("bob@example.test").await;
    // bob's grant is refused at the provider: his server is failing.
    l.revoke_grant(second).await;

    let h = l.app.ok(DashboardHealth {}, &l.admin).await;
    let count = |s: AccountStatus| h.counts.iter().find(|c| c.0 == s).unwrap().1;
    assert_eq!(
        (
            count(AccountStatus::Linked),
            count(AccountStatus::NeedsReauth)
        ),
        (1, 1)
    );
    assert_eq!(
        h.failing_servers,
        vec![(l.server, "Google (local)".to_string(), 1)]
    );
    assert_eq!(h.next_expiries.len(), 1, "only linked accounts expire");
    assert_eq!(h.next_expiries[0].0, l.account);
    assert!(h.last_refresh_at.is_some());
    assert_eq!(h.outcomes.len(), 7);
    let today = h.outcomes.last().unwrap();
    assert_eq!(today.day, l.app.state.clock.now().div_euclid(86_400));
    assert_eq!((today.refreshed, today.failed), (1, 1));
    assert!(h.outcomes[..6]
        .iter()
        .all(|d| d.refreshed == 0 && d.failed == 0));

    // The counts link to the list filtered by status, which the list reads.
    let html = l.app.get("/", Some(&l.admin)).await.text().await.unwrap();
    assert!(html.contains("href=\"/mail-accounts?status=needs_reauth\""));
    let list = l
        .app
        .get("/mail-accounts?status=needs_reauth", Some(&l.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("bob@example.test"));
    assert!(
        !list.contains("data-login=\"alice@example.test\""),
        "filtered by the link's status"
    );
}

#[tokio::test]
async fn expiring_client_secrets_and_testing_grants_are_warned_of_30_7_and_1_days_ahead() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let now = l.app.state.clock.now();
    let day = |ts: i64| app::domain::mail_server::day_text(ts);
    // The secret expires at the start of the day 10 days from now; the app is in Testing.
    let expires_on = day(now + 10 * 86_400);
    l.app
        .ok(
            app::api::mail_servers::SaveMailServer {
                id: l.server.to_string(),
                draft: app::domain::MailServerDraft {
                    client_secret_expires_on: expires_on.clone(),
                    publishing_status: "testing".into(),
                    ..common::google_draft("Google (local)", &l.client_id, "", 1)
                },
            },
            &l.admin,
        )
        .await;
    let warnings = |n: usize| {
        let app = &l.app;
        async move {
            let (_, admin) = app
                .person(&format!("admin{n}@example.test"), Role::Admin)
                .await;
            app.ok(DashboardHealth {}, &admin).await.warnings
        }
    };
    let w = warnings(1).await;
    assert_eq!(w.len(), 2, "{w:?}");
    let grant = w.iter().find(|w| w.account_id == Some(l.account)).unwrap();
    let secret = w.iter().find(|w| w.account_id.is_none()).unwrap();
    assert_eq!((grant.within_days, secret.within_days), (7, 30));
    assert!(secret.text.contains(&expires_on), "{}", secret.text);
    assert!(grant.text.contains("Testing") && grant.text.contains("alice@example.test"));
    assert!(w[0].at <= w[1].at, "soonest first");

    // Six days on: the grant ends within a day, the secret within a week.
    l.app.advance_clock(6 * 86_400 + 3_600);
    let w = warnings(2).await;
    let within: Vec<(Option<i64>, i64)> = w.iter().map(|w| (w.account_id, w.within_days)).collect();
    assert_eq!(within, vec![(Some(l.account), 1), (None, 7)]);
    // Four more: the grant has ended and the secret is a day away at most.
    l.app.advance_clock(3 * 86_400);
    let w = warnings(3).await;
    let within: Vec<(Option<i64>, i64)> = w.iter().map(|w| (w.account_id, w.within_days)).collect();
    assert_eq!(within, vec![(Some(l.account), 0), (None, 1)]);
    assert!(w[0].text.contains("ended on"));
    // And past the secret's day.
    l.app.advance_clock(2 * 86_400);
    let w = warnings(4).await;
    assert!(w
        .iter()
        .any(|w| w.account_id.is_none() && w.within_days == 0 && w.text.contains("expired on")));

    // A bad date names its field and changes nothing.
    let (_, admin) = l.app.person("admin5@example.test", Role::Admin).await;
    match l
        .app
        .call(
            app::api::mail_servers::SaveMailServer {
                id: l.server.to_string(),
                draft: app::domain::MailServerDraft {
                    client_secret_expires_on: "31/12/2027".into(),
                    publishing_status: "beta".into(),
                    ..common::google_draft("Google (local)", &l.client_id, "", 1)
                },
            },
            Some(&admin),
        )
        .await
    {
        Err((422, e)) => assert_eq!(
            e.field_names(),
            vec!["Client secret expires on", "Publishing status"]
        ),
        other => panic!("{other:?}"),
    }
    let edit = l
        .app
        .ok(
            app::api::mail_servers::GetMailServer { id: l.server },
            &admin,
        )
        .await;
    assert_eq!(edit.draft.client_secret_expires_on, expires_on);
    assert_eq!(edit.draft.publishing_status, "testing");
}
