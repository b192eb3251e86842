use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_users::Users;
use crate::m20261125_000005_create_cleanings::Cleanings;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Offers {
    Table,
    CleaningId,
    UserId,
    Status,
    AutoRejected,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Offers::Table)
                    .col(uuid(Offers::CleaningId))
                    .col(uuid(Offers::UserId))
                    .col(string_len(Offers::Status, 16).default("pending").check(
                        Expr::col(Offers::Status).is_in([
                            "pending",
                            "accepted",
                            "rejected",
                            "cancelled",
                        ]),
                    ))
                    .col(boolean(Offers::AutoRejected).default(false))
                    .col(timestamp_with_time_zone(Offers::CreatedAt))
                    .col(timestamp_with_time_zone(Offers::UpdatedAt))
                    // One offer per user per cleaning, whatever its status.
                    .primary_key(Index::create().col(Offers::CleaningId).col(Offers::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_offers_cleaning_id")
                            .from(Offers::Table, Offers::CleaningId)
                            .to(Cleanings::Table, Cleanings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_offers_user_id")
                            .from(Offers::Table, Offers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // At most one accepted offer per cleaning, guaranteed by the database
        // whatever the interleaving of concurrent accepts.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_offers_one_accepted ON offers (cleaning_id) \
             WHERE status = 'accepted'",
        )
        .await?;
        // The offers of a cleaning, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_offers_cleaning_created_at_user")
                    .table(Offers::Table)
                    .col(Offers::CleaningId)
                    .col(Offers::CreatedAt)
                    .col(Offers::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Offers::Table).to_owned())
            .await
    }
}
