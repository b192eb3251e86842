//! Black-box HTTP tests of the assembled service, organised like the routes;
//! the behaviour they check is described in docs/.
//!
//! One binary; each test spawns the whole app on a random port over a fresh database:
//! SQLite in memory, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

mod common;

mod accounts;
mod api_keys;
mod avatars;
mod cache;
mod cleanings;
mod conditional;
mod conventions;
mod fuzz_findings;
mod healthcheck;
mod idempotency;
mod languages;
mod mail;
mod meta;
mod offers;
mod openapi;
mod operations;
mod posts;
mod profiles;
mod security;
mod sessions;
mod traces;
mod users_admin;
