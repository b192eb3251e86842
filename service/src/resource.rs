//! The one path every resource takes, whatever its rules
//! (docs/conventions.md#conditional-requests):
//!
//! 1. **load for reading**: the row, if it exists for the caller (a
//!    soft-deleted row does not; a draft exists only for its author): else 404;
//! 2. **load for a write**: the same 404, then the policy (403), then the
//!    `If-Match` precondition against the row's ETag (412);
//! 3. **save**: only the fields that changed, with `updated_at` and the
//!    version bump, in one `UPDATE … WHERE <key> AND version = ?` when a
//!    precondition was given, so a concurrent write in between is a 412 and
//!    never a lost update; a write that changes nothing touches nothing;
//! 4. **insert** with a new UUID v7, the timestamps and version 1;
//!    **remove** under the same precondition as a save.
//!
//! A violated unique or foreign key becomes a 409 naming the field, by the
//! constraint's name (`error::CONSTRAINTS`), wherever the statement ran.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, Condition, EntityTrait, IntoActiveModel, Iterable,
    ModelTrait, PrimaryKeyToColumn, QueryFilter, UpdateMany, Value,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::cache::{Key, Table};
use crate::db::Conn;
use crate::{Actor, Context, FieldError, ServiceError, validation};

/// A table whose rows clients address one by one.
pub trait Resource:
    EntityTrait<Model: IntoActiveModel<Self::ActiveModel> + Sync, ActiveModel: Send>
{
    /// The resource's name in messages: "Post" gives "Post not found".
    const NAME: &'static str;
    /// The primary-key column that holds a generated UUID v7, if any.
    const ID: Option<Self::Column>;
    const CREATED_AT: Self::Column;
    const UPDATED_AT: Self::Column;
    /// Bumped by every write that changes the row.
    const VERSION: Self::Column;

    /// The rows that exist. Reads see only these, and writes touch only
    /// these, so a write racing a soft delete finds nothing.
    fn live() -> Condition {
        Condition::all()
    }

    /// May `viewer` (anonymous when `None`) know that this row exists?
    /// Everyone, unless a resource says otherwise (drafts).
    fn visible_to(_viewer: Option<&Actor>, _row: &Self::Model) -> bool {
        true
    }

    /// May `actor` change or delete this row? The resource's rule from
    /// [`crate::policy`]. By default nobody may: resources whose writes
    /// follow other rules (an offer's parties, an account's admin) check
    /// them themselves and call [`writable`].
    fn may_write(_actor: &Actor, _row: &Self::Model) -> Result<(), ServiceError> {
        Err(ServiceError::Forbidden(format!(
            "This {} cannot be changed this way",
            Self::NAME.to_lowercase()
        )))
    }

    /// What the row's entity tag is made from: its key, creation time and
    /// version.
    fn row_version(row: &Self::Model) -> RowVersion;

    /// The row's strong entity tag ([`RowVersion::etag`]).
    fn etag(row: &Self::Model) -> ETag {
        Self::row_version(row).etag()
    }

    /// The cache's table for this resource ([`crate::cache`]), when its
    /// rows or lists are cached. Every write through this module then drops
    /// what it changed.
    const CACHED: Option<Table> = None;

    /// The keys a row is cached under; `None` when they cannot be told from
    /// the row (a profile is read by a username its row does not hold), so
    /// a write drops every entry of the table. By default the row's id.
    fn cache_keys(row: &Self::Model) -> Option<Vec<Key>> {
        let (table, id) = (Self::CACHED?, Self::ID?);
        let id = <Uuid as sea_orm::sea_query::ValueType>::try_from(row.get(id)).ok()?;
        Some(vec![Key::Row(table, id)])
    }
}

