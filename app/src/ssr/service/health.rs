//! The dashboard's health page (admins).

use crate::domain::{DayOutcomes, Health, SessionUser};
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
    })
}
