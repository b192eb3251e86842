use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Posts {
    Table,
    Id,
    Title,
    Slug,
    Body,
    Published,
    AuthorId,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Posts::Table)
                    .col(uuid(Posts::Id).primary_key())
                    .col(string_len(Posts::Title, 200))
                    .col(string_len(Posts::Slug, 200))
                    .col(text(Posts::Body))
                    .col(boolean(Posts::Published).default(false))
                    .col(uuid(Posts::AuthorId))
                    .col(timestamp_with_time_zone(Posts::CreatedAt))
                    .col(timestamp_with_time_zone(Posts::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Posts::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_posts_author_id")
                            .from(Posts::Table, Posts::AuthorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // A slug is unique among live posts only: soft-deleting a post frees it
        // (docs/blog.md#soft-delete). The partial index settles concurrent creates.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_posts_slug_live ON posts (slug) WHERE deleted_at IS NULL",
        )
        .await?;
        // The public feed: published, live, newest first.
        db.execute_unprepared(
            "CREATE INDEX ix_posts_published_created_at_id ON posts (created_at, id) \
             WHERE deleted_at IS NULL AND published",
        )
        .await?;
        // An author's own posts and the `?author=` filter.
        manager
            .create_index(
                Index::create()
                    .name("ix_posts_author_created_at_id")
                    .table(Posts::Table)
                    .col(Posts::AuthorId)
                    .col(Posts::CreatedAt)
                    .col(Posts::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Posts::Table).to_owned())
            .await
    }
}
