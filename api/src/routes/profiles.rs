//! Public profiles (API.md section 3).

use actix_web::{get, patch, web};
use service::profiles::{self, ProfileResponse, ProfileUpdate};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(update_my_profile).service(get_profile);
}

/// A user's public profile; the username matches case-insensitively.
#[utoipa::path(
    tag = "profiles",
    operation_id = "get_profile",
    summary = "Get a profile",
    params(("username" = String, Path, description = "Username, any case")),
    responses(
        (status = 200, description = "The profile", body = ProfileResponse),
        (status = 401, response = crate::error::Unauthorized),
        (status = 404, response = crate::error::NotFound),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security()
)]
#[get("/profiles/{username}")]
pub async fn get_profile(
    state: web::Data<AppState>,
    _caller: MaybeAuthUser,
    username: web::Path<String>,
) -> Result<web::Json<ProfileResponse>, ApiError> {
    Ok(web::Json(profiles::get(&state.db, &username).await?))
}

/// Changes the caller's profile: absent fields stay, `null` clears one.
#[utoipa::path(
    tag = "profiles",
    operation_id = "update_my_profile",
    summary = "Update my profile",
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The updated profile", body = ProfileResponse),
        (status = 400, response = crate::error::BadRequest),
        (status = 401, response = crate::error::Unauthorized),
        (status = 413, response = crate::error::PayloadTooLarge),
        (status = 415, response = crate::error::UnsupportedMediaType),
        (status = 422, response = crate::error::ValidationFailed),
        (status = 503, response = crate::error::ServiceUnavailable),
    ),
    security(("oauth2" = []))
)]
#[patch("/profiles/me")]
pub async fn update_my_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<ProfileUpdate>,
) -> Result<web::Json<ProfileResponse>, ApiError> {
    Ok(web::Json(
        profiles::update_mine(&state.db, &user.0, body.0).await?,
    ))
}
