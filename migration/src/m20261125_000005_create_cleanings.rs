use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Cleanings {
    Table,
    Id,
    Name,
    Description,
    Price,
    CleaningType,
    OwnerId,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cleanings::Table)
                    .col(uuid(Cleanings::Id).primary_key())
                    .col(string_len(Cleanings::Name, 100))
                    .col(text_null(Cleanings::Description))
                    // Money is exact: NUMERIC(10, 2), never a float.
                    .col(decimal_len(Cleanings::Price, 10, 2))
                    .col(
                        string_len(Cleanings::CleaningType, 16)
                            .default("spot_clean")
                            .check(Expr::col(Cleanings::CleaningType).is_in([
                                "dust_up",
                                "spot_clean",
                                "full_clean",
                            ])),
                    )
                    .col(uuid(Cleanings::OwnerId))
                    .col(timestamp_with_time_zone(Cleanings::CreatedAt))
                    .col(timestamp_with_time_zone(Cleanings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cleanings_owner_id")
                            .from(Cleanings::Table, Cleanings::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The owner's own list.
        manager
            .create_index(
                Index::create()
                    .name("ix_cleanings_owner_created_at_id")
                    .table(Cleanings::Table)
                    .col(Cleanings::OwnerId)
                    .col(Cleanings::CreatedAt)
                    .col(Cleanings::Id)
                    .to_owned(),
            )
            .await?;
        // The feed: everyone's, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_cleanings_created_at_id")
                    .table(Cleanings::Table)
                    .col(Cleanings::CreatedAt)
                    .col(Cleanings::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Cleanings::Table).to_owned())
            .await
    }
}
