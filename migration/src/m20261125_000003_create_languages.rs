use chrono::{SubsecRound, Utc};
use sea_orm_migration::{prelude::*, schema::*};
use uuid::Uuid;

use crate::m20261125_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Languages {
    Table,
    Id,
    Name,
    PublicationYear,
    Contribution,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

/// The entries a fresh database holds (docs/catalogue.md#shipped-entries): name, year,
/// contribution, exactly as the contract lists them.
const SHIPPED: [(&str, i32, &str); 8] = [
    ("COBOL", 1960, "record data"),
    ("ALGOL", 1958, "scoping and nested functions"),
    ("APL", 1962, "array processing"),
    ("BASIC", 1964, "runtime interpretation, office tooling"),
    ("PL/I", 1966, "constants, function overloading, pointers"),
    (
        "SIMULA67",
        1967,
        "class/object split, subclassing, protected attributes",
    ),
    (
        "Pascal",
        1970,
        "modern unary, binary, and assignment operator syntax expectations",
    ),
    ("CLU", 1975, "iterators, abstract data"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Languages::Table)
                    .col(uuid(Languages::Id).primary_key())
                    .col(string_len(Languages::Name, 100))
                    .col(integer(Languages::PublicationYear))
                    .col(string_len(Languages::Contribution, 500))
                    .col(uuid_null(Languages::CreatedBy))
                    .col(timestamp_with_time_zone(Languages::CreatedAt))
                    .col(timestamp_with_time_zone(Languages::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_languages_created_by")
                            .from(Languages::Table, Languages::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Names are unique case-insensitively (docs/catalogue.md#validation); the index
        // settles concurrent creates.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_languages_name_lower ON languages (lower(name))",
        )
        .await?;
        // The list order: publication_year, then name case-insensitively, then id.
        db.execute_unprepared(
            "CREATE INDEX ix_languages_year_name_id ON languages (publication_year, lower(name), id)",
        )
        .await?;
        // The shipped entries, so the catalogue is never empty on first run.
        // `created_by` stays null: only admins may change them.
        let now = Utc::now().trunc_subsecs(6);
        let mut insert = Query::insert();
        insert.into_table(Languages::Table).columns([
            Languages::Id,
            Languages::Name,
            Languages::PublicationYear,
            Languages::Contribution,
            Languages::CreatedAt,
            Languages::UpdatedAt,
        ]);
        for (name, year, contribution) in SHIPPED {
            insert.values_panic([
                Uuid::now_v7().into(),
                name.into(),
                year.into(),
                contribution.into(),
                now.into(),
                now.into(),
            ]);
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Languages::Table).to_owned())
            .await
    }
}
