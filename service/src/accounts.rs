//! Accounts (docs/accounts.md): registration, login, the caller's own
//! account, and admin user management.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::cache::Table;
use crate::db::{self, Conn};
use crate::mail::{self, Mail};
use crate::pagination::{self, Newest};
use crate::resource::{self, Patch, Precondition, Resource, RowVersion};
use crate::validation::{self, double_option};
use crate::{
    Actor, Context, Credential, FieldError, Page, PageRequest, Role, ServiceError, policy,
    sessions, time, usernames,
};

/// `POST /auth/register` body.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct UserCreate {
    /// 3–50 ASCII letters, digits and `_`; unique case-insensitively, kept as typed.
    #[validate(custom(function = "validation::username"))]
    #[schema(
        example = "alice",
        min_length = 3,
        max_length = 50,
        pattern = "^[A-Za-z0-9_]+$"
    )]
    pub username: String,
    /// A valid e-mail address; stored lowercased; unique.
    #[validate(
        email(message = "must be a valid e-mail address"),
        length(max = 320, message = "must be at most 320 characters")
    )]
    #[schema(example = "alice@example.com", format = "email")]
    pub email: String,
    /// 8–72 **bytes** of UTF-8 with at least one ASCII digit and one ASCII
    /// uppercase letter. (JSON Schema counts characters: `minLength` 2 and
    /// `maxLength` 72 are the character counts those byte bounds allow.)
    #[validate(custom(function = "validation::password"))]
    #[schema(
        example = "Secret123",
        min_length = 2,
        max_length = 72,
        format = "password",
        pattern = r"^(?=[^\u0000]*[0-9])(?=[^\u0000]*[A-Z])[^\u0000]*$"
    )]
    pub password: String,
}

/// `POST /auth/login` JSON body. `username` may also be the e-mail address.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "Secret123", format = "password")]
    pub password: String,
}

/// `PATCH /users/me` body: a new e-mail and/or password, always with the
/// current password.
#[derive(Clone, Debug, Default, Deserialize, Validate, ToSchema)]
pub struct MeUpdate {
    #[validate(
        email(message = "must be a valid e-mail address"),
        length(max = 320, message = "must be at most 320 characters")
    )]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, format = "email")]
    pub email: Option<Option<String>>,
    /// The new password, same rules as at registration (8–72 bytes).
    #[validate(custom(function = "validation::password"))]
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, nullable = false, format = "password", min_length = 2, max_length = 72, pattern = r"^(?=[^\u0000]*[0-9])(?=[^\u0000]*[A-Z])[^\u0000]*$")]
    pub password: Option<Option<String>>,
    /// Required; a wrong one is 403.
    #[validate(required(message = "is required to change the account"))]
    #[schema(value_type = String, format = "password")]
    pub current_password: Option<String>,
}

/// `PATCH /users/{id}` body (admin only).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct UserAdminUpdate {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Role>, nullable = false)]
    pub role: Option<Option<Role>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub is_active: Option<Option<bool>>,
}

/// A user as the API shows it: never the password or its hash.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    #[schema(example = "alice")]
    pub username: String,
    #[schema(example = "alice@example.com")]
    pub email: String,
    pub role: Role,
    pub is_active: bool,
    #[serde(serialize_with = "time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::serialize")]
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub row_version: RowVersion,
}

