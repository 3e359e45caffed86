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

/// The current time in Unix seconds, in the browser or on the server.
pub fn now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default()
    }
}
