//! The work every instance does besides answering requests: the mail worker
//! (docs/accounts.md#mail) and housekeeping (deleting expired idempotency
//! keys, refresh tokens and reset tokens).

use std::time::Duration;

use actix_web::rt::task::JoinHandle;
use service::{Context, ServiceError, idempotency, mail, recovery, sessions};
use tokio::sync::watch;

/// How often each instance deletes what has expired.
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// The running background tasks; [`Background::stop`] ends them.
pub struct Background {
    stop: watch::Sender<bool>,
    worker: Option<JoinHandle<()>>,
    housekeeping: JoinHandle<()>,
}

impl Background {
    /// Starts the mail worker and the housekeeping on the current runtime.
    pub fn start(ctx: &Context) -> Self {
        let (stop, stopped) = watch::channel(false);
        let worker = actix_web::rt::spawn(mail::Worker::new(ctx.clone(), stopped).run());
        let housekeeping = actix_web::rt::spawn(housekeeping(ctx.clone()));
        Self {
            stop,
            worker: Some(worker),
            housekeeping,
        }
    }

    /// Asks the mail worker to stop after the mail in hand, and waits for it;
    /// stops the housekeeping.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(worker) = self.worker.take()
            && let Err(e) = worker.await
        {
            tracing::warn!(error = %e, "the mail worker ended badly");
        }
        self.housekeeping.abort();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Dropped without `stop` (a test ending): end both at once.
        let _ = self.stop.send(true);
        if let Some(worker) = &self.worker {
            worker.abort();
        }
        self.housekeeping.abort();
    }
}

async fn housekeeping(ctx: Context) {
    let mut tick = actix_web::rt::time::interval(HOUSEKEEPING_EVERY);
    loop {
        tick.tick().await;
        let swept: [(&str, Result<u64, ServiceError>); 3] = [
            (
                "idempotency keys",
                idempotency::purge_expired(&ctx, &ctx.db).await,
            ),
            ("refresh tokens", sessions::sweep(&ctx, &ctx.db).await),
            (
                "password-reset tokens",
                recovery::sweep(&ctx, &ctx.db).await,
            ),
        ];
        for (what, result) in swept {
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "deleted expired {what}"),
                Err(e) => tracing::warn!(error = %e, "deleting expired {what} failed"),
            }
        }
    }
}
