//! Account events: written, in the transaction of the change they report ([`Change`],
//! [`emit`]), to the audit trail and to the outbox for webhooks; delivered by the worker
//! ([`worker`]) signed the Standard Webhooks way ([`signature`]).

pub mod signature;
pub mod worker;

use serde_json::{json, Value};

use crate::domain::{AccountStatus, EventKind, MailAccountView};
use crate::ssr::db::{self, audit::NewEntry, Context, DbResult, Tx};

/// The delivery worker's settings and its doorbell.
#[derive(Debug)]
pub struct Hub {
    /// Deliveries in flight at once per instance (`MAILBRIDGE_WEBHOOK_CONCURRENCY`).
    pub concurrency: usize,
    /// Rung after a commit that queued deliveries, so they go now rather than at the next poll.
    pub doorbell: tokio::sync::Notify,
}

impl Hub {
    pub fn new(concurrency: usize) -> Self {
        Hub {
            concurrency: concurrency.max(1),
            doorbell: tokio::sync::Notify::new(),
        }
    }

    pub fn wake(&self) {
        self.doorbell.notify_one();
    }
}

/// A change to the database and the events it causes, committed together: either the change
/// and its events are stored, or neither.
pub struct Change {
    tx: Tx<'static>,
    queued: bool,
}

impl Change {
    pub async fn begin(pool: &db::Pool) -> DbResult<Change> {
        let tx = db::begin_write(pool).await.context("starting a change")?;
        Ok(Change { tx, queued: false })
    }

    /// The transaction, for the change's own statements.
    pub fn tx(&mut self) -> &mut Tx<'static> {
        &mut self.tx
    }

    pub async fn emit(
        &mut self,
        kind: EventKind,
        account_id: i64,
        extra: Option<(&str, Value)>,
        now: i64,
    ) -> DbResult<()> {
        if emit(&mut self.tx, kind, account_id, extra, now).await? {
            self.queued = true;
        }
        Ok(())
    }

    /// Commits, and rings the worker when something was queued.
    pub async fn commit(self, hub: &Hub) -> DbResult<()> {
        self.tx.commit().await.context("committing a change")?;
        if self.queued {
            hub.wake();
        }
        Ok(())
    }
}

/// Records `kind` about `account_id` (as the account is now, inside `tx`): an entry in the
/// audit trail, and in the outbox a delivery for every active webhook that wants it. Nothing
/// is written when the account's state no longer matches the event (a disabled account that a
/// refresh left disabled is not "recovered"). `true` when deliveries were queued.
pub async fn emit(
    tx: &mut Tx<'_>,
    kind: EventKind,
    account_id: i64,
    extra: Option<(&str, Value)>,
    now: i64,
) -> DbResult<bool> {
    let Some(account) = db::mail_accounts::view(&mut **tx, account_id).await? else {
        return Ok(false);
    };
    let expected = match kind {
        EventKind::Linked | EventKind::Recovered => Some(AccountStatus::Linked),
        EventKind::NeedsReauth => Some(AccountStatus::NeedsReauth),
        EventKind::Error => Some(AccountStatus::Error),
        _ => None,
    };
    if expected.is_some_and(|s| s != account.status) {
        return Ok(false);
    }
    let entry = NewEntry {
        kind: kind.code(),
        account_id: Some(account_id),
        server_id: Some(account.mail_server_id),
        user_id: Some(account.owner_id),
        summary: summary(kind, &account, extra.as_ref().map(|(_, v)| v)),
    };
    crate::ssr::audit::record(&mut **tx, entry, now).await?;
    if kind == EventKind::NeedsReauth {
        crate::ssr::notices::queue_needs_reauth(tx, &account, now).await?;
    }
    if !db::webhooks::any_wants(&mut **tx, kind).await? {
        return Ok(false);
    }
    let mut data = account_data(&account);
    if let (Some((key, value)), Value::Object(map)) = (extra, &mut data) {
        map.insert(key.to_string(), value);
    }
    let message_id = new_message_id();
    let body = envelope(kind, now, data);
    let n = db::outbox::record(tx, kind, Some(account_id), &message_id, &body, None, now).await?;
    Ok(n > 0)
}

/// The audit trail's words for an account event: the mailbox, what happened, and why.
fn summary(kind: EventKind, a: &MailAccountView, extra: Option<&Value>) -> String {
    let what = match kind {
        EventKind::Linked => "linked".to_string(),
        EventKind::Unlinked => "unlinked (tokens deleted)".to_string(),
        EventKind::NeedsReauth => "needs re-authorisation".to_string(),
        EventKind::Error => "refreshing failed".to_string(),
        EventKind::Recovered => "refreshing works again".to_string(),
        EventKind::TestPassed | EventKind::TestFailed => {
            let protocol = extra
                .and_then(|t| t["protocol"].as_str())
                .unwrap_or("")
                .to_uppercase();
            let outcome = if kind == EventKind::TestPassed {
                "passed"
            } else {
                "failed"
            };
            format!("{protocol} test {outcome}")
        }
        EventKind::Deleted => "deleted".to_string(),
        EventKind::Ping => "test event".to_string(),
    };
    let why = match kind {
        EventKind::NeedsReauth | EventKind::Error => a.last_error.clone(),
        EventKind::TestFailed => extra.and_then(|t| t["message"].as_str().map(str::to_string)),
        _ => None,
    };
    let mut s = format!("{} on {}: {what}", a.login, a.server_subject);
    if let Some(why) = why.filter(|w| !w.is_empty()) {
        s.push_str(" — ");
        s.push_str(&why.chars().take(300).collect::<String>());
    }
    s
}

/// The same event for several accounts (a server change sends every account on it to
/// `needs_reauth`).
pub async fn emit_each(
    tx: &mut Tx<'_>,
    kind: EventKind,
    account_ids: impl IntoIterator<Item = i64>,
    now: i64,
) -> DbResult<bool> {
    let mut queued = false;
    for id in account_ids {
        queued |= emit(tx, kind, id, None, now).await?;
    }
    Ok(queued)
}

/// "Send test event": one event for one webhook, about no account.
pub async fn ping(tx: &mut Tx<'_>, webhook_id: i64, now: i64) -> DbResult<bool> {
    let data = json!({
        "webhook_id": webhook_id,
        "message": "A test event sent from Mailbridge's Webhooks page.",
    });
    let body = envelope(EventKind::Ping, now, data);
    let n = db::outbox::record(
        tx,
        EventKind::Ping,
        None,
        &new_message_id(),
        &body,
        Some(webhook_id),
        now,
    )
    .await?;
    Ok(n > 0)
}

/// A message id, the same on every attempt, so that a receiver can drop a repeat.
fn new_message_id() -> String {
    format!("msg_{}", crate::ssr::sessions::random_token())
}

/// `{"type", "timestamp", "data"}`.
fn envelope(kind: EventKind, at: i64, data: Value) -> String {
    json!({
        "type": kind.code(),
        "timestamp": rfc3339(at),
        "data": data,
    })
    .to_string()
}

/// The account as the REST API shows it: never a token, a password or a secret.
fn account_data(a: &MailAccountView) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "login": a.login,
        "owner_email": a.owner_email,
        "server_id": a.mail_server_id,
        "server_subject": a.server_subject,
        "status": a.status.code(),
        "access_token_expires_at": a.access_expires_at.map(rfc3339),
        "last_error": a.last_error,
        "last_successful_login_at": a.last_login_at.map(rfc3339),
    })
}

fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
