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

/// The same allocator as the server binary (this process is the server under test), counting
/// the bytes allocated and not yet freed: what an idle connection holds, to the byte, where
/// the resident set moves by whole pages and with the allocator's own timing.
struct Counting;

static LIVE: std::sync::atomic::AtomicIsize = std::sync::atomic::AtomicIsize::new(0);

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, std::sync::atomic::Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(
            new as isize - layout.size() as isize,
            std::sync::atomic::Ordering::Relaxed,
        );
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes allocated and not freed, in KB.
fn live_kb() -> f64 {
    LIVE.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn py(args: &[&str]) -> serde_json::Value {
    testkit::mailclient::run(args).await
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
    // Alternated, twice each: the machine's speed drifts from minute to minute.
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..2 {
        for (i, (port, mode, secret, auth)) in [
            (&smtps, "ssl", &token, "xoauth2"),
            (&relay, "starttls", &pw, "plain"),
        ]
        .into_iter()
        .enumerate()
        {
            let r = py(&[
                "smtp-bench",
                "127.0.0.1",
                port,
                mode,
                &ca,
                &login,
                secret,
                auth,
                &messages,
                &conc,
            ])
            .await;
            assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
            rates[i].push(r["messages"].as_f64().unwrap() / r["secs"].as_f64().unwrap());
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let runs = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| messages/s, {messages} × 2 KB on {conc} connections (smtplib), mean of 2 runs | {:.0} ({}) | {:.0} ({}) | {:.2} |",
        mean(&rates[0]),
        runs(&rates[0]),
        mean(&rates[1]),
        runs(&rates[1]),
        mean(&rates[1]) / mean(&rates[0])
    );

    // Another mailbox, which the messages above did not go to, filled to 1,000 through
    // Postfix's open port.
    let (login, pw, token) = boxes[1].clone();
    let inject = kit.peers.get("PEERS_RELAY_PORT");
    let have = py(&[
        "fetch-bench",
        "127.0.0.1",
        &imaps,
        "ssl",
        &ca,
        &login,
        &token,
        "xoauth2",
        "0",
    ])
    .await;
    let missing = 1000 - have["messages"].as_i64().unwrap();
    if missing > 0 {
        let r = py(&[
            "smtp-bench",
            "127.0.0.1",
            &inject,
            "plain",
            &ca,
            &login,
            "",
            "none",
            &missing.to_string(),
            "1",
        ])
        .await;
        assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let have = py(&[
            "fetch-bench",
            "127.0.0.1",
            &imaps,
            "ssl",
            &ca,
            &login,
            &token,
            "xoauth2",
            "0",
        ])
        .await;
        if have["messages"].as_i64().unwrap() >= 1000 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries: {have}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Alternated round by round (each a fresh client whose sign-in is not timed): the
    // machine's speed drifts.
    let mut secs = [Vec::new(), Vec::new()];
    let mut count = 0;
    for _ in 0..11 {
        for (i, (port, mode, secret, auth)) in [
            (&imaps, "ssl", &token, "xoauth2"),
            (&proxy, "starttls", &pw, "plain"),
        ]
        .into_iter()
        .enumerate()
        {
            let r = py(&[
                "fetch-bench",
                "127.0.0.1",
                port,
                mode,
                &ca,
                &login,
                secret,
                auth,
                "1",
            ])
            .await;
            secs[i].push(r["secs"][0].as_f64().unwrap());
            count = r["messages"].as_i64().unwrap();
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let medians = [median(&mut secs[0]), median(&mut secs[1])];
    println!(
        "| IMAP FETCH of {count} messages (BODY.PEEK[], 2 KB each), median of 11 alternated rounds (imaplib) | {:.1} ms | {:.1} ms | {:.2} (speed) |",
        medians[0] * 1000.0,
        medians[1] * 1000.0,
        medians[0] / medians[1]
    );

    // Idle connections, held by Python processes until their stdin closes. A first round
    // warms up what is allocated once (TLS and runtime caches), so that the second measures
    // the connections.
    let (mut rss, mut heap) = ((0.0, 0.0), (0.0, 0.0));
    let mut held = 0;
    for _round in 0..2 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = (rss_mb(), live_kb());
        let mut holders = Vec::new();
        for (login, pw, _) in &boxes {
            holders.push(hold(&proxy, &ca, login, pw).await);
        }
        // Past tokio's 10 s keep-alive of idle blocking threads (where the Argon2id checks ran)
        // and the allocator's delay before it returns freed memory.
        tokio::time::sleep(Duration::from_secs(15)).await;
        let after = (rss_mb(), live_kb());
        held = holders.len() * 10;
        rss = (before.0, after.0);
        heap = (before.1, after.1);
        for mut h in holders {
            drop(h.stdin.take());
            let _ = h.wait().await;
        }
    }
    println!(
        "| memory per idle proxied connection ({held} signed in, after a warm-up round): heap allocated / resident set | | {:.0} KB / {:.0} KB (heap {:.0} → {:.0} KB, RSS {:.1} → {:.1} MB) | |",
        (heap.1 - heap.0) / held as f64,
        (rss.1 - rss.0) * 1024.0 / held as f64,
        heap.0,
        heap.1,
        rss.0,
        rss.1
    );
}

/// A Python process holding 10 proxied connections of `login`, signed in and idle.
async fn hold(proxy: &str, ca: &str, login: &str, pw: &str) -> tokio::process::Child {
    use tokio::io::AsyncReadExt;
    let mut child = tokio::process::Command::new("python3")
        .arg(testkit::mailclient::script())
        .args([
            "hold",
            "127.0.0.1",
            proxy,
            "starttls",
            ca,
            login,
            pw,
            "plain",
            "10",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).await.unwrap() == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("\"held\": 10"), "{first}");
    child
}
