//! The delivery worker: claims due deliveries with a lease (so that of several instances one
//! sends each), sends at most [`Hub::concurrency`](super::Hub) at once, and records every
//! attempt: delivered on a 2xx, else retried with exponential backoff until it is given up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::DeliveryState;
use crate::ssr::crypto::aad;
use crate::ssr::db::{self, outbox::Attempt};
use crate::ssr::AppState;

/// A receiver gets this long to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim holds a delivery: longer than an attempt can take, short enough that a
/// killed instance's deliveries are picked up again soon.
const LEASE_SECS: i64 = TIMEOUT.as_secs() as i64 + 5;
/// Without a doorbell (another instance queued it), a due delivery waits at most this long.
const POLL: Duration = Duration::from_secs(1);
/// The first retry waits this long; each next one twice as long.
pub const FIRST_DELAY_SECS: i64 = 30;
/// Retries stop this long after the first attempt: the last one is made then.
pub const RETRY_WINDOW_SECS: i64 = 24 * 3600;
/// Doubling delays that fit the window (30 s … 8.5 h, 17 h in all), then one more at its end.
const DOUBLINGS: i64 = 11;
/// The first attempt, eleven doubling retries and the one at 24 h; then `failed`.
pub const MAX_ATTEMPTS: i64 = DOUBLINGS + 2;

/// The wait before attempt `attempts + 1`, after `attempts` failed ones: 30 s, 1 min, 2 min …
/// doubling, and last whatever is left of the 24 hours.
pub fn retry_delay(attempts: i64) -> i64 {
    let n = attempts.clamp(1, DOUBLINGS + 1);
    if n <= DOUBLINGS {
        FIRST_DELAY_SECS << (n - 1)
    } else {
        RETRY_WINDOW_SECS - FIRST_DELAY_SECS * ((1 << DOUBLINGS) - 1)
    }
}

pub use crate::ssr::task::Worker;

/// The delivery loop; [`Worker::stop`] takes no new delivery and waits for those in flight
/// (each ends within [`TIMEOUT`]).
pub fn spawn(state: AppState) -> Worker {
    crate::ssr::task::spawn(move |mut stop| async move {
        let slots = Arc::new(tokio::sync::Semaphore::new(state.webhooks.concurrency));
        let mut in_flight = tokio::task::JoinSet::new();
        loop {
            state.heartbeats.webhooks.beat();
            if let Err(e) = start_due(&state, &slots, &mut in_flight).await {
                tracing::warn!(error = %e, "looking for due webhook deliveries");
            }
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = state.webhooks.doorbell.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        while in_flight.join_next().await.is_some() {}
    })
}

/// Claims and starts as many due deliveries as there are free slots.
async fn start_due(
    state: &AppState,
    slots: &Arc<tokio::sync::Semaphore>,
    in_flight: &mut tokio::task::JoinSet<()>,
) -> Result<(), db::QueryError> {
    let free = slots.available_permits();
    if free == 0 {
        return Ok(());
    }
    let now = state.clock.now();
    for id in db::outbox::due(&state.pool, now, free as i64).await? {
        // A token of this one claim: should this attempt outlive its lease and the delivery be
        // claimed again (even here), only the newer claim's outcome is recorded.
        let claim = format!(
            "{}:{}",
            state.refresher.instance,
            crate::ssr::sessions::random_token()
        );
        if !db::outbox::claim(&state.pool, id, &claim, now, now + LEASE_SECS).await? {
            continue; // another claim took it, or it may not go yet
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            db::outbox::release(&state.pool, id, &claim).await?;
            break;
        };
        let state = state.clone();
        in_flight.spawn(async move {
            if let Err(e) = deliver(&state, id, &claim).await {
                tracing::warn!(error = %e, delivery_id = id, "recording a webhook delivery");
            }
            drop(slot);
        });
    }
    Ok(())
}

/// One attempt at a claimed delivery, and its record.
async fn deliver(state: &AppState, id: i64, claim: &str) -> Result<(), db::QueryError> {
    let Some(out) = db::outbox::outgoing(&state.pool, id).await? else {
        return Ok(()); // its webhook was deleted meanwhile
    };
    let Some(target) = db::webhooks::target(&state.pool, out.webhook_id).await? else {
        return Ok(());
    };
    let started = Instant::now();
    let sent_at = state.clock.now();
    let result = send(state, &target, &out, sent_at).await;
    let duration_ms = started.elapsed().as_millis() as i64;
    let attempts = out.attempts + 1;
    let (code, error) = match result {
        Ok(code) if (200..300).contains(&code) => (Some(code as i64), None),
        Ok(code) if (300..400).contains(&code) => (
            Some(code as i64),
            Some(format!(
                "the receiver answered {code} (a redirect; webhooks do not follow redirects)"
            )),
        ),
        Ok(code) => (
            Some(code as i64),
            Some(format!("the receiver answered {code}")),
        ),
        Err(message) => (None, Some(message)),
    };
    let attempt = match &error {
        None => Attempt {
            at: sent_at,
            code,
            duration_ms,
            error: None,
            state: DeliveryState::Delivered,
            next_at: None,
        },
        Some(_) if attempts >= MAX_ATTEMPTS => Attempt {
            at: sent_at,
            code,
            duration_ms,
            error,
            state: DeliveryState::Failed,
            next_at: None,
        },
        Some(_) => Attempt {
            at: sent_at,
            code,
            duration_ms,
            error,
            state: DeliveryState::Pending,
            next_at: Some(state.clock.now() + retry_delay(attempts)),
        },
    };
    crate::ssr::metrics::webhook_attempt(attempt.state == DeliveryState::Delivered);
    if !db::outbox::finish(&state.pool, id, claim, &attempt).await? {
        tracing::warn!(
            delivery_id = id,
            "a webhook delivery's lease ran out before its answer"
        );
    }
    // The URL is not logged: receivers often carry a token in it.
    tracing::info!(
        webhook_id = out.webhook_id,
        delivery_id = id,
        code,
        duration_ms,
        state = attempt.state.code(),
        "webhook delivery attempt"
    );
    Ok(())
}

/// Signs and posts the body; the receiver's status, or why there is none.
async fn send(
    state: &AppState,
    target: &db::webhooks::Target,
    out: &db::outbox::Outgoing,
    timestamp: i64,
) -> Result<u16, String> {
    let secret = state
        .secrets
        .open_str(&target.secret_enc, &aad::WEBHOOK_SECRET.row(target.id))
        .map_err(|_| "the signing secret does not open with this instance's key".to_string())?;
    let signature = super::signature::sign(&secret, &out.message_id, timestamp, &out.body)
        .map_err(|e| e.to_string())?;
    let request = http::Request::post(target.url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "Mailbridge-Webhooks/1")
        .header("webhook-id", out.message_id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(out.body.clone().into_bytes())
        .map_err(|e| format!("not a valid request: {e}"))?;
    match tokio::time::timeout(TIMEOUT, state.outbound.status_of(request)).await {
        Ok(Ok(code)) => Ok(code),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_30_seconds_and_the_last_is_a_day_after_the_first_attempt() {
        let delays: Vec<i64> = (1..MAX_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(&delays[..4], &[30, 60, 120, 240]);
        assert_eq!(delays[10], 30_720, "8.5 hours");
        assert!(delays.windows(2).take(10).all(|w| w[1] == 2 * w[0]));
        assert_eq!(delays.iter().sum::<i64>(), RETRY_WINDOW_SECS);
        assert_eq!(delays.len(), 12);
    }
}
