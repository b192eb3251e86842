//! Authentication (docs/conventions.md#authentication): the one place that
//! turns a request's credential into an [`Actor`].
//!
//! Two credentials are accepted, never both at once: `Authorization: Bearer`
//! with an HS256 JWT from a login (`sub`, `iat` and `exp` always set and
//! checked, every other algorithm refused), and `X-API-Key` with an API key
//! (docs/accounts.md#api-keys). Either way the user is re-read on each
//! request, and a key's scopes are checked against the request's method
//! here, once, for every route that acts as its caller
//! (`policy::ensure_method_scope`).

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use service::{Actor, accounts, api_keys, policy};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The header that carries an API key.
pub const API_KEY_HEADER: &str = "X-API-Key";

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

/// The authenticated caller, by bearer token or API key; a route that takes
/// it is protected: no or bad credentials are 401.
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
        let pending = scoped_caller(req);
        Box::pin(async move {
            pending.await?.map(AuthUser).ok_or_else(|| {
                ApiError::unauthorized(
                    "This operation needs a bearer token (log in first) or an API key (`X-API-Key`)",
                    false,
                )
            })
        })
    }
}

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pending = scoped_caller(req);
        Box::pin(async move { pending.await.map(MaybeAuthUser) })
    }
}

/// Checks whatever credential a public route that acts for nobody was sent
/// (register, logout, password recovery): a bad one is still 401, and two
/// at once 400, but a key's scope is not asked for, since nothing is done
/// as its user.
#[derive(Clone, Copy, Debug)]
pub struct CheckedCredentials;

impl FromRequest for CheckedCredentials {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pending = caller(req, false);
        Box::pin(async move { pending.await.map(|_| CheckedCredentials) })
    }
}

/// [`caller`], then the scope an API key needs for the request's method
/// (`policy::ensure_method_scope`): what every route that acts as its
/// caller goes through.
fn scoped_caller(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Option<Actor>, ApiError>> {
    let pending = caller(req, false);
    let safe = req.method().is_safe();
    Box::pin(async move {
        let actor = pending.await?;
        if let Some(actor) = &actor {
            policy::ensure_method_scope(actor, safe)?;
        }
        Ok(actor)
    })
}

/// Resolves the request's credential: `None` when it sent none (or, with
/// `basic_ok`, when its `Authorization` is OAuth2 client authentication,
/// `Basic …`, as Swagger UI sends to the login route). A credential that was
/// sent but fails is 401 even where none is needed; both a bearer token and
/// an API key in one request is 400. The scopes of a key are not checked
/// here: [`AuthUser`] and [`MaybeAuthUser`] do.
pub fn caller(
    req: &HttpRequest,
    basic_ok: bool,
) -> LocalBoxFuture<'static, Result<Option<Actor>, ApiError>> {
    let authorization = req.headers().get(header::AUTHORIZATION).cloned();
    let api_key = req.headers().get(API_KEY_HEADER).cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    Box::pin(async move {
        let bearer = match &authorization {
            Some(header) => bearer_token(header, basic_ok),
            None => Ok(None),
        };
        let ignorable = matches!(bearer, Ok(None));
        if authorization.is_some() && !ignorable && api_key.is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Send one credential: either `Authorization: Bearer` or `X-API-Key`, not both",
            ));
        }
        let (bearer, api_key) = (bearer?, api_key);
        if bearer.is_none() && api_key.is_none() {
            return Ok(None);
        }
        let state = state.ok_or_else(|| {
            ApiError::from(service::ServiceError::Internal("no app state".into()))
        })?;
        let actor = match (bearer, api_key) {
            (Some(token), _) => {
                let claims = state.jwt.verify(token.as_str())?;
                accounts::actor_for(&state.ctx.db, claims.sub)
                    .await?
                    .ok_or_else(|| {
                        ApiError::unauthorized(
                            "The account of this token no longer exists or is disabled",
                            true,
                        )
                    })?
            }
            (None, Some(key)) => {
                let key = key.to_str().unwrap_or_default();
                api_keys::authenticate(&state.ctx, &state.ctx.db, key).await?
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(actor))
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
