//! Signs of life of the background tasks, for `/readyz`: each task beats as it goes round its
//! loop; one that has not beaten for longer than its own rhythm allows is reported dead. Wall
//! time, not the app's clock (which tests move).

use std::sync::atomic::{AtomicI64, Ordering};

/// One task's last beat, in Unix milliseconds (0: never).
#[derive(Debug, Default)]
pub struct Beat {
    last_ms: AtomicI64,
}

impl Beat {
    pub fn beat(&self) {
        self.last_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Seconds since the last beat; `None` before the first.
    pub fn seconds_ago(&self) -> Option<i64> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some((now_ms() - t).max(0) / 1000),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The tasks an instance runs.
#[derive(Debug, Default)]
pub struct Heartbeats {
    /// Beats at every pass (`MAILBRIDGE_REFRESH_INTERVAL_SECS`).
    pub refresh: Beat,
    /// Beats at least every second.
    pub webhooks: Beat,
    /// Beats every 10 minutes.
    pub housekeeping: Beat,
    /// Beats every 5 seconds.
    pub notices: Beat,
}
