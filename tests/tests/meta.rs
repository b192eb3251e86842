//! Routes outside `/api/v1`: health, readiness, docs.

use crate::common::*;

#[actix_web::test]
async fn health_is_200_ok() {
    let app = spawn_app().await;
    let r = app.get("/health", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, serde_json::json!({"status": "ok"}));
    assert!(r.content_type().starts_with("application/json"), "{r:#?}");
}

#[actix_web::test]
async fn ready_is_200_when_the_database_answers() {
    let app = spawn_app().await;
    let r = app.get("/ready", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
}

#[actix_web::test]
async fn ready_is_503_problem_when_the_database_is_gone_and_health_stays_200() {
    let app = spawn_app().await;
    let state = app.state.as_ref().expect("state");
    state.ctx.db.close_by_ref().await.expect("close the pool");
    let r = app.get("/ready", None).await;
    assert_problem(&r, 503);
    assert_eq!(app.get("/health", None).await.status, 200);
}

#[actix_web::test]
async fn docs_redirects_to_docs_slash() {
    let app = spawn_app().await;
    let r = app.get("/docs", None).await;
    assert!(r.status.is_redirection(), "{r:#?}");
    let location = r.header("location").unwrap_or_default();
    assert!(
        location == "/docs/" || location.ends_with("/docs/"),
        "Location: {location:?}"
    );
}

#[actix_web::test]
async fn docs_slash_serves_swagger_ui() {
    let app = spawn_app().await;
    let r = app.get("/docs/", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.content_type().starts_with("text/html"), "{r:#?}");
    assert!(
        r.text.to_lowercase().contains("swagger"),
        "not Swagger UI: {}",
        &r.text[..r.text.len().min(500)]
    );
}

#[actix_web::test]
async fn swagger_ui_is_pointed_at_the_openapi_document() {
    let app = spawn_app().await;
    let r = app.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.text.contains("/api-docs/openapi.json"), "{}", r.text);
}

#[actix_web::test]
async fn openapi_json_is_served() {
    let app = spawn_app().await;
    let r = app.get("/api-docs/openapi.json", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(
        r.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        r.body["openapi"]
    );
    assert!(r.body["paths"].is_object());
}
