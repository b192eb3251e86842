//! Offers on a cleaning job (docs/marketplace.md#offers): make, list, read,
//! and the moves of the state machine.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use service::idempotency::Caller;
use service::offers::{self, Move, OfferResponse};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, page_schema, url};
use crate::auth::AuthUser;
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
use crate::error::ApiError;
use crate::extract::{EmptyObject, Query};
use crate::idempotency::{self, Created, IdempotencyKey, IdempotencyKeyHeader};
use crate::state::AppState;

page_schema!(OfferPage, OfferResponse);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_offer)
        .service(list_offers)
        .service(get_offer)
        .service(accept_offer)
        .service(reject_offer)
        .service(cancel_offer)
        .service(rescind_offer);
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
    params(("id" = Uuid, Path, description = "Cleaning id"), IdempotencyKeyHeader),
    request_body(content = Option<OfferCreate>, description = "Empty, or `{}`", content_type = "application/json",
        example = json!({})),
    responses(
        (status = 201, description = "Offered (status `pending`)", body = OfferResponse,
            headers(("Location" = String, description = "The new offer's URL"))),
        (status = 403, description = "The caller owns the cleaning", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The caller already made an offer on this cleaning (whatever its status), or the cleaning already has an accepted offer", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/cleanings/{id}/offers")]
pub async fn create_offer(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    _body: EmptyObject,
) -> Result<HttpResponse, ApiError> {
    let (actor, cleaning_id) = (user.0, *id);
    idempotency::create(
        &state,
        &req,
        Caller::User(actor.user_id),
        key,
        async move |ctx, conn| {
            let offer = offers::create(ctx, conn, &actor, cleaning_id).await?;
            let location = url(format_args!(
                "/cleanings/{}/offers/{}",
                offer.cleaning_id, offer.username
            ));
            Created::new(location, &offer)
        },
    )
    .await
}

/// The offers on a cleaning, newest first (its owner, or an admin).
#[utoipa::path(
    tag = "offers",
    operation_id = "list_cleaning_offers",
    summary = "List a cleaning's offers (owner)",
    params(("id" = Uuid, Path, description = "Cleaning id"), ListParams),
    responses(
        (status = 200, description = "A page of offers", body = OfferPage),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/cleanings/{id}/offers")]
pub async fn list_offers(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<OfferResponse>>, ApiError> {
    Ok(web::Json(
        offers::list(&state.ctx.db, &user.0, *id, query.0.page()?).await?,
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
        IfNoneMatchHeader,
    ),
    responses(
        (status = 200, description = "The offer", body = OfferResponse),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/cleanings/{id}/offers/{username}")]
pub async fn get_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, username) = path.into_inner();
    let offer = offers::get(&state.ctx.db, &user.0, id, &username).await?;
    Ok(representation(&condition, Audience::Private, offer))
}

/// The owner accepts a pending offer; every other pending offer is rejected.
#[utoipa::path(
    tag = "offers",
    operation_id = "accept_offer",
    summary = "Accept an offer (owner)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
        IfMatchHeader,
    ),
    responses(
        (status = 200, description = "The accepted offer", body = OfferResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "The offer is not pending, or another offer is already accepted", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/cleanings/{id}/offers/{username}/accept")]
pub async fn accept_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, username) = path.into_inner();
    let ctx = &state.ctx;
    let offer = offers::accept(ctx, &ctx.db, &user.0, moving(id, &username, &precondition)).await?;
    Ok(written(offer))
}

/// The owner rejects a pending offer.
#[utoipa::path(
    tag = "offers",
    operation_id = "reject_offer",
    summary = "Reject an offer (owner)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
        IfMatchHeader,
    ),
    responses(
        (status = 200, description = "The rejected offer", body = OfferResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "The offer is not pending", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/cleanings/{id}/offers/{username}/reject")]
pub async fn reject_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, username) = path.into_inner();
    let ctx = &state.ctx;
    let offer = offers::reject(ctx, &ctx.db, &user.0, moving(id, &username, &precondition)).await?;
    Ok(written(offer))
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
        IfMatchHeader,
    ),
    responses(
        (status = 200, description = "The cancelled offer", body = OfferResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "The offer is not accepted", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/cleanings/{id}/offers/{username}/cancel")]
pub async fn cancel_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, username) = path.into_inner();
    let ctx = &state.ctx;
    let offer = offers::cancel(ctx, &ctx.db, &user.0, moving(id, &username, &precondition)).await?;
    Ok(written(offer))
}

/// The offerer withdraws a pending offer; they may offer again.
#[utoipa::path(
    tag = "offers",
    operation_id = "rescind_offer",
    summary = "Rescind a pending offer (offerer)",
    params(
        ("id" = Uuid, Path, description = "Cleaning id"),
        ("username" = String, Path, description = "The offerer's username, any case"),
        IfMatchHeader,
    ),
    responses(
        (status = 204, description = "Rescinded: the offer is removed"),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "The offer is not pending", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[delete("/cleanings/{id}/offers/{username}")]
pub async fn rescind_offer(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, String)>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, username) = path.into_inner();
    offers::rescind(
        &state.ctx,
        &state.ctx.db,
        &user.0,
        moving(id, &username, &precondition),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn moving<'a>(cleaning_id: Uuid, username: &'a str, precondition: &'a IfMatch) -> Move<'a> {
    Move {
        cleaning_id,
        username,
        precondition: &precondition.0,
    }
}
