//! The service layer: every business, ownership, visibility and state rule of
//! the API, with no HTTP types. Functions take the [`Context`], a connection
//! or a transaction ([`db::Conn`]) where they touch the database, an
//! [`Actor`] where someone acts, and plain input structs; they return
//! response structs or a [`ServiceError`].
//!
//! Every resource goes through one path ([`resource`]): load for reading
//! (404), load for a write (404, 403, 412), save only what changed with the
//! version bump, constraint violations mapped by name to 409s.
//!
//! Request and response schemas (`PostCreate`, `PostResponse`, …) live here
//! with their validation rules so a rule is written once, beside the data it
//! guards; they derive `utoipa::ToSchema` (a schema crate, not an HTTP one).
//! The behaviour they implement is described in the repository's `docs/`.

pub mod accounts;
pub mod actor;
pub mod api_keys;
pub mod avatars;
pub mod cache;
pub mod cleanings;
pub mod context;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod languages;
pub mod mail;
pub mod money;
pub mod offers;
pub mod pagination;
pub mod policy;
pub mod posts;
pub mod profiles;
pub mod recovery;
pub mod resource;
pub mod secret;
pub mod sessions;
pub mod storage;
pub mod time;
pub mod tracecontext;
pub mod usernames;
pub mod validation;

pub use actor::{Actor, Credential, Role, Scope, Scopes};
pub use context::{Clock, Context, Lifetimes};
pub use error::{FieldError, ServiceError};
pub use pagination::{Cursor, Page, PageRequest};
pub use resource::{ETag, Precondition, RowVersion, Tagged};