/// Drops the cache's entries of the rows a write changed (as they were and
/// as they are now) and the table's list pages. (A cached post shows its
/// author's username, and profiles are read by it; usernames never change,
/// so a write to a user leaves both alone.)
fn dropped<R: Resource>(ctx: &Context, old: Option<&R::Model>, new: Option<&R::Model>) {
    let Some(table) = R::CACHED else { return };
    let keys: Option<Vec<Key>> = [old, new]
        .into_iter()
        .flatten()
        .map(R::cache_keys)
        .try_fold(Vec::new(), |mut all: Vec<Key>, keys| {
            // The row as it was and as it is mostly share their keys.
            for key in keys? {
                if !all.contains(&key) {
                    all.push(key);
                }
            }
            Some(all)
        });
    match keys {
        Some(keys) => ctx.cache.drop_rows(table, keys, false),
        None => ctx.cache.drop_rows(table, Vec::new(), true),
    }
}

/// A strong entity tag (RFC 9110 §8.8.3): opaque to clients, equal for equal
/// versions of one resource, different after every change, and different for
/// a new resource that reuses an old key (an offer made again after it was
/// rescinded). Held without its quotes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// The tag of the row with this key (its primary-key bytes), creation
    /// time and version: 128 bits of a SHA-256, base64url.
    pub fn new(key: &[u8], created_at: DateTime<Utc>, version: i32) -> Self {
        let digest = Sha256::new()
            .chain_update(key)
            .chain_update(created_at.timestamp_micros().to_be_bytes())
            .chain_update(version.to_be_bytes())
            .finalize();
        Self(URL_SAFE_NO_PAD.encode(&digest[..16]))
    }

    /// A tag as a client sent it, without its quotes.
    pub fn from_opaque(tag: impl Into<String>) -> Self {
        Self(tag.into())
    }

    /// The tag without quotes.
    pub fn opaque(&self) -> &str {
        &self.0
    }

    /// The header form: `"…"`.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// What a row's entity tag is made from: its key (one UUID, or two for a
/// row keyed by a pair), creation time and version. A response holds this
/// and hashes it only when the tag is sent ([`Tagged::etag`]): a page of
/// rows sends no tags, so it never pays for twenty hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowVersion {
    key: (Uuid, Option<Uuid>),
    created_at: DateTime<Utc>,
    version: i32,
}

impl RowVersion {
    /// A row keyed by one UUID.
    pub fn new(id: Uuid, created_at: DateTime<Utc>, version: i32) -> Self {
        Self {
            key: (id, None),
            created_at,
            version,
        }
    }

    /// A row keyed by a pair of UUIDs, in key order.
    pub fn of_pair(first: Uuid, second: Uuid, created_at: DateTime<Utc>, version: i32) -> Self {
        Self {
            key: (first, Some(second)),
            created_at,
            version,
        }
    }

    /// The entity tag ([`ETag::new`] over the key's bytes).
    pub fn etag(&self) -> ETag {
        match self.key {
            (id, None) => ETag::new(id.as_bytes(), self.created_at, self.version),
            (first, Some(second)) => ETag::new(
                &[first.as_bytes().as_slice(), second.as_bytes()].concat(),
                self.created_at,
                self.version,
            ),
        }
    }
}

/// A representation that carries its resource's entity tag (the API sends
/// it as `ETag`), made when asked for.
pub trait Tagged {
    /// The tag, hashed on each call (a SHA-256 of under 40 bytes): call it
    /// once per response.
    fn etag(&self) -> ETag;
}

/// `impl Tagged` for response structs that hold their [`RowVersion`] in a
/// `row_version` field.
macro_rules! tagged {
    ($($response:ty),+ $(,)?) => {$(
        impl $crate::resource::Tagged for $response {
            fn etag(&self) -> $crate::resource::ETag {
                self.row_version.etag()
            }
        }
    )+};
}
pub(crate) use tagged;

/// What a write asks of the current row: the `If-Match` header (RFC 9110
/// §13.1.1), already parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Precondition {
    /// No `If-Match`: the write goes through.
    #[default]
    None,
    /// `If-Match: *`: any current row.
    Any,
    /// `If-Match: "a", "b"`: the row's tag must be one of these, by strong
    /// comparison (the caller leaves weak tags out: they never match).
    OneOf(Vec<ETag>),
}

