//! Tokens go only where their owner agreed (issue 13): each rule as the attack it stops, against
//! the kit's real OIDC server.

mod common;

use std::time::Duration;

use app::api::{mail_accounts, mail_servers, mail_test, users};
use app::domain::{AccountStatus, Encryption, Protocol, Role};
use app::error::AppError;
use app::ssr::crypto::aad;
use app::ssr::mail::{self, Credential, ExtraCa, Mechanism, Target};
use app::ssr::outbound::NetPolicy;
use app::ssr::refresh::{self, RefreshError};
use common::{
    fields, google_draft,
    linked::{Linked, SlowRelay, Tamper, TokenTamper},
    new_account, password_draft,
};

/// A port that records whether anything connected to it: the attacker's machine.
struct Trap {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Trap {
    async fn start() -> Trap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // Greets like a mail server so that a client would go on and send its token.
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.write_all(b"220 trap ESMTP\r\n").await;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                });
            }
        });
        Trap { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// alice@ linked, with the provider's token endpoint behind a [`SlowRelay`].
async fn behind_slow_relay(oidc: common::oidc::Oidc) -> (Linked, SlowRelay) {
    let upstream = oidc.issuer.trim_start_matches("http://").parse().unwrap();
    let relay = SlowRelay::start(upstream).await;
    let token_url = format!("http://{}/token", relay.addr);
    let env = [("MAILBRIDGE_GOOGLE_TOKEN_URL", token_url.as_str())];
    (
        Linked::start_with(oidc, &env, "alice@example.test").await,
        relay,
    )
}

/// alice@ linked, with a [`TokenTamper`] in front of the provider's token endpoint (and `env`).
async fn behind_tamper(oidc: common::oidc::Oidc, env: &[(&str, &str)]) -> (Linked, TokenTamper) {
    let tamper = TokenTamper::start(&oidc.issuer).await;
    let mut vars = vec![("MAILBRIDGE_GOOGLE_TOKEN_URL", tamper.url.as_str())];
    vars.extend_from_slice(env);
    (
        Linked::start_with(oidc, &vars, "alice@example.test").await,
        tamper,
    )
}

#[tokio::test]
async fn a_token_never_travels_in_the_clear_or_to_an_unchecked_certificate() {
    let trap = Trap::start().await;
    let target = |encryption, validate_certificate| Target {
        host: "127.0.0.1".into(),
        port: trap.port,
        encryption,
        validate_certificate,
        login: "alice@example.test".into(),
        mechanism: Mechanism::Auto,
    };
    let token = || Credential::Bearer("full-mailbox-token".into());
    let t = Duration::from_secs(2);
    for protocol in [Protocol::Imap, Protocol::Smtp] {
        for (enc, validate) in [(Encryption::None, true), (Encryption::SslTls, false)] {
            let r = mail::test(
                protocol,
                &target(enc, validate),
                &token(),
                &ExtraCa::default(),
                &loopback(),
                t,
            )
            .await;
            assert!(!r.ok);
            assert!(r.message.contains("not sent"), "{}", r.message);
        }
    }
    assert_eq!(trap.hits(), 0, "nothing may even connect");

    // The form refuses both for an OAuth2 server, naming the fields; a password server may.
    let app = common::spawn().await;
    let admin = app.admin().await;
    let app_id = app.create_application(&admin, "Web").await;
    let mut d = google_draft("Gmail", "id", "secret", app_id);
    d.imap_encryption = "none".into();
    d.validate_certificate = false;
    let r = app
        .call(
            mail_servers::SaveMailServer {
                id: String::new(),
                draft: d.clone(),
            },
            Some(&admin),
        )
        .await;
    assert_eq!(fields(&r), ["IMAP encryption", "Validate certificate"]);
    d.auth_method = "password".into();
    app.create_server(&admin, d).await;
}

#[tokio::test]
async fn changing_where_tokens_go_asks_first_then_revokes_and_sends_owners_back() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let trap = Trap::start().await;
    let grant = l.refresh_token(l.account).await.expect("linked");
    let edit = l
        .app
        .ok(mail_servers::GetMailServer { id: l.server }, &l.admin)
        .await;
    let save = |draft| mail_servers::SaveMailServer {
        id: l.server.to_string(),
        draft,
    };

    // A change that moves nothing (the Subject) needs no confirmation.
    let mut renamed = edit.draft.clone();
    renamed.subject = "Google, renamed".into();
    l.app.ok(save(renamed.clone()), &l.admin).await;
    assert_eq!(l.status(l.account).await.0, AccountStatus::Linked);

    // The IMAP host pointed at the attacker's machine: asked, with the count, nothing written.
    let mut moved = renamed.clone();
    moved.imap_host = "127.0.0.1".into();
    moved.imap_port = trap.port.to_string();
    match l.app.call(save(moved.clone()), Some(&l.admin)).await {
        Err((409, AppError::Confirm { count: 1, message })) => {
            assert!(
                message.contains("IMAP host") && message.contains("1 linked"),
                "{message}"
            )
        }
        other => panic!("expected a confirmation, got {other:?}"),
    }
    let now = l
        .app
        .ok(mail_servers::GetMailServer { id: l.server }, &l.admin)
        .await;
    assert_eq!(now.draft.imap_host, edit.draft.imap_host);
    assert_eq!(l.status(l.account).await.0, AccountStatus::Linked);
    assert!(l.active_at_provider(&grant).await);

    // Confirmed: the grant is revoked at the provider, the owner is told why, and "Run test"
    // sends nothing to the new host.
    moved.confirm_linked = 1;
    l.app.ok(save(moved), &l.admin).await;
    let (status, reason) = l.status(l.account).await;
    assert_eq!(status, AccountStatus::NeedsReauth);
    assert!(reason.unwrap_or_default().contains("IMAP host"));
    assert!(l.refresh_token(l.account).await.is_none());
    assert!(
        !l.active_at_provider(&grant).await,
        "revoked at the old provider"
    );
    let r = mail::run_account_test(&l.app.state, l.account, Protocol::Imap)
        .await
        .unwrap();
    assert!(!r.ok);
    assert_eq!(trap.hits(), 0, "the new host never saw a connection");
    let owner_view = l
        .app
        .ok(mail_accounts::GetMailAccount { id: l.account }, &l.owner)
        .await;
    assert!(owner_view
        .last_error
        .unwrap_or_default()
        .contains("authorize it again"));
}

