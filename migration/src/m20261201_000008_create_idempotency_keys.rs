//! `idempotency_keys`: the `Idempotency-Key` of a create, claimed by inserting
//! its row (the primary key settles a race between two requests), and the
//! response replayed to a repeat.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Caller,
    Key,
    Method,
    Path,
    BodySha256,
    State,
    Claim,
    ClaimedAt,
    ResponseStatus,
    ResponseLocation,
    ResponseEtag,
    ResponseBody,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string_len(IdempotencyKeys::Caller, 80))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::Method, 8))
                    .col(text(IdempotencyKeys::Path))
                    .col(string_len(IdempotencyKeys::BodySha256, 64))
                    .col(string_len(IdempotencyKeys::State, 16).check(
                        Expr::col(IdempotencyKeys::State).is_in(["processing", "completed"]),
                    ))
                    .col(uuid(IdempotencyKeys::Claim))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ClaimedAt))
                    .col(integer_null(IdempotencyKeys::ResponseStatus))
                    .col(text_null(IdempotencyKeys::ResponseLocation))
                    .col(text_null(IdempotencyKeys::ResponseEtag))
                    .col(text_null(IdempotencyKeys::ResponseBody))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Caller)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        // The periodic purge deletes by expiry.
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_keys_expires_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
