//! Several Mailbridge instances on one database (issue 14): each account is refreshed by one
//! instance at a time, held by a lease in the database that expires when its holder dies.

mod common;

use app::domain::{AccountStatus, Role};
use app::ssr::refresh::{self, RefreshSettings};
use common::oidc::Oidc;

const ACCOUNTS: usize = 200;

#[tokio::test]
async fn two_instances_refresh_every_account_exactly_once_with_a_strict_rotating_provider() {
    // Reusing a rotated refresh token revokes the whole grant: a double refresh is a lost mailbox.
    let oidc = Oidc::start(&[("ROTATE_REFRESH", "1"), ("ACCESS_TTL", "3600")]).await;
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let (owner, admin) = a.person("owner@example.test", Role::Admin).await;
    let app_id = a.create_application(&admin, "Web").await;
    let redirect = a.redirect_uri(&admin, app_id).await;
    let seeded = oidc
        .seed_due_grants(&a.state, owner, &redirect, ACCOUNTS)
        .await;
    assert_eq!(
        refresh::due_accounts(&b.state, 60).await.unwrap().len(),
        ACCOUNTS
    );

    // Both instances run a pass over the same due accounts at the same time.
    let settings = RefreshSettings {
        before_secs: 60,
        concurrency: 16,
        ..RefreshSettings::default()
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    tokio::join!(
        refresh::run_pass(&a.state, &settings, rx.clone()),
        refresh::run_pass(&b.state, &settings, rx.clone()),
    );
    let calls =
        |s: &app::ssr::AppState| s.refresher.calls.load(std::sync::atomic::Ordering::SeqCst);
    let (ca, cb) = (calls(&a.state), calls(&b.state));
    assert_eq!(
        ca + cb,
        ACCOUNTS as u64,
        "one refresh per account: {ca} + {cb}"
    );
    assert!(ca > 0 && cb > 0, "both instances took part: {ca} + {cb}");

    // None lost: every account linked, its stored refresh token alive at the provider.
    oidc.assert_every_grant_alive(&a.state, &seeded.client_id, &seeded.client_secret, ACCOUNTS)
        .await;
}

#[tokio::test]
async fn a_lease_whose_holder_died_expires_and_another_instance_takes_over() {
    let oidc = Oidc::start(&[("ROTATE_REFRESH", "1")]).await;
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let (owner, admin) = a.person("owner@example.test", Role::Admin).await;
    let app_id = a.create_application(&admin, "Web").await;
    let redirect = a.redirect_uri(&admin, app_id).await;
    let seeded = oidc.seed_due_grants(&a.state, owner, &redirect, 1).await;
    let id = seeded.accounts[0];
    // Instance A took the lease and was killed before it gave it back.
    let now = a.state.clock.now();
    let lease = a.state.refresh.lease_secs;
    assert!(
        app::ssr::db::mail_accounts::take_lease(&a.state.pool, id, "dead", now, now + lease)
            .await
            .unwrap()
    );
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let settings = RefreshSettings {
        before_secs: 60,
        ..RefreshSettings::default()
    };
    refresh::run_pass(&b.state, &settings, rx.clone()).await;
    assert_eq!(
        b.state
            .refresher
            .calls
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "held"
    );
    // After the lease period, B takes over (B's clock moved; the provider's did not).
    b.advance_clock(lease + 1);
    refresh::run_pass(&b.state, &settings, rx).await;
    assert_eq!(
        b.state
            .refresher
            .calls
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let status: AccountStatus =
        sqlx::query_scalar("SELECT status FROM mail_accounts WHERE id = $1")
            .bind(id)
            .fetch_one(&b.state.pool)
            .await
            .unwrap();
    assert_eq!(status, AccountStatus::Linked);
}

#[tokio::test]
async fn a_sign_in_and_a_lock_out_on_one_instance_hold_on_the_other() {
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    a.add_user("carol@example.test", Role::User).await;
    let (status, cookie, _) = a.login("carol@example.test", common::PASSWORD, None).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("session cookie");
    // The session made on A opens pages on B.
    let me = b
        .ok(app::api::auth::CurrentUser {}, &cookie)
        .await
        .expect("signed in on B");
    assert_eq!(me.email, "carol@example.test");
    // Five wrong passwords on A lock the address (from this client) on B too.
    for _ in 0..5 {
        assert_eq!(a.login("carol@example.test", "wrong", None).await.0, 401);
    }
    assert_eq!(
        b.login("carol@example.test", common::PASSWORD, None)
            .await
            .0,
        429,
        "locked out on B"
    );
}

#[tokio::test]
async fn two_instances_starting_together_on_a_new_database_both_start() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let db = common::fresh_db(dir.path(), "new.db").await;
        let key = dir.path().join("secret.key").to_string_lossy().to_string();
        let env = [("MAILBRIDGE_SECRET_KEY_FILE", key.as_str())];
        let (a, b) = tokio::join!(
            common::try_spawn_on(tempfile::tempdir().unwrap(), &db, &env),
            common::try_spawn_on(tempfile::tempdir().unwrap(), &db, &env),
        );
        let (a, b) = (
            a.unwrap_or_else(|e| panic!("round {round}: A did not start: {e}")),
            b.unwrap_or_else(|e| panic!("round {round}: B did not start: {e}")),
        );
        // Both use the same key: what one seals the other opens.
        let blob = a.state.secrets.seal_str("x", "t");
        assert_eq!(b.state.secrets.open_str(&blob, "t").unwrap(), "x");
        drop(dir);
    }
}

