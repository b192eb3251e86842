//! The programming-languages catalogue (docs/catalogue.md).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use service::idempotency::Caller;
use service::languages::{self, LanguageCreate, LanguageResponse, LanguageUpdate, YearFilter};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{page_schema, url};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::idempotency::{self, Created, IdempotencyKey, IdempotencyKeyHeader};
use crate::state::AppState;

page_schema!(LanguagePage, LanguageResponse);

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_languages)
        .service(create_language)
        .service(get_language)
        .service(replace_language)
        .service(update_language)
        .service(delete_language);
}

/// Query of `GET /languages`: the page, and strict year bounds.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LanguageListParams {
    /// Page size, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only languages published before this year (strictly: `publication_year < before_year`).
    /// At least 1800; with `after_year`, must be greater than it.
    #[param(minimum = 1800, example = 1970)]
    pub before_year: Option<i32>,
    /// Only languages published after this year (strictly: `publication_year > after_year`).
    /// At least 1800; with `before_year`, must be less than it.
    #[param(minimum = 1800, example = 1960)]
    pub after_year: Option<i32>,
}

/// Languages ordered by publication year, then name (case-insensitively), then id.
#[utoipa::path(
    tag = "languages",
    operation_id = "list_languages",
    summary = "List programming languages",
    params(LanguageListParams),
    responses(
        (status = 200, description = "A page of languages, oldest first", body = LanguagePage),
    ),
    security()
)]
#[get("/languages")]
pub async fn list_languages(
    state: web::Data<AppState>,
    _caller: MaybeAuthUser,
    query: Query<LanguageListParams>,
) -> Result<web::Json<service::Page<LanguageResponse>>, ApiError> {
    let q = query.0;
    let filter = YearFilter {
        before_year: q.before_year,
        after_year: q.after_year,
    };
    Ok(web::Json(
        languages::list(
            &state.ctx,
            &state.ctx.db,
            filter,
            q.limit,
            q.cursor.as_deref(),
        )
        .await?,
    ))
}

/// Adds a language to the catalogue; the caller becomes its creator.
#[utoipa::path(
    tag = "languages",
    operation_id = "create_language",
    summary = "Create a language",
    params(IdempotencyKeyHeader),
    request_body(content = LanguageCreate,
        example = json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "everything is an object, message passing"})),
    responses(
        (status = 201, description = "Created", body = LanguageResponse,
            headers(("Location" = String, description = "The new language's URL"))),
        (status = 409, response = crate::error::Conflict),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[post("/languages")]
pub async fn create_language(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    body: Json<LanguageCreate>,
) -> Result<HttpResponse, ApiError> {
    let actor = user.0;
    idempotency::create(
        &state,
        &req,
        Caller::User(actor.user_id),
        key,
        async move |ctx, conn| {
            let language = languages::create(ctx, conn, &actor, body.0).await?;
            Created::new(url(format_args!("/languages/{}", language.id)), &language)
        },
    )
    .await
}

/// A language by id.
#[utoipa::path(
    tag = "languages",
    operation_id = "get_language",
    summary = "Get a language",
    params(("id" = Uuid, Path, description = "Language id"), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The language", body = LanguageResponse),
    ),
    security()
)]
#[get("/languages/{id}")]
pub async fn get_language(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    id: web::Path<Uuid>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let language = languages::get(&state.ctx, &state.ctx.db, *id).await?;
    Ok(representation(&condition, Audience::of(caller.0), language))
}

/// Replaces a language with a full body. Shipped entries: admins only.
#[utoipa::path(
    tag = "languages",
    operation_id = "replace_language",
    summary = "Replace a language (creator or admin)",
    params(("id" = Uuid, Path, description = "Language id"), IfMatchHeader),
    request_body(content = LanguageCreate,
        example = json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "objects all the way down, message passing"})),
    responses(
        (status = 200, description = "The replaced language", body = LanguageResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, response = crate::error::Conflict),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[put("/languages/{id}")]
pub async fn replace_language(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<LanguageCreate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let language = languages::replace(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(language))
}

/// Changes some fields of a language: absent fields stay, `null` is 422.
/// Shipped entries: admins only.
#[utoipa::path(
    tag = "languages",
    operation_id = "update_language",
    summary = "Update a language (creator or admin)",
    params(("id" = Uuid, Path, description = "Language id"), IfMatchHeader),
    request_body(content = LanguageUpdate, example = json!({"contribution": "objects all the way down"})),
    responses(
        (status = 200, description = "The updated language", body = LanguageResponse),
        (status = 403, response = crate::error::Forbidden),
        (status = 409, response = crate::error::Conflict),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[patch("/languages/{id}")]
pub async fn update_language(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
    body: Json<LanguageUpdate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let language = languages::update(ctx, &ctx.db, &user.0, *id, &precondition.0, body.0).await?;
    Ok(written(language))
}

/// Deletes a language for good; its id is 404 from then on. Shipped entries:
/// admins only.
#[utoipa::path(
    tag = "languages",
    operation_id = "delete_language",
    summary = "Delete a language (creator or admin)",
    params(("id" = Uuid, Path, description = "Language id"), IfMatchHeader),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, response = crate::error::Forbidden),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[delete("/languages/{id}")]
pub async fn delete_language(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    languages::delete(&state.ctx, &state.ctx.db, &user.0, *id, &precondition.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
