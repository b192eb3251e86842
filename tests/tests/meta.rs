//! Routes outside `/api/v1`: health, readiness, docs.

use std::time::Duration;

use sea_orm::ConnectionTrait as _;

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
    app.close_pools().await;
    let r = app.get("/ready", None).await;
    assert_problem(&r, 503);
    assert_eq!(app.get("/health", None).await.status, 200);
}

/// A pooled connection that the server cut while it sat idle (a restart, a
/// proxy's idle timeout) is found dead by the ping before use and replaced:
/// the request after it is answered as usual. (PostgreSQL only: an
/// in-memory SQLite database has no server to cut it.)
#[actix_web::test]
async fn a_connection_cut_while_idle_is_replaced_before_use() {
    if !on_postgres() {
        return;
    }
    let app = spawn_app().await;
    assert_eq!(app.get("/api/v1/posts", None).await.status, 200);
    let url = &app.state.as_ref().expect("state").settings.database_url;
    let admin = sea_orm::Database::connect(url.as_str())
        .await
        .expect("second connection");
    let cut = admin
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .await
        .expect("terminate the service's connections");
    assert!(cut.rows_affected() >= 1, "no connection was cut");
    let _ = admin.close().await;
    actix_web::rt::time::sleep(service::db::PING_IF_IDLE_FOR + Duration::from_millis(200)).await;
    for _ in 0..3 {
        let r = app.get("/api/v1/posts", None).await;
        assert_eq!(r.status, 200, "{r:#?}");
    }
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

// ----- /metrics -----

/// The series of `name` in a Prometheus text page: each line's labels.
fn series<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("{name}{{");
    page.lines()
        .filter_map(|line| line.strip_prefix(open.as_str()))
        .collect()
}

/// Whether `labels` (the text after `name{`) has every `key="value"`.
fn has_labels(labels: &str, wanted: &[(&str, &str)]) -> bool {
    wanted
        .iter()
        .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")))
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_method_and_status() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    let r = app.get(&format!("/api/v1/posts/{id}"), None).await;
    assert_eq!(r.status, 404);
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.content_type().starts_with("text/plain"), "{r:#?}");
    let wanted = [
        ("method", "GET"),
        ("route", "/api/v1/posts/{id}"),
        ("status", "404"),
    ];
    assert!(
        series(&r.text, "http_requests_total")
            .iter()
            .any(|labels| has_labels(labels, &wanted)),
        "no request counter for GET /api/v1/posts/{{id}} 404 in:\n{}",
        r.text
    );
    assert!(
        series(&r.text, "http_request_duration_seconds_bucket")
            .iter()
            .any(|labels| has_labels(labels, &wanted[..2]) && labels.contains("le=\"")),
        "no latency histogram for GET /api/v1/posts/{{id}} in:\n{}",
        r.text
    );
    assert!(!r.text.contains(&id.to_string()), "the id became a label");
    for gauge in [
        "db_pool_connections",
        "db_pool_idle_connections",
        "db_pool_max_connections",
    ] {
        assert!(
            r.text.lines().any(|l| l.starts_with(&format!("{gauge} "))),
            "no {gauge} in:\n{}",
            r.text
        );
    }
}

#[actix_web::test]
async fn unknown_paths_and_methods_add_no_series() {
    let app = spawn_app().await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    assert_eq!(
        app.get(&format!("/api/v1/{marker}"), None).await.status,
        404
    );
    assert_eq!(app.get(&format!("/{marker}/x"), None).await.status, 404);
    let invented = app.request(&format!("M{}", &marker[..8].to_uppercase()), "/health");
    let r = app.send_req(invented, Body::Empty).await;
    assert!(r.status.is_client_error(), "{r:#?}");
    let r = app.get("/metrics", None).await;
    assert!(
        !r.text.to_lowercase().contains(&marker[..8]),
        "a client-chosen path or method became a label:\n{}",
        r.text
    );
    assert!(
        series(&r.text, "http_requests_total")
            .iter()
            .any(|labels| has_labels(labels, &[("route", "unmatched"), ("status", "404")])),
        "unknown paths count under route=\"unmatched\":\n{}",
        r.text
    );
    assert!(
        series(&r.text, "http_requests_total")
            .iter()
            .any(|labels| has_labels(labels, &[("method", "other"), ("route", "/health")])),
        "invented methods count under method=\"other\":\n{}",
        r.text
    );
}

#[actix_web::test]
async fn metrics_are_never_rate_limited() {
    let app = spawn_app_with(|s| s.rate_limit_per_minute = 1).await;
    assert_eq!(app.get("/api/v1/posts", None).await.status, 200);
    assert_problem(&app.get("/api/v1/posts", None).await, 429);
    for _ in 0..5 {
        let r = app.get("/metrics", None).await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.header("ratelimit-limit"), None, "{r:#?}");
    }
}
