//! `api_keys`: one row per API key a user made, holding only the key's
//! SHA-256 and the first characters a person recognises it by.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The user the key acts as.
    pub user_id: Uuid,
    /// What the user called it (1–100 characters).
    pub name: String,
    /// The key's first 12 characters (`oak_` and 8 more), shown in lists.
    pub prefix: String,
    /// SHA-256 of the whole key, lowercase hex; unique.
    pub key_sha256: String,
    /// The scopes, space-separated in a fixed order (`read write admin`).
    pub scopes: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// `None` for a key that never expires.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last request made with the key, to the minute.
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Set when the key was revoked (by its user, an admin, or a password reset).
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Bumped by every write that changes the row; the ETag derives from it.
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
