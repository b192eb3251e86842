//! One error type for the whole service; the API maps each variant to one
//! HTTP status (see `api::error`).

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use serde::Serialize;
use utoipa::ToSchema;

/// One broken rule of a request, as listed in a 422 body (API.md section 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Dotted path into the body (`price`, `items.0.name`) or a parameter name.
    #[schema(example = "username")]
    pub field: String,
    /// What is wrong, for a person.
    #[schema(example = "must be 3 to 50 characters")]
    pub message: String,
    /// A short machine-readable code: `length`, `range`, `email`, `regex`,
    /// `required`, `type`, `null`, …
    #[serde(rename = "type")]
    #[schema(example = "length")]
    pub kind: String,
}

impl FieldError {
    /// A field error from its three parts.
    pub fn new(
        field: impl Into<String>,
        kind: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            kind: kind.into(),
        }
    }
}

/// Everything a service function can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request cannot be understood (a malformed cursor): 400.
    #[error("{0}")]
    BadRequest(String),
    /// Login failed: unknown user or wrong password, one message for both: 401.
    #[error("Incorrect username or password")]
    InvalidCredentials,
    /// Authenticated, but not allowed: 403.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or one the caller may not know exists: 404.
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness or state conflict: 409. `field` names what clashed.
    #[error("{detail}")]
    Conflict {
        field: Option<&'static str>,
        detail: String,
    },
    /// The input breaks one or more rules: 422.
    #[error("The request breaks {} rule(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// The database cannot be reached (pool timeout, connection refused): 503.
    #[error("The database is unavailable")]
    Unavailable(#[source] DbErr),
    /// A bug or an unexpected database error: 500. Logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// A 404 for a thing of this kind (`"Post"` gives "Post not found").
    pub fn not_found(what: &str) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    /// A 422 with a single broken rule.
    pub fn invalid(field: &str, kind: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, kind, message)])
    }

    /// A 409 naming the field that clashed.
    pub fn conflict(field: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            field: Some(field),
            detail: detail.into(),
        }
    }
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Internal(err.to_string())
        }
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Internal(format!("blocking task failed: {err}"))
    }
}

/// True when the error means "the database is not there" rather than "the
/// statement was wrong": pool acquire timeouts, refused or dropped
/// connections, and a server that is shutting down or starting up.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Tls(_) => true,
                Sqlx::Database(db) => db.code().is_some_and(|code| is_unavailable_sqlstate(&code)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs that mean the server went away mid-statement:
/// class 08 (connection exception) and 57P01–57P03 (admin shutdown, crash
/// shutdown, cannot connect now), as when PostgreSQL is stopped under load
/// ("terminating connection due to administrator command").
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// True when the error is a unique-index violation (SQLite 2067, PostgreSQL 23505).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    use super::is_unavailable_sqlstate;

    #[test]
    fn shutdown_and_connection_sqlstates_mean_unavailable() {
        for code in ["57P01", "57P02", "57P03", "08006", "08003"] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "42P01", "57014"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }
}
