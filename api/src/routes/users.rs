//! The caller's own account and admin user management (docs/accounts.md).

use actix_web::{HttpResponse, get, patch, web};
use service::accounts::{self, MeUpdate, UserAdminUpdate, UserResponse};
use service::posts::{self, PostResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, page_schema};
use crate::auth::AuthUser;
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
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
    params(IfNoneMatchHeader),
    responses(
        (status = 200, description = "The caller", body = UserResponse),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/users/me")]
pub async fn get_me(
    state: web::Data<AppState>,
    user: AuthUser,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let me = accounts::get_user(&state.ctx, &state.ctx.db, &user.0, user.0.user_id).await?;
    Ok(representation(&condition, Audience::Private, me))
}

/// Changes the caller's e-mail and/or password; `current_password` is always
/// required. Needs a login token: with an API key it is 403, so a leaked
/// key cannot lock its owner out.
#[utoipa::path(
    tag = "users",
    operation_id = "update_me",
    summary = "Change my e-mail or password (login token only)",
    params(IfMatchHeader),
    request_body(content = MeUpdate,
        example = json!({"current_password": "Secret123", "email": "alice@example.org"})),
    responses(
        (status = 200, description = "The updated account", body = UserResponse),
        (status = 403, description = "The current password is wrong, or the request came with an API key (a login token is needed)", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The e-mail address is taken", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[patch("/users/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    precondition: IfMatch,
    body: Json<MeUpdate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let me = accounts::update_me(ctx, &ctx.db, &user.0, &precondition.0, body.0).await?;
    Ok(written(me))
}

/// The caller's own posts, drafts included, newest first.
#[utoipa::path(
    tag = "posts",
    operation_id = "list_my_posts",
    summary = "List my posts (drafts included)",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the caller's posts", body = super::posts::PostPage),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/users/me/posts")]
pub async fn list_my_posts(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<PostResponse>>, ApiError> {
    Ok(web::Json(
        posts::list_mine(&state.ctx.db, &user.0, query.0.page()?).await?,
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
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<UserResponse>>, ApiError> {
    Ok(web::Json(
        accounts::list_users(&state.ctx.db, &user.0, query.0.page()?).await?,
    ))
}

/// One account: the user themself or an admin.
#[utoipa::path(
    tag = "users",
    operation_id = "get_user",
    summary = "Get a user (admin or self)",
    params(("id" = Uuid, Path, description = "User id"), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let found = accounts::get_user(&state.ctx, &state.ctx.db, &user.0, *id).await?;
    Ok(representation(&condition, Audience::Private, found))
}

/// Changes a user's role and/or active flag (admin only). Demoting or
/// disabling the last active admin is 409.
#[utoipa::path(
    tag = "users",
    operation_id = "update_user",
    summary = "Change a user's role or active flag (admin)",
    params(("id" = Uuid, Path, description = "User id"), IfMatchHeader),
    request_body(content = UserAdminUpdate, example = json!({"role": "user", "is_active": true})),
    responses(
        (status = 200, description = "The updated user", body = UserResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "The change would leave no active admin", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<UserAdminUpdate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let updated =
        accounts::admin_update(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(updated))
}
