//! Idempotent creates (docs/conventions.md#idempotent-creates): a create sent
//! with an `Idempotency-Key` runs once; a repeat gets the first response.
//!
//! A key belongs to a caller (a user, or for registration a client address)
//! and is **claimed** by inserting its row: the primary key `(caller, key)`
//! settles a race, so of two requests with one key exactly one runs. The
//! create and the stored response are written in one transaction
//! ([`complete`] takes the caller's), so there is never a resource without
//! its stored response, nor the reverse. A request that fails gives its key
//! back ([`release`]); a claim whose request never finished (a crash) is
//! abandoned after [`ABANDONED_AFTER`] and may be claimed again. Keys expire
//! [`LIFETIME`] after their first use and are deleted by [`purge_expired`].

use std::net::IpAddr;

use chrono::Duration;
use entity::idempotency_key::{self, KeyState};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::Conn;
use crate::error::violates;
use crate::{Context, FieldError, ServiceError};

/// How long a key is remembered after its first use.
pub const LIFETIME: Duration = Duration::hours(24);

/// How long a claim may stay unfinished before it is taken for abandoned.
pub const ABANDONED_AFTER: Duration = Duration::seconds(60);

/// The header's name, as errors name it.
pub const HEADER: &str = "Idempotency-Key";

/// Whose key it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// An authenticated user.
    User(Uuid),
    /// A caller with no account yet (registration), by client address.
    Address(IpAddr),
}

impl Caller {
    fn stored(self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Address(ip) => format!("addr:{ip}"),
        }
    }
}

/// A request that carries an `Idempotency-Key`: who sent it, the key, and
/// what the key stands for (method, path and a SHA-256 of the body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyedRequest {
    caller: String,
    key: String,
    method: String,
    path: String,
    body_sha256: String,
}

impl KeyedRequest {
    /// `key` is the header's value already checked (1–255 visible ASCII
    /// characters, see [`parse_key`]); `body` the raw request body.
    pub fn new(caller: Caller, key: String, method: &str, path: &str, body: &[u8]) -> Self {
        Self {
            caller: caller.stored(),
            key,
            method: method.to_owned(),
            path: path.to_owned(),
            body_sha256: format!("{:x}", Sha256::digest(body)),
        }
    }

    fn same_request_as(&self, row: &idempotency_key::Model) -> bool {
        self.method == row.method && self.path == row.path && self.body_sha256 == row.body_sha256
    }
}

/// Reads an `Idempotency-Key` value: 1–255 visible ASCII characters, bare
/// (`abc-123`) or as a structured-field string (`"abc-123"`, RFC 8941
/// §3.3.3, with `\"` and `\\` escapes). Both forms of one key are the same key.
///
/// # Errors
/// [`ServiceError::BadRequest`] for anything else.
pub fn parse_key(raw: &[u8]) -> Result<String, ServiceError> {
    let bad = || {
        ServiceError::BadRequest(format!(
            "{HEADER} must be 1 to 255 visible ASCII characters, bare or in double quotes"
        ))
    };
    let text = std::str::from_utf8(raw).map_err(|_| bad())?.trim();
    let key = match text.strip_prefix('"') {
        Some(quoted) => {
            let inner = quoted.strip_suffix('"').ok_or_else(bad)?;
            let mut key = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => key.push(
                        chars
                            .next()
                            .filter(|c| matches!(c, '"' | '\\'))
                            .ok_or_else(bad)?,
                    ),
                    '"' => return Err(bad()),
                    c => key.push(c),
                }
            }
            key
        }
        None => text.to_owned(),
    };
    let visible = key.bytes().all(|b| b.is_ascii_graphic());
    if (1..=255).contains(&key.len()) && visible {
        Ok(key)
    } else {
        Err(bad())
    }
}

/// The first response to a keyed create, kept for replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status (201).
    pub status: u16,
    pub location: Option<String>,
    /// The `ETag` header's value, quotes included.
    pub etag: Option<String>,
    /// The JSON body, as sent.
    pub body: String,
}

/// A claim held by the request that runs; finish it with [`complete`] or
/// [`release`].
#[derive(Clone, Debug)]
pub struct Ticket {
    caller: String,
    key: String,
    claim: Uuid,
}

/// What claiming a key gives.
#[derive(Debug)]
pub enum Claim {
    /// The key is this request's: run it.
    Fresh(Ticket),
    /// The key's request already ran: answer with its response.
    Replay(StoredResponse),
}

fn this_key(caller: &str, key: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(idempotency_key::Column::Caller.eq(caller))
        .add(idempotency_key::Column::Key.eq(key))
}

fn still_running() -> ServiceError {
    ServiceError::StillRunning(format!(
        "A request with this {HEADER} is still running; retry shortly"
    ))
}

