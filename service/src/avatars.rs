//! Avatars (docs/accounts.md#avatars): an uploaded picture for a profile.
//!
//! The type comes from the bytes, never from what the client claims: PNG,
//! JPEG, WebP and GIF are accepted. The picture is decoded under limits
//! ([`MAX_PIXELS_PER_SIDE`], [`MAX_DECODER_MEMORY`]), so a small file that
//! declares a huge picture (a decompression bomb) is refused instead of
//! filling memory; turned upright by its EXIF orientation; and re-encoded
//! (JPEG stays JPEG, the others become PNG), so no metadata (GPS position,
//! camera) survives. The stored object's key is the SHA-256 of the stored
//! bytes: nothing the client chose (a file name) ever reaches the storage.
//!
//! Upload first, then point the profile at it in a transaction: a failure
//! in between leaves at most an object nobody refers to, never a profile
//! pointing at nothing. An object is deleted once no profile refers to it.

use std::io::Cursor;

use bytes::Bytes;
use entity::profile;
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder as _, ImageError, ImageFormat, ImageReader, Limits};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::db::{self, Conn};
use crate::profiles::{self, ProfileResponse};
use crate::resource::{self, ETag, Precondition};
use crate::{Actor, Context, ServiceError, usernames};

/// Largest upload, in bytes: 2 MiB.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// Largest picture accepted, in pixels per side.
pub const MAX_PIXELS_PER_SIDE: u32 = 4096;

/// Most memory the decoder may take, in bytes.
pub const MAX_DECODER_MEMORY: u64 = 64 * 1024 * 1024;

/// JPEG quality of a re-encoded JPEG.
const JPEG_QUALITY: u8 = 85;

/// A stored avatar, ready to serve.
#[derive(Clone, Debug)]
pub struct Avatar {
    pub bytes: Bytes,
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    /// A strong tag: the SHA-256 of the bytes.
    pub etag: ETag,
}

fn unsupported() -> ServiceError {
    ServiceError::UnsupportedMediaType("The file must be a PNG, JPEG, WebP or GIF picture".into())
}

/// Checks, decodes, turns upright and re-encodes a picture; returns the
/// bytes to store and their content type. CPU-bound: run it off the async
/// workers.
fn reencode(upload: &[u8]) -> Result<(Vec<u8>, &'static str), ServiceError> {
    let format = image::guess_format(upload).map_err(|_| unsupported())?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(unsupported());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS_PER_SIDE);
    limits.max_image_height = Some(MAX_PIXELS_PER_SIDE);
    limits.max_alloc = Some(MAX_DECODER_MEMORY);
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    reader.limits(limits);
    let refused = |e: ImageError| match e {
        ImageError::Limits(_) => ServiceError::PayloadTooLarge(format!(
            "The picture is too large: at most {MAX_PIXELS_PER_SIDE}×{MAX_PIXELS_PER_SIDE} pixels"
        )),
        _ => ServiceError::UnsupportedMediaType(
            "The file is not a readable PNG, JPEG, WebP or GIF picture".into(),
        ),
    };
    let mut decoder = reader.into_decoder().map_err(refused)?;
    let orientation = decoder.orientation().map_err(refused)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(refused)?;
    picture.apply_orientation(orientation);
    let mut out = Vec::new();
    let written = if format == ImageFormat::Jpeg {
        JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
            .encode_image(&DynamicImage::ImageRgb8(picture.to_rgb8()))
            .map(|()| "image/jpeg")
    } else {
        picture
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map(|()| "image/png")
    };
    let content_type =
        written.map_err(|e| ServiceError::Internal(format!("re-encoding a picture: {e}")))?;
    Ok((out, content_type))
}

/// Sets the actor's avatar from an uploaded file. `url_of(username)` is the
/// avatar's URL, which becomes the profile's `image`. The avatar it
/// replaces is deleted once no profile refers to it.
///
/// # Errors
/// 413 over [`MAX_BYTES`] or [`MAX_PIXELS_PER_SIDE`]; 415 for anything but
/// a readable PNG, JPEG, WebP or GIF; 412 when the precondition fails; 503
/// when the storage fails (the profile is left as it was).
pub async fn upload(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    precondition: &Precondition,
    file: Bytes,
    url_of: impl FnOnce(&str) -> String,
) -> Result<ProfileResponse, ServiceError> {
    if file.len() > MAX_BYTES {
        return Err(ServiceError::PayloadTooLarge(format!(
            "The file is larger than {MAX_BYTES} bytes (2 MiB)"
        )));
    }
    let (stored, content_type) = tokio::task::spawn_blocking(move || reencode(&file)).await??;
    let key = format!("{:x}", Sha256::digest(&stored));
    ctx.storage.put(&key, Bytes::from(stored)).await?;

    let txn = db::begin_write(conn).await?;
    let current = profiles::mine_for_write(&txn, actor, precondition).await?;
    let replaced = current.row.avatar_key.clone();
    let mut changes = current.edit();
    changes.avatar_key = Set(Some(key.clone()));
    changes.avatar_type = Set(Some(content_type.to_owned()));
    changes.image = Set(Some(url_of(&actor.username)));
    let saved = resource::save(ctx, &txn, current, changes).await?;
    txn.commit().await?;
    if let Some(old) = replaced.filter(|old| *old != key) {
        forget(ctx, conn, &old).await;
    }
    Ok(ProfileResponse::new(saved, actor.username.clone()))
}

/// Removes the actor's avatar: `image` back to `null`.
///
/// # Errors
/// 412 when the precondition fails.
pub async fn remove(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    precondition: &Precondition,
) -> Result<(), ServiceError> {
    let txn = db::begin_write(conn).await?;
    let current = profiles::mine_for_write(&txn, actor, precondition).await?;
    let removed = current.row.avatar_key.clone();
    let mut changes = current.edit();
    changes.avatar_key = Set(None);
    changes.avatar_type = Set(None);
    if removed.is_some() {
        changes.image = Set(None);
    }
    resource::save(ctx, &txn, current, changes).await?;
    txn.commit().await?;
    if let Some(old) = removed {
        forget(ctx, conn, &old).await;
    }
    Ok(())
}

/// Deletes a stored object that no profile refers to any more. A failure is
/// logged, not returned: the write it follows has happened.
async fn forget(ctx: &Context, conn: &impl Conn, key: &str) {
    let still_used = profile::Entity::find()
        .filter(profile::Column::AvatarKey.eq(key))
        .count(conn)
        .await;
    match still_used {
        Ok(0) => {
            if let Err(e) = ctx.storage.delete(key).await {
                tracing::warn!(error = %e, key, "could not delete an avatar nobody uses");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, key, "could not check who uses an avatar"),
    }
}

/// The avatar of the user with this username (any case).
///
/// # Errors
/// 404 when there is no such user or no avatar; 503 when the storage fails.
pub async fn get(ctx: &Context, conn: &impl Conn, username: &str) -> Result<Avatar, ServiceError> {
    let none = || ServiceError::not_found("Avatar");
    let found = entity::user::Entity::find()
        .filter(usernames::matches(username))
        .find_also_related(profile::Entity)
        .one(conn)
        .await?;
    let Some((_, Some(profile))) = found else {
        return Err(none());
    };
    let (Some(key), Some(content_type)) = (profile.avatar_key, profile.avatar_type) else {
        return Err(none());
    };
    let bytes = ctx.storage.get(&key).await?.ok_or_else(none)?;
    Ok(Avatar {
        bytes,
        content_type,
        etag: ETag::from_opaque(key),
    })
}
