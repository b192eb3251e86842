//! Public profiles (docs/accounts.md#profiles).

use actix_web::{HttpResponse, get, patch, web};
use service::profiles::{self, ProfileResponse, ProfileUpdate};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
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
    params(("username" = String, Path, description = "Username, any case"), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The profile", body = ProfileResponse),
    ),
    security()
)]
#[get("/profiles/{username}")]
pub async fn get_profile(
    state: web::Data<AppState>,
    caller: MaybeAuthUser,
    username: web::Path<String>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let profile = profiles::get(&state.ctx.db, &username).await?;
    Ok(representation(&condition, Audience::of(caller.0), profile))
}

/// Changes the caller's profile: absent fields stay, `null` clears one.
#[utoipa::path(
    tag = "profiles",
    operation_id = "update_my_profile",
    summary = "Update my profile",
    params(IfMatchHeader),
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The updated profile", body = ProfileResponse),
    ),
    security(("oauth2" = []))
)]
#[patch("/profiles/me")]
pub async fn update_my_profile(
    state: web::Data<AppState>,
    user: AuthUser,
    precondition: IfMatch,
    body: Json<ProfileUpdate>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let profile = profiles::update_mine(ctx, &ctx.db, &user.0, &precondition.0, body.0).await?;
    Ok(written(profile))
}
