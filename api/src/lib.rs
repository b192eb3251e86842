//! The HTTP face of the service: actix-web routes, bearer authentication,
//! problem+json errors, the OpenAPI document and Swagger UI.
//!
//! [`app`] assembles the whole application; the binary (`main.rs`) and the
//! black-box tests serve exactly this.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{self, Condition};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;

pub mod auth;
pub mod background;
pub mod cache;
pub mod conditional;
pub mod config;
pub mod error;
pub mod extract;
pub mod healthcheck;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod migrate;
pub mod openapi;
pub mod routes;
pub mod shutdown;
pub mod state;
pub mod telemetry;

use error::ApiError;

/// Where the OpenAPI document is served.
pub const OPENAPI_URL: &str = "/api-docs/openapi.json";

/// The OpenAPI document, built from the same route declarations the app serves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes::configure(limits::RateLimits::default()))
        .split_for_parts();
    openapi::finish(api)
}

/// The whole application over `state`: routes, error handlers, Swagger UI at
/// `/docs/`, the document at [`OPENAPI_URL`], and a fallback that answers an
/// unknown path with 404 and a known path with the wrong method with 405 and
/// `Allow`, both as problem+json.
pub fn app(
    state: state::AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limits = state.limits.clone();
    let cors = cors(&state.settings.cors_allowed_origins);
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(extract::BODY_LIMIT))
        .app_data(
            actix_multipart::form::MultipartFormConfig::default()
                // The file part's own limit is 2 MiB; the rest is room for
                // the part headers and boundaries.
                .total_limit(service::avatars::MAX_BYTES + 64 * 1024)
                .memory_limit(service::avatars::MAX_BYTES + 64 * 1024)
                .error_handler(error::multipart_error),
        )
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .configure(routes::configure(limits))
        .split_for_parts();
    let api = openapi::finish(api);
    let methods = web::Data::new(MethodTable::new(&api));
    app.app_data(methods)
        // Innermost: a writing request's cache drops are settled once its
        // handler (and transaction) is done.
        .wrap(middleware::from_fn(cache::settle_writes))
        // Outermost last: the request id (and its span) wraps CORS, so even a
        // rate-limited answer carries the id and CORS headers.
        .wrap(Condition::new(cors.is_some(), cors.unwrap_or_default()))
        .wrap(middleware::from_fn(extract::refuse_nul_in_path))
        .wrap(middleware::from_fn(shutdown::close_when_draining))
        .wrap(middleware::from_fn(telemetry::request_id))
        // Outside everything else, so it sees the final status of every answer.
        .wrap(middleware::from_fn(metrics::track))
        .service(web::redirect("/docs", "/docs/"))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url(OPENAPI_URL, api)
                // Keeps the Authorize login across a page reload.
                .config(utoipa_swagger_ui::Config::default().persist_authorization(true)),
        )
        .default_service(web::to(fallback))
}

/// CORS for the configured origins (`CORS_ALLOWED_ORIGINS`); `None` when
/// there are none, so no cross-origin browser request is allowed.
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-api-key"),
            telemetry::REQUEST_ID,
            telemetry::TRACEPARENT,
            telemetry::TRACESTATE,
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            header::ALLOW,
            header::ETAG,
            header::WWW_AUTHENTICATE,
            header::HeaderName::from_static(idempotency::REPLAYED),
            telemetry::REQUEST_ID,
            telemetry::TRACEPARENT,
            limits::RATELIMIT_LIMIT,
            limits::RATELIMIT_REMAINING,
            limits::RATELIMIT_RESET,
        ])
        .max_age(3600);
    Some(
        origins
            .iter()
            .fold(cors, |cors, origin| cors.allowed_origin(origin)),
    )
}

async fn fallback(
    req: HttpRequest,
    methods: web::Data<MethodTable>,
) -> Result<HttpResponse, ApiError> {
    Err(match methods.allowed(req.path()) {
        Some(allow) => ApiError::method_not_allowed(allow),
        None => ApiError::no_route(req.path()),
    })
}

/// For each documented path template, the methods it serves; answers "which
/// methods does this concrete path allow" for 405 responses (RFC 9110 §15.5.6).
#[derive(Clone, Debug)]
pub struct MethodTable(Arc<Vec<(Vec<String>, Vec<&'static str>)>>);

impl MethodTable {
    /// Reads every path and operation of the document.
    pub fn new(api: &utoipa::openapi::OpenApi) -> Self {
        let rows = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template
                    .trim_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (segments, methods)
            })
            .collect();
        Self(Arc::new(rows))
    }

    /// The `Allow` value for a concrete path, or `None` when no template
    /// matches. When several match (`/cleanings/feed` and `/cleanings/{id}`),
    /// the most specific wins, as in the router: the one with the most
    /// literal segments.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(usize, Vec<&str>)> = None;
        for (segments, methods) in self.0.iter() {
            let matches = segments.len() == parts.len()
                && segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| (s.starts_with('{') && !p.is_empty()) || s == p);
            if !matches {
                continue;
            }
            let literals = segments.iter().filter(|s| !s.starts_with('{')).count();
            match &mut best {
                Some((n, _)) if *n > literals => {}
                Some((n, allow)) if *n == literals => {
                    allow.extend(
                        methods
                            .iter()
                            .filter(|m| !allow.contains(m))
                            .collect::<Vec<_>>(),
                    );
                }
                _ => best = Some((literals, methods.clone())),
            }
        }
        best.map(|(_, allow)| allow.join(", "))
    }
}
