//! The OpenAPI document: it lists every route the app serves, each one properly described,
//! and every route it lists is served.

use serde_json::{Value, json};

use crate::common::*;

/// Every operation of sections 2 and 4 plus the meta routes: (method, path, needs a token).
const OPERATIONS: &[(&str, &str, bool)] = &[
    ("post", "/api/v1/auth/register", false),
    ("post", "/api/v1/auth/login", false),
    ("get", "/api/v1/users/me", true),
    ("patch", "/api/v1/users/me", true),
    ("get", "/api/v1/users/me/posts", true),
    ("get", "/api/v1/users", true),
    ("get", "/api/v1/users/{id}", true),
    ("patch", "/api/v1/users/{id}", true),
    ("post", "/api/v1/users/me/api-keys", true),
    ("get", "/api/v1/users/me/api-keys", true),
    ("delete", "/api/v1/users/me/api-keys/{id}", true),
    ("get", "/api/v1/users/{id}/api-keys", true),
    ("delete", "/api/v1/users/{id}/api-keys/{key_id}", true),
    ("get", "/api/v1/posts", false),
    ("post", "/api/v1/posts", true),
    ("get", "/api/v1/posts/{id}", false),
    ("put", "/api/v1/posts/{id}", true),
    ("patch", "/api/v1/posts/{id}", true),
    ("delete", "/api/v1/posts/{id}", true),
    ("get", "/api/v1/posts/by-slug/{slug}", false),
    ("get", "/health", false),
    ("get", "/ready", false),
    ("get", "/metrics", false),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(app: &TestApp) -> Value {
    let r = app.get("/api-docs/openapi.json", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.content_type().starts_with("application/json"), "{r:#?}");
    r.body
}

/// Every (method, path, operation) the document lists.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    out
}

/// The security schemes an operation requires: the operation's own, else the document's.
fn security_names(doc: &Value, op: &Value) -> Vec<String> {
    let reqs = op.get("security").or_else(|| doc.get("security"));
    let mut names = Vec::new();
    for req in reqs.and_then(Value::as_array).into_iter().flatten() {
        for name in req.as_object().into_iter().flat_map(|o| o.keys()) {
            names.push(name.clone());
        }
    }
    names
}

#[actix_web::test]
async fn document_is_openapi_3_1_with_info() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let info = &doc["info"];
    assert!(
        info["title"].as_str().is_some_and(|s| !s.is_empty()),
        "{info}"
    );
    assert!(
        info["version"].as_str().is_some_and(|s| !s.is_empty()),
        "{info}"
    );
    assert!(info["contact"].is_object(), "info without contact: {info}");
    assert!(
        info["license"]["name"].is_string(),
        "info without license: {info}"
    );
}

#[actix_web::test]
async fn served_document_equals_openapi_document_function() {
    let app = spawn_app().await;
    let served = document(&app).await;
    let built = serde_json::to_value(api::openapi_document()).expect("serialize");
    assert_eq!(
        served, built,
        "the served document and `openapi_document()` differ"
    );
}

#[actix_web::test]
async fn document_lists_every_route_the_app_serves() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let listed: Vec<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let missing: Vec<_> = OPERATIONS
        .iter()
        .filter(|(m, p, _)| !listed.iter().any(|(lm, lp)| lm == m && lp == p))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the document: {missing:?}\nlisted: {listed:?}"
    );
}

#[actix_web::test]
async fn every_operation_has_a_unique_operation_id_a_tag_and_a_summary() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut seen = std::collections::HashSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(
            seen.insert(id.to_owned()),
            "operationId {id:?} is used twice ({method} {path})"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{method} {path} has no tag"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{method} {path} has no summary"
        );
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
}

#[actix_web::test]
async fn every_protected_operation_lists_the_oauth2_scheme() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let ops = operations(&doc);
    for (method, path, needs_token) in OPERATIONS {
        let op = ops
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, op)| op)
            .unwrap_or_else(|| panic!("{method} {path} is not in the document"));
        let names = security_names(&doc, op);
        if *needs_token {
            assert!(
                names.iter().any(|n| n == "oauth2"),
                "{method} {path} does not list oauth2: {names:?}"
            );
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.contains_key("401"),
                "{method} {path} does not document its 401"
            );
        }
    }
    for (method, path) in [
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
    ] {
        let op = &doc["paths"][path][method];
        let reqs = op.get("security").or_else(|| doc.get("security"));
        let required = reqs.and_then(Value::as_array).is_some_and(|r| {
            !r.is_empty()
                && r.iter()
                    .all(|req| req.as_object().is_some_and(|o| !o.is_empty()))
        });
        assert!(
            !required,
            "{method} {path} must not require a token: {reqs:?}"
        );
    }
}

