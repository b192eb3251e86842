//! Account recovery (docs/accounts.md#password-reset): a mailed, single-use
//! link to set a new password.

use chrono::Duration;
use entity::{password_reset, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::db::{self, Conn};
use crate::mail::{self, Mail};
use crate::resource::{self, Precondition};
use crate::validation;
use crate::{Context, ServiceError, api_keys, secret, sessions};

/// `POST /auth/password-recovery` body.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct RecoveryRequest {
    /// The account's e-mail address.
    #[validate(email(message = "must be a valid e-mail address"))]
    #[schema(example = "alice@example.com", format = "email")]
    pub email: String,
}

/// The answer to a recovery request: the same whether or not an account
/// has the address, so it tells nobody which addresses are registered.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RecoveryAccepted {
    #[schema(
        example = "If an account uses this address, a link to reset its password is on its way"
    )]
    pub detail: &'static str,
}

/// `POST /auth/reset-password` body.
#[derive(Clone, Debug, Deserialize, Validate, ToSchema)]
pub struct PasswordReset {
    /// The token from the reset link.
    pub token: String,
    /// The new password, under the registration rules (8–72 bytes, a digit
    /// and an uppercase letter).
    #[validate(custom(function = "validation::password"))]
    #[schema(
        format = "password",
        min_length = 2,
        max_length = 72,
        pattern = r"^(?=[^\u0000]*[0-9])(?=[^\u0000]*[A-Z])[^\u0000]*$"
    )]
    pub new_password: String,
}

const ACCEPTED: RecoveryAccepted = RecoveryAccepted {
    detail: "If an account uses this address, a link to reset its password is on its way",
};

/// Asks for a reset link. When an active account has `email`, a token is
/// stored (as its hash) and the mail holding it written to the outbox, in
/// one transaction; otherwise nothing happens. Either way the answer is the
/// same. An earlier link stays valid until it expires or a reset is done.
///
/// # Errors
/// 422 for an `email` that is not an address; database errors.
pub async fn request(
    ctx: &Context,
    conn: &impl Conn,
    input: RecoveryRequest,
) -> Result<RecoveryAccepted, ServiceError> {
    validation::validate(&input)?;
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(input.email.trim().to_lowercase()))
        .filter(user::Column::IsActive.eq(true))
        .one(conn)
        .await?;
    let Some(user) = found else {
        return Ok(ACCEPTED);
    };
    let token = secret::new_token();
    let now = ctx.clock.now();
    let lifetime = ctx.lifetimes.password_reset;
    let txn = db::begin_write(conn).await?;
    password_reset::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        token_sha256: Set(secret::digest(&token)),
        created_at: Set(now),
        expires_at: Set(now + Duration::from_std(lifetime).unwrap_or(Duration::hours(1))),
        used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let link = format!("{}/reset-password?token={token}", ctx.mailer.public_url);
    let minutes = lifetime.as_secs() / 60;
    mail::enqueue(
        ctx,
        &txn,
        Mail {
            to: user.email.clone(),
            subject: "Reset your password".into(),
            text: format!(
                "Hello {name},\n\n\
                 someone (we hope you) asked to reset the password of your account.\n\
                 To choose a new one, open this link within {minutes} minutes:\n\n\
                 {link}\n\n\
                 If you did not ask for this, ignore this mail: your password stays as it is.\n",
                name = user.username,
            ),
            html: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ACCEPTED)
}

fn bad_token() -> ServiceError {
    ServiceError::BadRequest(
        "The reset token is unknown, already used or expired; ask for a new link".into(),
    )
}

/// Sets a new password with a reset token: the token (and every other
/// unused one of the user) is spent, and every session and API key of the
/// user revoked, in one transaction.
///
/// # Errors
/// 422 when `new_password` breaks the registration rules (the token stays
/// usable); 400 for an unknown, spent or expired token.
pub async fn reset(
    ctx: &Context,
    conn: &impl Conn,
    input: PasswordReset,
) -> Result<(), ServiceError> {
    validation::validate(&input)?;
    let now = ctx.clock.now();
    let digest = secret::digest(&input.token);
    let Some(pending) = password_reset::Entity::find()
        .filter(password_reset::Column::TokenSha256.eq(digest))
        .filter(password_reset::Column::UsedAt.is_null())
        .filter(password_reset::Column::ExpiresAt.gt(now))
        .one(conn)
        .await?
    else {
        return Err(bad_token());
    };
    let password_hash = ctx.hasher.hash(input.new_password).await?;
    let txn = db::begin_write(conn).await?;
    // Spend it; of two concurrent resets with one token, one wins.
    let spent = password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::Id.eq(pending.id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(bad_token());
    }
    password_reset::Entity::update_many()
        .col_expr(password_reset::Column::UsedAt, Expr::value(now))
        .filter(password_reset::Column::UserId.eq(pending.user_id))
        .filter(password_reset::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    let account = resource::load::<user::Entity>(&txn, None, user::Column::Id.eq(pending.user_id))
        .await
        .map_err(|_| bad_token())?;
    let current = resource::writable::<user::Entity>(account, Ok(()), &Precondition::None)?;
    let mut changes = current.edit();
    changes.password_hash = Set(password_hash);
    resource::save(ctx, &txn, current, changes).await?;
    sessions::revoke_all(ctx, &txn, pending.user_id).await?;
    // Whoever needed a reset may have lost more than the password: the
    // keys go too (docs/accounts.md#api-keys).
    api_keys::revoke_all(ctx, &txn, pending.user_id).await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes expired reset tokens; returns how many.
///
/// # Errors
/// Database errors only.
pub async fn sweep(ctx: &Context, conn: &impl Conn) -> Result<u64, ServiceError> {
    db::delete_expired::<password_reset::Entity>(
        conn,
        password_reset::Column::ExpiresAt,
        ctx.clock.now(),
    )
    .await
}
