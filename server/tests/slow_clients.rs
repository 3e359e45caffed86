//! Clients that hold connections open by sending slowly are cut off, and the number of
//! connections served at once is capped.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn addr(app: &common::TestApp) -> String {
    app.url.trim_start_matches("http://").to_string()
}

/// Sends `head` a byte every 200 ms until the server closes the connection; returns how long
/// that took (or panics after `give_up`).
fn trickle(addr: &str, head: &[u8], give_up: Duration) -> (Duration, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut answer = vec![];
    for byte in head.iter().cycle() {
        assert!(
            started.elapsed() < give_up,
            "still connected after {give_up:?}"
        );
        if s.write_all(&[*byte]).is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off() {
    let app = common::spawn_with(&[("MAILBRIDGE_HEADER_TIMEOUT_SECS", "2")]).await;
    let addr = addr(&app);
    let (took, _) = tokio::task::spawn_blocking(move || {
        trickle(
            &addr,
            b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa",
            Duration::from_secs(15),
        )
    })
    .await
    .unwrap();
    assert!(took < Duration::from_secs(5), "cut off after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_body_gets_408() {
    let app = common::spawn_with(&[("MAILBRIDGE_BODY_TIMEOUT_SECS", "2")]).await;
    let addr = addr(&app);
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nOrigin: {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n",
        app.origin()
    );
    let (took, answer) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let started = Instant::now();
        let mut answer = vec![];
        while started.elapsed() < Duration::from_secs(15) {
            let _ = s.write_all(b"e");
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(_) => {}
            }
        }
        (
            started.elapsed(),
            String::from_utf8_lossy(&answer).into_owned(),
        )
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let app = common::spawn_with(&[("MAILBRIDGE_MAX_CONNECTIONS", "2")]).await;
    let addr = addr(&app);
    // Two idle keep-alive connections take both slots...
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...so a third is not served while they stay open...
    let health = format!("{}/healthz", app.url);
    let client = common::new_client();
    let waiting = tokio::time::timeout(Duration::from_secs(1), client.get(&health).send()).await;
    assert!(
        waiting.is_err(),
        "a third connection was served beyond the cap"
    );
    // ...and is, once one of them goes.
    drop(held);
    let res = tokio::time::timeout(Duration::from_secs(5), client.get(&health).send())
        .await
        .expect("served after a slot was freed")
        .unwrap();
    assert_eq!(res.status(), 200);
}