#[tokio::test]
async fn unlink_wins_over_a_refresh_in_flight_and_the_rotated_grant_is_revoked() {
    // The token endpoint answers through a relay that holds its answers for a while.
    let oidc = common::oidc::Oidc::start(&[("ROTATE_REFRESH", "1")]).await;
    let (l, relay) = behind_slow_relay(oidc).await;
    relay
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let state = l.app.state.clone();
    let account = l.account;
    let in_flight = tokio::spawn(async move { refresh::refresh(&state, account, 0, true).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let warning = l
        .app
        .ok(mail_accounts::UnlinkMailAccount { id: l.account }, &l.owner)
        .await;
    let _ = in_flight.await.unwrap();
    relay.delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);

    // The unlink stands: no tokens, pending, and no refresh token the provider ever issued
    // for this mailbox is still alive there.
    assert_eq!(
        l.status(l.account).await.0,
        AccountStatus::Pending,
        "{warning:?}"
    );
    assert!(l.refresh_token(l.account).await.is_none());
    let issued = relay.refresh_tokens_seen();
    assert!(
        issued.len() >= 2,
        "the link and the refresh each issued one: {issued:?}"
    );
    for t in issued {
        assert!(
            !l.active_at_provider(&t).await,
            "a grant survived the unlink"
        );
    }
}

#[tokio::test]
async fn deleting_an_account_or_a_server_revokes_its_grants_first() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let other = l.link_another("bob@example.test").await;
    let alice = l.refresh_token(l.account).await.unwrap();
    let bob = l.refresh_token(other).await.unwrap();
    l.app
        .ok(mail_accounts::DeleteMailAccount { id: l.account }, &l.owner)
        .await;
    assert!(
        !l.active_at_provider(&alice).await,
        "deleting the account revoked it"
    );
    assert!(l.active_at_provider(&bob).await);
    l.app
        .ok(
            mail_servers::DeleteMailServer {
                id: l.server,
                confirm_accounts: 1,
            },
            &l.admin,
        )
        .await;
    assert!(
        !l.active_at_provider(&bob).await,
        "deleting the server revoked it"
    );
}