#[actix_web::test]
async fn security_scheme_is_oauth2_password_flow_with_the_login_token_url() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["oauth2"];
    assert_eq!(scheme["type"], "oauth2", "{scheme}");
    let flow = &scheme["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/api/v1/auth/login", "{scheme}");
    assert!(
        flow["scopes"].is_object(),
        "a password flow needs `scopes` (may be empty): {scheme}"
    );
}

#[actix_web::test]
async fn login_documents_both_json_and_form_bodies() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let content = &doc["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"];
    assert!(content.get("application/json").is_some(), "{content}");
    assert!(
        content.get("application/x-www-form-urlencoded").is_some(),
        "{content}"
    );
}

#[actix_web::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let doc = document(&app).await;
    for (method, path, _) in operations(&doc) {
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') && seg.ends_with('}') {
                    if seg == "{id}" {
                        uuid::Uuid::now_v7().to_string()
                    } else {
                        "x".to_owned()
                    }
                } else {
                    seg.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = if matches!(method.as_str(), "post" | "put" | "patch") {
            Body::Json(json!({}))
        } else {
            Body::Empty
        };
        let r = app
            .send(&method.to_uppercase(), &concrete, admin.tok(), body)
            .await;
        assert_ne!(
            r.status, 405,
            "{method} {path} is documented but not served: {r:#?}"
        );
        let unknown_route = r.status == 404
            && r.body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("No route"));
        assert!(
            !unknown_route,
            "{method} {path} is documented but not served: {r:#?}"
        );
        assert!(!r.status.is_server_error(), "{method} {path}: {r:#?}");
    }
}

#[actix_web::test]
async fn the_unknown_route_marker_used_above_is_real() {
    // `every_documented_operation_is_served` relies on this detail to tell an unknown
    // route from a missing resource.
    let app = spawn_app().await;
    let r = app.get("/api/v1/definitely-not-a-route", None).await;
    assert_problem(&r, 404);
    assert!(r.str("detail").starts_with("No route"), "{r:#?}");
    let admin = app.admin().await;
    let r = app
        .get(
            &format!("/api/v1/posts/{}", uuid::Uuid::now_v7()),
            admin.tok(),
        )
        .await;
    assert_problem(&r, 404);
    assert!(!r.str("detail").starts_with("No route"), "{r:#?}");
}

#[actix_web::test]
async fn every_documented_path_is_an_api_or_meta_route() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path, _) in operations(&doc) {
        assert!(
            path.starts_with("/api/v1/")
                || ["/health", "/ready", "/metrics"].contains(&path.as_str()),
            "{method} {path} is outside /api/v1"
        );
    }
}

