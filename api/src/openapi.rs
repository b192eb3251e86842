//! The OpenAPI document's frame: info, tags, shared components and the
//! OAuth2 password-flow security scheme. Paths come from the handlers
//! themselves (see `routes`), never from a second list here.

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Flow, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

use crate::routes::API_V1;

use crate::error::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed, ProblemDetails,
    ServiceUnavailable, TooManyRequests, Unauthorized, UnsupportedMediaType, ValidationFailed,
};

/// The document's frame.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Owned Resources API",
        description = "Accounts, a blog, a cleaning-jobs marketplace and a programming-languages catalogue, \
on one core of accounts and ownership rules. Errors are RFC 9457 problem details. \
Click **Authorize** and log in with a username and password to try protected operations, \
or paste an API key (`X-API-Key`) made with `POST /api/v1/users/me/api-keys`: one or the other, \
since a request with both is 400.",
        contact(name = "API team", email = "api@example.com"),
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "auth", description = "Register and log in"),
        (name = "users", description = "Your account, and user administration"),
        (name = "api-keys", description = "API keys for programs: scoped, revocable, shown once; made, listed and revoked with a login token only"),
        (name = "profiles", description = "Public profiles, one per user"),
        (name = "posts", description = "A blog: posts with unique slugs and drafts"),
        (name = "cleanings", description = "A marketplace: cleaning jobs posted by their owners"),
        (name = "offers", description = "Offers on cleaning jobs: make, accept, reject, cancel, rescind"),
        (name = "languages", description = "A public catalogue of programming languages, filterable by publication year"),
        (name = "meta", description = "Liveness, readiness and metrics"),
    ),
    components(
        schemas(ProblemDetails, service::FieldError),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed,
            PayloadTooLarge, UnsupportedMediaType, ValidationFailed, TooManyRequests,
            ServiceUnavailable
        ),
    ),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

/// Adds the two security schemes: `oauth2`, the password flow against the
/// login route, so Swagger UI's **Authorize** button logs a person in
/// (docs/conventions.md#authentication); and `apiKey`, the `X-API-Key`
/// header (docs/accounts.md#api-keys). Each operation lists the ones it
/// takes: both, as alternatives, on every operation that takes a login
/// token, except the few that need a login (API keys, the password).
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::with_refresh_url(
                    format!("{API_V1}/auth/login"),
                    Scopes::new(),
                    format!("{API_V1}/auth/refresh"),
                ))],
                "Log in with a username (or e-mail) and password.",
            )),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                crate::auth::API_KEY_HEADER,
                "An API key (`oak_…`) made with `POST /api/v1/users/me/api-keys`: acts as its user, \
                 within its scopes (`read`: GET and HEAD; `write`: every method; `admin`: admin powers).",
            ))),
        );
    }
}

/// Completes the document once the routes have added their paths and
/// schemas (modifiers in `#[openapi(...)]` run before that, on the frame).
pub fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    CommonResponses.modify(&mut api);
    CredentialResponses.modify(&mut api);
    RateLimitedResponses.modify(&mut api);
    PublicationYearBound.modify(&mut api);
    NoNulInText.modify(&mut api);
    api
}

/// The responses that follow from what an operation takes, added to every
/// operation under `/api/v1` that does not declare them itself:
///
/// | the operation takes | it may answer |
/// |---|---|
/// | anything | 401 (a bad `Authorization` header, even on a public route), 503 |
/// | a request body | 400 (not JSON), 413, 415, 422 |
/// | query parameters | 422 (400 too for a `cursor`) |
/// | a path parameter | 404 |
/// | a conditional or `Idempotency-Key` header | 400 (malformed) |
/// | `If-Match` | 412, and an `ETag` on its 2xx response |
/// | `If-None-Match` | 304 with the `ETag`, and an `ETag` on its 200 |
/// | `Idempotency-Key` | 422 (key reused), 409 (still running), and `ETag` and `Idempotent-Replayed` on its 201 |
///
/// Handlers declare their success responses and the errors particular to
/// them (403, 409); a 409 a handler declares gains the idempotency case.
struct CommonResponses;

