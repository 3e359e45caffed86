//! Timestamps are Unix seconds everywhere; this is how people see them.

use time::{macros::format_description, OffsetDateTime};

pub fn format_utc(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "—".to_string())
}

pub fn format_opt(ts: Option<i64>) -> String {
    ts.map(format_utc).unwrap_or_else(|| "never".to_string())
}
