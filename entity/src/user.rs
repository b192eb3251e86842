//! `users`: accounts.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A user's role; stored as its lowercase name. An admin may read, change
/// and delete any resource (docs/conventions.md#roles-and-ownership).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everyone at registration.
    User,
    /// May read, change and delete any resource.
    Admin,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// As typed at registration; unique case-insensitively (index on `lower(username)`).
    pub username: String,
    /// Stored lowercased; unique.
    pub email: String,
    /// bcrypt hash (`$2b$…`), never serialised.
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Bumped by every write that changes the row; the ETag derives from it.
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::post::Entity")]
    Post,
    #[sea_orm(has_one = "super::profile::Entity")]
    Profile,
}

impl Related<super::profile::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Profile.def()
    }
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
