//! `refresh_tokens`: one row per refresh token issued, holding only its
//! SHA-256. Tokens rotated from one login share a `family_id`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// The login this token descends from.
    pub family_id: Uuid,
    /// The token this one replaced, if any.
    pub parent_id: Option<Uuid>,
    /// SHA-256 of the token, lowercase hex; unique.
    pub token_sha256: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// Set when the token was exchanged for a new one.
    pub used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Set when its family was revoked (logout, reuse, password change).
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
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

impl ActiveModelBehavior for ActiveModel {}