/// What generated SDKs are made of: their methods are named after these
/// operation ids (`create_post`, `list_cleaning_offers`), their types after
/// the schema names. Renaming one breaks every client generated before, so
/// a rename must be deliberate: change it here too, and say so in the
/// change's description (docs/clients.md#stable-names).
const OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("post", "/api/v1/auth/login", "login"),
    ("post", "/api/v1/auth/logout", "logout"),
    (
        "post",
        "/api/v1/auth/password-recovery",
        "request_password_recovery",
    ),
    ("post", "/api/v1/auth/refresh", "refresh"),
    ("post", "/api/v1/auth/register", "register"),
    ("post", "/api/v1/auth/reset-password", "reset_password"),
    ("get", "/api/v1/cleanings", "list_my_cleanings"),
    ("post", "/api/v1/cleanings", "create_cleaning"),
    ("get", "/api/v1/cleanings/feed", "list_cleaning_feed"),
    ("get", "/api/v1/cleanings/{id}", "get_cleaning"),
    ("put", "/api/v1/cleanings/{id}", "replace_cleaning"),
    ("delete", "/api/v1/cleanings/{id}", "delete_cleaning"),
    ("patch", "/api/v1/cleanings/{id}", "update_cleaning"),
    (
        "get",
        "/api/v1/cleanings/{id}/offers",
        "list_cleaning_offers",
    ),
    ("post", "/api/v1/cleanings/{id}/offers", "create_offer"),
    (
        "get",
        "/api/v1/cleanings/{id}/offers/{username}",
        "get_offer",
    ),
    (
        "delete",
        "/api/v1/cleanings/{id}/offers/{username}",
        "rescind_offer",
    ),
    (
        "post",
        "/api/v1/cleanings/{id}/offers/{username}/accept",
        "accept_offer",
    ),
    (
        "post",
        "/api/v1/cleanings/{id}/offers/{username}/cancel",
        "cancel_offer",
    ),
    (
        "post",
        "/api/v1/cleanings/{id}/offers/{username}/reject",
        "reject_offer",
    ),
    ("get", "/api/v1/languages", "list_languages"),
    ("post", "/api/v1/languages", "create_language"),
    ("get", "/api/v1/languages/{id}", "get_language"),
    ("put", "/api/v1/languages/{id}", "replace_language"),
    ("delete", "/api/v1/languages/{id}", "delete_language"),
    ("patch", "/api/v1/languages/{id}", "update_language"),
    ("get", "/api/v1/posts", "list_posts"),
    ("post", "/api/v1/posts", "create_post"),
    ("get", "/api/v1/posts/by-slug/{slug}", "get_post_by_slug"),
    ("get", "/api/v1/posts/{id}", "get_post"),
    ("put", "/api/v1/posts/{id}", "replace_post"),
    ("delete", "/api/v1/posts/{id}", "delete_post"),
    ("patch", "/api/v1/posts/{id}", "update_post"),
    ("patch", "/api/v1/profiles/me", "update_my_profile"),
    ("put", "/api/v1/profiles/me/avatar", "upload_my_avatar"),
    ("delete", "/api/v1/profiles/me/avatar", "delete_my_avatar"),
    ("get", "/api/v1/profiles/{username}", "get_profile"),
    ("get", "/api/v1/profiles/{username}/avatar", "get_avatar"),
    ("get", "/api/v1/users", "list_users"),
    ("get", "/api/v1/users/me", "get_me"),
    ("patch", "/api/v1/users/me", "update_me"),
    ("get", "/api/v1/users/me/posts", "list_my_posts"),
    ("get", "/api/v1/users/{id}", "get_user"),
    ("patch", "/api/v1/users/{id}", "update_user"),
    ("post", "/api/v1/users/me/api-keys", "create_api_key"),
    ("get", "/api/v1/users/me/api-keys", "list_api_keys"),
    ("get", "/api/v1/users/me/api-keys/{id}", "get_api_key"),
    ("delete", "/api/v1/users/me/api-keys/{id}", "revoke_api_key"),
    ("get", "/api/v1/users/{id}/api-keys", "list_user_api_keys"),
    (
        "delete",
        "/api/v1/users/{id}/api-keys/{key_id}",
        "revoke_user_api_key",
    ),
    ("get", "/health", "health"),
    ("get", "/metrics", "metrics"),
    ("get", "/ready", "ready"),
];

/// The document's schema and response names (see [`OPERATION_IDS`]).
const COMPONENT_NAMES: &[&str] = &[
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPage",
    "ApiKeyResponse",
    "AvatarPicture",
    "AvatarUpload",
    "CleaningCreate",
    "CleaningPage",
    "CleaningResponse",
    "CleaningType",
    "CleaningUpdate",
    "FieldError",
    "LanguageCreate",
    "LanguagePage",
    "LanguageResponse",
    "LanguageUpdate",
    "LoginForm",
    "LoginRequest",
    "LogoutRequest",
    "MeUpdate",
    "OfferCreate",
    "OfferPage",
    "OfferResponse",
    "OfferStatus",
    "PasswordGrant",
    "PasswordReset",
    "PostCreate",
    "PostPage",
    "PostResponse",
    "PostUpdate",
    "ProblemDetails",
    "ProfileResponse",
    "ProfileUpdate",
    "RecoveryAccepted",
    "RecoveryRequest",
    "RefreshForm",
    "RefreshGrant",
    "RefreshRequest",
    "Role",
    "Scope",
    "Status",
    "TokenResponse",
    "UserAdminUpdate",
    "UserCreate",
    "UserPage",
    "UserResponse",
    // responses
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
];

