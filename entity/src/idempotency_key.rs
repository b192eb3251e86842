//! `idempotency_keys`: one row per (caller, key) of an `Idempotency-Key`
//! header, claimed by the first request and holding its response once it
//! completes (docs/conventions.md#idempotent-creates).

use sea_orm::entity::prelude::*;

/// Where a claimed key stands; stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
pub enum KeyState {
    /// A request holds the key and is running.
    Processing,
    /// The request finished; its response is stored.
    Completed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Whose key: `user:<uuid>`, or `addr:<ip>` for a caller with no account.
    #[sea_orm(primary_key, auto_increment = false)]
    pub caller: String,
    /// The header's value (1–255 visible ASCII characters).
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub method: String,
    pub path: String,
    /// SHA-256 of the request body, lowercase hex.
    pub body_sha256: String,
    pub state: KeyState,
    /// Identifies the request that holds the key now; a takeover changes it.
    pub claim: Uuid,
    pub claimed_at: chrono::DateTime<chrono::Utc>,
    pub response_status: Option<i32>,
    pub response_location: Option<String>,
    pub response_etag: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub response_body: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
