//! Register, log in, sessions and password recovery (docs/accounts.md).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use service::accounts::{self, LoginRequest, NewAccount, UserCreate, UserResponse};
use service::idempotency::Caller;
use service::recovery::{self, PasswordReset, RecoveryAccepted, RecoveryRequest};
use service::sessions::{self, LogoutRequest, RefreshForm, RefreshRequest, RefreshToken};
use service::{Role, ServiceError};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::url;
use crate::auth::{CheckedCredentials, caller};
use crate::error::ApiError;
use crate::extract::{self, BodyKind, Json, RawBody};
use crate::idempotency::{self, Created, IdempotencyKey, IdempotencyKeyHeader};
use crate::limits::{self, Limit};
use crate::state::AppState;

/// Registers the `/auth` routes (register, login, refresh, logout, password
/// recovery and reset) behind the auth rate limit (`None`: no limit).
pub fn configure(auth_limit: Option<Limit>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(
            utoipa_actix_web::scope("/auth")
                .wrap(limits::middleware(auth_limit))
                .service(register)
                .service(login)
                .service(refresh)
                .service(logout)
                .service(password_recovery)
                .service(reset_password),
        );
    }
}

/// A refresh token's shape, for the examples: a real one comes from a login
/// and cannot be written into the document.
const REFRESH_TOKEN_EXAMPLE: &str = "q3XnV0fLwWm1b8yTzR4kJ2hC6pD9sA0eN5uG7iO3xYv";

/// Registers an account with role `user`.
#[utoipa::path(
    tag = "auth",
    operation_id = "register",
    summary = "Register an account",
    params(IdempotencyKeyHeader),
    request_body(content = UserCreate,
        example = json!({"username": "alice", "email": "alice@example.com", "password": "Secret123"})),
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
    _credentials: CheckedCredentials,
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

/// The OAuth2 grant type of a login (RFC 6749 §4.3.2): `password`.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordGrant {
    Password,
}

/// The login form of the OAuth2 password grant (RFC 6749 §4.3.2), as
/// Swagger UI's Authorize dialog sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginForm {
    /// `password` when present.
    #[schema(nullable = false)]
    pub grant_type: Option<PasswordGrant>,
    /// Username (any case) or e-mail address.
    pub username: String,
    #[schema(format = "password")]
    pub password: String,
    /// Accepted and ignored (no scopes are defined).
    pub scope: Option<String>,
}

/// Tokens (RFC 6749 §5.1): a short-lived access token and the refresh
/// token that gets the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
    /// Exchange it at `POST /api/v1/auth/refresh` for new tokens; single use.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    #[schema(example = 2592000)]
    pub refresh_expires_in: u64,
}

/// Adds the OAuth2 `error` member to a failed token request (RFC 6749
/// §5.2): `invalid_grant` for bad credentials, `invalid_request` otherwise.
fn oauth(e: ApiError) -> ApiError {
    let code = if e.status() == StatusCode::UNAUTHORIZED || e.status() == StatusCode::FORBIDDEN {
        "invalid_grant"
    } else {
        "invalid_request"
    };
    e.with_oauth_error(code)
}

/// The tokens of a session, as a response no cache may keep (a token is a
/// credential; RFC 6749 §5.1).
fn tokens(
    state: &AppState,
    user_id: uuid::Uuid,
    session: RefreshToken,
) -> Result<HttpResponse, ApiError> {
    let access_token = state.jwt.issue(user_id)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse {
            access_token,
            token_type: "bearer",
            expires_in: state.jwt.ttl,
            refresh_token: session.token,
            refresh_expires_in: session.expires_in,
        }))
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
        (LoginRequest = "application/json",
            example = json!({"username": "alice", "password": "Secret123"})),
        (LoginForm = "application/x-www-form-urlencoded",
            example = json!({"grant_type": "password", "username": "alice", "password": "Secret123"})),
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
    let (username, password) = match body.kind {
        BodyKind::Json => {
            let input: LoginRequest = extract::parse_json(&body.bytes).map_err(oauth)?;
            (input.username, input.password)
        }
        BodyKind::Form => {
            let input: LoginForm = extract::parse_form(&body.bytes).map_err(oauth)?;
            (input.username, input.password)
        }
        BodyKind::Other => return Err(oauth(form_or_json())),
    };
    let ctx = &state.ctx;
    let user = accounts::authenticate(ctx, &ctx.db, &username, &password)
        .await
        .map_err(|e| oauth(e.into()))?;
    let session = sessions::start(ctx, &ctx.db, user.id).await?;
    tokens(&state, user.id, session)
}

