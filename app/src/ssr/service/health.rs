//! The dashboard's health page (admins).

use crate::domain::health::threshold;
use crate::domain::mail_server::{day_text, TESTING_GRANT_SECS};
use crate::domain::{DayOutcomes, Health, SessionUser, Warning};
use crate::error::AppError;
use crate::ssr::{db, AppState};

pub async fn health(st: &AppState, me: &SessionUser) -> Result<Health, AppError> {
    if !me.is_admin() {
        return Err(AppError::Forbidden);
    }
    let pool = &st.pool;
    let counts = super::mail_accounts::status_counts(st, me).await?;
    let today = st.clock.now().div_euclid(86_400);
    let since = today - 6;
    let refreshed = db::dashboard::refreshed_per_day(pool, since).await?;
    let failed = db::dashboard::failed_per_day(pool, since).await?;
    let outcomes = (since..=today)
        .map(|day| {
            let find = |rows: &[(i64, i64)]| rows.iter().find(|r| r.0 == day).map_or(0, |r| r.1);
            DayOutcomes {
                day,
                refreshed: find(&refreshed),
                failed: find(&failed),
            }
        })
        .collect();
    Ok(Health {
        counts,
        failing_servers: db::dashboard::failing_servers(pool).await?,
        next_expiries: db::dashboard::next_expiries(pool, 5).await?,
        last_refresh_at: db::dashboard::last_refresh_at(pool).await?,
        outcomes,
        checklist: db::dashboard::checklist(pool).await?,
        warnings: warnings(st).await?,
        notification_sender: crate::ssr::notices::usable_sender(st).await.ok(),
        notification_problem: match crate::ssr::notices::sender(pool).await? {
            Some(_) => crate::ssr::notices::usable_sender(st).await.err(),
            None => None,
        },
        gateway: db::dashboard::gateway_counts(pool, st.clock.now() - 7 * 86_400).await?,
    })
}

/// Client secrets expiring within 30 days (or expired), and the 7-day end of every grant of a
/// Google app in Testing; soonest first.
pub async fn warnings(st: &AppState) -> Result<Vec<Warning>, AppError> {
    let now = st.clock.now();
    let mut out = Vec::new();
    for (server_id, subject, at) in
        db::dashboard::expiring_secrets(&st.pool, now + 30 * 86_400).await?
    {
        let text = if at <= now {
            format!("The client secret of '{subject}' expired on {}: its mailboxes cannot refresh until a new one is saved.", day_text(at))
        } else {
            format!(
                "The client secret of '{subject}' expires on {} ({}): create a new one in the provider's console and save it here before then.",
                day_text(at),
                left_text(at - now)
            )
        };
        out.push(Warning {
            server_id,
            account_id: None,
            at,
            within_days: threshold(at - now),
            text,
        });
    }
    for (account_id, login, server_id, subject, granted) in
        db::dashboard::testing_grants(&st.pool, 50).await?
    {
        let at = granted + TESTING_GRANT_SECS;
        let text = if at <= now {
            format!("The grant of {login} on '{subject}' (a Google app in Testing) ended on {}: publish the app and authorise again.", day_text(at))
        } else {
            format!(
                "The grant of {login} on '{subject}' (a Google app in Testing) ends on {} ({}): publish the app for lasting access.",
                day_text(at),
                left_text(at - now)
            )
        };
        out.push(Warning {
            server_id,
            account_id: Some(account_id),
            at,
            within_days: threshold(at - now),
            text,
        });
    }
    out.sort_by_key(|w| (w.at, w.server_id, w.account_id));
    Ok(out)
}

/// "in 3 days", "in 5 hours".
fn left_text(secs: i64) -> String {
    if secs >= 2 * 86_400 {
        format!("in {} days", secs / 86_400)
    } else if secs >= 3_600 {
        format!("in {} hours", secs / 3_600)
    } else {
        "within the hour".to_string()
    }
}
