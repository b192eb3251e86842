//! Public profiles (API.md section 3, without the avatar upload): one per
//! user, created with the account.

use chrono::{DateTime, Utc};
use entity::{profile, user};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::accounts::username_matches;
use crate::validation::{self, double_option};
use crate::{Actor, ServiceError, set_if_changed, time};

/// A profile as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProfileResponse {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(required)]
    pub full_name: Option<String>,
    #[schema(required)]
    pub bio: Option<String>,
    /// An http(s) URL.
    #[schema(required)]
    pub image: Option<String>,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl ProfileResponse {
    fn new(p: profile::Model, username: String) -> Self {
        Self {
            username,
            full_name: p.full_name,
            bio: p.bio,
            image: p.image,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `PATCH /profiles/me` body: absent fields stay, `null` clears a field.
#[derive(Clone, Debug, Default, Deserialize, Validate, ToSchema)]
pub struct ProfileUpdate {
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub full_name: Option<Option<String>>,
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub bio: Option<Option<String>>,
    #[validate(
        length(max = 500, message = "must be at most 500 characters"),
        custom(function = "http_url")
    )]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500, format = "uri")]
    pub image: Option<Option<String>>,
}

/// An absolute `http` or `https` URL with a host.
fn http_url(value: &str) -> Result<(), ValidationError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(ValidationError::new("url").with_message("must be an http(s) URL".into())),
    }
}

/// Creates the empty profile of a new user; called inside the registration
/// transaction so a failed insert leaves no user behind.
///
/// # Errors
/// Database errors only.
pub async fn create_for(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), ServiceError> {
    profile::ActiveModel {
        user_id: Set(user_id),
        full_name: Set(None),
        bio: Set(None),
        image: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A profile by username, case-insensitively.
///
/// # Errors
/// 404 when no user has this username.
pub async fn get(db: &DatabaseConnection, username: &str) -> Result<ProfileResponse, ServiceError> {
    let (u, p) = user::Entity::find()
        .filter(username_matches(username))
        .find_also_related(profile::Entity)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("Profile"))?;
    let p = p.ok_or_else(|| ServiceError::not_found("Profile"))?;
    Ok(ProfileResponse::new(p, u.username))
}

/// Changes the caller's profile.
///
/// # Errors
/// 422 for a broken rule.
pub async fn update_mine(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ProfileUpdate,
) -> Result<ProfileResponse, ServiceError> {
    validation::validate(&input)?;
    let (u, p) = user::Entity::find_by_id(actor.user_id)
        .find_also_related(profile::Entity)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("Profile"))?;
    let current = p.ok_or_else(|| ServiceError::not_found("Profile"))?;
    let mut row: profile::ActiveModel = current.clone().into();
    if let Some(v) = input.full_name {
        set_if_changed(&mut row.full_name, &current.full_name, v);
    }
    if let Some(v) = input.bio {
        set_if_changed(&mut row.bio, &current.bio, v);
    }
    if let Some(v) = input.image {
        set_if_changed(&mut row.image, &current.image, v);
    }
    if !row.is_changed() {
        return Ok(ProfileResponse::new(current, u.username));
    }
    row.updated_at = Set(time::now());
    let saved = row.update(db).await?;
    Ok(ProfileResponse::new(saved, u.username))
}
