use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

/// Logs go to stderr; `RUST_LOG` filters them (default: info, with sqlx's per-query lines off).
pub fn init(format: &LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests start several servers in one process) is harmless.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
