//! Schema migrations. Each file is one schema change, written with `sea_query`
//! and portable SQL only (never an entity), so an entity change cannot break an
//! old migration.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_users;
mod m20261125_000002_create_posts;
mod m20261125_000003_create_languages;
mod m20261125_000004_create_profiles;
mod m20261125_000005_create_cleanings;
mod m20261125_000006_create_offers;
mod m20261201_000007_add_versions;
mod m20261201_000008_create_idempotency_keys;
mod m20261201_000009_create_refresh_tokens;
mod m20261201_000010_create_password_resets;
mod m20261201_000011_create_outbox;
mod m20261201_000012_add_profile_avatars;
mod m20261202_000013_create_api_keys;
mod m20261203_000014_add_outbox_traceparent;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_users::Migration),
            Box::new(m20261125_000002_create_posts::Migration),
            Box::new(m20261125_000003_create_languages::Migration),
            Box::new(m20261125_000004_create_profiles::Migration),
            Box::new(m20261125_000005_create_cleanings::Migration),
            Box::new(m20261125_000006_create_offers::Migration),
            Box::new(m20261201_000007_add_versions::Migration),
            Box::new(m20261201_000008_create_idempotency_keys::Migration),
            Box::new(m20261201_000009_create_refresh_tokens::Migration),
            Box::new(m20261201_000010_create_password_resets::Migration),
            Box::new(m20261201_000011_create_outbox::Migration),
            Box::new(m20261201_000012_add_profile_avatars::Migration),
            Box::new(m20261202_000013_create_api_keys::Migration),
            Box::new(m20261203_000014_add_outbox_traceparent::Migration),
        ]
    }
}
