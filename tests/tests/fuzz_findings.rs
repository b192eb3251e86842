//! Regression tests for what conformance fuzzing found (docs/conformance.md).

use serde_json::json;

use crate::common::{Body, assert_field_error, assert_problem, spawn_app};

#[actix_web::test]
async fn an_empty_cursor_is_the_first_page() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.new_post(&alice, "Hello", true).await;
    for path in ["/api/v1/posts?cursor=", "/api/v1/languages?cursor="] {
        let r = app.get(path, None).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.data().is_empty(), "{path}");
    }
}

#[actix_web::test]
async fn a_json_array_is_not_a_body() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch("/api/v1/profiles/me", alice.tok(), json!([null, null]))
        .await;
    assert_problem(&r, 422);
    assert_field_error(&r, "body");
    let r = app
        .post("/api/v1/posts", alice.tok(), json!(["title", "body"]))
        .await;
    assert_problem(&r, 422);
}

#[actix_web::test]
async fn null_is_an_empty_offer_body() {
    let app = spawn_app().await;
    let owner = app.user("owner").await;
    let bob = app.user("bobby").await;
    let cleaning = app
        .post(
            "/api/v1/cleanings",
            owner.tok(),
            json!({"name": "Flat", "price": 10}),
        )
        .await;
    let id = cleaning.str("id");
    let r = app
        .post(
            &format!("/api/v1/cleanings/{id}/offers"),
            bob.tok(),
            serde_json::Value::Null,
        )
        .await;
    assert_eq!(r.status, 201);
}

#[actix_web::test]
async fn a_literal_path_with_the_wrong_method_is_405_not_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app.delete("/api/v1/cleanings/feed", alice.tok()).await;
    assert_problem(&r, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    let r = app
        .send("OPTIONS", "/api/v1/profiles/me", alice.tok(), Body::Empty)
        .await;
    assert_problem(&r, 405);
    assert_eq!(r.header("allow"), Some("PATCH"));
}

#[actix_web::test]
async fn an_integral_float_is_an_integer_year() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": 1972.0, "contribution": "objects"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["publication_year"], 1972);
    let r = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "Self", "publication_year": 1986.5, "contribution": "prototypes"}),
        )
        .await;
    assert_problem(&r, 422);
    assert_field_error(&r, "publication_year");
}

#[actix_web::test]
async fn the_document_bounds_publication_year_by_next_year() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json", None).await;
    let next_year = chrono::Datelike::year(&chrono::Utc::now()) + 1;
    for schema in ["LanguageCreate", "LanguageUpdate"] {
        let year = &doc.body["components"]["schemas"][schema]["properties"]["publication_year"];
        assert_eq!(
            year["maximum"].as_f64(),
            Some(f64::from(next_year)),
            "{schema}"
        );
    }
}

#[actix_web::test]
async fn the_uppercase_letter_of_a_password_is_ascii() {
    let app = spawn_app().await;
    let r = app
        .register_with(
            json!({"username": "umlaut", "email": "u@example.com", "password": "Äpassword1"}),
        )
        .await;
    assert_problem(&r, 422);
    assert_field_error(&r, "password");
    // Six characters, eight bytes or more: long enough (passwords are bounded in bytes).
    let r = app
        .register_with(
            json!({"username": "shortchars", "email": "s@example.com", "password": "A1€€€€"}),
        )
        .await;
    assert_eq!(r.status, 201);
}

#[actix_web::test]
async fn a_nul_character_is_refused_everywhere_never_a_500() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .post(
            "/api/v1/posts",
            alice.tok(),
            json!({"title": "Hello", "body": "a\u{0}b"}),
        )
        .await;
    assert_problem(&r, 422);
    assert_field_error(&r, "body");
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "al\u{0}ice", "password": "x"}),
        )
        .await;
    assert_problem(&r, 422);
    let r = app.get("/api/v1/posts?author=al%00ice", None).await;
    assert_problem(&r, 422);
    assert_field_error(&r, "author");
    for path in ["/api/v1/profiles/al%00ice", "/api/v1/posts/by-slug/a%00b"] {
        let r = app.get(path, None).await;
        assert_problem(&r, 404);
    }
    let r = app
        .send(
            "POST",
            "/api/v1/auth/login",
            None,
            Body::Form("grant_type=password&username=al%00ice&password=x".into()),
        )
        .await;
    assert_problem(&r, 422);
}

#[actix_web::test]
async fn an_unknown_query_parameter_is_ignored_even_with_a_nul() {
    let app = spawn_app().await;
    let r = app
        .get("/api/v1/languages?x%00y=a%00b&before_year=1970", None)
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.data().is_empty());
}

#[actix_web::test]
async fn the_documented_password_pattern_is_the_services_rule() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json", None).await;
    for (schema, field) in [("UserCreate", "password"), ("MeUpdate", "password")] {
        let pattern = &doc.body["components"]["schemas"][schema]["properties"][field]["pattern"];
        assert_eq!(
            pattern.as_str(),
            Some(service::validation::PASSWORD_PATTERN),
            "{schema}.{field}"
        );
    }
}