/// Claims `request`'s key, on a connection outside any transaction (the
/// claim must be visible to other requests at once).
///
/// # Errors
/// 422 (on `Idempotency-Key`) when the key was used for another request;
/// 409 ([`ServiceError::StillRunning`]) while the first request runs.
pub async fn claim(
    ctx: &Context,
    conn: &impl Conn,
    request: &KeyedRequest,
) -> Result<Claim, ServiceError> {
    let now = ctx.clock.now();
    let ticket = Ticket {
        caller: request.caller.clone(),
        key: request.key.clone(),
        claim: Uuid::now_v7(),
    };
    let row = idempotency_key::ActiveModel {
        caller: Set(request.caller.clone()),
        key: Set(request.key.clone()),
        method: Set(request.method.clone()),
        path: Set(request.path.clone()),
        body_sha256: Set(request.body_sha256.clone()),
        state: Set(KeyState::Processing),
        claim: Set(ticket.claim),
        claimed_at: Set(now),
        response_status: Set(None),
        response_location: Set(None),
        response_etag: Set(None),
        response_body: Set(None),
        created_at: Set(now),
        expires_at: Set(now + LIFETIME),
    };
    match row.clone().insert(conn).await {
        Ok(_) => return Ok(Claim::Fresh(ticket)),
        Err(e)
            if violates(
                &e,
                "idempotency_keys_pkey",
                "idempotency_keys.caller, idempotency_keys.key",
            ) => {}
        Err(e) => return Err(e.into()),
    }
    let Some(held) = idempotency_key::Entity::find()
        .filter(this_key(&request.caller, &request.key))
        .one(conn)
        .await?
    else {
        // Released or purged in between: the caller may simply retry.
        return Err(still_running());
    };
    let expired = held.expires_at <= now;
    if !expired && !request.same_request_as(&held) {
        return Err(ServiceError::Validation(vec![FieldError::new(
            HEADER,
            "idempotency_key_reused",
            "was already used for a different request; use a new key",
        )]));
    }
    let abandoned = held.state == KeyState::Processing && held.claimed_at + ABANDONED_AFTER <= now;
    if expired || abandoned {
        // Take the key over, unless someone else just did.
        let taken = idempotency_key::Entity::update_many()
            .set(row)
            .filter(this_key(&request.caller, &request.key))
            .filter(idempotency_key::Column::Claim.eq(held.claim))
            .exec(conn)
            .await?;
        return if taken.rows_affected == 1 {
            Ok(Claim::Fresh(ticket))
        } else {
            Err(still_running())
        };
    }
    match (held.state, held.response_status, held.response_body) {
        (KeyState::Completed, Some(status), Some(body)) => Ok(Claim::Replay(StoredResponse {
            status: u16::try_from(status).unwrap_or(500),
            location: held.response_location,
            etag: held.response_etag,
            body,
        })),
        _ => Err(still_running()),
    }
}

/// Stores the response of the request holding `ticket`; call it in the
/// transaction that made the resource, so both commit or neither.
///
/// # Errors
/// 409 ([`ServiceError::StillRunning`]) when the claim was taken over
/// meanwhile (the request ran past [`ABANDONED_AFTER`]): the caller must roll
/// back.
pub async fn complete(
    conn: &impl Conn,
    ticket: &Ticket,
    response: &StoredResponse,
) -> Result<(), ServiceError> {
    let stored = idempotency_key::Entity::update_many()
        .col_expr(
            idempotency_key::Column::State,
            Expr::value(KeyState::Completed),
        )
        .col_expr(
            idempotency_key::Column::ResponseStatus,
            Expr::value(i32::from(response.status)),
        )
        .col_expr(
            idempotency_key::Column::ResponseLocation,
            Expr::value(response.location.clone()),
        )
        .col_expr(
            idempotency_key::Column::ResponseEtag,
            Expr::value(response.etag.clone()),
        )
        .col_expr(
            idempotency_key::Column::ResponseBody,
            Expr::value(response.body.clone()),
        )
        .filter(this_key(&ticket.caller, &ticket.key))
        .filter(idempotency_key::Column::Claim.eq(ticket.claim))
        .exec(conn)
        .await?;
    if stored.rows_affected == 1 {
        Ok(())
    } else {
        Err(still_running())
    }
}

/// Gives the key back after its request failed, so a corrected retry runs.
///
/// # Errors
/// Database errors only.
pub async fn release(conn: &impl Conn, ticket: &Ticket) -> Result<(), ServiceError> {
    idempotency_key::Entity::delete_many()
        .filter(this_key(&ticket.caller, &ticket.key))
        .filter(idempotency_key::Column::Claim.eq(ticket.claim))
        .filter(idempotency_key::Column::State.eq(KeyState::Processing))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the expired keys; returns how many.
///
/// # Errors
/// Database errors only.
pub async fn purge_expired(ctx: &Context, conn: &impl Conn) -> Result<u64, ServiceError> {
    crate::db::delete_expired::<idempotency_key::Entity>(
        conn,
        idempotency_key::Column::ExpiresAt,
        ctx.clock.now(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_bare_or_quoted() {
        assert_eq!(parse_key(b"abc-123").unwrap(), "abc-123");
        assert_eq!(parse_key(b"\"abc-123\"").unwrap(), "abc-123");
        assert_eq!(parse_key(br#""a\"b""#).unwrap(), "a\"b");
        assert_eq!(parse_key("x".repeat(255).as_bytes()).unwrap().len(), 255);
        for bad in [
            &b""[..],
            b"\"\"",
            b"a b",
            b"\"a b\"",
            b"\"abc",
            "é".as_bytes(),
            "x".repeat(256).as_bytes(),
            b"\"a\\nb\"",
        ] {
            assert!(
                parse_key(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
