//! App passwords on a mailbox's page (issue 17): made by its owner or an admin for a linked
//! OAuth mailbox only, shown once, stored as an Argon2id hash, listed and revoked — and nobody
//! else's business.

mod common;

use app::api::app_passwords::{CreateAppPassword, ListAppPasswords, RevokeAppPassword};
use app::api::mail_accounts::UnlinkMailAccount;
use app::domain::app_password::{normalize, GROUPS, GROUP_LEN};
use app::domain::Role;
use app::error::AppError;
use app::ssr::service::app_passwords::{sign_in, Gateway, Refused};
use common::linked::Linked;

const LOGIN: &str = "alice@example.test";

/// "New app password" on the mailbox's page, as the holder of `cookie`.
async fn attempt(
    l: &Linked,
    cookie: Option<&str>,
    name: &str,
) -> common::Answer<app::domain::CreatedAppPassword> {
    l.app
        .call(
            CreateAppPassword {
                account_id: l.account,
                name: name.into(),
            },
            cookie,
        )
        .await
}

/// The same by the mailbox's owner, which must succeed.
async fn owner_makes(l: &Linked, name: &str) -> app::domain::CreatedAppPassword {
    attempt(l, Some(&l.owner), name)
        .await
        .unwrap_or_else(|e| panic!("creating '{name}': {e:?}"))
}

fn localhost() -> std::net::IpAddr {
    "127.0.0.1".parse().unwrap()
}

#[tokio::test]
async fn an_owner_makes_one_it_is_shown_once_and_kept_only_as_an_argon2id_hash() {
    let l = Linked::start(&[], &[], LOGIN).await;
    let created = owner_makes(&l, " Office scanner ").await;
    assert_eq!(created.name, "Office scanner");
    // Typeable groups, 160 random bits.
    let groups: Vec<&str> = created.password.split('-').collect();
    assert_eq!(groups.len(), GROUPS);
    assert!(groups.iter().all(|g| g.len() == GROUP_LEN));
    let raw = normalize(&created.password).unwrap();
    // Five bits a character (an alphabet of 32).
    assert!(raw.len() * 5 >= 128, "{raw}");

    let listed = l
        .app
        .ok(
            ListAppPasswords {
                account_id: l.account,
            },
            &l.owner,
        )
        .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Office scanner");
    assert_eq!(listed[0].last_used_at, None);
    let listed_json = serde_json::to_string(&listed).unwrap();
    assert!(
        !listed_json.contains(&raw[4..]),
        "the list holds no password"
    );

    let (hash, hint): (String, String) =
        sqlx::query_as("SELECT hash, hint FROM app_passwords WHERE id = $1")
            .bind(created.id)
            .fetch_one(&l.app.state.pool)
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(&raw[4..]));
    assert_eq!(hint, raw[..4]);

    // The password signs the mailbox in, typed in any case and with spaces for dashes.
    let typed = created.password.to_uppercase().replace('-', " ");
    let who = sign_in(
        &l.app.state,
        "Alice@Example.test",
        &typed,
        localhost(),
        Gateway::Smtp,
    )
    .await
    .unwrap();
    assert_eq!(who.account.id, l.account);
    let listed = l
        .app
        .ok(
            ListAppPasswords {
                account_id: l.account,
            },
            &l.owner,
        )
        .await;
    assert_eq!(listed[0].last_used_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(listed[0].last_used_protocol.as_deref(), Some("SMTP"));
    assert!(listed[0].last_used_at.is_some());

    // A second password with the same name is refused, naming the field.
    let again = attempt(&l, Some(&l.owner), "office SCANNER")
        .await
        .unwrap_err();
    assert_eq!(
        common::fields(&Err::<(), _>(again.clone())),
        vec!["Name"],
        "{again:?}"
    );
    let empty = attempt(&l, Some(&l.owner), "  ").await.unwrap_err();
    assert_eq!(common::fields(&Err::<(), _>(empty)), vec!["Name"]);
}