#[actix_web::test]
async fn operation_ids_and_component_names_are_the_ones_clients_use() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut listed: Vec<(String, String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, op)| (m, p, op["operationId"].as_str().unwrap_or("").to_owned()))
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String, String)> = OPERATION_IDS
        .iter()
        .map(|(m, p, id)| ((*m).to_owned(), (*p).to_owned(), (*id).to_owned()))
        .collect();
    expected.sort();
    let added: Vec<_> = listed.iter().filter(|o| !expected.contains(o)).collect();
    let gone: Vec<_> = expected.iter().filter(|o| !listed.contains(o)).collect();
    assert!(
        added.is_empty() && gone.is_empty(),
        "operation ids changed (generated clients call their methods by them):\n  new: {added:?}\n  no longer there: {gone:?}"
    );

    let components = &doc["components"];
    let mut names: Vec<&str> = ["schemas", "responses"]
        .iter()
        .flat_map(|kind| {
            components[kind]
                .as_object()
                .into_iter()
                .flat_map(|o| o.keys())
        })
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = COMPONENT_NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(
        names, expected,
        "component names changed (generated clients name their types after them)"
    );
    for (_, _, id) in OPERATION_IDS {
        assert!(
            id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{id}: operation ids are snake_case, so every generator makes the same name of them"
        );
    }
}

