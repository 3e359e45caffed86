//! `with-postgres COMMAND [ARGS…]`: starts a throw-away PostgreSQL cluster, runs the command
//! with `MAILBRIDGE_TEST_POSTGRES` set to the cluster's admin URL (so the test kit puts every
//! test server on a database of its own there), then stops the cluster and exits with the
//! command's status. `scripts/test.sh` runs the Rust suite a second time through it.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: with-postgres COMMAND [ARGS…]");
        return ExitCode::from(2);
    };
    let cluster = testkit::postgres::Cluster::start();
    let admin = cluster.url("postgres");
    eprintln!("with-postgres: PostgreSQL on port {}", cluster.port);
    let status = Command::new(program)
        .args(rest)
        .env(testkit::TEST_POSTGRES, &admin)
        .status();
    drop(cluster);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("with-postgres: cannot run {program}: {e}");
            ExitCode::from(1)
        }
    }
}
