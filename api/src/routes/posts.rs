//! Blog posts (docs/blog.md).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use service::idempotency::Caller;
use service::posts::{self, PostCreate, PostResponse, PostUpdate};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ListParams, page_schema, url};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::idempotency::{self, Created, IdempotencyKey, IdempotencyKeyHeader};
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
    responses((status = 200, description = "A page of published posts", body = PostPage)),
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
        posts::list_published(&state.ctx, &state.ctx.db, q.author.as_deref(), page).await?,
    ))
}

/// Creates a post by the caller. The slug is made from the title when absent.
#[utoipa::path(
    tag = "posts",
    operation_id = "create_post",
    summary = "Create a post",
    params(IdempotencyKeyHeader),
    request_body(content = PostCreate,
        example = json!({"title": "Hello, world", "body": "My first post.", "published": true})),
    responses(
        (status = 201, description = "Created", body = PostResponse,
            headers(("Location" = String, description = "The new post's URL"))),
        (status = 409, description = "A live post already has this slug", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/posts")]
pub async fn create_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    body: Json<PostCreate>,
) -> Result<HttpResponse, ApiError> {
    let actor = user.0;
    idempotency::create(
        &state,
        &req,
        Caller::User(actor.user_id),
        key,
        async move |ctx, conn| {
            let post = posts::create(ctx, conn, &actor, body.0).await?;
            Created::new(url(format_args!("/posts/{}", post.id)), &post)
        },
    )
    .await
}

/// A post by slug; a draft is visible to its author and admins only.
#[utoipa::path(
    tag = "posts",
    operation_id = "get_post_by_slug",
    summary = "Get a post by slug",
    params(("slug" = String, Path, description = "The post's slug"), IfNoneMatchHeader),
    responses((status = 200, description = "The post", body = PostResponse)),
    security((), ("oauth2" = []), ("apiKey" = []))
)]
#[get("/posts/by-slug/{slug}")]
pub async fn get_post_by_slug(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    slug: web::Path<String>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let post = posts::get_by_slug(&state.ctx, &state.ctx.db, caller.0.as_ref(), &slug).await?;
    Ok(representation(&condition, Audience::of(caller.0), post))
}

/// A post by id; a draft is visible to its author and admins only.
#[utoipa::path(
    tag = "posts",
    operation_id = "get_post",
    summary = "Get a post",
    params(("id" = Uuid, Path, description = "Post id"), IfNoneMatchHeader),
    responses((status = 200, description = "The post", body = PostResponse)),
    security((), ("oauth2" = []), ("apiKey" = []))
)]
#[get("/posts/{id}")]
pub async fn get_post(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    id: web::Path<Uuid>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let post = posts::get(&state.ctx, &state.ctx.db, caller.0.as_ref(), *id).await?;
    Ok(representation(&condition, Audience::of(caller.0), post))
}

/// Replaces a post: absent optional fields go back to their defaults.
#[utoipa::path(
    tag = "posts",
    operation_id = "replace_post",
    summary = "Replace a post (author or admin)",
    params(("id" = Uuid, Path, description = "Post id"), IfMatchHeader),
    request_body(content = PostCreate,
        example = json!({"title": "Hello, world", "slug": "hello-world", "body": "My first post, edited.", "published": true})),
    responses(
        (status = 200, description = "The replaced post", body = PostResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "A live post already has this slug", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[put("/posts/{id}")]
pub async fn replace_post(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<PostCreate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let post = posts::replace(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(post))
}

/// Changes some fields of a post: absent fields stay, `null` is 422.
#[utoipa::path(
    tag = "posts",
    operation_id = "update_post",
    summary = "Update a post (author or admin)",
    params(("id" = Uuid, Path, description = "Post id"), IfMatchHeader),
    request_body(content = PostUpdate, example = json!({"title": "Hello again"})),
    responses(
        (status = 200, description = "The updated post", body = PostResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, description = "A live post already has this slug", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[patch("/posts/{id}")]
pub async fn update_post(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<PostUpdate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let post = posts::update(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(post))
}

/// Soft-deletes a post; its slug is free again.
#[utoipa::path(
    tag = "posts",
    operation_id = "delete_post",
    summary = "Delete a post (author or admin)",
    params(("id" = Uuid, Path, description = "Post id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[delete("/posts/{id}")]
pub async fn delete_post(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    posts::delete(ctx, &ctx.db, &user.0, *id, &precondition.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
