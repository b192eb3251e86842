//! API keys (docs/accounts.md#api-keys): credentials for programs, acting as
//! the user who made them within the scopes they were given.
//!
//! A key is `oak_` and 43 URL-safe characters (32 random bytes), shown once,
//! when it is made; the database keeps its SHA-256 under a unique index, so
//! authenticating a request is one indexed lookup joined to the key's user
//! (whose `is_active` and role apply as they are now). Nothing about a key
//! is cached in the process: a revoke is seen by the very next request, on
//! every instance. A revoked key keeps its row (`revoked_at`), so its id
//! never comes to mean another key.

use chrono::{DateTime, Duration, Utc};
use entity::{api_key, user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QuerySelect,
    RelationTrait, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::db::{self, Conn};
use crate::resource::{self, Patch, Resource, RowVersion};
use crate::{
    Actor, Context, Credential, FieldError, Page, PageRequest, Role, Scope, Scopes, ServiceError,
    pagination, policy, secret, time,
};

/// What every key starts with, so a key is recognisable in a log or a
/// secret scanner ("owned-api key").
pub const KEY_PREFIX: &str = "oak_";
/// How many of a key's first characters are kept and shown (`prefix`).
pub const SHOWN_PREFIX_LEN: usize = 12;
/// A key's length: the prefix and 43 characters of base64url.
pub const KEY_LEN: usize = KEY_PREFIX.len() + 43;
/// Most live (neither revoked nor expired) keys one user may hold.
pub const MAX_LIVE_KEYS: u64 = 50;
/// `expires_in_days` when the body leaves it out.
pub const DEFAULT_EXPIRES_IN_DAYS: i32 = 90;
/// Longest lifetime a key may be given, in days.
pub const MAX_EXPIRES_IN_DAYS: i32 = 365;

/// `last_used_at` is written at most this often per key: a busy key costs
/// one conditional `UPDATE` a minute, not one per request.
pub fn last_used_granularity() -> Duration {
    Duration::minutes(1)
}

/// `POST /users/me/api-keys` body.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct ApiKeyCreate {
    /// What the key is for, 1–100 characters ("nightly export").
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(example = "nightly export", min_length = 1, max_length = 100)]
    pub name: String,
    /// At least one of `read` (`GET`, `HEAD`), `write` (every method;
    /// includes `read`) and `admin` (what only admins may do; only an admin
    /// may grant it, beside `read` or `write`). Repeats count once.
    #[validate(length(min = 1, message = "must name at least one scope"))]
    #[schema(example = json!(["read"]), min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Days until the key expires, 1–365; `null` for a key that never
    /// expires; 90 when absent.
    #[serde(default, deserialize_with = "crate::validation::integer_patch")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 365, default = 90, example = 30)]
    pub expires_in_days: Option<Option<i32>>,
}

/// An API key as lists show it: never the key itself.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: Uuid,
    #[schema(example = "nightly export")]
    pub name: String,
    /// In the order `read`, `write`, `admin`.
    #[schema(example = json!(["read"]))]
    pub scopes: Vec<Scope>,
    /// The key's first 12 characters, to tell keys apart.
    #[schema(example = "oak_3q9ZpL0x")]
    pub prefix: String,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    /// `null` for a key that never expires.
    #[serde(serialize_with = "time::serialize_option")]
    #[schema(required)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The last request made with the key, to the minute; `null` before the first.
    #[serde(serialize_with = "time::serialize_option")]
    #[schema(required)]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl From<api_key::Model> for ApiKeyResponse {
    fn from(m: api_key::Model) -> Self {
        Self {
            row_version: api_key::Entity::row_version(&m),
            scopes: stored_scopes(&m).to_vec(),
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
        }
    }
}

resource::tagged!(ApiKeyResponse);