impl From<user::Model> for UserResponse {
    fn from(m: user::Model) -> Self {
        Self {
            row_version: user::Entity::row_version(&m),
            id: m.id,
            username: m.username,
            email: m.email,
            role: m.role,
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

resource::tagged!(UserResponse);

impl Resource for user::Entity {
    const NAME: &'static str = "User";
    const ID: Option<user::Column> = Some(user::Column::Id);
    const CREATED_AT: user::Column = user::Column::CreatedAt;
    const UPDATED_AT: user::Column = user::Column::UpdatedAt;
    const VERSION: user::Column = user::Column::Version;
    const CACHED: Option<Table> = Some(Table::Users);

    fn row_version(u: &user::Model) -> RowVersion {
        RowVersion::new(u.id, u.created_at, u.version)
    }
}

/// bcrypt hashing and verifying, run on the blocking thread pool so a burst
/// of logins never stalls the async workers (docs/accounts.md#passwords). At most one
/// hash per core runs at once; the rest wait their turn, so a login storm
/// cannot take every blocking thread or starve the CPU.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<tokio::sync::Semaphore>,
    /// A real hash of a random password: an unknown user is verified against
    /// it so that "no such user" takes as long as "wrong password". Made in
    /// the background at start-up (a quarter of a second at cost 12), so
    /// the service is ready before it is; a login that comes first waits.
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
}

impl PasswordHasher {
    /// Makes a hasher of the given bcrypt cost (4–31) and starts making its
    /// dummy hash on the blocking pool.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] for a cost bcrypt refuses.
    pub async fn new(cost: u32) -> Result<Self, ServiceError> {
        if !(4..=31).contains(&cost) {
            return Err(ServiceError::Internal(format!(
                "bcrypt cost {cost} is not in 4..=31"
            )));
        }
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let hasher = Self {
            cost,
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            dummy_hash: Arc::default(),
        };
        let priming = hasher.clone();
        tokio::spawn(async move {
            if let Err(e) = priming.dummy().await {
                tracing::error!(error = %e, "bcrypt: could not make the dummy hash");
            }
        });
        Ok(hasher)
    }

    /// The dummy hash, made on first need.
    async fn dummy(&self) -> Result<String, ServiceError> {
        let cost = self.cost;
        self.dummy_hash
            .get_or_try_init(|| async move {
                let dummy = Uuid::new_v4().to_string();
                tokio::task::spawn_blocking(move || bcrypt::hash(dummy, cost))
                    .await?
                    .map_err(|e| ServiceError::Internal(format!("bcrypt: {e}")))
            })
            .await
            .cloned()
    }

    /// Hashes a password that already passed [`validation::password`].
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when bcrypt fails.
    pub async fn hash(&self, password: String) -> Result<String, ServiceError> {
        let cost = self.cost;
        let _permit = self.permit().await?;
        tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
            .await?
            .map_err(|e| ServiceError::Internal(format!("bcrypt: {e}")))
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ServiceError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| ServiceError::Internal("bcrypt semaphore closed".into()))
    }

    /// Checks `password` against `hash`, or against the dummy hash when there
    /// is no user, so both paths cost one bcrypt verification.
    pub async fn verify(&self, password: String, hash: Option<String>) -> bool {
        let known = hash.is_some();
        let hash = match hash {
            Some(hash) => hash,
            None => match self.dummy().await {
                Ok(dummy) => dummy,
                Err(_) => return false,
            },
        };
        let Ok(_permit) = self.permit().await else {
            return false;
        };
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        known && ok
    }
}

/// An account ready to be inserted: checked against the registration
/// rules, its e-mail lowercased and its password hashed. Made outside any
/// transaction, since hashing takes a quarter of a second on purpose.
#[derive(Clone, Debug)]
pub struct NewAccount {
    username: String,
    email: String,
    password_hash: String,
    role: Role,
}

impl NewAccount {
    /// Checks `input` and hashes its password.
    ///
    /// # Errors
    /// 422 for a broken rule.
    pub async fn prepare(
        ctx: &Context,
        input: UserCreate,
        role: Role,
    ) -> Result<Self, ServiceError> {
        validation::validate(&input)?;
        Ok(Self {
            username: input.username,
            email: input.email.to_lowercase(),
            password_hash: ctx.hasher.hash(input.password).await?,
            role,
        })
    }

