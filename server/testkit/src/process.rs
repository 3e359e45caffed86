//! The built `mailbridge` binary as a process of its own, so that a test can really kill it
//! (`kill -9`) or stop it (SIGTERM) mid-work. Its output goes to `server-{run}.log` in `dir`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stop {
    Kill9,
    Term,
}

pub struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    /// Starts `bin serve` on `db` with a fast refresh task (a pass every second, accounts due
    /// 60 s ahead, 8 at a time, leases of 10 s) plus `extra` settings.
    pub fn start(
        bin: &str,
        dir: &Path,
        db: &str,
        run: usize,
        extra: &[(&str, &str)],
    ) -> ServerProcess {
        let port = crate::oidc::free_port();
        std::fs::create_dir_all(dir.join("site")).expect("site dir");
        let log = std::fs::File::create(dir.join(format!("server-{run}.log"))).expect("log");
        let err = log.try_clone().expect("log");
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_SITE_ROOT", dir.join("site"))
            .env("MAILBRIDGE_DATABASE_URL", db)
            .env("MAILBRIDGE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")
            .env("MAILBRIDGE_REFRESH_INTERVAL_SECS", "1")
            .env("MAILBRIDGE_REFRESH_BEFORE_SECS", "60")
            .env("MAILBRIDGE_REFRESH_CONCURRENCY", "8")
            // A killed instance's leases hold its accounts this long before another instance
            // (or the restart) may take them over.
            .env("MAILBRIDGE_REFRESH_LEASE_SECS", "10")
            .env("RUST_LOG", "warn");
        if !db.starts_with("sqlite:") {
            cmd.env(
                "MAILBRIDGE_SECRET_KEY_FILE",
                crate::postgres::key_file_for(db),
            );
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("the server binary");
        ServerProcess { child }
    }

    pub fn stop(&mut self, how: Stop) {
        match how {
            // SIGKILL: no shutdown hook, no flush, nothing.
            Stop::Kill9 => self.child.kill().expect("kill -9"),
            Stop::Term => {
                let sent = Command::new("kill")
                    .args(["-TERM", &self.child.id().to_string()])
                    .status()
                    .expect("kill -TERM");
                assert!(sent.success());
            }
        }
        let status = self.child.wait().expect("reaped");
        if how == Stop::Term {
            assert!(status.success(), "a graceful stop exits 0, got {status}");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Accounts whose access token was renewed after `t0` (a refresh moves the expiry an hour on;
/// the tests make tokens due by moving it to now).
pub async fn refreshed_since(pool: &sqlx::AnyPool, t0: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_accounts WHERE status = 'linked' AND access_expires_at > $1 + 60",
    )
    .bind(t0)
    .fetch_one(pool)
    .await
    .expect("count")
}
