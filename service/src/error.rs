//! One error type for the whole service; the API maps each variant to one
//! HTTP status (see `api::error`). Database errors become variants here, in
//! one place: a violated constraint is looked up by name in [`CONSTRAINTS`]
//! and becomes a 409 naming the field that clashed.

use sea_orm::sqlx::error::ErrorKind;
use sea_orm::{DbErr, RuntimeErr};
use serde::Serialize;
use utoipa::ToSchema;

/// One broken rule of a request, as listed in a 422 body
/// (docs/conventions.md#errors).
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
    /// A token (a refresh token, say) that is unknown, expired, spent or
    /// revoked: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed: 403.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource, or one the caller may not know exists: 404.
    #[error("{0}")]
    NotFound(String),
    /// An `If-Match` precondition failed: 412. Nothing was changed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A uniqueness or state conflict: 409. `field` names what clashed.
    #[error("{detail}")]
    Conflict {
        field: Option<&'static str>,
        detail: String,
    },
    /// A request with the same `Idempotency-Key` is still running: 409, to
    /// be retried shortly.
    #[error("{0}")]
    StillRunning(String),
    /// The body is too large (an upload over its limit, a picture over its
    /// pixel limit): 413.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is not of a type the operation takes (an upload that is
    /// not a picture): 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The input breaks one or more rules: 422.
    #[error("The request breaks {} rule(s)", .0.len())]
    Validation(Vec<FieldError>),
    /// File storage cannot be reached: 503.
    #[error("{0}")]
    StorageUnavailable(String),
    /// The database cannot be reached (pool timeout, connection refused): 503.
    #[error("The database is unavailable")]
    Unavailable(#[source] DbErr),
    /// A bug or an unexpected database error: 500. Logged with its source
    /// chain, never shown.
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
    /// An outage is 503; a violation of a constraint listed in
    /// [`CONSTRAINTS`] is the 409 listed there; anything else is a bug (500),
    /// kept with its source chain for the log.
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            return Self::Unavailable(err);
        }
        if let Some(constraint) = violated(&err) {
            return Self::Conflict {
                field: constraint.field,
                detail: constraint.detail.to_owned(),
            };
        }
        Self::Internal(chain(&err))
    }
}

/// An error and its sources, `outer: inner: …`, for the log.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// A constraint of the schema and what its violation means to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Constraint {
    /// Its name in the schema; PostgreSQL reports it.
    pub name: &'static str,
    /// How SQLite reports it, which is not by name for a column index:
    /// `table.column[, table.column]`, or `index 'name'` for an expression
    /// index. `None` for a foreign key: SQLite names none.
    pub sqlite: Option<&'static str>,
    /// The request field that clashed.
    pub field: Option<&'static str>,
    /// The 409's `detail`, for a person.
    pub detail: &'static str,
}

/// Every unique and foreign-key constraint a request can run into (the
/// migrations name them), and the 409 each means. A violation of one not
/// listed here is a bug: 500.
pub const CONSTRAINTS: &[Constraint] = &[
    Constraint {
        name: "ux_users_username_lower",
        sqlite: Some("index 'ux_users_username_lower'"),
        field: Some("username"),
        detail: "A user with this username already exists",
    },
    Constraint {
        name: "ux_users_email",
        sqlite: Some("users.email"),
        field: Some("email"),
        detail: "A user with this email already exists",
    },
    Constraint {
        name: "ux_posts_slug_live",
        sqlite: Some("posts.slug"),
        field: Some("slug"),
        detail: "A post with this slug already exists",
    },
    Constraint {
        name: "ux_languages_name_lower",
        sqlite: Some("index 'ux_languages_name_lower'"),
        field: Some("name"),
        detail: "A language with this name already exists",
    },
    Constraint {
        name: "offers_pkey",
        sqlite: Some("offers.cleaning_id, offers.user_id"),
        field: Some("user_id"),
        detail: "You already made an offer on this cleaning",
    },
    Constraint {
        name: "ux_offers_one_accepted",
        sqlite: Some("offers.cleaning_id"),
        field: Some("status"),
        detail: "This cleaning already has an accepted offer",
    },
    Constraint {
        name: "fk_offers_cleaning_id",
        sqlite: None,
        field: Some("cleaning_id"),
        detail: "The cleaning was deleted meanwhile",
    },
];

/// The listed constraint `err` violates, if any. SQLite does not say which
/// foreign key failed: any foreign-key violation there is a 409 with a
/// general detail.
pub fn violated(err: &DbErr) -> Option<Constraint> {
    const ANY_FOREIGN_KEY: Constraint = Constraint {
        name: "",
        sqlite: None,
        field: None,
        detail: "Something this request refers to was deleted meanwhile",
    };
    let db = database_error(err)?;
    let name = db.constraint();
    let message = db.message();
    match db.kind() {
        ErrorKind::UniqueViolation => {
            let sqlite = message.strip_prefix("UNIQUE constraint failed: ");
            CONSTRAINTS
                .iter()
                .find(|c| name == Some(c.name) || (sqlite.is_some() && sqlite == c.sqlite))
                .copied()
        }
        ErrorKind::ForeignKeyViolation => match name {
            Some(name) => CONSTRAINTS.iter().find(|c| c.name == name).copied(),
            None => Some(ANY_FOREIGN_KEY),
        },
        _ => None,
    }
}

/// Is `err` a violation of the unique or primary key called `name` (on
/// SQLite, reported as `sqlite`)? For the one place that settles a race by a
/// key on purpose (claiming an idempotency key).
pub(crate) fn violates(err: &DbErr, name: &str, sqlite: &str) -> bool {
    database_error(err).is_some_and(|db| {
        db.kind() == ErrorKind::UniqueViolation
            && (db.constraint() == Some(name)
                || db.message().strip_prefix("UNIQUE constraint failed: ") == Some(sqlite))
    })
}

fn database_error(err: &DbErr) -> Option<&dyn sea_orm::sqlx::error::DatabaseError> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error()
        }
        _ => None,
    }
}

impl From<tokio::task::JoinError> for ServiceError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Internal(format!("blocking task failed: {}", chain(&err)))
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
