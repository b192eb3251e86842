//! Liveness, readiness and metrics (docs/conventions.md#base-path).

use actix_web::{HttpResponse, get, web};

use super::Status;
use crate::error::ApiError;
use crate::state::AppState;

/// Liveness: 200 while the process runs; never touches the database.
#[utoipa::path(
    tag = "meta",
    operation_id = "health",
    summary = "Liveness",
    responses((status = 200, description = "The process runs", body = Status)),
    security()
)]
#[get("/health")]
pub async fn health() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// Readiness: 200 when the database answers a ping, 503 when not, and 503
/// while the service drains before stopping.
#[utoipa::path(
    tag = "meta",
    operation_id = "ready",
    summary = "Readiness",
    responses(
        (status = 200, description = "The database answers", body = Status),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security()
)]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<Status>, ApiError> {
    if state.draining.is_draining() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "The service is shutting down",
        )
        .with_retry_after(5));
    }
    service::db::ping(&state.ctx.db).await?;
    Ok(web::Json(Status { status: "ok" }))
}

/// Prometheus metrics of this instance (docs/conventions.md#metrics):
/// requests by method, route pattern and status, a latency histogram, the
/// database pool, and the rate limits' store. Never rate-limited; meant for
/// a scraper inside the network, not for the public (docs/scaling.md).
#[utoipa::path(
    tag = "meta",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4",
            body = String, content_type = "text/plain"),
    ),
    security()
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render().await)
}