#[tokio::test]
async fn a_stranger_can_neither_see_make_nor_revoke_another_owners_passwords() {
    let l = Linked::start(&[], &[], LOGIN).await;
    let created = owner_makes(&l, "Scanner").await;
    let (_, stranger) = l.app.person("mallory@example.test", Role::User).await;
    let made = attempt(&l, Some(&stranger), "Mine now").await;
    assert!(
        matches!(made, Err((404, AppError::NotFound(_)))),
        "{made:?}"
    );
    let listed = l
        .app
        .call(
            ListAppPasswords {
                account_id: l.account,
            },
            Some(&stranger),
        )
        .await;
    assert!(matches!(listed, Err((404, _))), "{listed:?}");
    let revoked = l
        .app
        .call(
            RevokeAppPassword {
                account_id: l.account,
                id: created.id,
            },
            Some(&stranger),
        )
        .await;
    assert!(matches!(revoked, Err((404, _))), "{revoked:?}");
    // Signed out: nothing either.
    let anon = l
        .app
        .call(
            ListAppPasswords {
                account_id: l.account,
            },
            None,
        )
        .await;
    assert!(matches!(anon, Err((401, _))), "{anon:?}");
    // Still one password, still working.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE revoked_at IS NULL")
        .fetch_one(&l.app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // An admin may act for the owner.
    l.app
        .ok(
            RevokeAppPassword {
                account_id: l.account,
                id: created.id,
            },
            &l.admin,
        )
        .await;
    let refused = sign_in(
        &l.app.state,
        LOGIN,
        &created.password,
        localhost(),
        Gateway::Imap,
    )
    .await;
    assert!(matches!(refused, Err(Refused::Wrong)), "{refused:?}");
    assert!(l
        .app
        .ok(
            ListAppPasswords {
                account_id: l.account
            },
            &l.owner
        )
        .await
        .is_empty());
}

#[tokio::test]
async fn only_a_linked_oauth_mailbox_gets_one_and_an_unlinked_one_cannot_use_its_own() {
    let l = Linked::start(&[], &[], LOGIN).await;
    let created = owner_makes(&l, "Printer").await;
    l.app
        .ok(UnlinkMailAccount { id: l.account }, &l.owner)
        .await;
    let made = attempt(&l, Some(&l.owner), "Another").await;
    assert!(
        matches!(&made, Err((_, AppError::Refused(m))) if m.contains("linked")),
        "{made:?}"
    );
    // The right password for a mailbox that is no longer linked: told why, not "wrong".
    let refused = sign_in(
        &l.app.state,
        LOGIN,
        &created.password,
        localhost(),
        Gateway::Smtp,
    )
    .await;
    assert!(
        matches!(&refused, Err(Refused::Unusable(m)) if m.contains("authorize")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn wrong_passwords_lock_the_client_out_like_the_sign_in_page() {
    let l = Linked::start(&[], &[], LOGIN).await;
    let created = owner_makes(&l, "Script").await;
    let limit = l.app.state.settings.login.per_email;
    // A password typed into the user-name field (from another client: not counted below) is
    // not written into the refusal's entry.
    let other: std::net::IpAddr = "127.0.0.9".parse().unwrap();
    let swapped = sign_in(&l.app.state, &created.password, LOGIN, other, Gateway::Imap).await;
    assert!(matches!(swapped, Err(Refused::Wrong)));
    // Wrong guesses of a well-formed password, and a guess that is not one of ours.
    let wrong = created.password.replace(&created.password[5..9], "zzzz");
    for i in 0..limit {
        let guess = if i == 0 { "hunter2" } else { wrong.as_str() };
        let r = sign_in(&l.app.state, LOGIN, guess, localhost(), Gateway::Smtp).await;
        assert!(matches!(r, Err(Refused::Wrong)), "{i}: {r:?}");
    }
    let locked = sign_in(
        &l.app.state,
        LOGIN,
        &created.password,
        localhost(),
        Gateway::Smtp,
    )
    .await;
    assert!(matches!(locked, Err(Refused::Locked { .. })), "{locked:?}");
    // Every attempt is on the audit trail, none with the password.
    let summaries: Vec<String> = sqlx::query_scalar(
        "SELECT summary FROM audit_events WHERE kind = 'app_password.login_failed'",
    )
    .fetch_all(&l.app.state.pool)
    .await
    .unwrap();
    assert_eq!(summaries.len() as i64, limit + 2);
    assert!(summaries
        .iter()
        .all(|s| !s.contains(&created.password) && !s.contains("hunter2")));
}

#[tokio::test]
async fn a_wrong_password_takes_as_long_whether_or_not_the_mailbox_exists() {
    let l = Linked::start(&[], &[], LOGIN).await;
    let created = owner_makes(&l, "Scanner").await;
    // The real password's first group (so that its hash is checked) with a wrong rest, from
    // addresses that are not locked out.
    let guess = format!(
        "{}-1111-2222-3333-4444-5555-6666-7777",
        &created.password[..4]
    );
    let guess = guess.as_str();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..3u8 {
        let addr: std::net::IpAddr = format!("127.0.1.{i}").parse().unwrap();
        let t = std::time::Instant::now();
        let r = sign_in(&l.app.state, LOGIN, guess, addr, Gateway::Smtp).await;
        known.push(t.elapsed());
        assert!(matches!(r, Err(Refused::Wrong)));
        let addr: std::net::IpAddr = format!("127.0.2.{i}").parse().unwrap();
        let t = std::time::Instant::now();
        let r = sign_in(
            &l.app.state,
            "nobody@example.test",
            guess,
            addr,
            Gateway::Smtp,
        )
        .await;
        unknown.push(t.elapsed());
        assert!(matches!(r, Err(Refused::Wrong)));
    }
    known.sort();
    unknown.sort();
    // An Argon2id check either way (milliseconds); without one the unknown mailbox would be
    // answered in well under a tenth of that.
    assert!(
        unknown[1] * 3 >= known[1],
        "unknown mailbox {unknown:?} vs known {known:?}"
    );
}