/// A row loaded for a write that passed its checks, with what the write
/// statement must still find.
#[derive(Debug)]
pub struct Current<R: Resource> {
    /// The row as loaded.
    pub row: R::Model,
    /// `Some(version)` when a precondition was given: the write's `WHERE`
    /// requires that version still (or, for `*`, the row still).
    expected: Option<Option<i32>>,
}

impl<R: Resource> Current<R> {
    /// The row as an active model with nothing set yet, to change fields on.
    pub fn edit(&self) -> R::ActiveModel {
        self.row.clone().into_active_model()
    }

    /// What to answer when the write statement finds no row: the row changed
    /// or went away since it was loaded.
    fn vanished(&self) -> ServiceError {
        if self.expected.is_some() {
            precondition_failed::<R>()
        } else {
            ServiceError::not_found(R::NAME)
        }
    }
}

fn precondition_failed<R: Resource>() -> ServiceError {
    ServiceError::PreconditionFailed(format!(
        "This {} has changed since the ETag in If-Match was issued; fetch it again",
        R::NAME.to_lowercase()
    ))
}

/// The condition that picks exactly this row: its primary key, live.
fn this_row<R: Resource>(row: &R::Model) -> Condition {
    R::PrimaryKey::iter().fold(R::live(), |condition, key| {
        let column = key.into_column();
        condition.add(column.eq(row.get(column)))
    })
}

/// Step 1: 404 unless `row` exists for `viewer`.
///
/// # Errors
/// [`ServiceError::NotFound`] ("<Name> not found").
pub fn visible<R: Resource, T>(
    viewer: Option<&Actor>,
    found: Option<T>,
    row: impl Fn(&T) -> &R::Model,
) -> Result<T, ServiceError> {
    found
        .filter(|t| R::visible_to(viewer, row(t)))
        .ok_or_else(|| ServiceError::not_found(R::NAME))
}

/// Step 1: the live row matching `condition` that `viewer` may know of.
///
/// # Errors
/// 404 when there is none.
pub async fn load<R: Resource>(
    conn: &impl Conn,
    viewer: Option<&Actor>,
    condition: impl Into<Condition>,
) -> Result<R::Model, ServiceError> {
    let found = R::find()
        .filter(R::live())
        .filter(condition.into())
        .one(conn)
        .await?;
    visible::<R, _>(viewer, found, |row| row)
}

/// Step 1 through the cache ([`crate::cache`]) for a resource whose rows
/// are cached by id ([`Resource::CACHED`]): the live row with this id that
/// `viewer` may know of. Visibility is checked on every read, cached or not.
/// Writes never load through here: they read the database.
///
/// # Errors
/// 404 when there is none.
pub async fn load_by_id<R: Resource>(
    ctx: &Context,
    conn: &impl Conn,
    viewer: Option<&Actor>,
    id: Uuid,
) -> Result<R::Model, ServiceError>
where
    R::Model: Send + Sync + 'static,
{
    let column = R::ID.ok_or_else(|| {
        ServiceError::Internal(format!("{} has no generated id to load by", R::NAME))
    })?;
    let read = async {
        Ok(R::find()
            .filter(R::live())
            .filter(column.eq(id))
            .one(conn)
            .await?)
    };
    let found = match R::CACHED {
        Some(table) => ctx.cache.read(Key::Row(table, id), read).await?,
        None => read.await?.map(Arc::new),
    };
    // A copy only when the cache keeps the row too.
    visible::<R, _>(viewer, found, |row| row).map(Arc::unwrap_or_clone)
}

/// Steps 2–3 on a row already found: the policy's verdict (403), then the
/// precondition (412).
///
/// # Errors
/// The policy's error; [`ServiceError::PreconditionFailed`] when the row's
/// ETag is not among the precondition's tags.
pub fn writable<R: Resource>(
    row: R::Model,
    policy: Result<(), ServiceError>,
    precondition: &Precondition,
) -> Result<Current<R>, ServiceError> {
    policy?;
    let expected = match precondition {
        Precondition::None => None,
        Precondition::Any => Some(None),
        Precondition::OneOf(tags) if tags.contains(&R::etag(&row)) => {
            Some(Some(version_of::<R>(&row)?))
        }
        Precondition::OneOf(_) => return Err(precondition_failed::<R>()),
    };
    Ok(Current { row, expected })
}