    /// The username asked for.
    pub fn username(&self) -> &str {
        &self.username
    }
}

/// Creates the account, its empty profile and its welcome mail, atomically
/// (a savepoint inside the caller's transaction).
///
/// # Errors
/// 409 naming `username` or `email` when taken, also when two registrations
/// race (the unique indexes decide).
pub async fn create(
    ctx: &Context,
    conn: &impl Conn,
    account: NewAccount,
) -> Result<UserResponse, ServiceError> {
    let txn = db::begin_write(conn).await?;
    let row = user::ActiveModel {
        username: Set(account.username),
        email: Set(account.email),
        password_hash: Set(account.password_hash),
        role: Set(account.role),
        is_active: Set(true),
        ..Default::default()
    };
    let user = resource::insert::<user::Entity>(ctx, &txn, row).await?;
    crate::profiles::create_for(ctx, &txn, user.id).await?;
    mail::enqueue(ctx, &txn, welcome(ctx, &user)).await?;
    txn.commit().await?;
    Ok(user.into())
}

/// The welcome mail of a new account, naming its user.
fn welcome(ctx: &Context, user: &user::Model) -> Mail {
    Mail {
        to: user.email.clone(),
        subject: format!("Welcome, {}", user.username),
        text: format!(
            "Hello {name},\n\n\
             your account at {url} is ready. Log in with your username,\n\
             {name}, or with this e-mail address.\n",
            name = user.username,
            url = ctx.mailer.public_url,
        ),
        html: None,
    }
}

/// Checks a login. `login` is a username (any case) or an e-mail address.
/// The password is checked first, against a dummy hash when there is no
/// such user, so both failures look and time the same.
///
/// # Errors
/// [`ServiceError::InvalidCredentials`] for an unknown user or a wrong
/// password; [`ServiceError::Forbidden`] for a disabled account with the
/// right password.
pub async fn authenticate(
    ctx: &Context,
    conn: &impl Conn,
    login: &str,
    password: &str,
) -> Result<UserResponse, ServiceError> {
    let by = if login.contains('@') {
        user::Column::Email.eq(login.to_lowercase())
    } else {
        usernames::matches(login)
    };
    let found = user::Entity::find().filter(by).one(conn).await?;
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    if !ctx.hasher.verify(password.to_owned(), hash).await {
        return Err(ServiceError::InvalidCredentials);
    }
    let user = found.ok_or(ServiceError::InvalidCredentials)?;
    if !user.is_active {
        return Err(ServiceError::Forbidden("This account is disabled".into()));
    }
    Ok(user.into())
}

/// The actor behind a token's `sub`, if that user still exists and is active.
/// Called on every authenticated request, so a disabled account or a changed
/// role takes effect at once.
///
/// # Errors
/// Database errors, and an unknown stored role (500).
pub async fn actor_for(conn: &impl Conn, user_id: Uuid) -> Result<Option<Actor>, ServiceError> {
    let found = user::Entity::find_by_id(user_id)
        .select_only()
        .column(user::Column::Role)
        .column(user::Column::IsActive)
        .column(user::Column::Username)
        .into_tuple::<(Role, bool, String)>()
        .one(conn)
        .await?;
    Ok(found
        .filter(|(_, active, _)| *active)
        .map(|(role, _, username)| Actor {
            user_id,
            role,
            username,
            credential: Credential::Login,
        }))
}

/// Reads one account: the user themself or an admin.
///
/// # Errors
/// 403 for anyone else; 404 when there is no such user.
pub async fn get_user(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
) -> Result<UserResponse, ServiceError> {
    policy::ensure_self_or_admin(actor, id)?;
    resource::load_by_id::<user::Entity>(ctx, conn, Some(actor), id)
        .await
        .map(Into::into)
}

/// Lists every account, newest first (admin only).
///
/// # Errors
/// 403 for a non-admin.
pub async fn list_users(
    conn: &impl Conn,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<UserResponse>, ServiceError> {
    policy::ensure_admin(actor)?;
    let query = page.apply(
        user::Entity::find(),
        user::Column::CreatedAt,
        user::Column::Id,
    );
    let rows = pagination::fetch(conn, query.into_model::<user::Model>()).await?;
    let key = |u: &user::Model| -> Newest { PageRequest::key(u.created_at, u.id) };
    Ok(page.finish(rows, key, Into::into))
}

/// Changes the caller's e-mail and/or password after checking the current
/// password. A new password always counts as a change (its hash is new),
/// and revokes every refresh token of the user; API keys stay (the owner
/// knew the password). Needs a login: a leaked API key must not be able to
/// lock its owner out, and a new e-mail would let it ask for a reset link.
///
/// # Errors
/// 403 with an API key; 412 when the precondition fails; 422 for a broken rule or a missing
/// `current_password`; 403 for a wrong current password; 409 when the new
/// e-mail is taken.
pub async fn update_me(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    precondition: &Precondition,
    input: MeUpdate,
) -> Result<UserResponse, ServiceError> {
    policy::ensure_login(actor, "Changing the account's e-mail or password")?;
    let me = resource::load::<user::Entity>(conn, Some(actor), user::Column::Id.eq(actor.user_id))
        .await?;
    let current = resource::writable::<user::Entity>(me, Ok(()), precondition)?;
    let was = &current.row;
    let mut changes = current.edit();
    let mut patch = Patch::checked(&input);
    let email = input.email.map(|e| e.map(|e| e.to_lowercase()));
    patch.required("email", &mut changes.email, &was.email, email);
    patch.rule(match input.password {
        Some(None) => Some(FieldError::new("password", "null", "must not be null")),
        _ => None,
    });
    patch.finish()?;
    let current_password = input.current_password.unwrap_or_default();
    if !ctx
        .hasher
        .verify(current_password, Some(was.password_hash.clone()))
        .await
    {
        return Err(ServiceError::Forbidden(
            "The current password is wrong".into(),
        ));
    }
    let new_password = matches!(input.password, Some(Some(_)));
    if let Some(Some(password)) = input.password {
        changes.password_hash = Set(ctx.hasher.hash(password).await?);
    }
    let txn = db::begin_write(conn).await?;
    let saved = resource::save(ctx, &txn, current, changes).await?;
    if new_password {
        // A new password ends every session: a thief's refresh token too.
        sessions::revoke_all(ctx, &txn, saved.id).await?;
    }
    txn.commit().await?;
    Ok(saved.into())
}

/// Changes a user's role and/or active flag (admin only). Runs in one write
/// transaction that locks the active admins first, so two admins demoting
/// each other at once cannot leave the service without one.
///
/// # Errors
/// 403 for a non-admin; 404 for no such user; 412 when the precondition
/// fails; 422 for a `null`; 409 when the change would leave no active admin.
pub async fn admin_update(
    ctx: &Context,
    conn: &impl Conn,
    actor: &Actor,
    id: Uuid,
    precondition: &Precondition,
    input: UserAdminUpdate,
) -> Result<UserResponse, ServiceError> {
    policy::ensure_admin(actor)?;
    let txn = db::begin_write(conn).await?;
    let admins: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::IsActive.eq(true))
        .lock_exclusive()
        .into_tuple()
        .all(&txn)
        .await?;
    let target = resource::load::<user::Entity>(&txn, Some(actor), user::Column::Id.eq(id)).await?;
    let current = resource::writable::<user::Entity>(target, Ok(()), precondition)?;
    let was = &current.row;
    let role = input.role.flatten().unwrap_or(was.role);
    let stays_admin = role == Role::Admin && input.is_active.flatten().unwrap_or(was.is_active);
    let mut changes = current.edit();
    let mut patch = Patch::checked(&NoRules);
    patch.required(
        "is_active",
        &mut changes.is_active,
        &was.is_active,
        input.is_active,
    );
    patch.required("role", &mut changes.role, &was.role, input.role);
    patch.finish()?;
    if admins.contains(&was.id) && !stays_admin && admins.len() == 1 {
        return Err(ServiceError::Conflict {
            field: Some(if role == Role::Admin {
                "is_active"
            } else {
                "role"
            }),
            detail: "This is the last active admin; promote another admin first".into(),
        });
    }
    let saved = resource::save(ctx, &txn, current, changes).await?;
    txn.commit().await?;
    Ok(saved.into())
}

/// A body with no `validator` rules of its own.
struct NoRules;

impl Validate for NoRules {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        Ok(())
    }
}

/// Makes sure an admin account with this username exists: creates it when no
/// user by that name exists, and leaves an existing one alone. Used for
/// `FIRST_ADMIN_*` at start-up.
///
/// Instances started together race here: the one whose insert loses finds
/// the winner's account and leaves it alone too.
///
/// # Errors
/// 422 when the configured values break the registration rules; 409 when the
/// e-mail belongs to another user.
pub async fn ensure_admin(
    ctx: &Context,
    input: UserCreate,
) -> Result<Option<UserResponse>, ServiceError> {
    if usernames::id_of(&ctx.db, &input.username).await?.is_some() {
        return Ok(None);
    }
    let account = NewAccount::prepare(ctx, input, Role::Admin).await?;
    let username = account.username().to_owned();
    let created = create(ctx, &ctx.db, account).await;
    if let Err(ServiceError::Conflict { .. }) = &created
        && usernames::id_of(&ctx.db, &username).await?.is_some()
    {
        return Ok(None);
    }
    created.map(Some)
}