/// A new API key: what [`ApiKeyResponse`] holds, and the key itself, shown
/// in this response only.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub id: Uuid,
    #[schema(example = "nightly export")]
    pub name: String,
    #[schema(example = json!(["read"]))]
    pub scopes: Vec<Scope>,
    #[schema(example = "oak_3q9ZpL0x")]
    pub prefix: String,
    /// The key: send it as `X-API-Key`. Shown once; the service keeps only
    /// its SHA-256, so a lost key cannot be shown again (make another).
    #[schema(example = "oak_3q9ZpL0xw8K2m5T7vYc1bN4hJ6dF0sA9eR3uI8oP2lQ")]
    pub key: String,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize_option")]
    #[schema(required)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Always `null`: the key was never used.
    #[serde(serialize_with = "time::serialize_option")]
    #[schema(required)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Resource for api_key::Entity {
    const NAME: &'static str = "API key";
    const ID: Option<api_key::Column> = Some(api_key::Column::Id);
    const CREATED_AT: api_key::Column = api_key::Column::CreatedAt;
    const UPDATED_AT: api_key::Column = api_key::Column::UpdatedAt;
    const VERSION: api_key::Column = api_key::Column::Version;

    /// A revoked key is gone for every route.
    fn live() -> Condition {
        Condition::all().add(api_key::Column::RevokedAt.is_null())
    }

    fn row_version(k: &api_key::Model) -> RowVersion {
        RowVersion::new(k.id, k.created_at, k.version)
    }
}

fn stored_scopes(key: &api_key::Model) -> Scopes {
    Scopes::from_stored(&key.scopes).unwrap_or_else(|| {
        tracing::error!(key_id = %key.id, scopes = %key.scopes, "an API key holds an unknown scope; it grants nothing");
        Scopes::default()
    })
}

/// Live keys at `now`: not revoked, not expired.
fn live_at(now: DateTime<Utc>) -> Condition {
    api_key::Entity::live().add(
        Condition::any()
            .add(api_key::Column::ExpiresAt.is_null())
            .add(api_key::Column::ExpiresAt.gt(now)),
    )
}

/// Makes a key for the caller; the answer holds the key, once.
///
/// # Errors
/// 403 with an API key (a login is needed), or when a non-admin asks for
/// `admin`; 422 for a broken rule (`name` length, no scope, `admin` alone,
/// `expires_in_days` outside 1–365); 409 when the caller already has
/// [`MAX_LIVE_KEYS`] live keys (checked under a lock on the caller's
/// account row, so two concurrent requests cannot both make the 51st).
pub async fn create(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    input: ApiKeyCreate,
) -> Result<ApiKeyCreated, ServiceError> {
    policy::ensure_login(actor, "Making API keys")?;
    let scopes: Scopes = input.scopes.iter().copied().collect();
    policy::ensure_may_grant(actor, scopes)?;
    let mut rules = Patch::checked(&input);
    if scopes == Scopes::default().with(Scope::Admin) {
        rules.rule(Some(FieldError::new(
            "scopes",
            "scopes",
            "`admin` adds admin powers to `read` or `write`; give one of them too",
        )));
    }
    let days = match input.expires_in_days {
        Some(Some(days)) if !(1..=MAX_EXPIRES_IN_DAYS).contains(&days) => {
            rules.rule(Some(FieldError::new(
                "expires_in_days",
                "range",
                "must be between 1 and 365, or null for a key that never expires",
            )));
            None
        }
        Some(days) => days,
        None => Some(DEFAULT_EXPIRES_IN_DAYS),
    };
    rules.finish()?;

    let key = format!("{KEY_PREFIX}{}", secret::new_token());
    let now = ctx.clock.now();
    let txn = db::begin_write(conn).await?;
    // Serialises the key-making of one user (a no-op on SQLite, whose write
    // transaction already holds the database's write lock).
    user::Entity::find_by_id(actor.user_id)
        .select_only()
        .column(user::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::Unauthorized("The account no longer exists".into()))?;
    let live = api_key::Entity::find()
        .filter(api_key::Column::UserId.eq(actor.user_id))
        .filter(live_at(now))
        .count(&txn)
        .await?;
    if live >= MAX_LIVE_KEYS {
        return Err(ServiceError::Conflict {
            field: None,
            detail: format!(
                "You have {MAX_LIVE_KEYS} live API keys, the most one user may have; revoke one first"
            ),
        });
    }
    let row = api_key::ActiveModel {
        user_id: Set(actor.user_id),
        name: Set(input.name),
        prefix: Set(key[..SHOWN_PREFIX_LEN].to_owned()),
        key_sha256: Set(secret::digest(&key)),
        scopes: Set(scopes.to_stored()),
        expires_at: Set(days.map(|d| now + Duration::days(i64::from(d)))),
        last_used_at: Set(None),
        revoked_at: Set(None),
        ..Default::default()
    };
    let saved = resource::insert_at::<api_key::Entity>(ctx, &txn, row, now).await?;
    txn.commit().await?;
    Ok(ApiKeyCreated {
        id: saved.id,
        name: saved.name,
        scopes: scopes.to_vec(),
        prefix: saved.prefix,
        key,
        created_at: saved.created_at,
        expires_at: saved.expires_at,
        last_used_at: saved.last_used_at,
    })
}

