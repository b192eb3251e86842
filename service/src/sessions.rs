//! Sessions (docs/accounts.md#sessions): the refresh tokens behind access
//! tokens, rotated on every use.
//!
//! A login starts a **family**; each refresh spends its token (a
//! conditional `UPDATE … WHERE used_at IS NULL`, so of two concurrent
//! refreshes of one token exactly one wins) and adds a child to the family.
//! A token presented after it was spent means it leaked: the whole family is
//! revoked, whether the second presentation came later or raced the first
//! (the server cannot tell a thief from a client that refreshed twice). Logout revokes the family; a password change or reset revokes
//! every family of the user.

use chrono::Duration;
use entity::{refresh_token, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{self, Conn};
use crate::{Context, ServiceError, secret};

/// `POST /auth/refresh` JSON body.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token of the last login or refresh.
    pub refresh_token: String,
}

/// `POST /auth/refresh` form body: the OAuth2 refresh grant (RFC 6749 §6),
/// as OAuth2 clients send it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct RefreshForm {
    /// `refresh_token` when present.
    #[schema(nullable = false)]
    pub grant_type: Option<RefreshGrant>,
    pub refresh_token: String,
    /// Accepted and ignored (no scopes are defined).
    pub scope: Option<String>,
}

/// The OAuth2 grant type of a refresh (RFC 6749 §6): `refresh_token`.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefreshGrant {
    RefreshToken,
}

/// `POST /auth/logout` body.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// A refresh token of the session to end.
    pub refresh_token: String,
}

/// A refresh token for the client, and its lifetime.
#[derive(Clone, Debug)]
pub struct RefreshToken {
    /// The token (43 URL-safe characters); the database keeps its SHA-256.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

fn lifetime(ctx: &Context) -> Duration {
    Duration::from_std(ctx.lifetimes.refresh_token).unwrap_or(Duration::days(30))
}

async fn issue(
    ctx: &Context,
    conn: &impl Conn,
    user_id: Uuid,
    family_id: Uuid,
    parent_id: Option<Uuid>,
) -> Result<RefreshToken, ServiceError> {
    let token = secret::new_token();
    let now = ctx.clock.now();
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        family_id: Set(family_id),
        parent_id: Set(parent_id),
        token_sha256: Set(secret::digest(&token)),
        created_at: Set(now),
        expires_at: Set(now + lifetime(ctx)),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(RefreshToken {
        token,
        expires_in: ctx.lifetimes.refresh_token.as_secs(),
    })
}

/// Starts a session for a user who just logged in: a new family, its first
/// refresh token.
///
/// # Errors
/// Database errors only.
pub async fn start(
    ctx: &Context,
    conn: &impl Conn,
    user_id: Uuid,
) -> Result<RefreshToken, ServiceError> {
    issue(ctx, conn, user_id, Uuid::now_v7(), None).await
}

fn refused(detail: &str) -> ServiceError {
    ServiceError::Unauthorized(detail.to_owned())
}

/// Exchanges a refresh token for a new one; returns the user it belongs to
/// (for the new access token) and the new token.
///
/// # Errors
/// 401 ([`ServiceError::Unauthorized`]) for an unknown, expired or revoked
/// token, a token already spent, also by a concurrent refresh (its family
/// is revoked: it leaked), and a user who is gone or disabled.
pub async fn rotate(
    ctx: &Context,
    conn: &impl Conn,
    token: &str,
) -> Result<(Uuid, RefreshToken), ServiceError> {
    let now = ctx.clock.now();
    let Some(row) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenSha256.eq(secret::digest(token)))
        .one(conn)
        .await?
    else {
        return Err(refused("The refresh token is not valid; log in again"));
    };
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(refused(
            "The refresh token has expired or was revoked; log in again",
        ));
    }
    if row.used_at.is_some() {
        return Err(reused(ctx, conn, &row).await);
    }
    let active = user::Entity::find_by_id(row.user_id)
        .one(conn)
        .await?
        .is_some_and(|u| u.is_active);
    if !active {
        return Err(refused(
            "The account of this token no longer exists or is disabled",
        ));
    }
    let txn = db::begin_write(conn).await?;
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        // Spent by a concurrent request between our read and our write: a
        // second presentation all the same.
        drop(txn);
        return Err(reused(ctx, conn, &row).await);
    }
    let next = issue(ctx, &txn, row.user_id, row.family_id, Some(row.id)).await?;
    txn.commit().await?;
    Ok((row.user_id, next))
}

/// A spent token presented again: it leaked (or a client refreshed twice
/// with it, which it must not). Its whole family is revoked, the successor
/// the legitimate client holds included (RFC 9700 §4.14.2).
async fn reused(ctx: &Context, conn: &impl Conn, row: &refresh_token::Model) -> ServiceError {
    if let Err(e) = revoke(ctx, conn, refresh_token::Column::FamilyId.eq(row.family_id)).await {
        return e;
    }
    tracing::warn!(user_id = %row.user_id, family = %row.family_id,
        "a spent refresh token was presented again; its session is revoked");
    refused("The refresh token was already used; the session is revoked, log in again")
}

/// Ends the session of a refresh token (logout): its family is revoked. An
/// unknown or already revoked token is fine: logging out twice is no error.
///
/// # Errors
/// Database errors only.
pub async fn end(ctx: &Context, conn: &impl Conn, token: &str) -> Result<(), ServiceError> {
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenSha256.eq(secret::digest(token)))
        .one(conn)
        .await?;
    if let Some(row) = found {
        revoke(ctx, conn, refresh_token::Column::FamilyId.eq(row.family_id)).await?;
    }
    Ok(())
}

/// Marks revoked every live refresh token that `which` selects.
async fn revoke(
    ctx: &Context,
    conn: &impl Conn,
    which: impl sea_orm::sea_query::IntoCondition,
) -> Result<(), ServiceError> {
    refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::RevokedAt,
            Expr::value(ctx.clock.now()),
        )
        .filter(which)
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Revokes every session of a user (a password change or reset); call it in
/// the transaction that changes the password.
///
/// # Errors
/// Database errors only.
pub async fn revoke_all(
    ctx: &Context,
    conn: &impl Conn,
    user_id: Uuid,
) -> Result<(), ServiceError> {
    revoke(ctx, conn, refresh_token::Column::UserId.eq(user_id)).await
}

/// Deletes expired refresh tokens; returns how many.
///
/// # Errors
/// Database errors only.
pub async fn sweep(ctx: &Context, conn: &impl Conn) -> Result<u64, ServiceError> {
    db::delete_expired::<refresh_token::Entity>(
        conn,
        refresh_token::Column::ExpiresAt,
        ctx.clock.now(),
    )
    .await
}
