//! Rate limits, request ids and CORS (docs/conventions.md#rate-limits and
//! #operations).

use sea_orm::ConnectionTrait as _;
use serde_json::json;

use crate::common::{Body, assert_problem, fresh_database, on_postgres, spawn_app, spawn_app_with};

#[actix_web::test]
async fn login_over_the_auth_limit_is_429_with_retry_after() {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 3).await;
    for _ in 0..3 {
        let r = app.login_json("nobody", "Wrong1234").await;
        assert_eq!(r.status, 401);
    }
    let r = app.login_json("nobody", "Wrong1234").await;
    assert_problem(&r, 429);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // The limit is on register and login only.
    assert_eq!(app.get("/api/v1/posts", None).await.status, 200);
}

#[actix_web::test]
async fn register_counts_against_the_auth_limit() {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 2).await;
    app.register("first_user").await;
    app.register("second_user").await;
    let r = app
        .register_with(json!({"username": "third_user", "email": "third@example.com", "password": "Passw0rdX"}))
        .await;
    assert_problem(&r, 429);
}

#[actix_web::test]
async fn auth_limit_of_zero_turns_it_off() {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 0).await;
    for _ in 0..40 {
        assert_eq!(app.login_json("nobody", "Wrong1234").await.status, 401);
    }
}

#[actix_web::test]
async fn general_limit_covers_the_api_but_not_health() {
    let app = spawn_app_with(|s| s.rate_limit_per_minute = 5).await;
    for _ in 0..5 {
        assert_eq!(app.get("/api/v1/posts", None).await.status, 200);
    }
    let r = app.get("/api/v1/posts", None).await;
    assert_problem(&r, 429);
    assert!(r.header("retry-after").is_some());
    for _ in 0..10 {
        assert_eq!(app.get("/health", None).await.status, 200);
    }
}

#[actix_web::test]
async fn every_response_has_a_request_id_and_a_sane_one_is_echoed() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/posts", None).await;
    let id = r.header("x-request-id").expect("X-Request-Id").to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&id)
            .expect("a uuid")
            .get_version_num(),
        7
    );
    let r = app.get("/api/v1/nope", None).await;
    assert!(r.header("x-request-id").is_some(), "errors carry it too");

    let req = app
        .request("GET", "/api/v1/posts")
        .insert_header(("X-Request-Id", "trace-abc.123"));
    let r = app.send_req(req, Body::Empty).await;
    assert_eq!(r.header("x-request-id"), Some("trace-abc.123"));

    let req = app
        .request("GET", "/api/v1/posts")
        .insert_header(("X-Request-Id", "has spaces in it"));
    let r = app.send_req(req, Body::Empty).await;
    assert_ne!(r.header("x-request-id"), Some("has spaces in it"));
}

#[actix_web::test]
async fn cors_allows_only_the_configured_origins() {
    let app =
        spawn_app_with(|s| s.cors_allowed_origins = vec!["https://app.example.com".into()]).await;
    let preflight = |origin: &'static str| {
        app.request("OPTIONS", "/api/v1/posts")
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "POST"))
    };
    let r = app
        .send_req(preflight("https://app.example.com"), Body::Empty)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let r = app
        .send_req(preflight("https://evil.example.com"), Body::Empty)
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    let req = app
        .request("GET", "/api/v1/posts")
        .insert_header(("Origin", "https://app.example.com"));
    let r = app.send_req(req, Body::Empty).await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

#[actix_web::test]
async fn without_configured_origins_no_cross_origin_request_is_allowed() {
    let app = spawn_app().await;
    let req = app
        .request("GET", "/api/v1/posts")
        .insert_header(("Origin", "https://app.example.com"));
    let r = app.send_req(req, Body::Empty).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

async fn login_from(app: &crate::common::TestApp, forwarded_for: &str) -> u16 {
    let req = app
        .request("POST", "/api/v1/auth/login")
        .insert_header(("X-Forwarded-For", forwarded_for));
    let body = Body::Json(json!({"username": "nobody", "password": "Wrong1234"}));
    app.send_req(req, body).await.status.as_u16()
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_app_with(|s| {
        s.auth_rate_limit_per_minute = 2;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(login_from(&app, "203.0.113.7").await, 401);
    assert_eq!(login_from(&app, "203.0.113.7").await, 401);
    assert_eq!(login_from(&app, "203.0.113.7").await, 429);
    // Another client behind the same proxy is not held back; a client cannot
    // pick its key by prepending a fake address (the rightmost untrusted counts).
    assert_eq!(login_from(&app, "203.0.113.8").await, 401);
    assert_eq!(login_from(&app, "198.51.100.1, 203.0.113.7").await, 429);
}

#[actix_web::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 2).await;
    assert_eq!(login_from(&app, "203.0.113.1").await, 401);
    assert_eq!(login_from(&app, "203.0.113.2").await, 401);
    assert_eq!(login_from(&app, "203.0.113.3").await, 429);
}

// ----- several instances on one database -----

#[actix_web::test]
async fn instances_started_together_on_one_database_all_come_up() {
    if !on_postgres() {
        // SQLite is one file in one process; the race is PostgreSQL's.
        eprintln!("skipped: runs on PostgreSQL (TEST_DATABASE_URL)");
        return;
    }
    for _ in 0..3 {
        let (url, _guard) = fresh_database().await;
        let starts =
            (0..4).map(|_| api::state::AppState::init(api::config::Settings::for_tests(&url)));
        let states = futures_util::future::join_all(starts).await;
        let states: Vec<_> = states
            .into_iter()
            .map(|s| s.unwrap_or_else(|e| panic!("an instance failed to start: {e:#}")))
            .collect();
        let db = &states[0].ctx.db;
        let count = |sql: &'static str| async move {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    sql,
                ))
                .await
                .expect(sql)
                .expect("a row");
            row.try_get_by_index::<i64>(0).expect("a count")
        };
        assert_eq!(
            count("SELECT count(*) - count(DISTINCT version) FROM seaql_migrations").await,
            0,
            "each migration recorded once"
        );
        assert_eq!(
            count("SELECT count(*) FROM users WHERE username = 'admin'").await,
            1,
            "one first admin"
        );
        for state in states {
            state.ctx.db.close().await.expect("close the pool");
        }
    }
}

#[actix_web::test]
async fn a_first_admin_made_by_instances_started_together_is_created_once() {
    let app = spawn_app().await;
    let ctx = &app.state.as_ref().expect("state").ctx;
    // Each start checks that no user has the name, then creates it: four at
    // once all pass the check, and one insert wins.
    let starts = (0..4).map(|_| {
        service::accounts::ensure_admin(
            ctx,
            service::accounts::UserCreate {
                username: "second_admin".into(),
                email: "second_admin@example.com".into(),
                password: "AdminPass2".into(),
            },
        )
    });
    let results = futures_util::future::join_all(starts).await;
    let created = results
        .iter()
        .map(|r| match r {
            Ok(created) => created.is_some(),
            Err(e) => panic!("a start failed on the first admin: {e:?}"),
        })
        .filter(|created| *created)
        .count();
    assert_eq!(created, 1, "{results:?}");
    let token = app.login("second_admin", "AdminPass2").await;
    let me = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.body["role"], "admin", "{me:#?}");
}
