//! Creates, with or without an `Idempotency-Key`
//! (docs/conventions.md#idempotent-creates).
//!
//! Every create handler hands its work to [`create`] as an async closure
//! over a connection or transaction. Without a key the work runs as it is.
//! With one, the key is claimed first (a repeat is answered from the stored
//! response, with `Idempotent-Replayed: true`), and the work runs in a
//! transaction that also stores its response, so the resource and the
//! record of it commit together. A failed create gives its key back.

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, web};
use serde::Serialize;
use service::db::Executor;
use service::idempotency::{self, Caller, Claim, KeyedRequest, StoredResponse};
use service::{Context, ServiceError, Tagged, db};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::error::ApiError;
use crate::state::AppState;

/// The header that marks a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` of a create, when one was sent.
///
/// # Errors (as an extractor)
/// 400 when the header is not 1–255 visible ASCII characters (bare or quoted).
#[derive(Clone, Debug, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let key = req
            .headers()
            .get(idempotency::HEADER)
            .map(|value| idempotency::parse_key(value.as_bytes()))
            .transpose()
            .map(IdempotencyKey)
            .map_err(ApiError::from);
        std::future::ready(key)
    }
}

/// The raw body of a request that carries an `Idempotency-Key`, kept by the
/// body extractors (`extract::Json`, `extract::EmptyObject`) so the key can
/// be bound to it.
#[derive(Clone, Debug)]
pub struct RawRequestBody(pub web::Bytes);

/// Does this request carry an `Idempotency-Key` (so its body must be kept)?
pub fn wants_body(req: &HttpRequest) -> bool {
    req.headers().contains_key(idempotency::HEADER)
}

/// A created resource, ready to send or to store: 201, `Location`, `ETag`
/// and the JSON body.
#[derive(Clone, Debug)]
pub struct Created(StoredResponse);

impl Created {
    /// `resource`, found at `location` (a path under the API root, from
    /// `routes::url`).
    ///
    /// # Errors
    /// 500 if the body cannot be serialised (never, for the service's types).
    pub fn new<T: Serialize + Tagged>(location: String, resource: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_string(resource)
            .map_err(|e| ServiceError::Internal(format!("serialising a created resource: {e}")))?;
        Ok(Self(StoredResponse {
            status: StatusCode::CREATED.as_u16(),
            location: Some(location),
            etag: Some(resource.etag().quoted()),
            body,
        }))
    }
}

/// The HTTP form of a stored (or fresh) create response.
fn respond(stored: StoredResponse, replayed: bool) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = HttpResponse::build(status);
    response
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if let Some(location) = stored.location {
        response.insert_header((header::LOCATION, location));
    }
    if let Some(etag) = stored.etag {
        response.insert_header((header::ETAG, etag));
    }
    if replayed {
        response.insert_header((REPLAYED, "true"));
    }
    response.body(stored.body)
}

/// Runs a create for `caller`, honouring `key` (see the module docs).
/// `work` gets the service context and the connection or transaction to
/// write with.
///
/// # Errors
/// The work's own errors; 422 when the key was used for another request;
/// 409 while a request with the key still runs.
pub async fn create(
    state: &AppState,
    req: &HttpRequest,
    caller: Caller,
    key: IdempotencyKey,
    work: impl AsyncFnOnce(&Context, &Executor<'_>) -> Result<Created, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let ctx = &state.ctx;
    let Some(key) = key.0 else {
        let created = work(ctx, &Executor::Pool(&ctx.db)).await?;
        return Ok(respond(created.0, false));
    };
    let body = req
        .extensions()
        .get::<RawRequestBody>()
        .map(|raw| raw.0.clone())
        .unwrap_or_default();
    let request = KeyedRequest::new(caller, key, req.method().as_str(), req.path(), &body);
    let ticket = match idempotency::claim(ctx, &ctx.db, &request).await? {
        Claim::Replay(stored) => return Ok(respond(stored, true)),
        Claim::Fresh(ticket) => ticket,
    };
    let outcome = async {
        let txn = db::begin_write(&ctx.db).await.map_err(ServiceError::from)?;
        let created = work(ctx, &Executor::Transaction(&txn)).await?;
        idempotency::complete(&txn, &ticket, &created.0).await?;
        txn.commit().await.map_err(ServiceError::from)?;
        Ok::<_, ApiError>(created)
    }
    .await;
    match outcome {
        Ok(created) => Ok(respond(created.0, false)),
        Err(error) => {
            if let Err(e) = idempotency::release(&ctx.db, &ticket).await {
                tracing::warn!(error = %e, "could not release an idempotency key; it expires by itself");
            }
            Err(error)
        }
    }
}

/// The `Idempotency-Key` header parameter, for `params(…)` of a create.
pub struct IdempotencyKeyHeader;

impl IntoParams for IdempotencyKeyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![crate::conditional::header_param(
            "Idempotency-Key",
            "Makes the create safe to retry: 1–255 visible ASCII characters, bare or in double \
             quotes. A repeat with the same key and body within 24 hours gets the first response \
             again, with `Idempotent-Replayed: true`; the same key with another body is 422; a \
             repeat while the first still runs is 409.",
            // Bare (not starting with a quote), or a structured-field string.
            r#"^([!#-~][!-~]{0,254}|"([!#-\[\]-~]|\\[\\"]){1,255}")$"#,
        )]
    }
}
