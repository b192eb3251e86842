//! Bearer authentication (docs/conventions.md#authentication): HS256 JWTs
//! with `sub`, `iat` and `exp` always set and checked, every other algorithm
//! refused, and the user re-read on each request.

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use service::{Actor, accounts};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// Seconds of clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 30;

/// The claims of an access token (RFC 7519 §4.1).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
}

/// Signs and checks access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Token lifetime in seconds.
    pub ttl: u64,
}

impl JwtKeys {
    /// Keys for HS256 under `secret`, tokens living `ttl` seconds.
    pub fn new(secret: &[u8], ttl: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// Issues a token for `user_id`; returns it with its lifetime in seconds.
    ///
    /// # Errors
    /// Only if signing fails, which HS256 with a valid key does not.
    pub fn issue(&self, user_id: Uuid) -> Result<String, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + self.ttl as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| service::ServiceError::Internal(format!("jwt encode: {e}")).into())
    }

    /// Checks signature, algorithm, `exp`, `iat` (not in the future) and `sub`.
    ///
    /// # Errors
    /// A 401 saying the token is invalid or expired.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                let detail = match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        "The access token has expired; log in again"
                    }
                    _ => "The access token is invalid",
                };
                ApiError::unauthorized(detail, true)
            })?;
        let now = chrono::Utc::now().timestamp();
        if data.claims.iat > now + LEEWAY_SECS as i64 {
            return Err(ApiError::unauthorized("The access token is invalid", true));
        }
        Ok(data.claims)
    }
}

/// The authenticated caller; a route that takes it is protected: no or bad
/// credentials are 401.
#[derive(Clone, Debug)]
pub struct AuthUser(pub Actor);

/// The caller if credentials were sent, `None` if none were; for public
/// routes. Credentials that were sent but are bad are still 401.
#[derive(Clone, Debug)]
pub struct MaybeAuthUser(pub Option<Actor>);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pending = caller(req, false);
        Box::pin(async move {
            pending.await?.map(AuthUser).ok_or_else(|| {
                ApiError::unauthorized("This operation needs a bearer token; log in first", false)
            })
        })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pending = caller(req, false);
        Box::pin(async move { pending.await.map(MaybeAuthUser) })
    }
}

/// Resolves the `Authorization` header: `None` when absent (or, with
/// `basic_ok`, when it is OAuth2 client authentication, `Basic …`, as Swagger
/// UI sends to the login route).
pub fn caller(
    req: &HttpRequest,
    basic_ok: bool,
) -> LocalBoxFuture<'static, Result<Option<Actor>, ApiError>> {
    let header = req.headers().get(header::AUTHORIZATION).cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    Box::pin(async move {
        let Some(header) = header else {
            return Ok(None);
        };
        let Some(token) = bearer_token(&header, basic_ok)? else {
            return Ok(None);
        };
        let state = state.ok_or_else(|| {
            ApiError::from(service::ServiceError::Internal("no app state".into()))
        })?;
        let claims = state.jwt.verify(token.as_str())?;
        accounts::actor_for(&state.ctx.db, claims.sub)
            .await?
            .map(Some)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "The account of this token no longer exists or is disabled",
                    true,
                )
            })
    })
}

fn bearer_token(header: &HeaderValue, basic_ok: bool) -> Result<Option<String>, ApiError> {
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("The Authorization header is malformed", true))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty() {
        return Ok(Some(rest.trim().to_owned()));
    }
    if basic_ok && scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    Err(ApiError::unauthorized(
        "Only `Authorization: Bearer <token>` is accepted",
        true,
    ))
}