#[tokio::test]
async fn a_deactivated_owners_mailboxes_are_not_refreshed_until_reactivated() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let set_active = |active| users::UpdateUser {
        id: l.owner_id,
        name: "Owner".into(),
        role: Role::User.as_str().into(),
        active,
    };
    l.app.ok(set_active(false), &l.admin).await;
    let (status, reason) = l.status(l.account).await;
    assert_eq!(status, AccountStatus::Disabled);
    assert!(reason.unwrap_or_default().contains("deactivated"));
    l.app.advance_clock(7200);
    assert!(refresh::due_accounts(&l.app.state, 300)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        refresh::ensure_fresh(&l.app.state, l.account, 60).await,
        Err(RefreshError::NotLinked(AccountStatus::Disabled))
    );
    let r = mail::run_account_test(&l.app.state, l.account, Protocol::Imap)
        .await
        .unwrap();
    assert!(!r.ok && r.message.contains("disabled"), "{}", r.message);

    // Not even an admin can authorise it again meanwhile.
    let r = l
        .app
        .call(
            mail_accounts::StartAuthorization { id: l.account },
            Some(&l.admin),
        )
        .await;
    assert!(matches!(r, Err((409, _))), "{r:?}");

    l.app.ok(set_active(true), &l.admin).await;
    assert_eq!(l.status(l.account).await.0, AccountStatus::Linked);
    assert_eq!(
        refresh::due_accounts(&l.app.state, 300).await.unwrap(),
        vec![l.account]
    );
    refresh::ensure_fresh(&l.app.state, l.account, 60)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_pending_account_reserves_nothing_and_reveals_nothing() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let (_, mallory) = l.app.person("mallory@example.test", Role::User).await;
    // Another user types alice's address: accepted (nothing revealed), but it holds nothing…
    let squat = l
        .app
        .ok(
            new_account(l.server, "alice@example.test", "", ""),
            &mallory,
        )
        .await;
    // …and reserves nothing: a second mailbox of the same address by its owner still works,
    let again = l
        .app
        .call(
            new_account(l.server, "alice@example.test", "", ""),
            Some(&l.owner),
        )
        .await;
    assert_eq!(fields(&again), ["Login"], "one's own duplicate is named");
    let (_, boss) = l.app.person("boss@example.test", Role::User).await;
    let squat_boss = l
        .app
        .ok(new_account(l.server, "boss@example.test", "", ""), &mallory)
        .await;
    let real = l
        .app
        .ok(new_account(l.server, "boss@example.test", "", ""), &boss)
        .await;
    assert_eq!(l.authorize(&boss, real).await, "linked");
    // The grant goes to one account only: the squatter's consent (this kit's provider approves
    // any address) does not take it over.
    assert_eq!(l.authorize(&mallory, squat_boss).await, "already_linked");
    assert_eq!(l.authorize(&mallory, squat).await, "already_linked");
    assert!(l.refresh_token(squat).await.is_none());
    assert!(l.refresh_token(real).await.is_some());
    assert_eq!(l.status(l.account).await.0, AccountStatus::Linked);
}

#[tokio::test]
async fn allowed_login_domains_are_checked_when_typed_and_when_consented() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let mut d = l
        .app
        .ok(mail_servers::GetMailServer { id: l.server }, &l.admin)
        .await
        .draft;
    d.allowed_domains = "corp.test".into();
    l.app
        .ok(
            mail_servers::SaveMailServer {
                id: l.server.to_string(),
                draft: d.clone(),
            },
            &l.admin,
        )
        .await;
    let r = l
        .app
        .call(
            new_account(l.server, "x@example.test", "", ""),
            Some(&l.owner),
        )
        .await;
    assert_eq!(fields(&r), ["Login"]);
    // alice's account predates the rule: authorising it again is refused at the callback.
    assert_eq!(l.authorize(&l.owner, l.account).await, "domain_refused");
    d.allowed_domains = "not a domain!".into();
    let r = l
        .app
        .call(
            mail_servers::SaveMailServer {
                id: l.server.to_string(),
                draft: d,
            },
            Some(&l.admin),
        )
        .await;
    assert_eq!(fields(&r), ["Allowed login domains"]);
}

