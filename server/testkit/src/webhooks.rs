//! A webhook receiver, as a CRM or helpdesk would run one: it records every request, checks
//! its Standard Webhooks signature with its own HMAC (not Mailbridge's code), and answers as
//! told — 200, another status, a redirect, or nothing at all (a hung receiver).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status(u16),
    /// 307 to this URL.
    Redirect(String),
    /// Reads the request, never answers.
    Hang,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// The status answered; `None` for a request left hanging.
    pub answered: Option<u16>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    /// Whether one of the `v1,` signatures is the HMAC-SHA256 of `id.timestamp.body` under
    /// `secret` (`whsec_` + base64 key), compared in constant time.
    pub fn verified_with(&self, secret: &str) -> bool {
        let Some(key) = secret
            .strip_prefix("whsec_")
            .and_then(|k| STANDARD.decode(k).ok())
        else {
            return false;
        };
        let signed = format!("{}.{}.{}", self.id, self.timestamp, self.body);
        self.signature.split(' ').any(|candidate| {
            let Some(sig) = candidate
                .strip_prefix("v1,")
                .and_then(|s| STANDARD.decode(s).ok())
            else {
                return false;
            };
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
            mac.update(signed.as_bytes());
            mac.verify_slice(&sig).is_ok()
        })
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
        type Shared = (Arc<Mutex<Mode>>, Arc<Mutex<Vec<Received>>>);
        async fn hook(
            State((mode, log)): State<Shared>,
            headers: HeaderMap,
            body: Bytes,
        ) -> axum::response::Response {
            use axum::response::IntoResponse;
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let mode = mode.lock().expect("mode").clone();
            let answered = match &mode {
                Mode::Ok => Some(200),
                Mode::Status(s) => Some(*s),
                Mode::Redirect(_) => Some(307),
                Mode::Hang => None,
            };
            log.lock().expect("log").push(Received {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
                body: String::from_utf8_lossy(&body).into_owned(),
                answered,
                at: Instant::now(),
            });
            match mode {
                Mode::Hang => std::future::pending().await,
                Mode::Redirect(to) => (
                    axum::http::StatusCode::TEMPORARY_REDIRECT,
                    [(axum::http::header::LOCATION, to)],
                )
                    .into_response(),
                Mode::Ok => "ok".into_response(),
                Mode::Status(s) => axum::http::StatusCode::from_u16(s)
                    .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
                    .into_response(),
            }
        }
        let mode = Arc::new(Mutex::new(Mode::Ok));
        let log = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new()
            .route("/hook", post(hook))
            .with_state((mode.clone(), log.clone()));
        let addr = crate::serve_on_loopback(router).await;
        Receiver {
            url: format!("http://{addr}/hook"),
            mode,
            log,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").clone()
    }

    /// The requests answered with a 2xx: the events the receiver took.
    pub fn taken(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
            .collect()
    }

    /// Waits until `n` requests arrived (answered or not), for at most `within`.
    pub async fn wait_received(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {n} requests in {within:?}: {:?}",
                got.len(),
                got.iter().map(Received::kind).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `n` events were taken, for at most `within`.
    pub async fn wait_taken(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.taken();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver took {} of {n} events in {within:?}: {:?}",
                got.len(),
                got.iter().map(Received::kind).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
