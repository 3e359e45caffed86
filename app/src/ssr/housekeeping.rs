//! Purging what can no longer be used: ended sessions, expired authorisation states and
//! lock-out rows older than every window. Run on a schedule so the tables do not grow with
//! traffic (and a stolen, expired session token matches no row at all).

use std::time::Duration;

use super::{db, AppState};

/// What one purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub oauth_states: u64,
    pub sign_in_failures: u64,
    pub rate_events: u64,
    /// Webhook events older than [`EVENT_RETENTION_SECS`] with no delivery pending.
    pub webhook_events: u64,
    /// Audit entries and daily refresh counts past `MAILBRIDGE_AUDIT_RETENTION_DAYS`.
    pub audit: u64,
    /// Notices sent, dropped or given up more than 30 days ago.
    pub notices: u64,
}

/// Events (and their deliveries' record) are kept 30 days for the webhooks' pages.
pub const EVENT_RETENTION_SECS: i64 = 30 * 86_400;

pub async fn purge(st: &AppState) -> Result<Purged, db::QueryError> {
    let t = st.clock.now();
    let s = &st.settings;
    let sessions =
        db::sessions::delete_expired(&st.pool, t - s.session_idle_secs, t - s.session_max_secs)
            .await?;
    let oauth_states = db::oauth_states::delete_expired_before(&st.pool, t).await?;
    let keep = s.login.window_secs.max(s.login.short_window_secs);
    let sign_in_failures = db::sign_in_failures::delete_before(&st.pool, t - keep).await?;
    let rate_events = st
        .mail_tests
        .forget_before(&st.pool, t)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "pruning counted events");
            0
        });
    let webhook_events = db::outbox::purge(&st.pool, t - EVENT_RETENTION_SECS).await?;
    let audit = db::audit::purge(&st.pool, t - s.audit_retention_days * 86_400).await?;
    let notices = db::notices::purge(&st.pool, t - EVENT_RETENTION_SECS).await?;
    Ok(Purged {
        sessions,
        oauth_states,
        sign_in_failures,
        rate_events,
        webhook_events,
        audit,
        notices,
    })
}

/// Purges every `every` until the returned handle is aborted (on shutdown: nothing to lose).
pub fn spawn(st: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            st.heartbeats.housekeeping.beat();
            match purge(&st).await {
                Ok(p) if p != Purged::default() => tracing::info!(
                    sessions = p.sessions,
                    oauth_states = p.oauth_states,
                    sign_in_failures = p.sign_in_failures,
                    rate_events = p.rate_events,
                    webhook_events = p.webhook_events,
                    audit = p.audit,
                    notices = p.notices,
                    "purged expired rows"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired rows"),
            }
        }
    })
}
