//! `api_keys`: credentials for programs (scripts, CI jobs, generated SDKs).
//! Only a key's SHA-256 is kept, under a unique index so a request's key is
//! found in one indexed lookup; `prefix` (its first 12 characters) lets a
//! person tell keys apart in a list. A key is revoked by setting
//! `revoked_at`, never by deleting its row, so its id never comes to mean
//! another key.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    UserId,
    Name,
    Prefix,
    KeySha256,
    Scopes,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    Version,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(uuid(ApiKeys::Id).primary_key())
                    .col(uuid(ApiKeys::UserId))
                    .col(string_len(ApiKeys::Name, 100))
                    .col(string_len(ApiKeys::Prefix, 12))
                    .col(string_len(ApiKeys::KeySha256, 64))
                    .col(string_len(ApiKeys::Scopes, 32))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone(ApiKeys::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .col(integer(ApiKeys::Version).default(1))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_keys_user_id")
                            .from(ApiKeys::Table, ApiKeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_keys_key_sha256")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::KeySha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A user's keys, newest first: the list and the live-key count.
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_user_id_created_at")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::UserId)
                    .col(ApiKeys::CreatedAt)
                    .col(ApiKeys::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