impl CommonResponses {
    fn operation(operation: &mut utoipa::openapi::path::Operation) {
        use utoipa::openapi::path::ParameterIn;
        let params = operation.parameters.as_deref().unwrap_or_default();
        let has = |name: &str| {
            params
                .iter()
                .any(|p| p.parameter_in == ParameterIn::Header && p.name == name)
        };
        let (if_match, if_none_match, keyed) = (
            has("If-Match"),
            has("If-None-Match"),
            has("Idempotency-Key"),
        );
        let query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
        let cursor = params
            .iter()
            .any(|p| p.parameter_in == ParameterIn::Query && p.name == "cursor");
        let path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
        let body = operation.request_body.is_some();

        let mut add: Vec<(&str, &str)> =
            vec![("401", "Unauthorized"), ("503", "ServiceUnavailable")];
        if body {
            add.extend([
                ("400", "BadRequest"),
                ("413", "PayloadTooLarge"),
                ("415", "UnsupportedMediaType"),
                ("422", "ValidationFailed"),
            ]);
        }
        if query {
            add.push(("422", "ValidationFailed"));
        }
        if cursor || if_match || if_none_match || keyed {
            add.push(("400", "BadRequest"));
        }
        if path {
            add.push(("404", "NotFound"));
        }
        if if_match {
            add.push(("412", "PreconditionFailed"));
        }
        if keyed {
            add.push(("422", "ValidationFailed"));
        }
        let responses = &mut operation.responses.responses;
        for (status, name) in add {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| utoipa::openapi::Ref::from_response_name(name).into());
        }
        if keyed {
            Self::idempotency_conflict(responses);
        }
        if if_none_match {
            responses.insert("304".to_owned(), not_modified().into());
        }
        if if_match || if_none_match || keyed {
            for (status, response) in responses.iter_mut() {
                if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                    if !response.content.is_empty() {
                        response.headers.insert("ETag".into(), etag_header());
                    }
                    if keyed && status == "201" {
                        response.headers.insert(
                            "Idempotent-Replayed".into(),
                            string_header("`true` when this is the stored response of an earlier request with the same Idempotency-Key"),
                        );
                    }
                }
            }
        }
    }

    /// 409 for a key whose first request still runs: added, or appended to
    /// the handler's own 409.
    fn idempotency_conflict(
        responses: &mut std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>>,
    ) {
        const STILL_RUNNING: &str = "a request with the same Idempotency-Key is still running (retry after `Retry-After` seconds)";
        match responses.get_mut("409") {
            Some(RefOr::T(response)) => {
                response.description = format!("{}; or {STILL_RUNNING}", response.description);
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                let mut response = utoipa::openapi::ResponseBuilder::new()
                    .description(format!("Conflict: {STILL_RUNNING}"))
                    .content(
                        crate::error::PROBLEM_JSON,
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                "ProblemDetails",
                            )))
                            .build(),
                    )
                    .build();
                response
                    .headers
                    .insert("Retry-After".into(), string_header("Seconds to wait"));
                responses.insert("409".to_owned(), response.into());
            }
        }
    }
}

use utoipa::openapi::RefOr;

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    utoipa::openapi::header::HeaderBuilder::new()
        .schema(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .build(),
        )
        .description(Some(description))
        .build()
}

fn etag_header() -> utoipa::openapi::header::Header {
    string_header(
        "The resource's strong entity tag; send it in `If-Match` to write only if nobody \
         changed the resource meanwhile, or in `If-None-Match` to read only if it changed",
    )
}

fn not_modified() -> utoipa::openapi::Response {
    let mut response = utoipa::openapi::ResponseBuilder::new()
        .description("Not modified: the `If-None-Match` tag is current; no body")
        .build();
    response.headers.insert("ETag".into(), etag_header());
    response
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        api_operations(openapi).for_each(Self::operation);
    }
}

/// Every operation of the document, with its path.
fn operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = (&String, &mut utoipa::openapi::path::Operation)> {
    openapi.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        .map(move |operation| (path, operation))
    })
}

