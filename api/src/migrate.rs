//! Migrations at start-up and from `migrate up`, safe when several instances
//! start together on one database (docs/scaling.md).
//!
//! On PostgreSQL they run under a session-level advisory lock, taken on a
//! connection of its own (not one of the pool's, so a pool of one still has
//! a connection to migrate with): the first instance migrates, the others
//! wait for it and then find nothing to do. Without the lock, two instances
//! creating the same table at once fail on PostgreSQL's catalogue
//! (`pg_type_typname_nsp_index`). SQLite serialises writers itself.

use anyhow::Context as _;
use sea_orm::sqlx::{Connection as _, PgConnection};
use sea_orm::{DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait as _;

use crate::config::Settings;

/// The advisory lock's key, the same in every instance ("owned_mg" in ASCII);
/// nothing else in this database may use it.
pub const LOCK_KEY: i64 = 0x6f77_6e65_645f_6d67;

/// Applies every pending migration to `db`, under the advisory lock on
/// PostgreSQL. `settings.database_url` must name the database `db` is.
///
/// # Errors
/// The lock's connection cannot be opened, or a migration fails.
pub async fn up(settings: &Settings, db: &DatabaseConnection) -> anyhow::Result<()> {
    let lock = match db.get_database_backend() {
        DbBackend::Postgres => Some(MigrationLock::take(&settings.database_url).await?),
        _ => None,
    };
    let migrated = migration::Migrator::up(db, None)
        .await
        .context("running migrations");
    if let Some(lock) = lock {
        lock.release().await;
    }
    migrated
}

/// The advisory lock, held by the session of its own connection; closing
/// the connection (or the process dying) releases it.
struct MigrationLock(PgConnection);

impl MigrationLock {
    async fn take(url: &str) -> anyhow::Result<Self> {
        let mut conn = PgConnection::connect(url)
            .await
            .context("opening a connection for the migration lock (DATABASE_URL)")?;
        let free: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut conn)
            .await
            .context("taking the migration lock")?;
        if !free {
            tracing::info!("another instance is migrating the database; waiting for it");
            sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(LOCK_KEY)
                .execute(&mut conn)
                .await
                .context("waiting for the migration lock")?;
        }
        Ok(Self(conn))
    }

    async fn release(mut self) {
        let unlocked = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut self.0)
            .await;
        if let Err(e) = unlocked {
            tracing::warn!(error = %e, "releasing the migration lock; closing its connection instead");
        }
        let _ = self.0.close().await;
    }
}
