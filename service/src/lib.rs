//! The service layer: every business, ownership, visibility and state rule of
//! the API, with no HTTP types. Functions take a database connection, an
//! [`Actor`] where someone acts, and plain input structs; they return response
//! structs or a [`ServiceError`].
//!
//! Request and response schemas (`PostCreate`, `PostResponse`, …) live here
//! with their validation rules so a rule is written once, beside the data it
//! guards; they derive `utoipa::ToSchema` (a schema crate, not an HTTP one).

pub mod accounts;
pub mod actor;
pub mod cleanings;
pub mod db;
pub mod error;
pub mod languages;
pub mod money;
pub mod offers;
pub mod pagination;
pub mod policy;
pub mod posts;
pub mod profiles;
pub mod time;
pub mod validation;

pub use actor::{Actor, Role};
pub use error::{FieldError, ServiceError};
pub use pagination::{Cursor, Page, PageRequest};

/// Sets an active-model field only when the value differs, so a write that
/// changes nothing leaves the row, and its `updated_at`, alone (API.md
/// section 1, "Time").
pub(crate) fn set_if_changed<T>(field: &mut sea_orm::ActiveValue<T>, current: &T, new: T)
where
    T: Into<sea_orm::Value> + PartialEq,
{
    if *current != new {
        *field = sea_orm::ActiveValue::Set(new);
    }
}
