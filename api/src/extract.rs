//! Body and query extractors that answer in problem+json with the field at
//! fault: JSON syntax errors are 400, wrong types and missing fields 422
//! naming the field (docs/conventions.md#errors), a wrong content type 415,
//! a body over the limit 413.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use service::FieldError;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema};

use crate::error::ApiError;

/// Largest request body accepted: 1 MiB (docs/conventions.md#bodies).
pub const BODY_LIMIT: usize = 1 << 20;

/// A JSON request body, checked for content type, size, syntax and types.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + PartialSchema + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = BodyKind::of(req);
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            if kind != BodyKind::Json {
                return Err(unsupported("application/json"));
            }
            let bytes = body.await.map_err(payload_error)?;
            keep_for_idempotency(&req, &bytes);
            parse_json(&bytes).map(Json)
        })
    }
}

/// Keeps the raw body of a request that carries an `Idempotency-Key`, so
/// the key can be bound to exactly this body (see `idempotency`).
fn keep_for_idempotency(req: &HttpRequest, bytes: &web::Bytes) {
    if crate::idempotency::wants_body(req) {
        req.extensions_mut()
            .insert(crate::idempotency::RawRequestBody(bytes.clone()));
    }
}

/// A query string, with the parameter at fault named on a type error.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + IntoParams + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // A NUL can only come percent-encoded; only then are the parameters
        // the operation reads (unknown ones are ignored) worth listing.
        if req.query_string().contains("%00") {
            let known: Vec<String> = T::into_params(|| None)
                .into_iter()
                .map(|p| p.name)
                .collect();
            if let Some(field) = nul_in_pairs(req.query_string().as_bytes(), &known) {
                return std::future::ready(Err(nul_error(field)));
            }
        }
        let parser = form_urlencoded::parse(req.query_string().as_bytes());
        let result = serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(parser))
            .map(Query)
            .map_err(|e| {
                let field = dotted(e.path());
                let message = e.into_inner().to_string();
                ApiError::validation(vec![describe(field, &message)])
            });
        std::future::ready(result)
    }
}

/// What a request body claims to be, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json` or any `+json` type.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else, or no content type.
    Other,
}

impl BodyKind {
    /// Reads the request's content type.
    pub fn of(req: &HttpRequest) -> Self {
        let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
            return Self::Other;
        };
        let essence = value
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence == "application/json"
            || (essence.starts_with("application/") && essence.ends_with("+json"))
        {
            Self::Json
        } else if essence == "application/x-www-form-urlencoded" {
            Self::Form
        } else {
            Self::Other
        }
    }
}

/// 415 naming what the operation takes.
pub fn unsupported(accepted: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!("This operation takes {accepted}; set the Content-Type header"),
    )
}

/// Maps an error reading the body: over the limit is 413, anything else 400.
pub fn payload_error(err: actix_web::Error) -> ApiError {
    let status = err.as_response_error().status_code();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            format!("The request body is larger than {BODY_LIMIT} bytes (1 MiB)"),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "The request body could not be read",
        )
    }
}

/// Parses a JSON body: a syntax error is 400; a wrong type or a missing field
/// is 422 naming the field.
///
/// # Errors
/// As above.
pub fn parse_json<T: DeserializeOwned + PartialSchema>(bytes: &[u8]) -> Result<T, ApiError> {
    // The common case, straight into the type: an object (`{`) with no NUL
    // anywhere (JSON can only write one as `\u0000`) that deserializes.
    // Anything else takes the slow path below, which finds every problem.
    let object = bytes.trim_ascii_start().starts_with(b"{");
    let nul = bytes.windows(6).any(|w| w == b"\\u0000");
    if object
        && !nul
        && let Ok(value) = serde_json::from_slice::<T>(bytes)
    {
        return Ok(value);
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    // Every body this API takes is a JSON object; serde would also fill a
    // struct from an array (`[null, null]`), which no client means.
    let Some(object) = value.as_object() else {
        return Err(ApiError::validation(vec![FieldError::new(
            "body",
            "type",
            "must be a JSON object",
        )]));
    };
    // Only members the type reads are checked: unknown ones are ignored.
    let known = schema_properties::<T>();
    if let Some(field) = object
        .iter()
        .filter(|(k, _)| known.contains(k))
        .find_map(|(k, v)| nul_in_json(v, k))
    {
        return Err(nul_error(field));
    }
    let present: Vec<String> = object.keys().cloned().collect();
    deserialize_all::<T, _>(serde_path_to_error::deserialize(value), &present)
}

/// Turns a deserialisation result into the 422 of docs/conventions.md#errors: one entry
/// per broken rule. serde stops at the first problem, so every required
/// member (from the type's OpenAPI schema) that is absent is listed too.
fn deserialize_all<T: PartialSchema, E: std::fmt::Display>(
    result: Result<T, serde_path_to_error::Error<E>>,
    present: &[String],
) -> Result<T, ApiError> {
    let err = match result {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let field = dotted(err.path());
    let message = err.into_inner().to_string();
    let first = describe(field, &message);
    let mut errors: Vec<FieldError> = required_members::<T>()
        .into_iter()
        .filter(|name| !present.contains(name))
        .map(|name| FieldError::new(name, "required", "is required"))
        .collect();
    if !errors.iter().any(|e| e.field == first.field) {
        errors.push(first);
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    Err(ApiError::validation(errors))
}

/// The members a type's schema names (top level only).
fn schema_properties<T: PartialSchema>() -> Vec<String> {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The `required` members of a type's schema (top level only).
fn required_members<T: PartialSchema>() -> Vec<String> {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.required,
        _ => Vec::new(),
    }
}

/// A serde path in the dotted form of `errors[].field`: `items.0.name`.
fn dotted(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Turns serde's message into a field error: `missing field `x`` becomes
/// `{field: x, type: required}`, anything else a `type` error on the path.
fn describe(path: String, message: &str) -> FieldError {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new(field, "required", "is required");
    }
    let field = if path.is_empty() {
        "body".to_owned()
    } else {
        path
    };
    // serde_json appends " at line X column Y" only for syntax errors, which
    // never reach here; the message names the expected type.
    FieldError::new(field, "type", message.to_owned())
}

/// A request body read whole (up to [`BODY_LIMIT`]) with its claimed kind,
/// for operations that take more than one content type (login).
pub struct RawBody {
    pub kind: BodyKind,
    pub bytes: web::Bytes,
}

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = BodyKind::of(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = body.await.map_err(payload_error)?;
            Ok(RawBody { kind, bytes })
        })
    }
}

