//! Graceful shutdown (docs/conventions.md#operations).
//!
//! actix-web's own SIGTERM handling stops accepting and finishes the
//! requests it is running, but closes idle keep-alive connections at once: a
//! request a client writes to one of those in the same instant is lost
//! unanswered. So the service drains first. On SIGTERM or SIGINT it marks
//! itself draining for `SHUTDOWN_DRAIN` seconds, in which it keeps serving,
//! answers every request with `Connection: close` (each client moves off
//! its kept-alive connection after one more answer) and `/ready` with 503
//! (a load balancer stops sending); only then does it stop accepting and
//! give in-flight requests up to `SHUTDOWN_TIMEOUT` to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::state::AppState;

/// Whether the service is draining before it stops; shared by every worker.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// From now on, every response closes its connection.
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once [`Draining::start`] was called.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Middleware (`actix_web::middleware::from_fn`): while draining, responses
/// carry `Connection: close`.
pub async fn close_when_draining(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let draining = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.draining.clone());
    let mut res = next.call(req).await?;
    if draining.is_some_and(|d| d.is_draining()) {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res)
}

/// Waits for SIGTERM or SIGINT, drains for `drain`, then stops the server
/// gracefully (in-flight requests get the server's shutdown timeout).
pub async fn on_signal(server: ServerHandle, draining: Draining, drain: Duration) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
    draining.start();
    tracing::info!(
        drain_secs = drain.as_secs_f64(),
        "draining: answering with Connection: close, /ready is 503"
    );
    actix_web::rt::time::sleep(drain).await;
    tracing::info!("stopping: no new connections; finishing in-flight requests");
    server.stop(true).await;
}
