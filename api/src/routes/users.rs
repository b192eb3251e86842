//! The caller's own account and admin user management (API.md section 2).

use actix_web::{get, patch, web};
use service::accounts::{self, MeUpdate, UserAdminUpdate, UserResponse};
use service::posts::{self, PostResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, page_schema};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;

page_schema!(UserPage, UserResponse);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_me)
        .service(update_me)
        .service(list_my_posts)
        .service(list_users)
        .service(get_user)
        .service(update_user);
}

/// The caller's account.
#[utoipa::path(
    tag = "users",
    operation_id = "get_me",
    summary = "Get my account",
    responses(
        (status = 200, description = "The caller", body = UserResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/users/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(
        accounts::get_user(&state.db, &user.0, user.0.user_id).await?,
    ))
}

/// Changes the caller's e-mail and/or password; `current_password` is always required.
#[utoipa::path(
    tag = "users",
    operation_id = "update_me",
    summary = "Change my e-mail or password",
    request_body = MeUpdate,
    responses(
        (status = 200, description = "The updated account", body = UserResponse),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, description = "The current password is wrong", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[patch("/users/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<MeUpdate>,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(
        accounts::update_me(&state.db, &state.hasher, &user.0, body.0).await?,
    ))
}

/// The caller's own posts, drafts included, newest first.
#[utoipa::path(
    tag = "posts",
    operation_id = "list_my_posts",
    summary = "List my posts (drafts included)",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the caller's posts", body = super::posts::PostPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/users/me/posts")]
pub async fn list_my_posts(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<PostResponse>>, ApiError> {
    Ok(web::Json(
        posts::list_mine(&state.db, &user.0, query.0.page()?).await?,
    ))
}

/// Every account, newest first (admin only).
#[utoipa::path(
    tag = "users",
    operation_id = "list_users",
    summary = "List users (admin)",
    params(ListParams),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<UserResponse>>, ApiError> {
    Ok(web::Json(
        accounts::list_users(&state.db, &user.0, query.0.page()?).await?,
    ))
}

/// One account: the user themself or an admin.
#[utoipa::path(
    tag = "users",
    operation_id = "get_user",
    summary = "Get a user (admin or self)",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(
        accounts::get_user(&state.db, &user.0, *id).await?,
    ))
}

/// Changes a user's role and/or active flag (admin only). Demoting or
/// disabling the last active admin is 409.
#[utoipa::path(
    tag = "users",
    operation_id = "update_user",
    summary = "Change a user's role or active flag (admin)",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserAdminUpdate,
    responses(
        (status = 200, description = "The updated user", body = UserResponse),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UserAdminUpdate>,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(
        accounts::admin_update(&state.db, &user.0, *id, body.0).await?,
    ))
}
