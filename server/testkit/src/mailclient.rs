//! Python's own smtplib and imaplib (`server/tests/support/mailclient.py`): the programs that
//! only know a user name and a password, as the gateway tests and benchmark drive them.

use std::path::PathBuf;

/// The script's path.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/support/mailclient.py")
}

/// Runs one action of the script and returns its JSON answer (a panic with its output when
/// the answer is not JSON).
pub async fn run(args: &[&str]) -> serde_json::Value {
    let out = tokio::process::Command::new("python3")
        .arg(script())
        .args(args)
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "mailclient.py {args:?}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
