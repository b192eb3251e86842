use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Profiles {
    Table,
    UserId,
    FullName,
    Bio,
    Image,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Profiles::Table)
                    .col(uuid(Profiles::UserId).primary_key())
                    .col(string_len_null(Profiles::FullName, 100))
                    .col(text_null(Profiles::Bio))
                    .col(string_len_null(Profiles::Image, 500))
                    .col(timestamp_with_time_zone(Profiles::CreatedAt))
                    .col(timestamp_with_time_zone(Profiles::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_profiles_user_id")
                            .from(Profiles::Table, Profiles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Every user has a profile (docs/accounts.md#profiles), including the users
        // registered before this migration.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO profiles (user_id, created_at, updated_at) \
                 SELECT id, created_at, created_at FROM users",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Profiles::Table).to_owned())
            .await
    }
}
