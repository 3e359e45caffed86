//! The background refresh task: a pass every `MAILBRIDGE_REFRESH_INTERVAL_SECS` over the
//! accounts due, a bounded number at once.

use std::sync::Arc;
use std::time::Duration;

use super::{due_accounts, refresh_using, ClientCache, RefreshError, RefreshSettings};
use crate::ssr::AppState;

/// One pass (public for tests that run passes of several instances side by side): refreshes
/// every due account, at most `concurrency` at once, so one slow or failing
/// account does not hold up the others. Returns how many were started. Once `stop` turns true
/// no new refresh starts, but the ones already sent finish and save: with a rotating provider an
/// answer dropped on the floor is a lost grant.
#[tracing::instrument(name = "refresh_pass", skip_all)]
pub async fn run_pass(
    state: &AppState,
    settings: &RefreshSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> usize {
    let due = match due_accounts(state, settings.before_secs).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "listing accounts to refresh");
            return 0;
        }
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0;
    let mut tally = Tally::default();
    let clients = Arc::new(ClientCache::default());
    for id in due {
        let permit = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            p = sem.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let state = state.clone();
        let before = settings.before_secs;
        let clients = clients.clone();
        started += 1;
        tasks.spawn(async move {
            let _permit = permit;
            refresh_using(&state, id, before, false, Some(&clients)).await
        });
        // Finished ones are counted as we go, so a long pass does not hold them all.
        while let Some(done) = tasks.try_join_next() {
            tally.count(done);
        }
    }
    while let Some(done) = tasks.join_next().await {
        tally.count(done);
    }
    if started > 0 {
        // One line per pass: with thousands of mailboxes a line per refresh would drown the log.
        tracing::info!(
            due = started,
            refreshed = tally.refreshed,
            needs_reauth = tally.refused,
            failed = tally.failed,
            held_elsewhere = tally.elsewhere,
            "refresh pass done"
        );
    }
    started
}

/// Outcomes of one refresh pass.
#[derive(Default)]
struct Tally {
    refreshed: usize,
    refused: usize,
    failed: usize,
    /// Another instance held the account's lease.
    elsewhere: usize,
}

impl Tally {
    fn count(&mut self, done: Result<Result<(), RefreshError>, tokio::task::JoinError>) {
        match done {
            Ok(Ok(())) => self.refreshed += 1,
            Ok(Err(RefreshError::Refused(_) | RefreshError::NotLinked(_))) => self.refused += 1,
            Ok(Err(RefreshError::Busy | RefreshError::Superseded)) => self.elsewhere += 1,
            Ok(Err(_)) | Err(_) => self.failed += 1,
        }
    }
}

/// The background task: a pass every `interval_secs` until [`Worker::stop`] — or until the
/// `Worker` is dropped, which also lets the refreshes already sent finish but does not wait.
#[must_use = "dropping the Worker stops the refresh task"]
pub struct Worker {
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    handle: tokio::task::JoinHandle<()>,
}

/// Tells a [`Worker`] to start no more refreshes, from wherever the shutdown is noticed.
#[derive(Clone)]
pub struct StopSignal(Arc<tokio::sync::watch::Sender<bool>>);

impl StopSignal {
    pub fn send(&self) {
        let _ = self.0.send(true);
    }
}

impl Worker {
    pub fn stop_signal(&self) -> StopSignal {
        StopSignal(self.stop.clone())
    }

    /// Asks the task to stop and waits for the refreshes already sent to be saved.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

pub fn spawn(state: AppState, settings: RefreshSettings) -> Worker {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let pass_stop = rx.clone();
    let handle = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(settings.interval_secs.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = rx.wait_for(|s| *s) => return,
                _ = tick.tick() => {}
            }
            state.heartbeats.refresh.beat();
            run_pass(&state, &settings, pass_stop.clone()).await;
            state.heartbeats.refresh.beat();
        }
    });
    Worker {
        stop: Arc::new(tx),
        handle,
    }
}