#[tokio::test]
async fn a_sealed_token_copied_to_another_row_does_not_open_there() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let bob = l.link_another("bob@example.test").await;
    // Someone with write access to the database copies alice's grant into bob's row.
    sqlx::query(
        "UPDATE mail_accounts SET refresh_token_enc = (SELECT refresh_token_enc FROM mail_accounts WHERE id = $1),
            access_token_enc = (SELECT access_token_enc FROM mail_accounts WHERE id = $1), access_expires_at = 0
         WHERE id = $2",
    )
    .bind(l.account)
    .bind(bob)
    .execute(&l.app.state.pool)
    .await
    .unwrap();
    let r = refresh::ensure_fresh(&l.app.state, bob, 60).await;
    assert_eq!(
        r,
        Err(RefreshError::Undecryptable),
        "bob must not get alice's mailbox"
    );
    let (status, reason) = l.status(bob).await;
    assert_eq!(status, AccountStatus::NeedsReauth);
    assert!(reason
        .unwrap_or_default()
        .contains("could not be decrypted"));
    // The pages and alice's account are unharmed.
    let list = l
        .app
        .ok(
            mail_accounts::ListMailAccounts {
                server_id: String::new(),
                owner_id: String::new(),
                status: String::new(),
                page: 0,
            },
            &l.owner,
        )
        .await;
    assert_eq!(list.total, 2);
    refresh::ensure_fresh(&l.app.state, l.account, 60)
        .await
        .unwrap();
}

