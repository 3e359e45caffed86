//! E-mail notices: an owner is told when their mailbox needs them (needs re-authorisation, or
//! failing for longer than `MAILBRIDGE_NOTIFY_ERROR_AFTER_MINS`), admins get a daily digest.
//! They are sent from a mailbox Mailbridge itself holds (the "Notification sender" setting),
//! through that mailbox's own SMTP server with XOAUTH2 (or its password). No sender: no notice.
//!
//! A notice is queued in the `notices` table — the needs-reauth one in the transaction of the
//! change — and written when it is sent, from the account as it is then: one authorised again
//! meanwhile is dropped, not sent.

use std::time::Duration;

use crate::domain::health::Warning;
use crate::domain::{AccountStatus, AuthMethod, MailAccountView};
use crate::ssr::crypto::aad;
use crate::ssr::db::{self, notices::NoticeRow, DbResult, Tx};
use crate::ssr::mail::{Credential, Mechanism, Target};
use crate::ssr::AppState;

/// How often the worker looks for notices to queue and send.
const POLL: Duration = Duration::from_secs(5);
/// A claim's life: longer than one sending can take (four steps of the mail timeout and a
/// token refresh).
const LEASE_SECS: i64 = 300;
/// Tries before a notice is given up: 1 min, 2, 4 … up to an hour apart.
pub const MAX_ATTEMPTS: i64 = 8;

/// The sender's account id, when one is set.
pub async fn sender(db: impl db::Executor<'_>) -> DbResult<Option<i64>> {
    Ok(db::settings::get(db, db::settings::NOTIFICATION_SENDER)
        .await?
        .and_then(|v| v.parse().ok()))
}

/// Queues the owner's notice for an account that went to `needs_reauth` (in the change's
/// transaction), when a sender is set.
pub async fn queue_needs_reauth(
    tx: &mut Tx<'_>,
    account: &MailAccountView,
    now: i64,
) -> DbResult<()> {
    if sender(&mut **tx).await?.is_none() {
        return Ok(());
    }
    let key = format!("needs_reauth:{}:{now}", account.id);
    db::notices::queue(
        &mut **tx,
        "needs_reauth",
        &key,
        Some(account.id),
        &account.owner_email,
        now,
    )
    .await
    .map(|_| ())
}

pub use crate::ssr::task::Worker;

