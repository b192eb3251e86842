//! Liveness and readiness (docs/conventions.md#base-path).

use actix_web::{get, web};

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