#[tokio::test]
async fn secrets_of_an_older_database_are_bound_to_their_rows_on_first_start() {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let app_id = app.create_application(&admin, "Web").await;
    let server = app
        .create_server(&admin, google_draft("Gmail", "id", "s3cret", app_id))
        .await;
    // As an older Mailbridge stored it: sealed with the column's name only, no flag.
    let legacy = app
        .state
        .secrets
        .seal_str("s3cret", aad::CLIENT_SECRET.legacy());
    sqlx::query("UPDATE mail_servers SET client_secret_enc = $1")
        .bind(&legacy)
        .execute(&app.state.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM settings WHERE key = 'secrets_bound_to_rows'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let db = app.db_url.clone();
    let restarted = common::spawn_on(app.dir, &db, &[]).await;
    let blob: Vec<u8> = sqlx::query_scalar("SELECT client_secret_enc FROM mail_servers")
        .fetch_one(&restarted.state.pool)
        .await
        .unwrap();
    assert_ne!(blob, legacy);
    let open = |aad: &str| restarted.state.secrets.open_str(&blob, aad).ok();
    assert_eq!(
        open(&aad::CLIENT_SECRET.row(server)).as_deref(),
        Some("s3cret")
    );
    assert_eq!(open(aad::CLIENT_SECRET.legacy()), None);
}

#[tokio::test]
async fn connection_tests_run_once_per_account_within_a_rate_and_an_overall_bound() {
    let trap = Trap::start().await;
    let app = common::spawn_with(&[
        ("MAILBRIDGE_MAIL_TEST_PER_MINUTE", "4"),
        ("MAILBRIDGE_MAIL_TEST_CONCURRENCY", "1"),
        ("MAILBRIDGE_MAIL_TIMEOUT_SECS", "1"),
    ])
    .await;
    let admin = app.admin().await;
    let (_, user) = app.person("u@example.test", Role::User).await;
    let mut d = password_draft("Slow", "127.0.0.1", trap.port, trap.port);
    d.imap_encryption = "none".into();
    d.smtp_encryption = "none".into();
    let server = app.create_server(&admin, d).await;
    let one = app
        .ok(new_account(server, "u@example.test", "", "pw"), &user)
        .await;
    let two = app
        .ok(new_account(server, "v@example.test", "", "pw"), &user)
        .await;
    let call = |id| {
        app.call(
            mail_test::TestMailAccount {
                id,
                protocol: Protocol::Smtp,
            },
            Some(&user),
        )
    };

    // Two clicks on one account: one connection, one answer for both.
    let (a, b) = tokio::join!(call(one), call(one));
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(trap.hits(), 1, "the second click joined the first");

    // Two accounts with room for one test at a time: the second connects after the first.
    let started = std::time::Instant::now();
    let both = async { tokio::join!(call(one), call(two)) };
    let watch = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        trap.hits()
    };
    let ((a, b), hits_meanwhile) = tokio::join!(both, watch);
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(
        hits_meanwhile, 2,
        "only one more test ran during the first second"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(trap.hits(), 3);

    // Four tests this minute already: the fifth is refused with a message the page shows.
    match call(one).await {
        Err((429, AppError::RateLimited { message, .. })) => {
            assert!(message.contains("4 a minute"), "{message}")
        }
        other => panic!("expected 429, got {other:?}"),
    }
    assert_eq!(trap.hits(), 3);
}

/// Outbound calls to the kit's peers on loopback, as the tests allow them.
fn loopback() -> NetPolicy {
    NetPolicy::new(app::domain::CidrList::parse("127.0.0.0/8").unwrap())
}

#[tokio::test]
async fn a_forged_id_token_naming_the_login_is_refused() {
    let oidc = common::oidc::Oidc::start(&[]).await;
    let (l, tamper) = behind_tamper(oidc, &[]).await;
    // Mallory adds boss@'s address, consents as herself, and the id_token on its way back is
    // rewritten to name boss@ (the provider's signature no longer matches).
    let (_, mallory) = l.app.person("mallory@example.test", Role::User).await;
    let squat = l
        .app
        .ok(new_account(l.server, "boss@example.test", "", ""), &mallory)
        .await;
    tamper.set(Tamper::SwapEmail("boss@example.test".into()));
    let outcome = l
        .authorize_as(&mallory, squat, Some("mallory@example.test"))
        .await;
    assert_eq!(outcome, "identity_mismatch");
    assert!(l.refresh_token(squat).await.is_none(), "nothing stored");
    let (status, reason) = l.status(squat).await;
    assert_eq!(status, AccountStatus::Pending);
    assert!(reason.unwrap_or_default().contains("failed validation"));
}

#[tokio::test]
async fn an_id_token_of_another_authorisation_is_refused() {
    let oidc = common::oidc::Oidc::start(&[]).await;
    let (l, tamper) = behind_tamper(oidc, &[]).await;
    // A genuine, correctly signed id_token for alice — but issued for the first authorisation,
    // with that one's nonce — replayed into a second.
    l.app
        .ok(mail_accounts::UnlinkMailAccount { id: l.account }, &l.owner)
        .await;
    tamper.set(Tamper::ReplayFirst);
    assert_eq!(l.authorize(&l.owner, l.account).await, "identity_mismatch");
    let (status, reason) = l.status(l.account).await;
    assert_eq!(status, AccountStatus::Pending);
    assert!(
        reason.unwrap_or_default().contains("nonce"),
        "the nonce is named"
    );
    tamper.set(Tamper::None);
    assert_eq!(l.authorize(&l.owner, l.account).await, "linked");
}

#[tokio::test]
async fn an_authorisation_started_before_a_server_change_sends_its_code_nowhere_new() {
    let l = Linked::start(&[], &[], "alice@example.test").await;
    let bob = l
        .app
        .ok(new_account(l.server, "bob@example.test", "", ""), &l.owner)
        .await;
    let auth_url = l
        .app
        .ok(mail_accounts::StartAuthorization { id: bob }, &l.owner)
        .await;
    // While bob's owner is at the provider, the admin points the server elsewhere (alice's
    // grant is withdrawn with confirmation; bob's authorisation is in flight).
    let mut d = l
        .app
        .ok(mail_servers::GetMailServer { id: l.server }, &l.admin)
        .await
        .draft;
    d.smtp_host = "smtp.elsewhere.example".into();
    d.confirm_linked = 1;
    l.app
        .ok(
            mail_servers::SaveMailServer {
                id: l.server.to_string(),
                draft: d,
            },
            &l.admin,
        )
        .await;
    let back = l.oidc.consent(&auth_url, &l.redirect_uri).await;
    let res = l
        .app
        .get(back.strip_prefix(&l.app.url).unwrap(), Some(&l.owner))
        .await;
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.contains("outcome=server_changed"), "{loc}");
    assert!(l.refresh_token(bob).await.is_none());
    assert_eq!(l.status(bob).await.0, AccountStatus::Pending);
}

