//! The OpenAPI document's frame: info, tags, shared components and the
//! OAuth2 password-flow security scheme. Paths come from the handlers
//! themselves (see `routes`), never from a second list here.

use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ProblemDetails, ServiceUnavailable,
    TooManyRequests, Unauthorized, UnsupportedMediaType, ValidationFailed,
};

/// The document's frame.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Owned Resources API",
        description = "Accounts, a blog, a cleaning-jobs marketplace and a programming-languages catalogue, \
on one core of accounts and ownership rules. Errors are RFC 9457 problem details. \
Click **Authorize** and log in with a username and password to try protected operations.",
        contact(name = "API team", email = "api@example.com"),
        license(name = "MIT", identifier = "MIT"),
    ),
    tags(
        (name = "auth", description = "Register and log in"),
        (name = "users", description = "Your account, and user administration"),
        (name = "profiles", description = "Public profiles, one per user"),
        (name = "posts", description = "A blog: posts with unique slugs and drafts"),
        (name = "cleanings", description = "A marketplace: cleaning jobs posted by their owners"),
        (name = "offers", description = "Offers on cleaning jobs: make, accept, reject, cancel, rescind"),
        (name = "languages", description = "A public catalogue of programming languages, filterable by publication year"),
        (name = "meta", description = "Liveness and readiness"),
    ),
    components(
        schemas(ProblemDetails, service::FieldError),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge,
            UnsupportedMediaType, ValidationFailed, TooManyRequests, ServiceUnavailable
        ),
    ),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

/// Adds the `oauth2` scheme: the password flow against the login route, so
/// Swagger UI's **Authorize** button logs a person in (API.md section 1).
struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new(
                    "/api/v1/auth/login",
                    Scopes::new(),
                ))],
                "Log in with a username (or e-mail) and password.",
            )),
        );
    }
}

/// Completes the document once the routes have added their paths and
/// schemas (modifiers in `#[openapi(...)]` run before that, on the frame).
pub fn finish(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    RateLimitedResponses.modify(&mut api);
    PublicationYearBound.modify(&mut api);
    NoNulInText.modify(&mut api);
    api
}

/// Every operation under `/api/v1` may answer 429 (the per-address limits,
/// see `limits`): documented once here rather than on each handler.
struct RateLimitedResponses;

impl Modify for RateLimitedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let too_many = utoipa::openapi::Ref::from_response_name("TooManyRequests");
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .insert("429".to_owned(), too_many.clone().into());
            }
        }
    }
}

/// `publication_year` runs up to next year by the server's clock (API.md
/// section 6): a bound no attribute can state, so it is written into the
/// document when the document is built.
struct PublicationYearBound;

impl Modify for PublicationYearBound {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let max = service::languages::max_year();
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
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let Some(schema) = parameter.schema.as_mut() {
                        forbid_nul(schema);
                    }
                }
            }
        }
    }
}
