//! Two Mailbridge processes on one PostgreSQL with 10,000 accounts (issue 14), against the kit's
//! rotating provider, which counts every refresh it answers per mailbox:
//!
//! 1. every account is refreshed exactly once in its due window, by one of the two, none lost;
//! 2. a new due window, and `kill -9` of one instance a quarter of the way through: the other
//!    finishes after the dead one's leases expire; every grant is still active at the provider,
//!    and an account refreshed twice is exactly one whose answer died with the killed process
//!    (retried within the provider's reuse grace, which the provider counts too).
//!
//! Ignored in the ordinary runs (it takes minutes); `scripts/test.sh` runs it once, on a cluster
//! of its own. `FLEET_ACCOUNTS` sets a smaller number for a quick local run.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use app::domain::{AccountStatus, Role};
use app::ssr::crypto::aad;
use common::oidc::Oidc;
use common::process::{refreshed_since, ServerProcess, Stop};

fn accounts() -> usize {
    std::env::var("FLEET_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

#[derive(serde::Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
struct Counts {
    total: u64,
    grace_reuses: u64,
    accounts: HashMap<String, u64>,
}

async fn provider_counts(oidc: &Oidc) -> Counts {
    reqwest::get(format!("{}/kit/refreshes", oidc.issuer))
        .await
        .expect("provider counts")
        .json()
        .await
        .expect("counts JSON")
}

async fn wait_all_refreshed(pool: &app::ssr::db::Pool, t0: i64, n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let done = refreshed_since(pool, t0).await;
        if done as usize >= n {
            return;
        }
        let lost: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM mail_accounts WHERE status <> 'linked'")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(lost, 0, "{what}: accounts lost their grant");
        assert!(
            Instant::now() < deadline,
            "{what}: only {done} of {n} refreshed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "minutes long: scripts/test.sh runs it once"]
async fn two_instances_on_postgresql_refresh_ten_thousand_accounts_once_and_survive_a_kill() {
    let n = accounts();
    let oidc = Oidc::start(&[
        ("ROTATE_REFRESH", "1"),
        ("REFRESH_REUSE_GRACE", "120"),
        ("ACCESS_TTL", "3600"),
    ])
    .await;
    let _own_cluster;
    let admin = match std::env::var(common::TEST_POSTGRES) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let c = common::postgres::Cluster::start();
            let url = c.url("postgres");
            _own_cluster = c;
            url
        }
    };
    let db = common::postgres::fresh_database(&admin).await;
    let dir = tempfile::tempdir().unwrap();

    // Seeded through the app's own code in this process (which runs no refresh task).
    let t = Instant::now();
    let kit = common::spawn_on(tempfile::tempdir().unwrap(), &db, &[]).await;
    let state = kit.state.clone();
    let (owner, admin_cookie) = kit.person("owner@example.test", Role::Admin).await;
    let app_id = kit.create_application(&admin_cookie, "Fleet").await;
    let redirect = kit.redirect_uri(&admin_cookie, app_id).await;
    let seeded = oidc.seed_due_grants(&state, owner, &redirect, n).await;
    eprintln!("seeded {n} grants in {:.1} s", t.elapsed().as_secs_f64());
    let t0 = state.clock.now();

    // 1. Both instances, one due window.
    let bin = env!("CARGO_BIN_EXE_mailbridge");
    let t = Instant::now();
    let mut a = ServerProcess::start(bin, dir.path(), &db, 1, &[]);
    let _b = ServerProcess::start(bin, dir.path(), &db, 2, &[]);
    wait_all_refreshed(&state.pool, t0, n, "first window").await;
    let first = provider_counts(&oidc).await;
    eprintln!(
        "first window: {n} accounts refreshed by two instances in {:.1} s, {} refreshes at the provider",
        t.elapsed().as_secs_f64(),
        first.total
    );
    assert_eq!(first.total, n as u64, "one refresh per account");
    assert_eq!(first.grace_reuses, 0);
    assert_eq!(first.accounts.len(), n);
    assert!(
        first.accounts.values().all(|c| *c == 1),
        "each exactly once"
    );

    // 2. A new due window; kill -9 A a quarter of the way through.
    let t1 = state.clock.now();
    sqlx::query("UPDATE mail_accounts SET access_expires_at = $1")
        .bind(t1)
        .execute(&state.pool)
        .await
        .unwrap();
    let t = Instant::now();
    loop {
        if refreshed_since(&state.pool, t1).await as usize >= n / 4 {
            a.stop(Stop::Kill9);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the second window never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_kill = refreshed_since(&state.pool, t1).await;
    assert!((at_kill as usize) < n, "the kill landed mid-pass");
    wait_all_refreshed(&state.pool, t1, n, "after the kill").await;
    let second = provider_counts(&oidc).await;
    eprintln!(
        "second window: killed A at {at_kill} of {n}; B finished in {:.1} s; {} refreshes at the provider, {} retried within its grace",
        t.elapsed().as_secs_f64(),
        second.total - first.total,
        second.grace_reuses
    );
    let mut twice = 0;
    for (login, c) in &second.accounts {
        let d = c - first.accounts.get(login).copied().unwrap_or(0);
        assert!(
            d == 1 || d == 2,
            "{login}: refreshed {d} times in one window"
        );
        twice += (d == 2) as u64;
    }
    assert_eq!(
        twice, second.grace_reuses,
        "a second refresh only for an answer lost in the kill"
    );
    assert!(twice <= 8, "at most A's 8 refreshes in flight: {twice}");

    // None lost: every account linked, its stored refresh token active at the provider.
    let rows: Vec<(i64, AccountStatus, Vec<u8>)> =
        sqlx::query_as("SELECT id, status, refresh_token_enc FROM mail_accounts ORDER BY id")
            .fetch_all(&state.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), n);
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut checks = tokio::task::JoinSet::new();
    for (id, status, blob) in rows {
        assert_eq!(status, AccountStatus::Linked, "account {id}");
        let token = state
            .secrets
            .open_str(&blob, &aad::REFRESH_TOKEN.row(id))
            .unwrap();
        let (issuer, cid, secret, sem) = (
            oidc.issuer.clone(),
            seeded.client_id.clone(),
            seeded.client_secret.clone(),
            sem.clone(),
        );
        checks.spawn(async move {
            let _p = sem.acquire_owned().await.unwrap();
            (
                id,
                common::oidc::introspect_active(&issuer, &cid, &secret, &token).await,
            )
        });
    }
    let mut inactive = vec![];
    while let Some(r) = checks.join_next().await {
        let (id, active) = r.unwrap();
        if !active {
            inactive.push(id);
        }
    }
    assert!(inactive.is_empty(), "grants no longer active: {inactive:?}");
}
