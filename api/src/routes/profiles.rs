//! Public profiles (docs/accounts.md#profiles).

use actix_multipart::form::MultipartForm;
use actix_multipart::form::bytes::Bytes as FilePart;
use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, put, web};
use service::avatars;
use service::profiles::{self, ProfileResponse, ProfileUpdate};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::conditional::{
    Audience, IfMatch, IfMatchHeader, IfNoneMatch, IfNoneMatchHeader, representation, written,
};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

use super::url;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(update_my_profile)
        .service(upload_my_avatar)
        .service(delete_my_avatar)
        .service(get_profile)
        .service(get_avatar);
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
    let profile = profiles::get(&state.ctx, &state.ctx.db, &username).await?;
    Ok(representation(&condition, Audience::of(caller.0), profile))
}

/// Changes the caller's profile: absent fields stay, `null` clears one.
#[utoipa::path(
    tag = "profiles",
    operation_id = "update_my_profile",
    summary = "Update my profile",
    params(IfMatchHeader),
    request_body(content = ProfileUpdate,
        example = json!({"full_name": "Alice Example", "bio": "Writes about Rust; cleans flats at weekends.", "image": "https://example.com/alice.png"})),
    responses(
        (status = 200, description = "The updated profile", body = ProfileResponse),
    ),
    security(("oauth2" = []), ("apiKey" = []))
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

/// The upload form: one part, `file`, at most 2 MiB.
#[derive(MultipartForm)]
pub struct AvatarForm {
    #[multipart(limit = "2 MiB")]
    pub file: FilePart,
}

/// The upload form, for the document (utoipa cannot read a `MultipartForm`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AvatarUpload {
    /// A PNG, JPEG, WebP or GIF picture, at most 2 MiB and 4096×4096 pixels.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// Uploads the caller's avatar; the profile's `image` becomes its URL.
///
/// The type is read from the bytes, whatever the part's name or content
/// type says. The picture is re-encoded, so no metadata (GPS, camera)
/// survives.
#[utoipa::path(
    tag = "profiles",
    operation_id = "upload_my_avatar",
    summary = "Upload my avatar",
    params(IfMatchHeader),
    request_body(content = AvatarUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The profile, `image` pointing at the avatar", body = ProfileResponse),
    ),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[put("/profiles/me/avatar")]
pub async fn upload_my_avatar(
    state: web::Data<AppState>,
    user: AuthUser,
    precondition: IfMatch,
    form: Result<MultipartForm<AvatarForm>, actix_web::Error>,
) -> Result<HttpResponse, actix_web::Error> {
    let ctx = &state.ctx;
    let file = form
        .map_err(crate::error::as_problem)?
        .into_inner()
        .file
        .data;
    let profile = avatars::upload(ctx, &ctx.db, &user.0, &precondition.0, file, |name| {
        url(format_args!("/profiles/{name}/avatar"))
    })
    .await
    .map_err(ApiError::from)?;
    Ok(written(profile))
}

/// Removes the caller's avatar; `image` goes back to `null`.
#[utoipa::path(
    tag = "profiles",
    operation_id = "delete_my_avatar",
    summary = "Delete my avatar",
    params(IfMatchHeader),
    responses((status = 204, description = "Removed")),
    security(("oauth2" = []), ("apiKey" = []))
)]
#[delete("/profiles/me/avatar")]
pub async fn delete_my_avatar(
    state: web::Data<AppState>,
    user: AuthUser,
    precondition: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    avatars::remove(ctx, &ctx.db, &user.0, &precondition.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

// Declared as a binary string, so generated clients hand back the file
// rather than an array of numbers.
/// The picture's bytes (PNG or JPEG, as `Content-Type` says).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct AvatarPicture(Vec<u8>);

/// A user's avatar: the picture, with its content type and a strong `ETag`.
#[utoipa::path(
    tag = "profiles",
    operation_id = "get_avatar",
    summary = "Get a user's avatar",
    params(("username" = String, Path, description = "Username, any case"), IfNoneMatchHeader),
    responses(
        (status = 200, description = "The picture",
            content(
                (AvatarPicture = "image/png"),
                (AvatarPicture = "image/jpeg"),
            )),
    ),
    security()
)]
#[get("/profiles/{username}/avatar")]
pub async fn get_avatar(
    state: web::Data<AppState>,
    _caller: MaybeAuthUser,
    username: web::Path<String>,
    condition: IfNoneMatch,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let avatar = avatars::get(ctx, &ctx.db, &username).await?;
    let mut response = if condition.matches(&avatar.etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    // The URL keeps its meaning only through the ETag: caches revalidate.
    response
        .insert_header((header::ETAG, avatar.etag.quoted()))
        .insert_header((header::CACHE_CONTROL, "public, no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"));
    if condition.matches(&avatar.etag) {
        return Ok(response.finish());
    }
    Ok(response
        .content_type(avatar.content_type)
        .body(avatar.bytes))
}
