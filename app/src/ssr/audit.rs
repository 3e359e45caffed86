//! Writing the audit trail. Who acts is known where the request comes in (a session, an API
//! key) and is carried, for the rest of that request's task, in a task-local: the services
//! below write entries without every signature growing an "actor" argument. Outside a request
//! (the refresh task, the command line) the actor is the system.

use std::cell::RefCell;

use crate::domain::ActorKind;
use crate::ssr::db::{self, audit::NewEntry, DbResult};

#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<i64>,
    /// The user's address or the key's name, as it was then.
    pub label: String,
    pub addr: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: None,
            label: "system".into(),
            addr: None,
        }
    }

    /// Someone not signed in yet, from `addr`.
    pub fn anonymous(addr: Option<String>) -> Self {
        Actor {
            addr,
            label: "anonymous".into(),
            ..Actor::system()
        }
    }

    pub fn user(id: i64, email: &str, addr: Option<String>) -> Self {
        Actor {
            kind: ActorKind::User,
            id: Some(id),
            label: email.to_string(),
            addr,
        }
    }

    /// A program signed in to the relay or the proxy with app password `id`, named `name`.
    pub fn app_password(id: i64, name: &str, addr: String) -> Self {
        Actor {
            kind: ActorKind::AppPassword,
            id: Some(id),
            label: name.to_string(),
            addr: Some(addr),
        }
    }

    pub fn api_key(id: i64, name: &str, addr: String) -> Self {
        Actor {
            kind: ActorKind::ApiKey,
            id: Some(id),
            label: name.to_string(),
            addr: Some(addr),
        }
    }
}

tokio::task_local! {
    static ACTOR: RefCell<Actor>;
}

/// Runs `f` with `actor` as the one entries are written for.
pub async fn acting<F: std::future::Future>(actor: Actor, f: F) -> F::Output {
    ACTOR.scope(RefCell::new(actor), f).await
}

/// The caller turned out to be this user (a session, or a sign-in that just succeeded).
pub fn as_user(id: i64, email: &str) {
    let _ = ACTOR.try_with(|a| {
        let mut a = a.borrow_mut();
        a.kind = ActorKind::User;
        a.id = Some(id);
        a.label = email.to_string();
    });
}

/// The caller signed in to the relay or the proxy with app password `id`, named `name`.
pub fn as_app_password(id: i64, name: &str) {
    let _ = ACTOR.try_with(|a| {
        let mut a = a.borrow_mut();
        a.kind = ActorKind::AppPassword;
        a.id = Some(id);
        a.label = name.to_string();
    });
}

pub fn current() -> Actor {
    ACTOR
        .try_with(|a| a.borrow().clone())
        .unwrap_or_else(|_| Actor::system())
}

/// Writes `entry` for the current actor, now.
pub async fn record(db: impl db::Executor<'_>, entry: NewEntry, now: i64) -> DbResult<()> {
    let actor = current();
    db::audit::insert(
        db,
        &entry,
        actor.kind.code(),
        actor.id,
        &actor.label,
        actor.addr.as_deref(),
        now,
    )
    .await
}

/// The same, where a failure to write must not undo what happened (a sign-in): logged.
pub async fn record_or_log(db: impl db::Executor<'_>, entry: NewEntry, now: i64) {
    let kind = entry.kind;
    if let Err(e) = record(db, entry, now).await {
        tracing::error!(error = %e, kind, "an audit entry was not written");
    }
}

/// "Name 'Ann' → 'Anna'; Role user → admin": the fields whose value changed, `(label, before,
/// after)`; a secret's label is passed with empty values and shown as "changed" only.
pub fn changes(fields: &[(&str, String, String)]) -> String {
    fields
        .iter()
        .filter(|(_, before, after)| before != after)
        .map(|(label, before, after)| format!("{label} '{before}' → '{after}'"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Writes an entry about something an admin did, after it was done: a failure to write is
/// logged rather than undoing the change.
pub async fn admin_did(
    pool: &db::Pool,
    kind: &'static str,
    summary: String,
    ids: (Option<i64>, Option<i64>),
    now: i64,
) {
    let entry = NewEntry {
        kind,
        server_id: ids.0,
        user_id: ids.1,
        summary,
        ..Default::default()
    };
    record_or_log(pool, entry, now).await;
}

#[cfg(test)]
mod tests {
    use super::changes;

    #[test]
    fn only_changed_fields_are_listed() {
        let c = changes(&[
            ("Name", "Ann".into(), "Anna".into()),
            ("Role", "user".into(), "user".into()),
            ("Active", "yes".into(), "no".into()),
        ]);
        assert_eq!(c, "Name 'Ann' → 'Anna'; Active 'yes' → 'no'");
    }
}
