//! API keys (docs/accounts.md#api-keys): a user's own, and an admin's view
//! of anyone's. Every operation here needs a bearer token from a login (an
//! API key gets 403), so each declares only the `oauth2` scheme.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use service::api_keys::{self, ApiKeyCreate, ApiKeyCreated, ApiKeyResponse, Holder};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, page_schema, url};
use crate::auth::AuthUser;
use crate::conditional::{Audience, IfNoneMatch, IfNoneMatchHeader, representation};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;

page_schema!(ApiKeyPage, ApiKeyResponse);

/// The caller's own keys. Registered before `users`, whose `/users/{id}/…`
/// paths would also match `/users/me/…`.
pub fn configure_mine(cfg: &mut ServiceConfig) {
    cfg.service(create_api_key)
        .service(list_api_keys)
        .service(get_api_key)
        .service(revoke_api_key);
}

/// Any user's keys, for admins.
pub fn configure_admin(cfg: &mut ServiceConfig) {
    cfg.service(list_user_api_keys).service(revoke_user_api_key);
}

/// Makes an API key for the caller. The response holds the key, once: the
/// service keeps only its hash. Needs a login token (an API key gets 403).
/// Not replayed by `Idempotency-Key`: a stored response would hold the key.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "create_api_key",
    summary = "Make an API key (login token only)",
    request_body(content = ApiKeyCreate,
        example = json!({"name": "nightly export", "scopes": ["read"], "expires_in_days": 30})),
    responses(
        (status = 201, description = "The new key, with `key` shown this once", body = ApiKeyCreated,
            headers(("Location" = String, description = "The new key's URL"))),
        (status = 403, description = "Made with an API key, not a login; or `admin` asked for by a non-admin", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "The caller already has 50 live keys", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[post("/users/me/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<ApiKeyCreate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let created = api_keys::create(ctx, &ctx.db, &user.0, body.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            url(format_args!("/users/me/api-keys/{}", created.id)),
        ))
        // The body holds a secret: no cache may keep it.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(created))
}

/// The caller's live keys (neither revoked nor expired), newest first,
/// without the keys themselves. Needs a login token.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "list_api_keys",
    summary = "List my API keys (login token only)",
    params(ListParams),
    responses(
        (status = 200, description = "A page of the caller's live keys", body = ApiKeyPage),
        (status = 403, description = "Asked with an API key, not a login", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[get("/users/me/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<ApiKeyResponse>>, ApiError> {
    let ctx = &state.ctx;
    let page = query.0.page()?;
    Ok(web::Json(
        api_keys::list(ctx, &ctx.db, &user.0, Holder::Me, page).await?,
    ))
}

/// One of the caller's live keys, without the key itself. Needs a login token.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "get_api_key",
    summary = "Get one of my API keys (login token only)",
    params(("id" = Uuid, Path, description = "API key id"), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The key", body = ApiKeyResponse),
        (status = 403, description = "Asked with an API key, not a login", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[get("/users/me/api-keys/{id}")]
pub async fn get_api_key(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let key = api_keys::get(ctx, &ctx.db, &user.0, *id).await?;
    Ok(representation(&condition, Audience::Private, key))
}

/// Revokes one of the caller's keys: the next request with it, on any
/// instance, is 401. Someone else's key id is 404. Needs a login token.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "revoke_api_key",
    summary = "Revoke one of my API keys (login token only)",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Asked with an API key, not a login", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[delete("/users/me/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    api_keys::revoke(ctx, &ctx.db, &user.0, Holder::Me, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user's live keys, newest first (admin only, with a login token).
#[utoipa::path(
    tag = "api-keys",
    operation_id = "list_user_api_keys",
    summary = "List a user's API keys (admin, login token only)",
    params(("id" = Uuid, Path, description = "User id"), ListParams),
    responses(
        (status = 200, description = "A page of the user's live keys", body = ApiKeyPage),
        (status = 403, description = "Not an admin, or asked with an API key", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[get("/users/{id}/api-keys")]
pub async fn list_user_api_keys(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: Query<ListParams>,
) -> Result<web::Json<service::Page<ApiKeyResponse>>, ApiError> {
    let ctx = &state.ctx;
    let page = query.0.page()?;
    Ok(web::Json(
        api_keys::list(ctx, &ctx.db, &user.0, Holder::User(*id), page).await?,
    ))
}

/// Revokes any user's key (admin only, with a login token).
#[utoipa::path(
    tag = "api-keys",
    operation_id = "revoke_user_api_key",
    summary = "Revoke a user's API key (admin, login token only)",
    params(
        ("id" = Uuid, Path, description = "User id"),
        ("key_id" = Uuid, Path, description = "API key id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin, or asked with an API key", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []))
)]
#[delete("/users/{id}/api-keys/{key_id}")]
pub async fn revoke_user_api_key(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let (user_id, key_id) = path.into_inner();
    api_keys::revoke(ctx, &ctx.db, &user.0, Holder::User(user_id), key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
