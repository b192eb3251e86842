//! Cleaning jobs and the offers on them (API.md section 5).

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use service::cleanings::{self, CleaningCreate, CleaningResponse, CleaningUpdate};
use service::offers::{self, OfferResponse};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, created, page_schema};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{EmptyObject, Json, Query};
use crate::state::AppState;

page_schema!(CleaningPage, CleaningResponse);
page_schema!(OfferPage, OfferResponse);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_my_cleanings)
        .service(create_cleaning)
        .service(cleaning_feed)
        .service(get_cleaning)
        .service(replace_cleaning)
        .service(update_cleaning)
        .service(delete_cleaning)
        .service(create_offer)
        .service(list_offers)
        .service(get_offer)
        .service(accept_offer)
        .service(reject_offer)
        .service(cancel_offer)
        .service(rescind_offer);
}

/// The caller's own cleanings, newest first.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "list_my_cleanings",
    summary = "List my cleanings",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the caller's cleanings", body = CleaningPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/cleanings")]
pub async fn list_my_cleanings(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<CleaningResponse>>, ApiError> {
    Ok(web::Json(
        cleanings::list_mine(&state.db, &user.0, query.0.page()?).await?,
    ))
}

/// Posts a cleaning job owned by the caller.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "create_cleaning",
    summary = "Post a cleaning job",
    request_body = CleaningCreate,
    responses(
        (status = 201, description = "Created", body = CleaningResponse,
            headers(("Location" = String, description = "/api/v1/cleanings/{id}"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[post("/cleanings")]
pub async fn create_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CleaningCreate>,
) -> Result<HttpResponse, ApiError> {
    let cleaning = cleanings::create(&state.db, &user.0, body.0).await?;
    Ok(created(
        format!("/api/v1/cleanings/{}", cleaning.id),
        cleaning,
    ))
}

/// Everyone else's cleanings, newest first: where offerers find work.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "cleaning_feed",
    summary = "The feed of other users' cleanings",
    params(ListParams),
    responses(
        (status = 200, description = "A page of other users' cleanings", body = CleaningPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/cleanings/feed")]
pub async fn cleaning_feed(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<CleaningResponse>>, ApiError> {
    Ok(web::Json(
        cleanings::feed(&state.db, &user.0, query.0.page()?).await?,
    ))
}

/// Any authenticated user may read any cleaning.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "get_cleaning",
    summary = "Get a cleaning",
    params(("id" = Uuid, Path, description = "Cleaning id")),
    responses(
        (status = 200, description = "The cleaning", body = CleaningResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/cleanings/{id}")]
pub async fn get_cleaning(
    state: web::Data<AppState>,
    _user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<CleaningResponse>, ApiError> {
    Ok(web::Json(cleanings::get(&state.db, *id).await?))
}

/// Replaces a cleaning: an absent description becomes `null`, an absent type `spot_clean`.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "replace_cleaning",
    summary = "Replace a cleaning (owner or admin)",
    params(("id" = Uuid, Path, description = "Cleaning id")),
    request_body = CleaningCreate,
    responses(
        (status = 200, description = "The replaced cleaning", body = CleaningResponse),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[put("/cleanings/{id}")]
pub async fn replace_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<CleaningCreate>,
) -> Result<web::Json<CleaningResponse>, ApiError> {
    Ok(web::Json(
        cleanings::replace(&state.db, &user.0, *id, body.0).await?,
    ))
}

/// Changes some fields: absent fields stay, `null` clears `description` and
/// is 422 for the others.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "update_cleaning",
    summary = "Update a cleaning (owner or admin)",
    params(("id" = Uuid, Path, description = "Cleaning id")),
    request_body = CleaningUpdate,
    responses(
        (status = 200, description = "The updated cleaning", body = CleaningResponse),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[patch("/cleanings/{id}")]
pub async fn update_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<CleaningUpdate>,
) -> Result<web::Json<CleaningResponse>, ApiError> {
    Ok(web::Json(
        cleanings::update(&state.db, &user.0, *id, body.0).await?,
    ))
}

/// Deletes a cleaning and its offers.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "delete_cleaning",
    summary = "Delete a cleaning (owner or admin)",
    params(("id" = Uuid, Path, description = "Cleaning id")),
    responses(
        (status = 204, description = "Deleted, with its offers"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[delete("/cleanings/{id}")]
pub async fn delete_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    cleanings::delete(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The create-offer body: nothing, or `{}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OfferCreate {}

/// Makes an offer on someone else's cleaning.
#[utoipa::path(
    tag = "offers",
    operation_id = "create_offer",
    summary = "Offer to do a cleaning",
    params(("id" = Uuid, Path, description = "Cleaning id")),
    request_body(content = Option<OfferCreate>, description = "Empty, or `{}`", content_type = "application/json"),
    responses(
        (status = 201, description = "Offered (status `pending`)", body = OfferResponse,
            headers(("Location" = String, description = "/api/v1/cleanings/{id}/offers/{username}"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, description = "The caller owns the cleaning", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[post("/cleanings/{id}/offers")]
pub async fn create_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    _body: EmptyObject,
) -> Result<HttpResponse, ApiError> {
    let offer = offers::create(&state.db, &user.0, *id).await?;
    let location = format!(
        "/api/v1/cleanings/{}/offers/{}",
        offer.cleaning_id, offer.username
    );
    Ok(created(location, offer))
}

/// The offers on a cleaning, newest first (its owner, or an admin).
#[utoipa::path(
    tag = "offers",
    operation_id = "list_offers",
    summary = "List a cleaning's offers (owner)",
    params(("id" = Uuid, Path, description = "Cleaning id"), ListParams),
    responses(
        (status = 200, description = "A page of offers", body = OfferPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/cleanings/{id}/offers")]
pub async fn list_offers(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<OfferResponse>>, ApiError> {
    Ok(web::Json(
        offers::list(&state.db, &user.0, *id, query.0.page()?).await?,
    ))
}

/// One offer (the cleaning's owner, that offerer, or an admin).
#[utoipa::path(
    tag = "offers",
    operation_id = "get_offer",
    summary = "Get an offer",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
    ),
    responses(
        (status = 200, description = "The offer", body = OfferResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/cleanings/{id}/offers/{username}")]
pub async fn get_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
) -> Result<web::Json<OfferResponse>, ApiError> {
    let (id, username) = path.into_inner();
    Ok(web::Json(
        offers::get(&state.db, &user.0, id, &username).await?,
    ))
}

/// The owner accepts a pending offer; every other pending offer is rejected.
#[utoipa::path(
    tag = "offers",
    operation_id = "accept_offer",
    summary = "Accept an offer (owner)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
    ),
    responses(
        (status = 200, description = "The accepted offer", body = OfferResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, description = "The offer is not pending, or another offer is already accepted", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[post("/cleanings/{id}/offers/{username}/accept")]
pub async fn accept_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
) -> Result<web::Json<OfferResponse>, ApiError> {
    let (id, username) = path.into_inner();
    Ok(web::Json(
        offers::accept(&state.db, &user.0, id, &username).await?,
    ))
}

/// The owner rejects a pending offer.
#[utoipa::path(
    tag = "offers",
    operation_id = "reject_offer",
    summary = "Reject an offer (owner)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
    ),
    responses(
        (status = 200, description = "The rejected offer", body = OfferResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, description = "The offer is not pending", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[post("/cleanings/{id}/offers/{username}/reject")]
pub async fn reject_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
) -> Result<web::Json<OfferResponse>, ApiError> {
    let (id, username) = path.into_inner();
    Ok(web::Json(
        offers::reject(&state.db, &user.0, id, &username).await?,
    ))
}

/// The offerer cancels an accepted offer; the offers its acceptance rejected
/// go back to pending.
#[utoipa::path(
    tag = "offers",
    operation_id = "cancel_offer",
    summary = "Cancel an accepted offer (offerer)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
    ),
    responses(
        (status = 200, description = "The cancelled offer", body = OfferResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, description = "The offer is not accepted", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[post("/cleanings/{id}/offers/{username}/cancel")]
pub async fn cancel_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
) -> Result<web::Json<OfferResponse>, ApiError> {
    let (id, username) = path.into_inner();
    Ok(web::Json(
        offers::cancel(&state.db, &user.0, id, &username).await?,
    ))
}

/// The offerer withdraws a pending offer; they may offer again.
#[utoipa::path(
    tag = "offers",
    operation_id = "rescind_offer",
    summary = "Rescind a pending offer (offerer)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
    ),
    responses(
        (status = 204, description = "Rescinded: the offer is removed"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, description = "The offer is not pending", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[delete("/cleanings/{id}/offers/{username}")]
pub async fn rescind_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, username) = path.into_inner();
    offers::rescind(&state.db, &user.0, id, &username).await?;
    Ok(HttpResponse::NoContent().finish())
}
