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
        (h.checklist.application, h.checklist.server, h.checklist.linked, h.checklist.tested),
        (false, false, false, false)
    );
    let html = fresh.get("/", Some(&admin)).await.text().await.unwrap();
    assert!(html.contains("id=\"first-run\""));
    assert!(html.contains("Create an application"));
    // Users get their counts, not the health page.
    let (_, user) = fresh.person("user@example.test", Role::User).await;
    assert_eq!(fresh.call(DashboardHealth {}, Some(&user)).await.unwrap_err().0, 403);

    let l = Linked::start(&[], &[], "alice@example.test").await;
    let h = l.app.ok(DashboardHealth {}, &l.admin).await;
    let c = h.checklist;
    assert_eq!((c.application, c.server, c.linked, c.tested), (true, true, true, false));
    assert!(!c.done());

    refresh::refresh(&l.app.state, l.account, 0, true).await.unwrap();
    let second = l.link_another("bob@example.test").await;
    // bob's grant is refused at the provider: his server is failing.
    let grant = l.refresh_token(second).await.unwrap();
    reqwest::Client::new()
        .post(format!("{}/token/revocation", l.oidc.issuer))
        .form(&[("token", grant.as_str())])
        .send()
        .await
        .unwrap();
    refresh::refresh(&l.app.state, second, 0, true).await.unwrap_err();

    let h = l.app.ok(DashboardHealth {}, &l.admin).await;
    let count = |s: AccountStatus| h.counts.iter().find(|c| c.0 == s).unwrap().1;
    assert_eq!((count(AccountStatus::Linked), count(AccountStatus::NeedsReauth)), (1, 1));
    assert_eq!(h.failing_servers, vec![(l.server, "Google (local)".to_string(), 1)]);
    assert_eq!(h.next_expiries.len(), 1, "only linked accounts expire");
    assert_eq!(h.next_expiries[0].0, l.account);
    assert!(h.last_refresh_at.is_some());
    assert_eq!(h.outcomes.len(), 7);
    let today = h.outcomes.last().unwrap();
    assert_eq!(today.day, l.app.state.clock.now().div_euclid(86_400));
    assert_eq!((today.refreshed, today.failed), (1, 1));
    assert!(h.outcomes[..6].iter().all(|d| d.refreshed == 0 && d.failed == 0));

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
    assert!(!list.contains("data-login=\"alice@example.test\""), "filtered by the link's status");
}
