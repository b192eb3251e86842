//! `offers`: one per user per cleaning (the primary key), at most one
//! `accepted` per cleaning (a partial unique index).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Where an offer stands; stored as its lowercase name.
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
pub enum OfferStatus {
    /// Made, awaiting the owner.
    Pending,
    /// Chosen by the owner; at most one per cleaning.
    Accepted,
    /// Turned down by the owner, or set aside when another offer was accepted.
    Rejected,
    /// Withdrawn by the offerer after acceptance.
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "offers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub cleaning_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    pub status: OfferStatus,
    /// True when the offer was rejected because another offer was accepted
    /// (not by the owner's hand): cancelling that acceptance reopens it.
    pub auto_rejected: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Bumped by every write that changes the row; the ETag derives from it.
    pub version: i32,
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