#[tokio::test]
async fn a_change_that_lands_during_the_code_exchange_stores_no_grant() {
    let oidc = common::oidc::Oidc::start(&[]).await;
    let (l, relay) = behind_slow_relay(oidc).await;
    let bob = l
        .app
        .ok(new_account(l.server, "bob@example.test", "", ""), &l.owner)
        .await;
    let auth_url = l
        .app
        .ok(mail_accounts::StartAuthorization { id: bob }, &l.owner)
        .await;
    let back = l.oidc.consent(&auth_url, &l.redirect_uri).await;
    // The token endpoint answers slowly; meanwhile the admin moves the server (confirming
    // alice's grant, the only one so far).
    relay
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let app = &l.app;
    let callback = async {
        let res = app
            .get(back.strip_prefix(&app.url).unwrap(), Some(&l.owner))
            .await;
        res.headers()["location"].to_str().unwrap().to_string()
    };
    let change = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut d = app
            .ok(mail_servers::GetMailServer { id: l.server }, &l.admin)
            .await
            .draft;
        d.smtp_host = "smtp.elsewhere.example".into();
        d.confirm_linked = 1;
        app.ok(
            mail_servers::SaveMailServer {
                id: l.server.to_string(),
                draft: d,
            },
            &l.admin,
        )
        .await;
    };
    let (loc, ()) = tokio::join!(callback, change);
    relay.delay_ms.store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(loc.contains("outcome=server_changed"), "{loc}");
    assert!(
        l.refresh_token(bob).await.is_none(),
        "no grant for the old destination"
    );
    // The grant the provider issued for bob's authorisation is revoked there too.
    let issued = relay.refresh_tokens_seen();
    let bobs = issued.last().expect("bob's exchange answered");
    assert!(!l.active_at_provider(bobs).await);
}

#[tokio::test]
async fn a_test_whose_caller_went_away_still_frees_its_slot() {
    let trap = Trap::start().await;
    let app = common::spawn_with(&[
        ("MAILBRIDGE_MAIL_TEST_CONCURRENCY", "1"),
        ("MAILBRIDGE_MAIL_TIMEOUT_SECS", "1"),
    ])
    .await;
    let admin = app.admin().await;
    let mut d = password_draft("Slow", "127.0.0.1", trap.port, trap.port);
    d.smtp_encryption = "none".into();
    let server = app.create_server(&admin, d).await;
    let one = app
        .ok(new_account(server, "a@example.test", "", "pw"), &admin)
        .await;
    let two = app
        .ok(new_account(server, "b@example.test", "", "pw"), &admin)
        .await;
    let call = |id| {
        app.call(
            mail_test::TestMailAccount {
                id,
                protocol: Protocol::Smtp,
            },
            Some(&admin),
        )
    };
    // The first caller gives up after 200 ms (a closed tab)...
    assert!(tokio::time::timeout(Duration::from_millis(200), call(one))
        .await
        .is_err());
    // ...and the only slot is free again once that test has timed out on its own.
    let r = tokio::time::timeout(Duration::from_secs(10), call(two))
        .await
        .expect("the slot came back");
    assert!(r.is_ok());
}

#[tokio::test]
async fn without_an_issuer_for_moved_endpoints_the_userinfo_decides_and_a_forgery_is_ignored() {
    // Endpoints overridden without MAILBRIDGE_GOOGLE_ISSUER / _JWKS_URL (here: empty, which reads
    // the same): ID tokens cannot be checked, so they do not count at all.
    let oidc = common::oidc::Oidc::start(&[]).await;
    let (l, tamper) = behind_tamper(
        oidc,
        &[
            ("MAILBRIDGE_GOOGLE_ISSUER", ""),
            ("MAILBRIDGE_GOOGLE_JWKS_URL", ""),
        ],
    )
    .await;
    let (_, mallory) = l.app.person("mallory@example.test", Role::User).await;
    let squat = l
        .app
        .ok(new_account(l.server, "boss@example.test", "", ""), &mallory)
        .await;
    tamper.set(Tamper::SwapEmail("boss@example.test".into()));
    let outcome = l
        .authorize_as(&mallory, squat, Some("mallory@example.test"))
        .await;
    assert_eq!(outcome, "identity_mismatch", "the userinfo says mallory");
    assert!(l.refresh_token(squat).await.is_none());
}

#[tokio::test]
async fn tests_refused_for_the_minute_are_not_counted_as_password_guesses() {
    let app = common::spawn_with(&[("MAILBRIDGE_MAIL_TEST_PER_MINUTE", "2")]).await;
    let admin = app.admin().await;
    let mut d = password_draft("Nowhere", "127.0.0.1", 9, 9);
    d.imap_encryption = "none".into();
    let server = app.create_server(&admin, d).await;
    let account = app
        .ok(new_account(server, "a@example.test", "", "pw"), &admin)
        .await;
    let test = || mail_test::TestMailAccount {
        id: account,
        protocol: Protocol::Imap,
    };
    // Two tests run (nothing listens on port 9: not a refused password), eight more are refused
    // for the minute.
    for i in 0..10 {
        let r = app.call(test(), Some(&admin)).await;
        assert_eq!(r.is_ok(), i < 2, "test {i}: {r:?}");
    }
    // A minute later the user may test again: none of that was a password guess.
    app.advance_clock(61);
    let r = app.call(test(), Some(&admin)).await;
    assert!(r.is_ok(), "{r:?}");
}

