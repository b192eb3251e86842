//! A `version` on every resource row, starting at 1 and bumped by every write
//! that changes the row: conditional requests compare it (`UPDATE … WHERE
//! version = ?`) and ETags derive from it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Version {
    Version,
}

/// The tables that hold resources a client can address one by one.
const TABLES: [&str; 6] = [
    "users",
    "profiles",
    "posts",
    "languages",
    "cleanings",
    "offers",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One statement per table: SQLite's ALTER TABLE adds one column at a time.
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(integer(Version::Version).default(1))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Version::Version)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