/// Every operation under `/api/v1`.
fn api_operations(
    openapi: &mut utoipa::openapi::OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    operations(openapi)
        .filter(|(path, _)| path.starts_with(API_V1))
        .map(|(_, operation)| operation)
}

/// What the two credentials add, documented once:
///
/// - every operation under `/api/v1` reads whatever credential it is sent,
///   so each may answer 400 for a bearer token and an API key at once;
/// - an operation that takes an API key and does not only read may answer
///   403 for a key without the `write` scope.
struct CredentialResponses;

impl Modify for CredentialResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with(API_V1) {
                continue;
            }
            let reads = item.get.iter_mut().map(|op| (op, true));
            let writes = [
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            .map(|op| (op, false));
            for (operation, safe) in reads.chain(writes) {
                let takes_key = operation.security.iter().flatten().any(|requirement| {
                    serde_json::to_value(requirement)
                        .ok()
                        .and_then(|v| v.as_object().map(|o| o.contains_key("apiKey")))
                        .unwrap_or(false)
                });
                let responses = &mut operation.responses.responses;
                responses.entry("400".to_owned()).or_insert_with(|| {
                    utoipa::openapi::Ref::from_response_name("BadRequest").into()
                });
                if takes_key && !safe {
                    responses.entry("403".to_owned()).or_insert_with(|| {
                        utoipa::openapi::Ref::from_response_name("Forbidden").into()
                    });
                }
            }
        }
    }
}

/// Every operation under `/api/v1` may answer 429 (the per-address limits,
/// see `limits`): documented once here rather than on each handler.
struct RateLimitedResponses;

impl Modify for RateLimitedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let too_many = utoipa::openapi::Ref::from_response_name("TooManyRequests");
        for operation in api_operations(openapi) {
            operation
                .responses
                .responses
                .insert("429".to_owned(), too_many.clone().into());
        }
    }
}

/// `publication_year` runs up to next year by the server's clock
/// (docs/catalogue.md#validation): a bound no attribute can state, so it is
/// written into the document when the document is built.
struct PublicationYearBound;

impl Modify for PublicationYearBound {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let max = service::languages::max_year(chrono::Utc::now());
        for name in ["LanguageCreate", "LanguageUpdate"] {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else {
                continue;
            };
            if let Some(RefOr::T(Schema::Object(year))) =
                object.properties.get_mut("publication_year")
            {
                year.maximum = Some(f64::from(max).into());
            }
        }
    }
}

/// Text never holds U+0000 (PostgreSQL cannot store it; `extract` refuses
/// it): every free-form string, in schemas and parameters, says so with a
/// pattern. Strings that already have a pattern, a format or an enum are
/// narrower already.
struct NoNulInText;

/// A JSON Schema (ECMA-262) pattern: no NUL character anywhere.
const NO_NUL: &str = r"^[^\u0000]*$";

fn forbid_nul(schema: &mut utoipa::openapi::RefOr<utoipa::openapi::Schema>) {
    use utoipa::openapi::schema::{SchemaType, Type};
    use utoipa::openapi::{RefOr, Schema};
    let RefOr::T(Schema::Object(object)) = schema else {
        return;
    };
    let is_string = match &object.schema_type {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    };
    if is_string
        && object.pattern.is_none()
        && object.format.is_none()
        && object.enum_values.is_none()
    {
        object.pattern = Some(NO_NUL.to_owned());
    }
    for property in object.properties.values_mut() {
        forbid_nul(property);
    }
}

impl Modify for NoNulInText {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            // Error bodies may quote what the client sent; they are not text
            // the service stores, so they keep no such promise.
            components
                .schemas
                .iter_mut()
                .filter(|(name, _)| !matches!(name.as_str(), "ProblemDetails" | "FieldError"))
                .for_each(|(_, schema)| forbid_nul(schema));
        }
        for (_, operation) in operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let Some(schema) = parameter.schema.as_mut() {
                    forbid_nul(schema);
                }
            }
        }
    }
}