/// A fresh instance with one mail server and one account on it, for the race tests below.
async fn one_account_on_a_server() -> (common::TestApp, i64, i64) {
    let app = common::spawn().await;
    let admin = app.admin().await;
    let (_, user) = app.person("u@example.test", Role::User).await;
    let server = app
        .create_server(&admin, password_draft("Moving", "127.0.0.1", 9, 9))
        .await;
    let account = app
        .ok(new_account(server, "u@example.test", "", "pw"), &user)
        .await;
    (app, server, account)
}

#[tokio::test]
async fn a_grant_saved_while_a_server_change_commits_is_refused() {
    // The change's transaction has moved the destination but not committed yet when a callback
    // stores its grant. Under PostgreSQL's default isolation the callback's statement would see
    // the old version and store the grant for the old destination; it must wait for the change
    // and refuse.
    let (app, server, account) = one_account_on_a_server().await;
    let st = &app.state;
    let version = app::ssr::db::mail_servers::get(&st.pool, server)
        .await
        .unwrap()
        .unwrap()
        .destination_version;
    let handover = app::ssr::service::custody::prepare_move(st, server, &["IMAP host"]).await;
    let mut tx = st.pool.begin().await.unwrap();
    let withdrawn =
        app::ssr::service::custody::withdraw_grants(&mut tx, server, &handover, 0, st.clock.now())
            .await
            .unwrap();
    assert!(withdrawn.is_empty());
    let pool = st.pool.clone();
    let now = st.clock.now();
    let save = tokio::spawn(async move {
        let mut tx = pool.begin().await.unwrap();
        let saved = app::ssr::db::mail_accounts::save_grant_at_version(
            &mut tx,
            (server, version),
            account,
            vec![1],
            vec![2],
            now + 3600,
            "x",
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        saved
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.commit().await.unwrap();
    assert!(
        !save.await.unwrap(),
        "the grant for the old destination was stored"
    );
    let (has_grant,): (app::ssr::db::Flag,) =
        sqlx::query_as("SELECT refresh_token_enc IS NOT NULL FROM mail_accounts WHERE id = $1")
            .bind(account)
            .fetch_one(&st.pool)
            .await
            .unwrap();
    assert!(!has_grant.0);
}

#[tokio::test]
async fn a_server_change_revokes_the_token_a_refresh_saved_while_it_ran() {
    // A refresh has written a rotated refresh token (R2) but not yet committed when an admin's
    // change withdraws the server's grants. The change must wait for it and hand R2 — the token
    // that is live at the provider — to be revoked, not the R1 it replaced.
    if !common::on_postgres() {
        eprintln!("PostgreSQL only: SQLite runs one writer at a time");
        return;
    }
    let (app, server, account) = one_account_on_a_server().await;
    let st = &app.state;
    sqlx::query("UPDATE mail_accounts SET refresh_token_enc = $1 WHERE id = $2")
        .bind(b"R1".to_vec())
        .bind(account)
        .execute(&st.pool)
        .await
        .unwrap();
    let mut refresh = st.pool.begin().await.unwrap();
    sqlx::query("UPDATE mail_accounts SET refresh_token_enc = $1 WHERE id = $2")
        .bind(b"R2".to_vec())
        .bind(account)
        .execute(&mut *refresh)
        .await
        .unwrap();
    let state = st.clone();
    let change = tokio::spawn(async move {
        let handover =
            app::ssr::service::custody::prepare_move(&state, server, &["IMAP host"]).await;
        let mut tx = state.pool.begin().await.unwrap();
        let grants = app::ssr::service::custody::withdraw_grants(
            &mut tx,
            server,
            &handover,
            1,
            state.clock.now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        grants
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    refresh.commit().await.unwrap();
    assert_eq!(change.await.unwrap(), vec![(account, b"R2".to_vec())]);
}