pub fn spawn(state: AppState) -> Worker {
    crate::ssr::task::spawn(move |mut stop| async move {
        loop {
            state.heartbeats.notices.beat();
            if let Err(e) = round(&state).await {
                tracing::warn!(error = %e, "notices");
            }
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

/// One round: queue what is due (errors lasting too long, today's digests), send what waits.
pub async fn round(st: &AppState) -> Result<(), db::QueryError> {
    if sender(&st.pool).await?.is_none() {
        return Ok(());
    }
    let now = st.clock.now();
    let after = st.settings.notify_error_after_mins * 60;
    for (account, owner, episode) in db::notices::errors_since(&st.pool, now - after).await? {
        let key = format!("error:{account}:{episode}");
        db::notices::queue(&st.pool, "error", &key, Some(account), &owner, now).await?;
    }
    let day = now.div_euclid(86_400);
    for admin in db::notices::admin_addresses(&st.pool).await? {
        let key = format!("digest:{admin}:{day}");
        db::notices::queue(&st.pool, "digest", &key, None, &admin, now).await?;
    }
    // A sender that cannot send (not linked, deleted) holds the notices back rather than
    // spending their attempts; the dashboard says why.
    if let Err(why) = usable_sender(st).await {
        tracing::warn!(reason = %why, "notices held back: the notification sender cannot send");
        return Ok(());
    }
    let claim = format!(
        "{}:{}",
        st.refresher.instance,
        crate::ssr::sessions::random_token()
    );
    for n in db::notices::due(&st.pool, now, 20).await? {
        // Each claim from the clock as it is now: the sends before it took their time.
        st.heartbeats.notices.beat();
        let now = st.clock.now();
        if !db::notices::claim(&st.pool, n.id, &claim, now, now + LEASE_SECS).await? {
            continue;
        }
        let (state, error) = match compose(st, &n).await {
            Ok(None) => ("dropped", None),
            Ok(Some(mail)) => match send(st, &n.recipient, &mail).await {
                Ok(()) => ("sent", None),
                Err(e) => ("retry", Some(e)),
            },
            Err(e) => ("retry", Some(e)),
        };
        let t = st.clock.now();
        let (state, next) = match state {
            "retry" if n.attempts + 1 >= MAX_ATTEMPTS => ("failed", t),
            "retry" => ("pending", t + (60i64 << n.attempts.clamp(0, 6)).min(3_600)),
            s => (s, t),
        };
        crate::ssr::metrics::notice(&n.kind, state);
        if let Some(e) = &error {
            tracing::warn!(notice_id = n.id, kind = %n.kind, error = %e, "a notice was not sent");
        } else {
            tracing::info!(notice_id = n.id, kind = %n.kind, state, "notice");
        }
        db::notices::finish(&st.pool, n.id, &claim, state, error.as_deref(), next, t).await?;
    }
    Ok(())
}

/// A notice's subject and plain-text body.
pub struct Mail {
    pub subject: String,
    pub body: String,
}

/// What the notice says now; `None` when there is nothing to say any more.
async fn compose(st: &AppState, n: &NoticeRow) -> Result<Option<Mail>, String> {
    let base = &st.settings.public_url;
    let link = |id: i64| format!("{base}/mail-accounts/{id}");
    let account = match n.account_id {
        Some(id) => db::mail_accounts::view(&st.pool, id)
            .await
            .map_err(|e| e.to_string())?,
        None => None,
    };
    let reason = |a: &MailAccountView| a.last_error.clone().unwrap_or_default();
    Ok(match (n.kind.as_str(), account) {
        ("needs_reauth", Some(a)) if a.status == AccountStatus::NeedsReauth => Some(Mail {
            subject: format!("Mailbridge: {} needs you to authorise it again", a.login),
            body: format!(
                "Hello,\n\nMailbridge can no longer use your mailbox {} on {}: the provider no longer accepts its grant.\n\nWhat the provider said: {}\n\nTo authorise it again, open this link (sign in if asked) and choose \"Authorize again\":\n{}\n\nUntil then, the programs that use this mailbox through Mailbridge cannot reach it.\n\n-- Mailbridge\n",
                a.login,
                a.server_subject,
                reason(&a),
                link(a.id)
            ),
        }),
        ("error", Some(a)) if a.status == AccountStatus::Error => Some(Mail {
            subject: format!("Mailbridge: {} has been failing to refresh", a.login),
            body: format!(
                "Hello,\n\nMailbridge has not been able to refresh the access to your mailbox {} on {} for over {} minutes. It keeps trying on its own.\n\nThe last error: {}\n\nThe mailbox's page:\n{}\n\n-- Mailbridge\n",
                a.login,
                a.server_subject,
                st.settings.notify_error_after_mins,
                reason(&a),
                link(a.id)
            ),
        }),
        // A digest still retrying after its day is replaced by the new day's.
        ("digest", None) if n.created_at.div_euclid(86_400) == st.clock.now().div_euclid(86_400) => {
            digest(st).await?
        }
        _ => None,
    })
}

/// Everything that needs attention, for admins: mailboxes needing their owners or failing,
/// and the days ahead that end grants.
async fn digest(st: &AppState) -> Result<Option<Mail>, String> {
    let base = &st.settings.public_url;
    let failing = db::dashboard::attention(&st.pool, 50)
        .await
        .map_err(|e| e.to_string())?;
    let warnings: Vec<Warning> = crate::ssr::service::health::warnings(st)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|w| w.within_days <= 30)
        .collect();
    if failing.is_empty() && warnings.is_empty() {
        return Ok(None);
    }
    let mut body = String::from("Hello,\n\nWhat needs attention in Mailbridge today:\n\n");
    if !failing.is_empty() {
        body.push_str("Mailboxes:\n");
        for (id, login, status, error) in &failing {
            body.push_str(&format!(
                "- {login} ({}): {}\n  {base}/mail-accounts/{id}\n",
                status.code(),
                error.clone().unwrap_or_default()
            ));
        }
        body.push('\n');
    }
    if !warnings.is_empty() {
        body.push_str("Coming up:\n");
        for w in &warnings {
            body.push_str(&format!("- {}\n", w.text));
        }
        body.push('\n');
    }
    body.push_str(&format!("The dashboard: {base}/\n\n-- Mailbridge\n"));
    Ok(Some(Mail {
        subject: format!(
            "Mailbridge: daily digest ({} mailbox{} need{} attention, {} warning{})",
            failing.len(),
            if failing.len() == 1 { "" } else { "es" },
            if failing.len() == 1 { "s" } else { "" },
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" },
        ),
        body,
    }))
}

/// Why the sender cannot send now, if it cannot: not set, gone, or not linked.
pub async fn usable_sender(st: &AppState) -> Result<String, String> {
    let id = sender(&st.pool)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no notification sender is set")?;
    let view = db::mail_accounts::view(&st.pool, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the notification sender's mail account was deleted")?;
    if view.status != AccountStatus::Linked {
        return Err(format!(
            "the notification sender {} is {} (authorise it again, or choose another in Settings)",
            view.login,
            view.status.code()
        ));
    }
    Ok(view.login)
}

/// Sends through the sender mailbox's own SMTP server.
async fn send(st: &AppState, to: &str, mail: &Mail) -> Result<(), String> {
    let id = sender(&st.pool)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no notification sender is set")?;
    let account = db::mail_accounts::get(&st.pool, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the notification sender's mail account was deleted")?;
    if account.status != AccountStatus::Linked {
        return Err(format!(
            "the notification sender {} is {}, not linked",
            account.login,
            account.status.code()
        ));
    }
    let server = db::mail_servers::get(&st.pool, account.mail_server_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the notification sender's mail server was deleted")?;
    let cred = if server.auth_method == AuthMethod::Password {
        let blob = account
            .password_enc
            .as_ref()
            .ok_or("the notification sender has no password stored")?;
        Credential::Password(
            st.secrets
                .open_str(blob, &aad::ACCOUNT_PASSWORD.row(id))
                .map_err(|_| "the notification sender's password does not open".to_string())?,
        )
    } else {
        Credential::Bearer(
            crate::ssr::refresh::ensure_fresh(st, id, 120)
                .await
                .map_err(|e| format!("no token for the notification sender: {e}"))?,
        )
    };
    let target = Target {
        host: server.smtp_host.clone(),
        port: server.smtp_port as u16,
        encryption: server.smtp_encryption,
        validate_certificate: server.validate_certificate,
        login: account.login.clone(),
        mechanism: Mechanism::Auto,
    };
    let message = message(&account.login, to, mail)?;
    crate::ssr::mail::smtp::send(
        &target,
        &cred,
        &st.mail.extra_ca,
        &st.outbound.policy,
        Duration::from_secs(st.mail.timeout_secs),
        &message,
    )
    .await
}

fn message(from: &str, to: &str, mail: &Mail) -> Result<lettre::Message, String> {
    use lettre::message::{header::ContentType, Mailbox};
    let from: Mailbox = format!("Mailbridge <{from}>")
        .parse()
        .map_err(|e| format!("the sender address {from}: {e}"))?;
    let to: Mailbox = to
        .parse()
        .map_err(|e| format!("the recipient address {to}: {e}"))?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|e| format!("the message: {e}"))
}