/// Steps 1–3: the live row matching `condition` that `actor` may see (404),
/// may change ([`Resource::may_write`], 403) and that meets `precondition`
/// (412).
///
/// # Errors
/// As [`load`] and [`writable`].
pub async fn load_for_write<R: Resource>(
    conn: &impl Conn,
    actor: &Actor,
    condition: impl Into<Condition>,
    precondition: &Precondition,
) -> Result<Current<R>, ServiceError> {
    let row = load::<R>(conn, Some(actor), condition).await?;
    let verdict = R::may_write(actor, &row);
    writable(row, verdict, precondition)
}

fn version_of<R: Resource>(row: &R::Model) -> Result<i32, ServiceError> {
    match row.get(R::VERSION) {
        Value::Int(Some(v)) => Ok(v),
        other => Err(ServiceError::Internal(format!(
            "{} version is not an integer: {other:?}",
            R::NAME
        ))),
    }
}

/// Step 4: inserts `row` with a new UUID v7 (when the key is generated and
/// not given), `created_at` = `updated_at` = now, and version 1.
///
/// # Errors
/// 409 for a listed constraint (a taken slug, say); database errors.
pub async fn insert<R: Resource>(
    ctx: &Context,
    conn: &impl Conn,
    row: R::ActiveModel,
) -> Result<R::Model, ServiceError> {
    insert_at::<R>(ctx, conn, row, ctx.clock.now()).await
}

/// [`insert`] with `now` as its creation time, for a row whose other
/// times derive from it (an expiry).
///
/// # Errors
/// As [`insert`].
pub async fn insert_at<R: Resource>(
    ctx: &Context,
    conn: &impl Conn,
    mut row: R::ActiveModel,
    now: DateTime<Utc>,
) -> Result<R::Model, ServiceError> {
    if let Some(id) = R::ID
        && row.get(id).is_not_set()
    {
        row.set(id, Uuid::now_v7().into());
    }
    row.set(R::CREATED_AT, now.into());
    row.set(R::UPDATED_AT, now.into());
    row.set(R::VERSION, 1.into());
    let inserted = row.insert(conn).await?;
    dropped::<R>(ctx, None, Some(&inserted));
    Ok(inserted)
}

/// Step 4: saves the fields of `changes` that are set (see [`Patch`]),
/// with a new `updated_at` and the version bumped, in one statement that
/// also requires what the precondition asked. A write that sets nothing
/// touches nothing and returns the row as loaded.
///
/// # Errors
/// 412 when a precondition was given and the row changed meanwhile; 404
/// when it went away meanwhile; 409 for a listed constraint.
pub async fn save<R: Resource>(
    ctx: &Context,
    conn: &impl Conn,
    current: Current<R>,
    changes: R::ActiveModel,
) -> Result<R::Model, ServiceError> {
    if !changes.is_changed() {
        return Ok(current.row);
    }
    let mut update =
        bump::<R>(ctx, R::update_many().set(changes)).filter(this_row::<R>(&current.row));
    if let Some(Some(version)) = current.expected {
        update = update.filter(R::VERSION.eq(version));
    }
    let mut saved = update.exec_with_returning(conn).await?;
    match saved.pop() {
        Some(row) => {
            dropped::<R>(ctx, Some(&current.row), Some(&row));
            Ok(row)
        }
        None => Err(current.vanished()),
    }
}

/// Step 4: deletes the row, under the same precondition as [`save`].
///
/// # Errors
/// 412 when a precondition was given and the row changed meanwhile; 404
/// when it went away meanwhile.
pub async fn remove<R: Resource>(
    ctx: &Context,
    conn: &impl Conn,
    current: Current<R>,
) -> Result<(), ServiceError> {
    let mut delete = R::delete_many().filter(this_row::<R>(&current.row));
    if let Some(Some(version)) = current.expected {
        delete = delete.filter(R::VERSION.eq(version));
    }
    if delete.exec(conn).await?.rows_affected == 0 {
        return Err(current.vanished());
    }
    dropped::<R>(ctx, Some(&current.row), None);
    Ok(())
}

