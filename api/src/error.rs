//! Every error the API gives, as RFC 9457 problem details
//! (`application/problem+json`, docs/conventions.md#errors), including the
//! ones actix-web would otherwise answer in plain text.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use service::{FieldError, ServiceError};
use utoipa::{ToResponse, ToSchema};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details body.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// Always `about:blank`: the status code says what kind of problem it is.
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub problem_type: String,
    /// The status code's reason phrase.
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong, as a sentence a person can act on.
    #[schema(example = "The request body breaks 1 rule")]
    pub detail: String,
    /// On 422 only: one entry per broken rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// On a failed login only: the OAuth2 error code (RFC 6749 §5.2),
    /// `invalid_grant` or `invalid_request`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "invalid_grant")]
    pub error: Option<String>,
    /// On a failed login only: the same text as `detail` (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// An error response in the making: status, detail and the extras some
/// statuses carry.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Option<Vec<FieldError>>,
    oauth_error: Option<&'static str>,
    www_authenticate: Option<&'static str>,
    allow: Option<String>,
    retry_after: Option<u32>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl ApiError {
    /// An error with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            errors: None,
            oauth_error: None,
            www_authenticate: None,
            allow: None,
            retry_after: None,
        }
    }

    /// Adds `Retry-After` (seconds).
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3). `invalid_token`
    /// adds `error="invalid_token"` for credentials that were sent but failed.
    pub fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, detail);
        e.www_authenticate = Some(if invalid_token {
            r#"Bearer error="invalid_token""#
        } else {
            "Bearer"
        });
        e
    }

    /// 422 listing the broken rules.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let n = errors.len();
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            if n == 1 {
                "The request breaks 1 rule".to_owned()
            } else {
                format!("The request breaks {n} rules")
            },
        );
        e.errors = Some(errors);
        e
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("No route matches {path}"))
    }

    /// 405 with the `Allow` header.
    pub fn method_not_allowed(allow: String) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("This path allows only {allow}"),
        );
        e.allow = Some(allow);
        e
    }

    /// Adds the OAuth2 `error` member (for the login route, RFC 6749 §5.2).
    pub fn with_oauth_error(mut self, code: &'static str) -> Self {
        self.oauth_error = Some(code);
        self
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The problem body.
    pub fn problem(&self) -> ProblemDetails {
        ProblemDetails {
            problem_type: "about:blank".into(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
            error: self.oauth_error.map(str::to_owned),
            error_description: self.oauth_error.map(|_| self.detail.clone()),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::BadRequest(d) => Self::new(StatusCode::BAD_REQUEST, d),
            ServiceError::InvalidCredentials => Self::unauthorized(err.to_string(), false),
            ServiceError::Unauthorized(d) => Self::unauthorized(d, false),
            ServiceError::Forbidden(d) => Self::new(StatusCode::FORBIDDEN, d),
            ServiceError::NotFound(d) => Self::new(StatusCode::NOT_FOUND, d),
            ServiceError::PreconditionFailed(d) => Self::new(StatusCode::PRECONDITION_FAILED, d),
            ServiceError::Conflict { detail, .. } => Self::new(StatusCode::CONFLICT, detail),
            ServiceError::StillRunning(d) => Self::new(StatusCode::CONFLICT, d).with_retry_after(1),
            ServiceError::PayloadTooLarge(d) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, d),
            ServiceError::UnsupportedMediaType(d) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, d)
            }
            ServiceError::StorageUnavailable(d) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, d).with_retry_after(5)
            }
            ServiceError::Validation(errors) => Self::validation(errors),
            ServiceError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database is unavailable; try again shortly",
                )
                .with_retry_after(5)
            }
            ServiceError::Internal(source) => {
                // Logged in full, shown as nothing: no SQL, no paths
                // (docs/conventions.md#status-codes).
                tracing::error!(error = %source, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An internal error occurred",
                )
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.content_type(PROBLEM_JSON);
        // Every 401 names the scheme that would work (RFC 9110 §11.6.1),
        // failed logins and refreshes included.
        match self.www_authenticate {
            Some(value) => {
                res.insert_header((header::WWW_AUTHENTICATE, value));
            }
            None if self.status == StatusCode::UNAUTHORIZED => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            None => {}
        }
        if let Some(allow) = &self.allow {
            res.insert_header((header::ALLOW, allow.as_str()));
        }
        if let Some(seconds) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED || self.oauth_error.is_some() {
            res.insert_header((header::CACHE_CONTROL, "no-store"));
        }
        res.json(self.problem())
    }
}

/// `PathConfig` error handler: a path parameter that does not parse (a
/// malformed UUID) names nothing that exists, so it is 404
/// (docs/conventions.md#identifiers).
/// One exception: a literal path that a parameterised route also matched
/// (`DELETE /cleanings/feed` reaching `DELETE /cleanings/{id}`) exists, just
/// not with this method: 405 with `Allow`.
pub fn path_error(err: actix_web::error::PathError, req: &HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %err, "unparsable path parameter");
    if let Some(allow) = req
        .app_data::<actix_web::web::Data<crate::MethodTable>>()
        .and_then(|table| table.allowed(req.path()))
        && !allow.split(", ").any(|m| m == req.method().as_str())
    {
        return ApiError::method_not_allowed(allow).into();
    }
    ApiError::new(StatusCode::NOT_FOUND, "No resource has this id").into()
}

// Reusable OpenAPI responses, referenced by every operation that can give them.

