//! Black-box HTTP tests of the assembled service (API.md sections 1, 2, 4 and 7).
//!
//! One binary; each test spawns the whole app on a random port over a fresh database:
//! SQLite in memory, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

mod common;

mod accounts;
mod conventions;
mod meta;
mod openapi;
mod posts;
mod users_admin;