/// Adds the bookkeeping of a changing write to an `UPDATE`: `updated_at`
/// now, `version + 1`. For writes that change several rows at once (the
/// offers an acceptance rejects). Such a write on a cached table must drop
/// what it changed itself ([`crate::cache::Cache::drop_rows`]).
pub fn bump<R: Resource>(ctx: &Context, update: UpdateMany<R>) -> UpdateMany<R> {
    update
        .col_expr(R::UPDATED_AT, Expr::value(ctx.clock.now()))
        .col_expr(R::VERSION, Expr::col(R::VERSION).add(1))
}

/// The changes of a PATCH (or a PUT, as a PATCH that gives every field):
/// each field is set only when its value differs from the current row, so a
/// write that changes nothing leaves the row and its `updated_at` alone;
/// `null` for a field that may not be null is collected as a 422, together
/// with the body's other broken rules.
pub struct Patch {
    errors: Vec<FieldError>,
}

impl Patch {
    /// Starts with the body's `validator` rules checked.
    pub fn checked(input: &impl validator::Validate) -> Self {
        let errors = match input.validate() {
            Ok(()) => Vec::new(),
            Err(e) => validation::field_errors(&e),
        };
        Self { errors }
    }

    /// A field that may not be null: absent (`None`) stays, `null`
    /// (`Some(None)`) is a 422 on `name`, a value replaces.
    pub fn required<T>(
        &mut self,
        name: &str,
        field: &mut ActiveValue<T>,
        current: &T,
        input: Option<Option<T>>,
    ) where
        T: Into<Value> + PartialEq,
    {
        match input {
            None => {}
            Some(None) => self
                .errors
                .push(FieldError::new(name, "null", "must not be null")),
            Some(Some(value)) => set_if_changed(field, current, value),
        }
    }

    /// A nullable field: absent stays, `null` clears, a value replaces.
    pub fn nullable<T>(
        &mut self,
        field: &mut ActiveValue<Option<T>>,
        current: &Option<T>,
        input: Option<Option<T>>,
    ) where
        Option<T>: Into<Value> + PartialEq,
    {
        if let Some(value) = input {
            set_if_changed(field, current, value);
        }
    }

    /// A rule checked outside the body's `validator` rules (one that needs
    /// the clock, say); `None` when it holds.
    pub fn rule(&mut self, broken: Option<FieldError>) {
        self.errors.extend(broken);
    }

    /// Every broken rule at once, sorted by field.
    ///
    /// # Errors
    /// [`ServiceError::Validation`] when any rule broke.
    pub fn finish(mut self) -> Result<(), ServiceError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        self.errors.sort_by(|a, b| a.field.cmp(&b.field));
        Err(ServiceError::Validation(self.errors))
    }
}

/// Sets an active-model field only when the value differs.
fn set_if_changed<T>(field: &mut ActiveValue<T>, current: &T, new: T)
where
    T: Into<Value> + PartialEq,
{
    if *current != new {
        *field = ActiveValue::Set(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_differ_by_version_and_creation() {
        let id = Uuid::now_v7();
        let at = Utc::now();
        let v1 = ETag::new(id.as_bytes(), at, 1);
        assert_eq!(v1, RowVersion::new(id, at, 1).etag());
        let other = Uuid::now_v7();
        assert_eq!(
            RowVersion::of_pair(id, other, at, 1).etag(),
            ETag::new(&[*id.as_bytes(), *other.as_bytes()].concat(), at, 1)
        );
        assert_ne!(
            RowVersion::of_pair(id, other, at, 1).etag(),
            RowVersion::of_pair(other, id, at, 1).etag()
        );
        assert_eq!(v1, ETag::new(id.as_bytes(), at, 1));
        assert_ne!(v1, ETag::new(id.as_bytes(), at, 2));
        assert_ne!(
            v1,
            ETag::new(id.as_bytes(), at + chrono::Duration::microseconds(1), 1)
        );
        assert!(v1.quoted().starts_with('"') && v1.quoted().ends_with('"'));
        assert!(
            v1.opaque()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
