//! The programming-languages catalogue (API.md section 6).

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;
use service::languages::{self, LanguageCreate, LanguageResponse, LanguageUpdate, YearFilter};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{created, page_schema};
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::error::ApiError;
use crate::extract::{Json, Query};
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
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
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
        languages::list(&state.db, filter, q.limit, q.cursor.as_deref()).await?,
    ))
}

/// Adds a language to the catalogue; the caller becomes its creator.
#[utoipa::path(
    tag = "languages",
    operation_id = "create_language",
    summary = "Create a language",
    request_body = LanguageCreate,
    responses(
        (status = 201, description = "Created", body = LanguageResponse,
            headers(("Location" = String, description = "/api/v1/languages/{id}"))),
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
#[post("/languages")]
pub async fn create_language(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<LanguageCreate>,
) -> Result<HttpResponse, ApiError> {
    let language = languages::create(&state.db, &user.0, body.0).await?;
    Ok(created(
        format!("/api/v1/languages/{}", language.id),
        language,
    ))
}

/// A language by id.
#[utoipa::path(
    tag = "languages",
    operation_id = "get_language",
    summary = "Get a language",
    params(("id" = Uuid, Path, description = "Language id")),
    responses(
        (status = 200, description = "The language", body = LanguageResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security()
)]
#[get("/languages/{id}")]
pub async fn get_language(
    state: web::Data<AppState>,
    _caller: MaybeAuthUser,
    id: web::Path<Uuid>,
) -> Result<web::Json<LanguageResponse>, ApiError> {
    Ok(web::Json(languages::get(&state.db, *id).await?))
}

/// Replaces a language with a full body. Shipped entries: admins only.
#[utoipa::path(
    tag = "languages",
    operation_id = "replace_language",
    summary = "Replace a language (creator or admin)",
    params(("id" = Uuid, Path, description = "Language id")),
    request_body = LanguageCreate,
    responses(
        (status = 200, description = "The replaced language", body = LanguageResponse),
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
#[put("/languages/{id}")]
pub async fn replace_language(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<LanguageCreate>,
) -> Result<web::Json<LanguageResponse>, ApiError> {
    Ok(web::Json(
        languages::replace(&state.db, &user.0, *id, body.0).await?,
    ))
}

/// Changes some fields of a language: absent fields stay, `null` is 422.
/// Shipped entries: admins only.
#[utoipa::path(
    tag = "languages",
    operation_id = "update_language",
    summary = "Update a language (creator or admin)",
    params(("id" = Uuid, Path, description = "Language id")),
    request_body = LanguageUpdate,
    responses(
        (status = 200, description = "The updated language", body = LanguageResponse),
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
#[patch("/languages/{id}")]
pub async fn update_language(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<LanguageUpdate>,
) -> Result<web::Json<LanguageResponse>, ApiError> {
    Ok(web::Json(
        languages::update(&state.db, &user.0, *id, body.0).await?,
    ))
}

/// Deletes a language for good; its id is 404 from then on. Shipped entries:
/// admins only.
#[utoipa::path(
    tag = "languages",
    operation_id = "delete_language",
    summary = "Delete a language (creator or admin)",
    params(("id" = Uuid, Path, description = "Language id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::error::Unauthorized),
        (status = 403, response = crate::error::Forbidden),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[delete("/languages/{id}")]
pub async fn delete_language(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    languages::delete(&state.db, &user.0, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