#[tokio::test]
async fn a_users_test_rate_is_one_budget_across_instances() {
    let a = common::spawn_with(&[("MAILBRIDGE_MAIL_TEST_PER_MINUTE", "4")]).await;
    let b = a.beside(&[("MAILBRIDGE_MAIL_TEST_PER_MINUTE", "4")]).await;
    let admin = a.admin().await;
    let (_, user) = a.person("u@example.test", Role::User).await;
    let mut d = common::password_draft("Nowhere", "127.0.0.1", 9, 9);
    d.imap_encryption = "none".into();
    d.smtp_encryption = "none".into();
    let server = a.create_server(&admin, d).await;
    let account = a
        .ok(
            common::new_account(server, "u@example.test", "", "pw"),
            &user,
        )
        .await;
    let test = || app::api::mail_test::TestMailAccount {
        id: account,
        protocol: app::domain::Protocol::Imap,
    };
    // Two tests through A, two through B (port 9 refuses at once): the budget of four is spent.
    for instance in [&a, &a, &b, &b] {
        assert!(instance.call(test(), Some(&user)).await.is_ok());
    }
    for instance in [&a, &b] {
        match instance.call(test(), Some(&user)).await {
            Err((429, _)) => {}
            other => panic!("expected 429, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_forced_refresh_happens_once_a_minute_per_account_whichever_instance_asks() {
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let now = a.state.clock.now();
    let force = |s: &common::TestApp, id, at| {
        let st = s.state.clone();
        async move {
            st.mail_tests
                .may_force_refresh(&st.pool, id, at)
                .await
                .unwrap()
        }
    };
    assert!(force(&a, 7, now).await);
    assert!(!force(&b, 7, now + 30).await, "B within the minute of A's");
    assert!(force(&b, 8, now + 30).await, "another account is not held");
    assert!(!force(&a, 7, now + 59).await);
    assert!(force(&b, 7, now + 61).await);
}

#[tokio::test]
async fn concurrent_counted_events_never_pass_their_limit() {
    // On PostgreSQL's default isolation each INSERT … SELECT COUNT(*) sees only what was
    // committed when it began: without a lock, statements running together all count the same
    // few rows and all slip under the limit. A password-attempt budget of 5 must stay 5.
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let now = a.state.clock.now();
    for round in 0..5 {
        let subject = 1000 + round;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let pool = if i % 2 == 0 {
                a.state.pool.clone()
            } else {
                b.state.pool.clone()
            };
            tasks.spawn(async move {
                app::ssr::db::rate_events::record_within(
                    &pool,
                    "test_password",
                    subject,
                    now,
                    now - 60,
                    5,
                )
                .await
                .unwrap()
            });
        }
        let mut recorded = 0;
        while let Some(r) = tasks.join_next().await {
            recorded += r.unwrap() as usize;
        }
        assert_eq!(
            recorded, 5,
            "round {round}: {recorded} of 64 got through a limit of 5"
        );
    }
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    use app::api::users::UpdateUser;
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    for round in 0..10 {
        let x = a
            .add_user(&format!("x{round}@example.test"), Role::Admin)
            .await;
        let y = a
            .add_user(&format!("y{round}@example.test"), Role::Admin)
            .await;
        // Only x and y are active admins in this round.
        sqlx::query(
            "UPDATE users SET active = FALSE WHERE role = 'admin' AND id <> $1 AND id <> $2",
        )
        .bind(x)
        .bind(y)
        .execute(&a.state.pool)
        .await
        .unwrap();
        let (cx, cy) = (a.session_for(x).await, b.session_for(y).await);
        let demote = |id: i64, name: &str| UpdateUser {
            id,
            name: name.into(),
            role: "user".into(),
            active: true,
        };
        let (rx, ry) = tokio::join!(
            a.call(demote(y, "Y"), Some(&cx)),
            b.call(demote(x, "X"), Some(&cy)),
        );
        let admins: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active")
                .fetch_one(&a.state.pool)
                .await
                .unwrap();
        assert_eq!(
            admins,
            1,
            "round {round}: {admins} active admins left ({:?} / {:?})",
            rx.is_ok(),
            ry.is_ok()
        );
    }
}

#[tokio::test]
async fn parallel_wrong_passwords_across_instances_get_no_more_guesses_than_the_limit() {
    // Each attempt is reserved before its password is checked; 64 reservations at once, half
    // on each instance, for one address from one client: the limit (5) and not one more.
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let now = a.state.clock.now();
    for round in 0..20 {
        let email = format!("victim{round}@example.test");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let st = if i % 2 == 0 {
                a.state.clone()
            } else {
                b.state.clone()
            };
            let email = email.clone();
            let client = format!("203.0.113.{round}");
            tasks.spawn(async move {
                app::ssr::db::sign_in_failures::reserve(
                    &st.pool,
                    &email,
                    &client,
                    now,
                    &st.settings.login,
                )
                .await
                .unwrap()
                .is_some()
            });
        }
        let mut reserved = 0;
        while let Some(r) = tasks.join_next().await {
            reserved += r.unwrap() as i64;
        }
        assert_eq!(
            reserved, a.state.settings.login.per_email,
            "round {round}: {reserved} guesses for a limit of {}",
            a.state.settings.login.per_email
        );
    }
}

#[tokio::test]
async fn parallel_give_backs_each_return_one_event() {
    // Attempts that turned out not to count are given back at once (several tests of one user
    // finishing together): each must remove one event, or the user is refused for guesses
    // never made.
    let a = common::spawn().await;
    let b = a.beside(&[]).await;
    let now = a.state.clock.now();
    let pool = &a.state.pool;
    for _ in 0..10 {
        assert!(
            app::ssr::db::rate_events::record_within(pool, "k", 7, now, now - 60, 100)
                .await
                .unwrap()
        );
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let pool = if i % 2 == 0 {
            a.state.pool.clone()
        } else {
            b.state.pool.clone()
        };
        tasks.spawn(async move {
            app::ssr::db::rate_events::give_back(&pool, "k", 7)
                .await
                .unwrap()
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let (left, _) = app::ssr::db::rate_events::count_since(pool, "k", 7, now - 60)
        .await
        .unwrap();
    assert_eq!(left, 0, "{left} events of 10 were not given back");
}
