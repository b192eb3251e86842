//! What every service function that changes something is given: the
//! database, the password hasher, the clock, the mailer and the lifetimes
//! of the secrets the service hands out, and file storage, in one value.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};

use crate::accounts::PasswordHasher;
use crate::mail::Mailer;

/// The service's dependencies. Cheap to clone (every member is shared).
///
/// Functions that read or write also take a connection or a transaction
/// (`&impl db::Conn`) next to it: the caller decides the transaction, so two
/// calls can run in one (a create and its idempotency record, say).
#[derive(Clone)]
pub struct Context {
    /// The pool; pass `&ctx.db` where a function takes a connection and no
    /// transaction is needed.
    pub db: crate::db::Pool,
    /// bcrypt, off the async workers.
    pub hasher: PasswordHasher,
    /// Now, for timestamps and expiries.
    pub clock: Clock,
    /// Sends the outbox's mail; knows the service's public URL for links.
    pub mailer: Arc<Mailer>,
    /// How long refresh and password-reset tokens live.
    pub lifetimes: Lifetimes,
    /// Where uploaded files (avatars) live.
    pub storage: crate::storage::Storage,
    /// Rows and first pages kept in memory ([`crate::cache`]); off when
    /// `CACHE_TTL` is 0.
    pub cache: crate::cache::Cache,
}

/// How long the secrets the service hands out stay valid.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// A refresh token (`REFRESH_TOKEN_TTL`, default 30 days).
    pub refresh_token: std::time::Duration,
    /// A password-reset token (`PASSWORD_RESET_TTL`, default 1 hour).
    pub password_reset: std::time::Duration,
}

/// The time source: the system clock plus an offset that tests may grow
/// ([`Clock::advance`]) to see expiries without waiting. Timestamps are whole
/// microseconds, the precision PostgreSQL keeps, so what a write returns
/// equals what a later read returns.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, truncated to whole microseconds.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = chrono::Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        (Utc::now() + offset).trunc_subsecs(6)
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: std::time::Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}
