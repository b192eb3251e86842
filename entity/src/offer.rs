//! `offers`: one per user per cleaning (the primary key), at most one
//! `accepted` per cleaning (a partial unique index).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub cleaning_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// `pending`, `accepted`, `rejected` or `cancelled` (a checked column).
    pub status: String,
    /// True when the offer was rejected because another offer was accepted
    /// (not by the owner's hand): cancelling that acceptance reopens it.
    pub auto_rejected: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::cleaning::Entity",
        from = "Column::CleaningId",
        to = "super::cleaning::Column::Id",
        on_delete = "Cascade"
    )]
    Cleaning,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::cleaning::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Cleaning.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