/// Whose keys an operation is about.
#[derive(Clone, Copy, Debug)]
pub enum Holder {
    /// The caller's own (`/users/me/api-keys`).
    Me,
    /// Any user's, by id (`/users/{id}/api-keys`, admins only).
    User(Uuid),
}

impl Holder {
    /// Checks who may act on these keys, and returns the user's id.
    ///
    /// # Errors
    /// 403 with an API key; 403 for another user's keys unless an admin;
    /// 404 when an admin names a user who does not exist.
    async fn resolve(
        self,
        conn: &impl Conn,
        actor: &Actor,
        what: &str,
    ) -> Result<Uuid, ServiceError> {
        policy::ensure_login(actor, what)?;
        match self {
            Self::Me => Ok(actor.user_id),
            Self::User(id) => {
                policy::ensure_admin(actor)?;
                user::Entity::find_by_id(id)
                    .select_only()
                    .column(user::Column::Id)
                    .into_tuple::<Uuid>()
                    .one(conn)
                    .await?
                    .ok_or_else(|| ServiceError::not_found("User"))
            }
        }
    }
}

/// A holder's live keys, newest first, without the keys themselves.
///
/// # Errors
/// As [`Holder`]'s checks (403, 404).
pub async fn list(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    holder: Holder,
    page: PageRequest,
) -> Result<Page<ApiKeyResponse>, ServiceError> {
    let user_id = holder.resolve(conn, actor, "Listing API keys").await?;
    let query = api_key::Entity::find()
        .filter(api_key::Column::UserId.eq(user_id))
        .filter(live_at(ctx.clock.now()));
    let query = page.apply(query, api_key::Column::CreatedAt, api_key::Column::Id);
    let rows = pagination::fetch(conn, query.into_model::<api_key::Model>()).await?;
    let key = |k: &api_key::Model| PageRequest::key(k.created_at, k.id);
    Ok(page.finish(rows, key, Into::into))
}

/// One of the caller's live keys (the `Location` of a new key).
///
/// # Errors
/// 403 with an API key; 404 for a key that is not the caller's, revoked or
/// expired.
pub async fn get(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
) -> Result<ApiKeyResponse, ServiceError> {
    let user_id = Holder::Me.resolve(conn, actor, "Reading API keys").await?;
    let condition = live_at(ctx.clock.now())
        .add(api_key::Column::Id.eq(id))
        .add(api_key::Column::UserId.eq(user_id));
    resource::load::<api_key::Entity>(conn, Some(actor), condition)
        .await
        .map(Into::into)
}

/// Revokes a holder's live key: from the moment this returns, no request
/// authenticates with it, on any instance.
///
/// # Errors
/// As [`Holder`]'s checks (403, 404); 404 for a key that is not the
/// holder's, already revoked or expired.
pub async fn revoke(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    holder: Holder,
    id: Uuid,
) -> Result<(), ServiceError> {
    let user_id = holder.resolve(conn, actor, "Revoking API keys").await?;
    let now = ctx.clock.now();
    let revoked = revoke_where(
        ctx,
        conn,
        live_at(now)
            .add(api_key::Column::Id.eq(id))
            .add(api_key::Column::UserId.eq(user_id)),
    )
    .await?;
    if revoked == 0 {
        return Err(ServiceError::not_found(api_key::Entity::NAME));
    }
    Ok(())
}

/// Revokes every key of a user (a password reset); call it in the
/// transaction that sets the new password.
///
/// # Errors
/// Database errors only.
pub async fn revoke_all(
    ctx: &Context,
    conn: &impl Conn,
    user_id: Uuid,
) -> Result<u64, ServiceError> {
    revoke_where(
        ctx,
        conn,
        api_key::Entity::live().add(api_key::Column::UserId.eq(user_id)),
    )
    .await
}

