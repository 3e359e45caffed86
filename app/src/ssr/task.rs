//! A background task that goes round its loop until told to stop (webhook deliveries, e-mail
//! notices): the stop signal and the handle that waits for the round in progress.

use std::future::Future;

#[must_use = "dropping the Worker stops its task"]
pub struct Worker {
    stop: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Tells the task to stop, and waits for what it is doing to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

/// Spawns `task`, handing it the receiver it watches for the stop (which also ends when the
/// `Worker` is dropped).
pub fn spawn<F, Fut>(task: F) -> Worker
where
    F: FnOnce(tokio::sync::watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop, rx) = tokio::sync::watch::channel(false);
    let handle = tokio::spawn(task(rx));
    Worker { stop, handle }
}
