//! Public profiles (docs/accounts.md#profiles): one per user, created with
//! the account. Avatars are uploaded through `avatars`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{profile, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::cache::{Key, Table};
use crate::db::Conn;
use crate::resource::{self, Patch, Precondition, Resource, RowVersion};
use crate::validation::double_option;
use crate::{Actor, Context, ServiceError, time, usernames};

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
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl ProfileResponse {
    pub(crate) fn new(p: profile::Model, username: String) -> Self {
        Self {
            row_version: profile::Entity::row_version(&p),
            username,
            full_name: p.full_name,
            bio: p.bio,
            image: p.image,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

resource::tagged!(ProfileResponse);

impl Resource for profile::Entity {
    const NAME: &'static str = "Profile";
    const ID: Option<profile::Column> = None;
    const CREATED_AT: profile::Column = profile::Column::CreatedAt;
    const UPDATED_AT: profile::Column = profile::Column::UpdatedAt;
    const VERSION: profile::Column = profile::Column::Version;
    /// Read by username, which the row does not hold: a write drops every
    /// cached profile (profiles change seldom).
    const CACHED: Option<Table> = Some(Table::Profiles);

    fn row_version(p: &profile::Model) -> RowVersion {
        RowVersion::new(p.user_id, p.created_at, p.version)
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
    ctx: &Context,
    conn: &impl Conn,
    user_id: Uuid,
) -> Result<(), ServiceError> {
    let row = profile::ActiveModel {
        user_id: Set(user_id),
        full_name: Set(None),
        bio: Set(None),
        image: Set(None),
        ..Default::default()
    };
    resource::insert::<profile::Entity>(ctx, conn, row).await?;
    Ok(())
}

/// A profile by username, case-insensitively.
///
/// # Errors
/// 404 when no user has this username.
pub async fn get(
    ctx: &Context,
    conn: &impl Conn,
    username: &str,
) -> Result<ProfileResponse, ServiceError> {
    let fill = async {
        let found = user::Entity::find()
            .filter(usernames::matches(username))
            .find_also_related(profile::Entity)
            .one(conn)
            .await?;
        Ok(match found {
            Some((u, Some(p))) => Some(ProfileResponse::new(p, u.username)),
            _ => None,
        })
    };
    let key = Key::Name(Table::Profiles, username.to_lowercase());
    match ctx.cache.read(key, fill).await? {
        Some(profile) => Ok(Arc::unwrap_or_clone(profile)),
        None => Err(ServiceError::not_found("Profile")),
    }
}

/// Changes the caller's profile: absent fields stay, `null` clears one.
///
/// # Errors
/// 412 when the precondition fails; 422 for a broken rule.
pub async fn update_mine(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    precondition: &Precondition,
    input: ProfileUpdate,
) -> Result<ProfileResponse, ServiceError> {
    let current = mine_for_write(conn, actor, precondition).await?;
    let was = &current.row;
    let mut changes = current.edit();
    let mut patch = Patch::checked(&input);
    patch.nullable(&mut changes.bio, &was.bio, input.bio);
    patch.nullable(&mut changes.full_name, &was.full_name, input.full_name);
    patch.nullable(&mut changes.image, &was.image, input.image);
    patch.finish()?;
    let saved = resource::save(ctx, conn, current, changes).await?;
    Ok(ProfileResponse::new(saved, actor.username.clone()))
}

/// The actor's own profile, loaded for a write: always theirs to change, so
/// only the precondition can refuse it (412).
///
/// # Errors
/// 412 when the precondition fails; 404 if the profile is missing.
pub(crate) async fn mine_for_write(
    conn: &impl Conn,
    actor: &Actor,
    precondition: &Precondition,
) -> Result<resource::Current<profile::Entity>, ServiceError> {
    let mine = resource::load::<profile::Entity>(
        conn,
        Some(actor),
        profile::Column::UserId.eq(actor.user_id),
    )
    .await?;
    resource::writable::<profile::Entity>(mine, Ok(()), precondition)
}
