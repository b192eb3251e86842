//! `outbox`: mail waiting to be sent, or sent, or given up on.

use sea_orm::entity::prelude::*;

/// Where a mail stands; stored as its lowercase name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::N(16))",
    rename_all = "snake_case"
)]
pub enum MailState {
    /// To be sent at `next_attempt_at`.
    Pending,
    /// Accepted by the mail server (or written to a file).
    Sent,
    /// Rejected for good.
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub recipient: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body_text: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub body_html: Option<String>,
    pub state: MailState,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// When the mail is next due; while a worker holds it, the end of its lease.
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The W3C `traceparent` of the request that wrote the mail, when
    /// tracing was on: the send span links to it (docs/observability.md).
    pub traceparent: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
