//! `scripts/bench.sh` (last part): the SMTP relay and the IMAP proxy against the peers kit,
//! each beside the same client going straight to the kit's server with XOAUTH2.
//!
//! 1. Messages per second: Python's smtplib, `BENCH_RELAY_MESSAGES` (400) messages of 2 KB
//!    on `BENCH_RELAY_CONCURRENCY` (4) connections, to Postfix (SMTPS, XOAUTH2) and through
//!    the relay (STARTTLS, app password) to the same Postfix.
//! 2. IMAP FETCH of every message of a mailbox of 1,000 (`BODY.PEEK[]`), imaplib, direct to
//!    Dovecot (IMAPS, XOAUTH2) and through the proxy; the median of 5 rounds.
//! 3. Memory per idle proxied connection: the server's resident set before and after 50
//!    connections signed in and idle (5 mailboxes × 10, Dovecot's per-user limit).
//!
//! The server runs in this process (the test kit's, release build); the clients are Python
//! processes.

use std::time::Duration;

use app::domain::Role;
use testkit::peers::{Kit, Peers};

// The same allocator as the server binary: this process is the server under test.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn py(args: &[&str]) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/mailclient.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "mailclient.py {}: {text} {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// This process's resident set, in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let peers = Peers::start(&[]);
    let ca = peers.get("PEERS_CA");
    let tls = std::path::Path::new(&ca).parent().unwrap().to_path_buf();
    let cert = tls.join("cert.pem").display().to_string();
    let key = tls.join("key.pem").display().to_string();
    let kit = Kit::start_on(
        peers,
        &[
            ("MAILBRIDGE_SMTP_RELAY_ADDR", "127.0.0.1:0"),
            ("MAILBRIDGE_IMAP_PROXY_ADDR", "127.0.0.1:0"),
            ("MAILBRIDGE_TLS_CERT_FILE", &cert),
            ("MAILBRIDGE_TLS_KEY_FILE", &key),
        ],
    )
    .await;
    let relay = kit.app.gateways.smtp.unwrap().port().to_string();
    let proxy = kit.app.gateways.imap.unwrap().port().to_string();
    let (_, owner) = kit.app.person("owner@example.test", Role::User).await;
    let mut boxes = Vec::new();
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        let login = format!("{name}@example.test");
        let id = kit.linked(&owner, &login).await;
        let pw = kit
            .app
            .ok(
                app::api::app_passwords::CreateAppPassword {
                    account_id: id,
                    name: "bench".into(),
                },
                &owner,
            )
            .await
            .password;
        let token = app::ssr::refresh::ensure_fresh(&kit.app.state, id, 1800)
            .await
            .unwrap();
        boxes.push((login, pw, token));
    }
    let (login, pw, token) = boxes[0].clone();
    let smtps = kit.peers.get("PEERS_SMTPS_PORT");
    let imaps = kit.peers.get("PEERS_IMAPS_PORT");

    let messages = env_num("BENCH_RELAY_MESSAGES", 400).to_string();
    let conc = env_num("BENCH_RELAY_CONCURRENCY", 4).to_string();
    println!("### SMTP relay and IMAP proxy (peers kit on loopback)");
    println!();
    println!("| | direct (XOAUTH2) | through Mailbridge (app password) | ratio |");
    println!("|---|---:|---:|---:|");
    let mut rates = Vec::new();
    for (port, mode, secret, auth) in [
        (&smtps, "ssl", &token, "xoauth2"),
        (&relay, "starttls", &pw, "plain"),
    ] {
        let r = py(&[
            "smtp-bench", "127.0.0.1", port, mode, &ca, &login, secret, auth, &messages, &conc,
        ])
        .await;
        assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
        rates.push(r["messages"].as_f64().unwrap() / r["secs"].as_f64().unwrap());
    }
    println!(
        "| messages/s, {messages} × 2 KB on {conc} connections (smtplib) | {:.0} | {:.0} | {:.2} |",
        rates[0],
        rates[1],
        rates[1] / rates[0]
    );

    // Fill the mailbox to 1,000 through Postfix's open port, then wait for the deliveries.
    let inject = kit.peers.get("PEERS_RELAY_PORT");
    let have = py(&["fetch-bench", "127.0.0.1", &imaps, "ssl", &ca, &login, &token, "xoauth2", "0"]).await;
    let missing = 1000 - have["messages"].as_i64().unwrap().min(1000);
    if missing > 0 {
        let r = py(&[
            "smtp-bench", "127.0.0.1", &inject, "plain", &ca, &login, "", "none",
            &missing.to_string(), "1",
        ])
        .await;
        assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let have = py(&["fetch-bench", "127.0.0.1", &imaps, "ssl", &ca, &login, &token, "xoauth2", "0"]).await;
        if have["messages"].as_i64().unwrap() >= 1000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries: {have}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut medians = Vec::new();
    let mut count = 0;
    for (port, mode, secret, auth) in [
        (&imaps, "ssl", &token, "xoauth2"),
        (&proxy, "starttls", &pw, "plain"),
    ] {
        let r = py(&["fetch-bench", "127.0.0.1", port, mode, &ca, &login, secret, auth, "5"]).await;
        let mut secs: Vec<f64> = r["secs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        secs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        medians.push(secs[secs.len() / 2]);
        count = r["messages"].as_i64().unwrap();
    }
    println!(
        "| IMAP FETCH of {count} messages (BODY.PEEK[]), median of 5 (imaplib) | {:.0} ms | {:.0} ms | {:.2} (speed) |",
        medians[0] * 1000.0,
        medians[1] * 1000.0,
        medians[0] / medians[1]
    );

    // Idle connections: held by Python processes until their stdin closes.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mb();
    let mut holders = Vec::new();
    for (login, pw, _) in &boxes {
        let mut child = tokio::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/mailclient.py"))
            .args(["hold", "127.0.0.1", &proxy, "starttls", &ca, login, pw, "plain", "10"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut first = Vec::new();
        use tokio::io::AsyncReadExt;
        let mut byte = [0u8; 1];
        while out.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
            first.push(byte[0]);
        }
        assert!(String::from_utf8_lossy(&first).contains("\"held\": 10"), "{}", String::from_utf8_lossy(&first));
        holders.push(child);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mb();
    let held = holders.len() * 10;
    println!(
        "| memory per idle proxied connection ({held} signed in, server resident set {before:.1} → {after:.1} MB) | | {:.0} KB | |",
        (after - before) * 1024.0 / held as f64
    );
    for mut h in holders {
        drop(h.stdin.take());
        let _ = h.wait().await;
    }
}
