//! Accounts (API.md section 2): registration, login, the caller's own
//! account, and admin user management.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::validation::{self, double_option, reject_nulls};
use crate::{Actor, Cursor, Page, PageRequest, Role, ServiceError, db, policy, time};

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
}

impl From<user::Model> for UserResponse {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            email: m.email,
            role: Role::from_db(&m.role),
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// bcrypt hashing and verifying, run on the blocking thread pool so a burst
/// of logins never stalls the async workers (API.md section 2). At most one
/// hash per core runs at once; the rest wait their turn, so a login storm
/// cannot take every blocking thread or starve the CPU.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<tokio::sync::Semaphore>,
    /// A real hash of a random password: an unknown user is verified against
    /// it so that "no such user" takes as long as "wrong password".
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// Makes a hasher of the given bcrypt cost (4–31) and its dummy hash.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] for a cost bcrypt refuses.
    pub async fn new(cost: u32) -> Result<Self, ServiceError> {
        let dummy = Uuid::new_v4().to_string();
        let dummy_hash = tokio::task::spawn_blocking(move || bcrypt::hash(dummy, cost))
            .await?
            .map_err(|e| ServiceError::Internal(format!("bcrypt: {e}")))?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Self {
            cost,
            permits: Arc::new(tokio::sync::Semaphore::new(cores)),
            dummy_hash: dummy_hash.into(),
        })
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
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
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

/// `lower(username) = lower(?)`: usernames match case-insensitively (API.md section 1).
pub(crate) fn username_matches(username: &str) -> Expr {
    Expr::expr(Func::lower(Expr::col(user::Column::Username))).eq(username.to_lowercase())
}

async fn find_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<user::Model>, ServiceError> {
    Ok(user::Entity::find()
        .filter(username_matches(username))
        .one(db)
        .await?)
}

async fn email_taken(
    db: &impl ConnectionTrait,
    email: &str,
    except: Option<Uuid>,
) -> Result<bool, ServiceError> {
    let mut q = user::Entity::find().filter(user::Column::Email.eq(email));
    if let Some(id) = except {
        q = q.filter(user::Column::Id.ne(id));
    }
    Ok(q.count(db).await? > 0)
}

/// Which unique field a new account clashes on, as a 409.
async fn registration_conflict(
    db: &impl ConnectionTrait,
    username: &str,
    email: &str,
) -> Result<Option<ServiceError>, ServiceError> {
    if find_by_username(db, username).await?.is_some() {
        return Ok(Some(ServiceError::conflict(
            "username",
            "A user with this username already exists",
        )));
    }
    if email_taken(db, email, None).await? {
        return Ok(Some(ServiceError::conflict(
            "email",
            "A user with this email already exists",
        )));
    }
    Ok(None)
}

/// Registers an account with role `user` (API.md section 2).
///
/// # Errors
/// 422 for a broken rule; 409 naming `username` or `email` when taken, also
/// when two registrations race (the unique indexes decide).
pub async fn register(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    input: UserCreate,
) -> Result<UserResponse, ServiceError> {
    create_user(db, hasher, input, Role::User).await
}

async fn create_user(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    input: UserCreate,
    role: Role,
) -> Result<UserResponse, ServiceError> {
    validation::validate(&input)?;
    let email = input.email.to_lowercase();
    if let Some(conflict) = registration_conflict(db, &input.username, &email).await? {
        return Err(conflict);
    }
    let password_hash = hasher.hash(input.password).await?;
    let now = time::now();
    let row = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        username: Set(input.username.clone()),
        email: Set(email.clone()),
        password_hash: Set(password_hash),
        role: Set(role.as_str().to_owned()),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // The user and their profile are one transaction: a failed profile
    // insert leaves no user behind (API.md section 3).
    let txn = db::begin_write(db).await?;
    let inserted = match row.insert(&txn).await {
        Ok(m) => m,
        Err(e) if crate::error::is_unique_violation(&e) => {
            drop(txn);
            return Err(registration_conflict(db, &input.username, &email)
                .await?
                .unwrap_or_else(|| {
                    ServiceError::conflict("username", "A user with this username already exists")
                }));
        }
        Err(e) => return Err(e.into()),
    };
    crate::profiles::create_for(&txn, inserted.id, now).await?;
    txn.commit().await?;
    Ok(inserted.into())
}

/// Checks a login (API.md section 2). `login` is a username (any case) or an
/// e-mail address. The password is checked first, against a dummy hash when
/// there is no such user, so both failures look and time the same.
///
/// # Errors
/// [`ServiceError::InvalidCredentials`] for an unknown user or a wrong
/// password; [`ServiceError::Forbidden`] for a disabled account with the
/// right password.
pub async fn authenticate(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    login: &str,
    password: &str,
) -> Result<UserResponse, ServiceError> {
    let found = if login.contains('@') {
        user::Entity::find()
            .filter(user::Column::Email.eq(login.to_lowercase()))
            .one(db)
            .await?
    } else {
        find_by_username(db, login).await?
    };
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    if !hasher.verify(password.to_owned(), hash).await {
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
/// Database errors only.
pub async fn actor_for(
    db: &DatabaseConnection,
    user_id: Uuid,
) -> Result<Option<Actor>, ServiceError> {
    let found = user::Entity::find_by_id(user_id)
        .select_only()
        .column(user::Column::Role)
        .column(user::Column::IsActive)
        .into_tuple::<(String, bool)>()
        .one(db)
        .await?;
    Ok(found.filter(|(_, active)| *active).map(|(role, _)| Actor {
        user_id,
        role: Role::from_db(&role),
    }))
}

/// Reads one account: the user themself or an admin.
///
/// # Errors
/// 403 for anyone else; 404 when there is no such user.
pub async fn get_user(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
) -> Result<UserResponse, ServiceError> {
    policy::ensure_self_or_admin(actor, id)?;
    user::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Into::into)
        .ok_or_else(|| ServiceError::not_found("User"))
}

/// Lists every account, newest first (admin only).
///
/// # Errors
/// 403 for a non-admin.
pub async fn list_users(
    db: &DatabaseConnection,
    actor: &Actor,
    page: PageRequest,
) -> Result<Page<UserResponse>, ServiceError> {
    policy::ensure_admin(actor)?;
    let rows = page
        .apply(
            user::Entity::find(),
            user::Column::CreatedAt,
            user::Column::Id,
        )
        .all(db)
        .await?;
    Ok(page.finish(
        rows,
        |u| Cursor {
            created_at: u.created_at,
            id: u.id,
        },
        Into::into,
    ))
}

/// Changes the caller's e-mail and/or password after checking the current
/// password.
///
/// # Errors
/// 422 for a broken rule or a missing `current_password`; 403 for a wrong
/// current password; 409 when the new e-mail is taken.
pub async fn update_me(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    actor: &Actor,
    input: MeUpdate,
) -> Result<UserResponse, ServiceError> {
    reject_nulls(&[
        ("email", matches!(input.email, Some(None))),
        ("password", matches!(input.password, Some(None))),
    ])?;
    validation::validate(&input)?;
    let me = user::Entity::find_by_id(actor.user_id)
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::not_found("User"))?;
    let current = input.current_password.unwrap_or_default();
    if !hasher.verify(current, Some(me.password_hash.clone())).await {
        return Err(ServiceError::Forbidden(
            "The current password is wrong".into(),
        ));
    }
    let mut row: user::ActiveModel = me.clone().into();
    let mut changed = false;
    if let Some(Some(email)) = input.email {
        let email = email.to_lowercase();
        if email != me.email {
            if email_taken(db, &email, Some(me.id)).await? {
                return Err(ServiceError::conflict(
                    "email",
                    "A user with this email already exists",
                ));
            }
            row.email = Set(email);
            changed = true;
        }
    }
    if let Some(Some(password)) = input.password {
        row.password_hash = Set(hasher.hash(password).await?);
        changed = true;
    }
    if !changed {
        return Ok(me.into());
    }
    row.updated_at = Set(time::now());
    match row.update(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if crate::error::is_unique_violation(&e) => Err(ServiceError::conflict(
            "email",
            "A user with this email already exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Changes a user's role and/or active flag (admin only). Runs in one write
/// transaction that locks the active admins first, so two admins demoting
/// each other at once cannot leave the service without one.
///
/// # Errors
/// 403 for a non-admin; 404 for no such user; 422 for a `null`; 409 when the
/// change would leave no active admin.
pub async fn admin_update(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Uuid,
    input: UserAdminUpdate,
) -> Result<UserResponse, ServiceError> {
    policy::ensure_admin(actor)?;
    reject_nulls(&[
        ("role", matches!(input.role, Some(None))),
        ("is_active", matches!(input.is_active, Some(None))),
    ])?;
    let txn = db::begin_write(db).await?;
    let admins: Vec<Uuid> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Role.eq(Role::Admin.as_str()))
        .filter(user::Column::IsActive.eq(true))
        .lock_exclusive()
        .into_tuple()
        .all(&txn)
        .await?;
    let target = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::not_found("User"))?;
    let role = input.role.flatten().unwrap_or(Role::from_db(&target.role));
    let is_active = input.is_active.flatten().unwrap_or(target.is_active);
    if role.as_str() == target.role && is_active == target.is_active {
        return Ok(target.into());
    }
    let stays_admin = role == Role::Admin && is_active;
    if admins.contains(&target.id) && !stays_admin && admins.len() == 1 {
        return Err(ServiceError::Conflict {
            field: Some(if role == Role::Admin {
                "is_active"
            } else {
                "role"
            }),
            detail: "This is the last active admin; promote another admin first".into(),
        });
    }
    let mut row: user::ActiveModel = target.into();
    row.role = Set(role.as_str().to_owned());
    row.is_active = Set(is_active);
    row.updated_at = Set(time::now());
    let updated = row.update(&txn).await?;
    txn.commit().await?;
    Ok(updated.into())
}

/// Makes sure an admin account with this username exists: creates it when no
/// user by that name exists, and leaves an existing one alone. Used for
/// `FIRST_ADMIN_*` at start-up.
///
/// # Errors
/// 422 when the configured values break the registration rules; 409 when the
/// e-mail belongs to another user.
pub async fn ensure_admin(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    input: UserCreate,
) -> Result<Option<UserResponse>, ServiceError> {
    if find_by_username(db, &input.username).await?.is_some() {
        return Ok(None);
    }
    create_user(db, hasher, input, Role::Admin).await.map(Some)
}

/// Creates an admin account (the `create-admin` command).
///
/// # Errors
/// 422 for a broken rule; 409 when the username or e-mail is taken.
pub async fn create_admin(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    input: UserCreate,
) -> Result<UserResponse, ServiceError> {
    create_user(db, hasher, input, Role::Admin).await
}

/// Looks a user's id up by username, case-insensitively.
///
/// # Errors
/// Database errors only.
pub async fn user_id_by_username(
    db: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<Uuid>, ServiceError> {
    Ok(find_by_username(db, username).await?.map(|u| u.id))
}

/// A user's username by id (empty if the user is gone), for responses that
/// show it beside an id (`author_username`, an offer's `username`).
///
/// # Errors
/// Database errors only.
pub(crate) async fn username_of(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<String, ServiceError> {
    let name: Option<String> = user::Entity::find_by_id(id)
        .select_only()
        .column(user::Column::Username)
        .into_tuple()
        .one(db)
        .await?;
    Ok(name.unwrap_or_default())
}
