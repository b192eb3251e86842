//! Cleaning jobs (docs/marketplace.md#cleanings). Their offers are in
//! `offers`.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use service::cleanings::{self, CleaningCreate, CleaningResponse, CleaningUpdate};
use service::idempotency::Caller;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, page_schema, url};
use crate::auth::AuthUser;
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::idempotency::{self, Created, IdempotencyKey, IdempotencyKeyHeader};
use crate::state::AppState;

page_schema!(CleaningPage, CleaningResponse);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_my_cleanings)
        .service(create_cleaning)
        .service(list_cleaning_feed)
        .service(get_cleaning)
        .service(replace_cleaning)
        .service(update_cleaning)
        .service(delete_cleaning);
}

/// The caller's own cleanings, newest first.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "list_my_cleanings",
    summary = "List my cleanings",
    params(ListParams),
    responses((status = 200, description = "A page of the caller's cleanings", body = CleaningPage)),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/cleanings")]
pub async fn list_my_cleanings(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<CleaningResponse>>, ApiError> {
    Ok(web::Json(
        cleanings::list_mine(&state.ctx.db, &user.0, query.0.page()?).await?,
    ))
}

/// Posts a cleaning job owned by the caller.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "create_cleaning",
    summary = "Post a cleaning job",
    params(IdempotencyKeyHeader),
    request_body(content = CleaningCreate,
        example = json!({"name": "Two-room flat", "description": "Windows too", "price": 49.5, "cleaning_type": "full_clean"})),
    responses(
        (status = 201, description = "Created", body = CleaningResponse,
            headers(("Location" = String, description = "The new cleaning's URL"))),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/cleanings")]
pub async fn create_cleaning(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    body: Json<CleaningCreate>,
) -> Result<HttpResponse, ApiError> {
    let actor = user.0;
    idempotency::create(
        &state,
        &req,
        Caller::User(actor.user_id),
        key,
        async move |ctx, conn| {
            let cleaning = cleanings::create(ctx, conn, &actor, body.0).await?;
            Created::new(url(format_args!("/cleanings/{}", cleaning.id)), &cleaning)
        },
    )
    .await
}

/// Everyone else's cleanings, newest first: where offerers find work.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "list_cleaning_feed",
    summary = "The feed of other users' cleanings",
    params(ListParams),
    responses((status = 200, description = "A page of other users' cleanings", body = CleaningPage)),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/cleanings/feed")]
pub async fn list_cleaning_feed(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<CleaningResponse>>, ApiError> {
    Ok(web::Json(
        cleanings::feed(&state.ctx.db, &user.0, query.0.page()?).await?,
    ))
}

/// Any authenticated user may read any cleaning.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "get_cleaning",
    summary = "Get a cleaning",
    params(("id" = Uuid, Path, description = "Cleaning id"), IfNoneMatchHeader),
    responses((status = 200, description = "The cleaning", body = CleaningResponse)),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/cleanings/{id}")]
pub async fn get_cleaning(
    state: web::Data<AppState>,
    _user: AuthUser,
    id: web::Path<Uuid>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let cleaning = cleanings::get(&state.ctx, &state.ctx.db, *id).await?;
    Ok(representation(&condition, Audience::Private, cleaning))
}

/// Replaces a cleaning: an absent description becomes `null`, an absent type `spot_clean`.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "replace_cleaning",
    summary = "Replace a cleaning (owner or admin)",
    params(("id" = Uuid, Path, description = "Cleaning id"), IfMatchHeader),
    request_body(content = CleaningCreate,
        example = json!({"name": "Two-room flat", "description": "Windows and the balcony", "price": 59, "cleaning_type": "full_clean"})),
    responses(
        (status = 200, description = "The replaced cleaning", body = CleaningResponse),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[put("/cleanings/{id}")]
pub async fn replace_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<CleaningCreate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let cleaning = cleanings::replace(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(cleaning))
}

/// Changes some fields: absent fields stay, `null` clears `description` and
/// is 422 for the others.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "update_cleaning",
    summary = "Update a cleaning (owner or admin)",
    params(("id" = Uuid, Path, description = "Cleaning id"), IfMatchHeader),
    request_body(content = CleaningUpdate, example = json!({"price": 55})),
    responses(
        (status = 200, description = "The updated cleaning", body = CleaningResponse),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[patch("/cleanings/{id}")]
pub async fn update_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<CleaningUpdate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let cleaning = cleanings::update(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(cleaning))
}

/// Deletes a cleaning and its offers.
#[utoipa::path(
    tag = "cleanings",
    operation_id = "delete_cleaning",
    summary = "Delete a cleaning (owner or admin)",
    params(("id" = Uuid, Path, description = "Cleaning id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted, with its offers"),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[delete("/cleanings/{id}")]
pub async fn delete_cleaning(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    cleanings::delete(&state.ctx, &state.ctx.db, &user.0, *id, &precondition.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