async fn revoke_where(
    ctx: &Context,
    conn: &impl Conn,
    which: Condition,
) -> Result<u64, ServiceError> {
    let done = resource::bump::<api_key::Entity>(ctx, api_key::Entity::update_many())
        .col_expr(api_key::Column::RevokedAt, Expr::value(ctx.clock.now()))
        .filter(which)
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

/// Is `key` well formed: the prefix, then base64url of 32 bytes?
fn well_formed(key: &str) -> bool {
    key.len() == KEY_LEN
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What authentication reads of a live key and its user, in one query:
/// key id, user id, scopes, whether `last_used_at` is due to be written,
/// role, `is_active`, username. Nothing that needs parsing a timestamp: the
/// comparisons run in SQL.
type LiveKey = (Uuid, Uuid, String, bool, Role, bool, String);

/// The actor behind an `X-API-Key`: the key's user as they are now, with
/// the key's scopes. Records the use in `last_used_at` when the recorded one
/// is a minute old or more (a conditional `UPDATE`, so concurrent requests
/// of a busy key write it once).
///
/// One indexed read on the way in (the key's hash, joined to its user by
/// primary key), filtered to live keys in SQL; only a refused key costs a
/// second read, to say why.
///
/// # Errors
/// 401 ([`ServiceError::Unauthorized`]) for a malformed or unknown key, a
/// revoked or expired one, and the key of a user who is gone or disabled.
pub async fn authenticate(
    ctx: &Context,
    conn: &impl Conn,
    key: &str,
) -> Result<Actor, ServiceError> {
    if !well_formed(key) {
        return Err(ServiceError::Unauthorized(
            "The API key is not valid".into(),
        ));
    }
    let digest = secret::digest(key);
    let now = ctx.clock.now();
    let stale = now - last_used_granularity();
    let last_used_due = Expr::col(api_key::Column::LastUsedAt)
        .is_null()
        .or(Expr::col(api_key::Column::LastUsedAt).lte(stale));
    let found: Option<LiveKey> = api_key::Entity::find()
        .select_only()
        .columns([
            api_key::Column::Id,
            api_key::Column::UserId,
            api_key::Column::Scopes,
        ])
        .expr(last_used_due)
        .column(user::Column::Role)
        .column(user::Column::IsActive)
        .column(user::Column::Username)
        .join(JoinType::InnerJoin, api_key::Relation::User.def())
        .filter(api_key::Column::KeySha256.eq(digest.as_str()))
        .filter(live_at(now))
        .into_tuple()
        .one(conn)
        .await?;
    let Some((id, user_id, scopes, due, role, active, username)) = found else {
        return Err(refusal(conn, &digest).await);
    };
    if !active {
        return Err(ServiceError::Unauthorized(
            "The account of this API key no longer exists or is disabled".into(),
        ));
    }
    let Some(scopes) = Scopes::from_stored(&scopes) else {
        tracing::error!(key_id = %id, %scopes, "an API key holds an unknown scope");
        return Err(ServiceError::Unauthorized(
            "The API key is not valid".into(),
        ));
    };
    if due {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(api_key::Column::LastUsedAt.is_null())
                    .add(api_key::Column::LastUsedAt.lte(stale)),
            )
            .exec(conn)
            .await?;
    }
    Ok(Actor {
        user_id,
        role,
        username,
        credential: Credential::ApiKey { id, scopes },
    })
}

/// Why a well-formed key found no live row: unknown, revoked or expired.
async fn refusal(conn: &impl Conn, digest: &str) -> ServiceError {
    let found = api_key::Entity::find()
        .select_only()
        .column(api_key::Column::RevokedAt)
        .filter(api_key::Column::KeySha256.eq(digest))
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(conn)
        .await;
    let detail = match found {
        Err(e) => return e.into(),
        Ok(None) => "The API key is not valid",
        Ok(Some(Some(_))) => "The API key was revoked",
        Ok(Some(None)) => "The API key has expired; make a new one",
    };
    ServiceError::Unauthorized(detail.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_keys_are_well_formed_and_others_are_not() {
        let key = format!("{KEY_PREFIX}{}", secret::new_token());
        assert!(well_formed(&key), "{key}");
        assert!(!well_formed(&key[..key.len() - 1]));
        assert!(!well_formed(&key.replacen("oak_", "oak-", 1)));
        assert!(!well_formed(&format!("{}+", &key[..key.len() - 1])));
    }
}
