//! Register and log in (docs/accounts.md).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use service::accounts::{self, LoginRequest, NewAccount, UserCreate, UserResponse};
use service::idempotency::Caller;
use service::{Role, ServiceError};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::url;
use crate::auth::{MaybeAuthUser, caller};
use crate::error::ApiError;
use crate::extract::{self, BodyKind, Json, RawBody};
use crate::idempotency::{self, Created, IdempotencyKey, IdempotencyKeyHeader};
use crate::limits::{self, Limit};
use crate::state::AppState;

/// Registers `/auth/register` and `/auth/login` behind the auth rate limit
/// (`None`: no limit).
pub fn configure(auth_limit: Option<Limit>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(
            utoipa_actix_web::scope("/auth")
                .wrap(limits::middleware(auth_limit))
                .service(register)
                .service(login),
        );
    }
}

/// Registers an account with role `user`.
#[utoipa::path(
    tag = "auth",
    operation_id = "register",
    summary = "Register an account",
    params(IdempotencyKeyHeader),
    request_body = UserCreate,
    responses(
        (status = 201, description = "Registered", body = UserResponse,
            headers(("Location" = String, description = "The new user's URL"))),
        (status = 409, description = "The username or the e-mail address is taken (`detail` says which)", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security()
)]
#[post("/register")]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: MaybeAuthUser,
    key: IdempotencyKey,
    body: Json<UserCreate>,
) -> Result<HttpResponse, ApiError> {
    // The caller has no account yet: its keys are its address's.
    let address = state
        .clients
        .of(&req)
        .ok_or_else(|| ServiceError::Internal("a request with no peer address".into()))?;
    let account = NewAccount::prepare(&state.ctx, body.0, Role::User).await?;
    idempotency::create(
        &state,
        &req,
        Caller::Address(address),
        key,
        async move |ctx, conn| {
            let user = accounts::create(ctx, conn, account).await?;
            Created::new(url(format_args!("/users/{}", user.id)), &user)
        },
    )
    .await
}

/// The login form of the OAuth2 password grant (RFC 6749 §4.3.2), as
/// Swagger UI's Authorize dialog sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    /// Must be `password` when present.
    #[schema(example = "password")]
    pub grant_type: Option<String>,
    /// Username (any case) or e-mail address.
    pub username: String,
    #[schema(format = "password")]
    pub password: String,
    /// Accepted and ignored (no scopes are defined).
    pub scope: Option<String>,
}

/// An access token (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
}

/// Logs in with a username or e-mail and a password.
///
/// Takes JSON or the OAuth2 password-grant form. `Authorization: Basic …`
/// is ignored here (it is OAuth2 client authentication; Swagger UI sends
/// `Basic Og==`). A wrong password and an unknown user get the same 401.
#[utoipa::path(
    tag = "auth",
    operation_id = "login",
    summary = "Log in and get an access token",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 403, description = "The account is disabled", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security()
)]
#[post("/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    caller(&req, true).await?;
    let oauth = |e: ApiError| {
        let code = if e.status() == StatusCode::UNAUTHORIZED || e.status() == StatusCode::FORBIDDEN
        {
            "invalid_grant"
        } else {
            "invalid_request"
        };
        e.with_oauth_error(code)
    };
    let (username, password) = match body.kind {
        BodyKind::Json => {
            let input: LoginRequest = extract::parse_json(&body.bytes).map_err(oauth)?;
            (input.username, input.password)
        }
        BodyKind::Form => {
            let input: LoginForm = extract::parse_form(&body.bytes).map_err(oauth)?;
            if input.grant_type.as_deref().is_some_and(|g| g != "password") {
                return Err(oauth(ApiError::from(ServiceError::invalid(
                    "grant_type",
                    "enum",
                    "must be `password`",
                ))));
            }
            (input.username, input.password)
        }
        BodyKind::Other => {
            return Err(oauth(extract::unsupported(
                "application/json or application/x-www-form-urlencoded",
            )));
        }
    };
    let ctx = &state.ctx;
    let user = accounts::authenticate(ctx, &ctx.db, &username, &password)
        .await
        .map_err(|e| oauth(e.into()))?;
    let access_token = state.jwt.issue(user.id)?;
    // A token is a credential: no cache may keep it (RFC 6749 §5.1).
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "bearer",
            expires_in: state.jwt.ttl,
        }))
}
