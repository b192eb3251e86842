//! Uploaded avatars: the profile holds the storage key of its avatar (the
//! SHA-256 of the stored bytes) and their content type.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Profiles {
    Table,
    AvatarKey,
    AvatarType,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            string_len_null(Profiles::AvatarKey, 64),
            string_len_null(Profiles::AvatarType, 32),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Profiles::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Whether any profile still refers to an object, before deleting it.
        manager
            .create_index(
                Index::create()
                    .name("ix_profiles_avatar_key")
                    .table(Profiles::Table)
                    .col(Profiles::AvatarKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_profiles_avatar_key")
                    .table(Profiles::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Profiles::AvatarKey, Profiles::AvatarType] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Profiles::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