/// The request cannot be parsed: bad JSON or a malformed cursor.
#[derive(ToResponse)]
#[response(
    description = "The request cannot be parsed (bad JSON, malformed cursor), or it sent both a bearer token and an API key",
    content_type = "application/problem+json"
)]
pub struct BadRequest(#[allow(dead_code)] ProblemDetails);

/// Missing or bad credentials; has `WWW-Authenticate: Bearer`.
#[derive(ToResponse)]
#[response(
    description = "Missing or bad credentials",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "Bearer"))
)]
pub struct Unauthorized(#[allow(dead_code)] ProblemDetails);

/// Authenticated but not allowed.
#[derive(ToResponse)]
#[response(
    description = "Not allowed for this user, or for this API key (a scope it lacks)",
    content_type = "application/problem+json"
)]
pub struct Forbidden(#[allow(dead_code)] ProblemDetails);

/// No such resource (or one the caller may not know exists).
#[derive(ToResponse)]
#[response(
    description = "No such resource",
    content_type = "application/problem+json"
)]
pub struct NotFound(#[allow(dead_code)] ProblemDetails);

/// An `If-Match` precondition failed; nothing was changed.
#[derive(ToResponse)]
#[response(
    description = "The resource changed since the ETag in If-Match was issued; nothing was changed",
    content_type = "application/problem+json"
)]
pub struct PreconditionFailed(#[allow(dead_code)] ProblemDetails);

/// A uniqueness or state conflict; `detail` names the field.
#[derive(ToResponse)]
#[response(
    description = "Conflict with an existing resource",
    content_type = "application/problem+json"
)]
pub struct Conflict(#[allow(dead_code)] ProblemDetails);

/// The body is over 1 MiB.
#[derive(ToResponse)]
#[response(
    description = "The body is larger than 1 MiB",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(#[allow(dead_code)] ProblemDetails);

/// The body's content type is not one the operation takes.
#[derive(ToResponse)]
#[response(
    description = "Unsupported content type",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(#[allow(dead_code)] ProblemDetails);

/// The input breaks rules; `errors` lists each.
#[derive(ToResponse)]
#[response(
    description = "The input breaks one or more rules (see `errors`)",
    content_type = "application/problem+json"
)]
pub struct ValidationFailed(#[allow(dead_code)] ProblemDetails);

/// The database cannot be reached.
#[derive(ToResponse)]
#[response(
    description = "The database is unavailable",
    content_type = "application/problem+json"
)]
pub struct ServiceUnavailable(#[allow(dead_code)] ProblemDetails);

/// The client sent too many requests; has `Retry-After` (seconds).
#[derive(ToResponse)]
#[response(
    description = "Rate limit hit; retry after the given seconds",
    content_type = "application/problem+json",
    headers(
        ("Retry-After" = u64, description = "Seconds to wait"),
        ("RateLimit-Limit" = u32, description = "Requests a minute, and the largest burst"),
        ("RateLimit-Remaining" = u32, description = "Requests left now: 0"),
        ("RateLimit-Reset" = u64, description = "Seconds until the whole allowance is back"),
    )
)]
pub struct TooManyRequests(#[allow(dead_code)] ProblemDetails);

/// An extractor's error as problem+json: ours pass through; one an
/// extractor answered on its own (actix-multipart refuses a content type
/// before its error handler runs) keeps its status and gets a problem body.
pub fn as_problem(err: actix_web::Error) -> actix_web::Error {
    if err.as_error::<ApiError>().is_some() {
        return err;
    }
    let status = err.as_response_error().status_code();
    if let Some(multipart) = err.as_error::<actix_multipart::MultipartError>() {
        return if not_multipart(multipart) {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, NOT_MULTIPART)
        } else {
            ApiError::new(
                status,
                format!("The multipart body could not be read: {multipart}"),
            )
        }
        .into();
    }
    ApiError::new(status, err.to_string()).into()
}

/// The 415 detail of an upload whose body is not multipart.
const NOT_MULTIPART: &str = "This operation takes multipart/form-data with a `file` part";

/// Whether actix-multipart refused the request's content type (a 415).
fn not_multipart(err: &actix_multipart::MultipartError) -> bool {
    use actix_multipart::MultipartError as E;
    matches!(
        err,
        E::ContentTypeMissing | E::ContentTypeParse | E::ContentTypeIncompatible
    )
}

/// `MultipartFormConfig` error handler: a request that is not
/// `multipart/form-data` is 415; one over the limit 413 (as soon as the limit
/// is passed, before the rest is read); a missing `file` part 422 on `file`;
/// anything else malformed 400.
pub fn multipart_error(err: actix_multipart::MultipartError, _: &HttpRequest) -> actix_web::Error {
    use actix_multipart::MultipartError as E;
    let status = match &err {
        e if not_multipart(e) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        E::MissingField(field) => {
            return ApiError::validation(vec![FieldError::new(
                field.clone(),
                "required",
                "is required: a part holding the picture",
            )])
            .into();
        }
        E::Payload(actix_web::error::PayloadError::Overflow) => StatusCode::PAYLOAD_TOO_LARGE,
        E::Field { source, .. } => source.as_response_error().status_code(),
        _ => StatusCode::BAD_REQUEST,
    };
    let detail = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => NOT_MULTIPART.to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "The file is larger than 2 MiB".to_owned(),
        _ => format!("The multipart body could not be read: {err}"),
    };
    ApiError::new(status, detail).into()
}
