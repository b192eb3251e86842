//! Blog posts (API.md section 4).

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use service::posts::{self, PostCreate, PostResponse, PostUpdate};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, created, page_schema};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;

page_schema!(PostPage, PostResponse);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_posts)
        .service(create_post)
        .service(get_post_by_slug)
        .service(get_post)
        .service(replace_post)
        .service(update_post)
        .service(delete_post);
}

/// Query of `GET /posts`: the page, and an optional author filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostListParams {
    /// Page size, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this author's posts (username, any case). An unknown author gives an empty page.
    pub author: Option<String>,
}

/// Published posts of everyone, newest first.
#[utoipa::path(
    tag = "posts",
    operation_id = "list_posts",
    summary = "List published posts",
    params(PostListParams),
    responses(
        (status = 200, description = "A page of published posts", body = PostPage),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security()
)]
#[get("/posts")]
pub async fn list_posts(
    state: web::Data<AppState>,
    _caller: MaybeAuthUser,
    query: Query<PostListParams>,
) -> Result<web::Json<service::Page<PostResponse>>, ApiError> {
    let q = query.0;
    let page = ListParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    Ok(web::Json(
        posts::list_published(&state.db, q.author.as_deref(), page).await?,
    ))
}

/// Creates a post by the caller. The slug is made from the title when absent.
#[utoipa::path(
    tag = "posts",
    operation_id = "create_post",
    summary = "Create a post",
    request_body = PostCreate,
    responses(
        (status = 201, description = "Created", body = PostResponse,
            headers(("Location" = String, description = "/api/v1/posts/{id}"))),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 409, response = crate::error::Conflict),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[post("/posts")]
pub async fn create_post(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<PostCreate>,
) -> Result<HttpResponse, ApiError> {
    let post = posts::create(&state.db, &user.0, body.0).await?;
    Ok(created(format!("/api/v1/posts/{}", post.id), post))
}

/// A post by slug; a draft is visible to its author and admins only.
#[utoipa::path(
    tag = "posts",
    operation_id = "get_post_by_slug",
    summary = "Get a post by slug",
    params(("slug" = String, Path, description = "The post's slug")),
    responses(
        (status = 200, description = "The post", body = PostResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security((), ("oauth2" = []))
)]
#[get("/posts/by-slug/{slug}")]
pub async fn get_post_by_slug(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    slug: web::Path<String>,
) -> Result<web::Json<PostResponse>, ApiError> {
    Ok(web::Json(
        posts::get_by_slug(&state.db, caller.0.as_ref(), &slug).await?,
    ))
}

/// A post by id; a draft is visible to its author and admins only.
#[utoipa::path(
    tag = "posts",
    operation_id = "get_post",
    summary = "Get a post",
    params(("id" = Uuid, Path, description = "Post id")),
    responses(
        (status = 200, description = "The post", body = PostResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security((), ("oauth2" = []))
)]
#[get("/posts/{id}")]
pub async fn get_post(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<PostResponse>, ApiError> {
    Ok(web::Json(
        posts::get(&state.db, caller.0.as_ref(), *id).await?,
    ))
}

/// Replaces a post: absent optional fields go back to their defaults.
#[utoipa::path(
    tag = "posts",
    operation_id = "replace_post",
    summary = "Replace a post (author or admin)",
    params(("id" = Uuid, Path, description = "Post id")),
    request_body = PostCreate,
    responses(
        (status = 200, description = "The replaced post", body = PostResponse),
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
#[put("/posts/{id}")]
pub async fn replace_post(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<PostCreate>,
) -> Result<web::Json<PostResponse>, ApiError> {
    Ok(web::Json(
        posts::replace(&state.db, &user.0, *id, body.0).await?,
    ))
}

/// Changes some fields of a post: absent fields stay, `null` is 422.
#[utoipa::path(
    tag = "posts",
    operation_id = "update_post",
    summary = "Update a post (author or admin)",
    params(("id" = Uuid, Path, description = "Post id")),
    request_body = PostUpdate,
    responses(
        (status = 200, description = "The updated post", body = PostResponse),
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
#[patch("/posts/{id}")]
pub async fn update_post(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<PostUpdate>,
) -> Result<web::Json<PostResponse>, ApiError> {
    Ok(web::Json(
        posts::update(&state.db, &user.0, *id, body.0).await?,
    ))
}

/// Soft-deletes a post; its slug is free again.
#[utoipa::path(
    tag = "posts",
    operation_id = "delete_post",
    summary = "Delete a post (author or admin)",
    params(("id" = Uuid, Path, description = "Post id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[delete("/posts/{id}")]
pub async fn delete_post(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    posts::delete(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
