//! The HTTP face of the service: actix-web routes, bearer authentication,
//! problem+json errors, the OpenAPI document and Swagger UI.
//!
//! [`app`] assembles the whole application; the binary (`main.rs`) and the
//! black-box tests serve exactly this.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, web};
use utoipa::OpenApi as _;
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod state;

use error::ApiError;

/// Where the OpenAPI document is served.
pub const OPENAPI_URL: &str = "/api-docs/openapi.json";

/// The OpenAPI document, built from the same route declarations the app serves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts()
        .1
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
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::ApiDoc::openapi())
        .app_data(web::Data::new(state))
        .app_data(web::PayloadConfig::new(extract::BODY_LIMIT))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .configure(routes::configure)
        .split_for_parts();
    let methods = web::Data::new(MethodTable::new(&api));
    app.app_data(methods)
        .wrap(actix_web::middleware::Logger::new("%a \"%r\" %s %b %Dms"))
        .service(web::redirect("/docs", "/docs/"))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url(OPENAPI_URL, api)
                // Keeps the Authorize login across a page reload.
                .config(utoipa_swagger_ui::Config::default().persist_authorization(true)),
        )
        .default_service(web::to(fallback))
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

    /// The `Allow` value for a concrete path, or `None` when no template matches.
    pub fn allowed(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allow: Vec<&str> = Vec::new();
        for (segments, methods) in self.0.iter() {
            let matches = segments.len() == parts.len()
                && segments
                    .iter()
                    .zip(&parts)
                    .all(|(s, p)| (s.starts_with('{') && !p.is_empty()) || s == p);
            if matches {
                allow.extend(
                    methods
                        .iter()
                        .filter(|m| !allow.contains(m))
                        .collect::<Vec<_>>(),
                );
            }
        }
        (!allow.is_empty()).then(|| allow.join(", "))
    }
}
