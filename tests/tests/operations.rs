//! Rate limits, request ids and CORS (docs/conventions.md#rate-limits and
//! #operations).

use sea_orm::ConnectionTrait as _;
use serde_json::json;

use crate::common::{
    Body, Resp, TestApp, assert_problem, fresh_database, on_postgres, redis_url, spawn_app,
    spawn_app_with, unique_redis_prefix,
};

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

// ----- RateLimit-* headers, shared counts in Redis, and the fallback -----

/// `RateLimit-Limit`, `-Remaining` and `-Reset` of a response, as numbers.
fn ratelimit_fields(r: &Resp) -> (u64, u64, u64) {
    let field = |name: &str| -> u64 {
        r.header(name)
            .unwrap_or_else(|| panic!("no {name} header: {r:#?}"))
            .parse()
            .unwrap_or_else(|e| panic!("{name} is not a number ({e}): {r:#?}"))
    };
    (
        field("ratelimit-limit"),
        field("ratelimit-remaining"),
        field("ratelimit-reset"),
    )
}

/// With an auth limit of 3 a minute: the three logins count the allowance
/// down in the headers, the fourth is a 429 problem saying when to retry.
async fn three_logins_count_down_then_429(app: &TestApp) {
    for remaining in [2, 1, 0] {
        let r = app.login_json("nobody", "Wrong1234").await;
        assert_eq!(r.status, 401, "{r:#?}");
        let (limit, left, reset) = ratelimit_fields(&r);
        assert_eq!((limit, left), (3, remaining), "{r:#?}");
        // Each request takes 20 s of allowance; it is all back after that
        // many, less the time the requests took (a few seconds at most on a
        // loaded machine).
        let used = 3 - remaining;
        assert!(
            (20 * used - 5..=20 * used).contains(&reset),
            "RateLimit-Reset {reset} after {used} requests: {r:#?}"
        );
    }
    let r = app.login_json("nobody", "Wrong1234").await;
    assert_problem(&r, 429);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    // The next request is let through 20 s after the first.
    assert!((15..=20).contains(&retry), "Retry-After {retry}: {r:#?}");
    let (limit, left, reset) = ratelimit_fields(&r);
    assert_eq!((limit, left), (3, 0), "{r:#?}");
    assert!(
        (55..=60).contains(&reset),
        "RateLimit-Reset {reset}: {r:#?}"
    );
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("{retry} s"))),
        "the detail says when to retry: {r:#?}"
    );
}

#[actix_web::test]
async fn limited_responses_carry_ratelimit_headers_counted_in_process() {
    let app = spawn_app_with(|s| s.auth_rate_limit_per_minute = 3).await;
    three_logins_count_down_then_429(&app).await;
}

#[actix_web::test]
async fn limited_responses_carry_ratelimit_headers_counted_in_redis() {
    let app = spawn_app_with(|s| {
        s.auth_rate_limit_per_minute = 3;
        s.redis_url = Some(redis_url());
        s.redis_key_prefix = unique_redis_prefix();
        s.redis_timeout_ms = 5_000;
    })
    .await;
    three_logins_count_down_then_429(&app).await;
}

#[actix_web::test]
async fn the_limit_nearer_to_running_out_is_the_one_shown() {
    let app = spawn_app_with(|s| {
        s.auth_rate_limit_per_minute = 3;
        s.rate_limit_per_minute = 100;
    })
    .await;
    let r = app.get("/api/v1/posts", None).await;
    assert_eq!(ratelimit_fields(&r).0, 100, "{r:#?}");
    let r = app.login_json("nobody", "Wrong1234").await;
    assert_eq!(ratelimit_fields(&r).0, 3, "{r:#?}");
    assert_eq!(ratelimit_fields(&r).1, 2, "{r:#?}");
}

#[actix_web::test]
async fn without_limits_there_are_no_ratelimit_headers() {
    let app = spawn_app().await;
    let r = app.login_json("nobody", "Wrong1234").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("ratelimit-limit"), None, "{r:#?}");
    assert_eq!(r.header("ratelimit-remaining"), None, "{r:#?}");
}

#[actix_web::test]
async fn two_instances_on_one_redis_share_the_counts() {
    let prefix = unique_redis_prefix();
    let shared = |s: &mut api::config::Settings| {
        s.auth_rate_limit_per_minute = 3;
        s.redis_url = Some(redis_url());
        s.redis_key_prefix = prefix.clone();
        s.redis_timeout_ms = 5_000;
    };
    let (a, b) = (spawn_app_with(shared).await, spawn_app_with(shared).await);
    let remaining = |r: &Resp| ratelimit_fields(r).1;
    let r = a.login_json("nobody", "Wrong1234").await;
    assert_eq!((r.status.as_u16(), remaining(&r)), (401, 2), "{r:#?}");
    let r = b.login_json("nobody", "Wrong1234").await;
    assert_eq!((r.status.as_u16(), remaining(&r)), (401, 1), "{r:#?}");
    let r = a.login_json("nobody", "Wrong1234").await;
    assert_eq!((r.status.as_u16(), remaining(&r)), (401, 0), "{r:#?}");
    // Three in all: both instances refuse the fourth.
    assert_problem(&b.login_json("nobody", "Wrong1234").await, 429);
    assert_problem(&a.login_json("nobody", "Wrong1234").await, 429);
}

#[actix_web::test]
async fn instances_with_another_key_prefix_count_apart() {
    let (prefix_a, prefix_b) = (unique_redis_prefix(), unique_redis_prefix());
    let with = |prefix: String| {
        move |s: &mut api::config::Settings| {
            s.auth_rate_limit_per_minute = 1;
            s.redis_url = Some(redis_url());
            s.redis_key_prefix = prefix;
            s.redis_timeout_ms = 5_000;
        }
    };
    let a = spawn_app_with(with(prefix_a)).await;
    let b = spawn_app_with(with(prefix_b)).await;
    assert_eq!(a.login_json("nobody", "Wrong1234").await.status, 401);
    assert_problem(&a.login_json("nobody", "Wrong1234").await, 429);
    assert_eq!(b.login_json("nobody", "Wrong1234").await.status, 401);
}

/// A local port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    listener.local_addr().expect("its address").port()
}

#[actix_web::test]
async fn with_redis_unreachable_limits_are_counted_in_process_and_nothing_fails() {
    let app = spawn_app_with(|s| {
        s.auth_rate_limit_per_minute = 3;
        s.rate_limit_per_minute = 50;
        s.redis_url = Some(format!("redis://127.0.0.1:{}", closed_port()));
    })
    .await;
    three_logins_count_down_then_429(&app).await;
    for _ in 0..10 {
        let r = app.get("/api/v1/posts", None).await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(ratelimit_fields(&r).0, 50, "{r:#?}");
    }
    let limits = &app.state.as_ref().expect("state").limits;
    let redis = limits.auth.as_ref().and_then(|limit| limit.redis());
    assert!(
        redis.is_some_and(|redis| !redis.is_up()),
        "the limiter should know Redis is down: {redis:?}"
    );
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
