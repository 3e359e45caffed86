//! What an operator's log file gets from the `mailbridge` binary: no terminal colour codes when
//! stderr is not a terminal, and one span per request naming its route, status, duration and
//! signed-in user, never an application's secret key.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn command(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailbridge"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "MAILBRIDGE_DATABASE_URL",
            format!("sqlite://{}/logs.db", dir.display()),
        );
    cmd
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path(), &["migrate"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("migrations applied"), "{err}");
    assert!(!err.contains('\u{1b}'), "escape sequences in {err:?}");
}

#[test]
fn the_command_is_called_mailbridge() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailbridge"))
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Usage: mailbridge"), "{text}");
}

#[test]
fn every_request_is_a_span_with_route_status_and_duration() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = command(dir.path(), &["serve"])
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("MAILBRIDGE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,server::telemetry=debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let get = |path: &str| {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok::<_, std::io::Error>(answer)
    };
    while get("/healthz").is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    get("/oauth/callback/k3y-that-must-not-be-logged").unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    let answered: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["fields"]["message"] == "request answered")
        .collect();
    let health = answered
        .iter()
        .find(|v| v["span"]["route"] == "/healthz")
        .unwrap_or_else(|| panic!("no request span for /healthz in {err}"));
    assert_eq!(health["span"]["method"], "GET");
    assert_eq!(health["span"]["status"], 200);
    assert!(health["span"]["millis"].is_u64(), "{health}");
    assert!(
        answered
            .iter()
            .any(|v| v["span"]["route"] == "/oauth/callback/{key}"),
        "{err}"
    );
    assert!(!err.contains("k3y-that-must-not-be-logged"), "{err}");
}