/// Percent-encodes a form value (RFC 3986 unreserved characters stay).
fn form_encode(fields: &Value) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .as_object()
        .expect("a form example is an object")
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            format!("{}={}", encode(k), encode(&v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The request examples of the document, each sent as Swagger UI's "Try it
/// out" sends it, taken off the list as it is used.
struct Examples {
    doc: Value,
    unused: std::collections::BTreeSet<(String, String, String)>,
}

impl Examples {
    /// Every request body example of the document (multipart uploads have
    /// none: Swagger UI asks for a file).
    fn of(doc: Value) -> Self {
        let mut unused = std::collections::BTreeSet::new();
        for (method, path, op) in operations(&doc) {
            let content = op["requestBody"]["content"].as_object();
            for (content_type, media) in content.into_iter().flatten() {
                if content_type == "multipart/form-data" {
                    continue;
                }
                assert!(
                    media.get("example").is_some(),
                    "{method} {path} ({content_type}) has no request example: Swagger UI would make one up"
                );
                unused.insert((method.clone(), path.clone(), content_type.clone()));
            }
        }
        Self { doc, unused }
    }

    /// Sends the example of `method path` in `content_type` to `concrete`
    /// (the path with its parameters filled in) and expects `status`.
    async fn send(
        &mut self,
        app: &TestApp,
        (method, path, content_type): (&str, &str, &str),
        concrete: &str,
        token: Option<&str>,
        status: u16,
    ) -> Resp {
        let example =
            self.doc["paths"][path][method]["requestBody"]["content"][content_type]["example"]
                .clone();
        assert!(
            !example.is_null(),
            "{method} {path} ({content_type}): no example"
        );
        self.unused
            .remove(&(method.to_owned(), path.to_owned(), content_type.to_owned()));
        let body = if content_type == "application/x-www-form-urlencoded" {
            Body::Form(form_encode(&example))
        } else {
            Body::Json(example.clone())
        };
        let r = app
            .send(&method.to_uppercase(), concrete, token, body)
            .await;
        assert_eq!(
            r.status, status,
            "{method} {path} with its example {example}: {r:#?}"
        );
        r
    }
}

/// A person in Swagger UI registers with the example, logs in with the
/// example's username and password, and then "Try it out" works with every
/// example as it is (only the path's ids typed in). Two examples cannot work
/// as they are, by design: a refresh token and a reset token are secrets the
/// document cannot hold; those must still be well-formed (401 and 400 from
/// the token check, not 422).
#[actix_web::test]
async fn every_request_example_works_as_it_is_in_try_it_out() {
    let app = spawn_app().await;
    let mut ex = Examples::of(document(&app).await);
    const JSON: &str = "application/json";
    const FORM: &str = "application/x-www-form-urlencoded";

    let alice = ex
        .send(
            &app,
            ("post", "/api/v1/auth/register", JSON),
            "/api/v1/auth/register",
            None,
            201,
        )
        .await;
    let alice_id = alice.str("id");
    let login = ("post", "/api/v1/auth/login", JSON);
    ex.send(&app, login, "/api/v1/auth/login", None, 200).await;
    let token = ex
        .send(
            &app,
            ("post", "/api/v1/auth/login", FORM),
            "/api/v1/auth/login",
            None,
            200,
        )
        .await
        .str("access_token");
    let t = Some(token.as_str());
    for (path, status) in [
        ("/api/v1/auth/password-recovery", 202),
        ("/api/v1/auth/logout", 204),
        ("/api/v1/auth/refresh", 401),
        ("/api/v1/auth/reset-password", 400),
    ] {
        ex.send(&app, ("post", path, JSON), path, None, status)
            .await;
    }
    let refresh = "/api/v1/auth/refresh";
    ex.send(&app, ("post", refresh, FORM), refresh, None, 401)
        .await;

    ex.send(
        &app,
        ("patch", "/api/v1/users/me", JSON),
        "/api/v1/users/me",
        t,
        200,
    )
    .await;
    ex.send(
        &app,
        ("patch", "/api/v1/profiles/me", JSON),
        "/api/v1/profiles/me",
        t,
        200,
    )
    .await;

    let keys = "/api/v1/users/me/api-keys";
    ex.send(&app, ("post", keys, JSON), keys, t, 201).await;

    let post = ex
        .send(
            &app,
            ("post", "/api/v1/posts", JSON),
            "/api/v1/posts",
            t,
            201,
        )
        .await
        .str("id");
    let at = format!("/api/v1/posts/{post}");
    ex.send(&app, ("put", "/api/v1/posts/{id}", JSON), &at, t, 200)
        .await;
    ex.send(&app, ("patch", "/api/v1/posts/{id}", JSON), &at, t, 200)
        .await;

    let cleaning = ex
        .send(
            &app,
            ("post", "/api/v1/cleanings", JSON),
            "/api/v1/cleanings",
            t,
            201,
        )
        .await
        .str("id");
    let at = format!("/api/v1/cleanings/{cleaning}");
    ex.send(&app, ("put", "/api/v1/cleanings/{id}", JSON), &at, t, 200)
        .await;
    ex.send(&app, ("patch", "/api/v1/cleanings/{id}", JSON), &at, t, 200)
        .await;
    let bob = app.user("bob").await;
    let offers = format!("/api/v1/cleanings/{cleaning}/offers");
    let create_offer = ("post", "/api/v1/cleanings/{id}/offers", JSON);
    ex.send(&app, create_offer, &offers, bob.tok(), 201).await;

    let language = ex
        .send(
            &app,
            ("post", "/api/v1/languages", JSON),
            "/api/v1/languages",
            t,
            201,
        )
        .await
        .str("id");
    let at = format!("/api/v1/languages/{language}");
    ex.send(&app, ("put", "/api/v1/languages/{id}", JSON), &at, t, 200)
        .await;
    ex.send(&app, ("patch", "/api/v1/languages/{id}", JSON), &at, t, 200)
        .await;

    let admin = app.admin().await;
    let at = format!("/api/v1/users/{alice_id}");
    ex.send(
        &app,
        ("patch", "/api/v1/users/{id}", JSON),
        &at,
        admin.tok(),
        200,
    )
    .await;

    assert!(
        ex.unused.is_empty(),
        "request examples this walk does not try yet: {:?}",
        ex.unused
    );
}

/// Generated clients and Swagger UI send a token only where the document
/// lists the `oauth2` scheme. So every operation that answers 401 to a
/// request without a token must list it, and every operation that lists it
/// as required (no `{}` alternative) must answer 401 without one.
#[actix_web::test]
async fn the_security_each_operation_declares_is_the_one_it_enforces() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path, op) in operations(&doc) {
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string());
        let concrete = concrete
            .replace("{username}", "nobody")
            .replace("{slug}", "nothing");
        let body = if matches!(method.as_str(), "post" | "put" | "patch") {
            Body::Json(json!({}))
        } else {
            Body::Empty
        };
        let r = app
            .send(&method.to_uppercase(), &concrete, None, body)
            .await;
        let requirements = op["security"].as_array().cloned().unwrap_or_default();
        let lists_oauth2 = security_names(&doc, &op).iter().any(|n| n == "oauth2");
        let optional = requirements
            .iter()
            .any(|req| req.as_object().is_some_and(serde_json::Map::is_empty));
        if r.status == 401 {
            assert!(
                lists_oauth2 && !optional,
                "{method} {path} answers 401 without a token but its security is {requirements:?}: clients will not send one"
            );
        } else {
            assert!(
                !lists_oauth2 || optional,
                "{method} {path} requires oauth2 in the document but answers {} without a token",
                r.status
            );
        }
    }
}