fn form_or_json() -> ApiError {
    extract::unsupported("application/json or application/x-www-form-urlencoded")
}

/// Exchanges a refresh token for new tokens; the old refresh token is spent.
///
/// Takes JSON or the OAuth2 refresh-grant form (`grant_type=refresh_token`).
/// Presenting a spent refresh token again revokes its whole session: it
/// must have leaked.
#[utoipa::path(
    tag = "auth",
    operation_id = "refresh",
    summary = "Refresh the tokens",
    request_body(
        description = "The `refresh_token` of the last login or refresh (the example is not one: paste yours)",
        content(
            (RefreshRequest = "application/json",
                example = json!({"refresh_token": REFRESH_TOKEN_EXAMPLE})),
            (RefreshForm = "application/x-www-form-urlencoded",
                example = json!({"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN_EXAMPLE})),
        )
    ),
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "The refresh token is unknown, expired, revoked or already used, or its account is disabled", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security()
)]
#[post("/refresh")]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: RawBody,
) -> Result<HttpResponse, ApiError> {
    caller(&req, true).await?;
    let token = match body.kind {
        BodyKind::Json => {
            let input: RefreshRequest = extract::parse_json(&body.bytes).map_err(oauth)?;
            input.refresh_token
        }
        BodyKind::Form => {
            let input: RefreshForm = extract::parse_form(&body.bytes).map_err(oauth)?;
            input.refresh_token
        }
        BodyKind::Other => return Err(oauth(form_or_json())),
    };
    let ctx = &state.ctx;
    let (user_id, next) = sessions::rotate(ctx, &ctx.db, &token)
        .await
        .map_err(|e| oauth(e.into()))?;
    tokens(&state, user_id, next)
}

/// Ends a session: its refresh tokens are revoked. Safe to repeat: an
/// unknown or revoked token is 204 too. (Access tokens already issued live
/// out their short lifetime.)
#[utoipa::path(
    tag = "auth",
    operation_id = "logout",
    summary = "Log out (revoke a refresh token's session)",
    request_body(content = LogoutRequest,
        description = "A `refresh_token` of the session to end",
        example = json!({"refresh_token": REFRESH_TOKEN_EXAMPLE})),
    responses((status = 204, description = "The session is ended")),
    security()
)]
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    _credentials: CheckedCredentials,
    body: Json<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    sessions::end(ctx, &ctx.db, &body.0.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Asks for a password-reset link by mail. The answer is the same whether
/// or not an account has the address.
#[utoipa::path(
    tag = "auth",
    operation_id = "request_password_recovery",
    summary = "Ask for a password-reset link",
    request_body(content = RecoveryRequest, example = json!({"email": "alice@example.com"})),
    responses((status = 202, description = "Accepted: if an account has the address, the mail is on its way", body = RecoveryAccepted)),
    security()
)]
#[post("/password-recovery")]
pub async fn password_recovery(
    state: web::Data<AppState>,
    _credentials: CheckedCredentials,
    body: Json<RecoveryRequest>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let accepted = recovery::request(ctx, &ctx.db, body.0).await?;
    Ok(HttpResponse::Accepted().json(accepted))
}

/// Sets a new password with the token of a reset link. Every session of the
/// account ends.
#[utoipa::path(
    tag = "auth",
    operation_id = "reset_password",
    summary = "Reset a password with a mailed token",
    request_body(content = PasswordReset,
        description = "The token of the reset link that was mailed (the example is not one: paste yours)",
        example = json!({"token": "the-token-from-the-reset-link", "new_password": "NewSecret456"})),
    responses(
        (status = 204, description = "The password is set; the token is spent"),
        (status = 400, description = "The token is unknown, already used or expired", body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    ),
    security()
)]
#[post("/reset-password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    _credentials: CheckedCredentials,
    body: Json<PasswordReset>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    recovery::reset(ctx, &ctx.db, body.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