/// Parses an `application/x-www-form-urlencoded` body; a missing or
/// ill-typed field is 422 naming it.
///
/// # Errors
/// As above.
pub fn parse_form<T: DeserializeOwned + PartialSchema>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(field) = nul_in_pairs(bytes, &schema_properties::<T>()) {
        return Err(nul_error(field));
    }
    let present: Vec<String> = form_urlencoded::parse(bytes)
        .map(|(k, _)| k.into_owned())
        .collect();
    let parser = form_urlencoded::parse(bytes);
    deserialize_all::<T, _>(
        serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(parser)),
        &present,
    )
}

/// A body that must be empty, `null`, or a JSON object whose members are
/// ignored (the create-offer body, docs/marketplace.md#offers).
pub struct EmptyObject;

impl FromRequest for EmptyObject {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = RawBody::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = raw.await?;
            keep_for_idempotency(&req, &body.bytes);
            if body.bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(EmptyObject);
            }
            if body.kind != BodyKind::Json {
                return Err(unsupported("application/json (or no body)"));
            }
            match serde_json::from_slice::<serde_json::Value>(&body.bytes) {
                Ok(serde_json::Value::Object(_) | serde_json::Value::Null) => Ok(EmptyObject),
                Ok(_) => Err(ApiError::validation(vec![FieldError::new(
                    "body",
                    "type",
                    "must be empty, null or a JSON object",
                )])),
                Err(e) => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("The request body is not valid JSON: {e}"),
                )),
            }
        })
    }
}

// Text may not hold U+0000: PostgreSQL cannot store it in a text column and
// fails the whole statement, so it is refused up front, on both databases.

/// 422: the field holds a NUL character.
fn nul_error(field: String) -> ApiError {
    ApiError::validation(vec![FieldError::new(
        field,
        "characters",
        "must not contain the NUL character (U+0000)",
    )])
}

/// The dotted path of the first string in `value` that holds a NUL.
fn nul_in_json(value: &serde_json::Value, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in_json(v, &join(&i.to_string()))),
        serde_json::Value::Object(members) => {
            members.iter().find_map(|(k, v)| nul_in_json(v, &join(k)))
        }
        _ => None,
    }
}

/// The name of the first urlencoded pair among `known` whose value holds a
/// NUL. A `cursor` is exempt: it is opaque, never stored or searched for,
/// and one that does not decode is 400 (docs/conventions.md#lists), NUL or not.
fn nul_in_pairs(encoded: &[u8], known: &[String]) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, v)| k != "cursor" && known.iter().any(|n| n == k) && v.contains('\0'))
        .map(|(k, _)| k.into_owned())
}

/// Middleware (`actix_web::middleware::from_fn`): a path whose segments
/// hold an encoded NUL (`%00`) names nothing that can exist: 404.
pub async fn refuse_nul_in_path(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    // `%00` has no letters, so no case to fold: a plain search, no copy.
    if req.path().contains("%00") {
        let response = actix_web::ResponseError::error_response(&ApiError::new(
            StatusCode::NOT_FOUND,
            "No resource has a name with a NUL character",
        ));
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(actix_web::dev::ServiceResponse::map_into_left_body)
}
