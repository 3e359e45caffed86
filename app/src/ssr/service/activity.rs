//! The audit trail read back: the Activity page (admins), its CSV export, and a mail
//! account's timeline (its owner and admins).

use crate::domain::{AccountTimeline, ActivityQuery, ActivityView, Page, SessionUser};
use crate::error::AppError;
use crate::ssr::{db, AppState};

use super::mail_accounts::visible;

/// Rows a CSV export holds at most (narrow the filter for more).
pub const EXPORT_CAP: i64 = 100_000;

pub async fn page(
    st: &AppState,
    q: &ActivityQuery,
    page: i64,
) -> Result<Page<ActivityView>, AppError> {
    let filter = q.parse().map_err(AppError::fields)?;
    let page = crate::domain::paging::clamp_page(page);
    let rows = db::audit::page(&st.pool, &filter, page).await?;
    let (rows, total) = match db::split_counted(rows) {
        Some(split) => split,
        None if page > 0 => (Vec::new(), db::audit::count(&st.pool, &filter).await?),
        None => (Vec::new(), 0),
    };
    Ok(Page { rows, total, page })
}

/// The filtered trail as CSV (RFC 4180: every field quoted, quotes doubled), newest first.
pub async fn csv(st: &AppState, q: &ActivityQuery) -> Result<String, AppError> {
    let filter = q.parse().map_err(AppError::fields)?;
    let rows = db::audit::all(&st.pool, &filter, EXPORT_CAP).await?;
    let mut out = String::from(
        "time,actor_kind,actor,kind,account_id,server_id,user_id,client_address,summary\r\n",
    );
    for r in rows {
        let at = time::OffsetDateTime::from_unix_timestamp(r.at)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let id = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        let fields = [
            at,
            r.actor_kind,
            r.actor_label,
            r.kind,
            id(r.account_id),
            id(r.server_id),
            id(r.user_id),
            r.client_addr.unwrap_or_default(),
            r.summary,
        ];
        let line: Vec<String> = fields.iter().map(|f| quoted(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok(out)
}

/// A CSV field, quoted; a leading `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'` so that a
/// spreadsheet opening the file does not run it as a formula (an address or a provider's
/// message is not ours to trust).
fn quoted(field: &str) -> String {
    let guarded = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

/// The account's latest 50 entries and its refreshes per day over the last week.
pub async fn timeline(
    st: &AppState,
    me: &SessionUser,
    id: i64,
) -> Result<AccountTimeline, AppError> {
    let account = visible(st, me, id).await?;
    // Since the account was created: SQLite may give a deleted account's id to a new one, and
    // the old one's entries are not the new owner's business.
    let filter = crate::domain::ActivityFilter {
        account_id: Some(id),
        from: Some(account.created_at),
        ..Default::default()
    };
    let mut entries = db::split_counted(db::audit::page(&st.pool, &filter, 0).await?)
        .map(|(rows, _)| rows)
        .unwrap_or_default();
    if !me.is_admin() {
        // Who else acted, and from where, is for admins.
        for e in &mut entries {
            e.client_addr = None;
        }
    }
    let today = st.clock.now().div_euclid(86_400);
    let since = (today - 6).max(account.created_at.div_euclid(86_400));
    let refreshes = db::audit::refreshes_per_day(&st.pool, id, since).await?;
    Ok(AccountTimeline { entries, refreshes })
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(quoted("a \"b\", c"), "\"a \"\"b\"\", c\"");
        assert_eq!(quoted("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(quoted("plain"), "\"plain\"");
    }
}
