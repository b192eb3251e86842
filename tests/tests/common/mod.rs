//! The test harness: one fresh database and one real HTTP server per test.
//!
//! SQLite in memory by default; PostgreSQL when `TEST_DATABASE_URL` is set, in which
//! case every test gets its own database `test_<uuid>`, dropped when the `TestApp` is.

#![allow(dead_code)]

pub mod smtp;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_test::TestServer;
use awc::http::header::HeaderMap;
use awc::http::{Method, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

/// The password every helper-registered user gets: 8–72 bytes, a digit, an uppercase letter.
pub const PASSWORD: &str = "Passw0rd!x";
pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "AdminPass1";

/// Large enough for the OpenAPI document and for the 1 MiB bodies we send.
const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// A response, read to the end.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// `body[key]` as a string, panicking with the whole response when it is not one.
    pub fn str(&self, key: &str) -> String {
        match self.body.get(key).and_then(Value::as_str) {
            Some(s) => s.to_owned(),
            None => panic!("expected string member {key:?} in {self:#?}"),
        }
    }

    /// The `data` array of a page.
    pub fn data(&self) -> &Vec<Value> {
        self.body
            .get("data")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("expected a page with `data` in {self:#?}"))
    }
}

/// What a request carries.
pub enum Body {
    Empty,
    Json(Value),
    Form(String),
    Raw(&'static str, Vec<u8>),
}

pub struct TestUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl TestUser {
    pub fn tok(&self) -> Option<&str> {
        Some(self.token.as_str())
    }
}

/// Drops the per-test PostgreSQL database (if any) when dropped.
pub struct DbGuard {
    admin_url: Option<String>,
    name: Option<String>,
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        let (Some(admin_url), Some(name)) = (self.admin_url.take(), self.name.take()) else {
            return;
        };
        // Our own thread and runtime: we may be inside the test's runtime here.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for DROP DATABASE");
            rt.block_on(async move {
                match sea_orm::Database::connect(admin_url.as_str()).await {
                    Ok(db) => {
                        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                        if let Err(e) = db.execute_unprepared(&sql).await {
                            eprintln!("could not drop test database {name}: {e}");
                        }
                        let _ = db.close().await;
                    }
                    Err(e) => eprintln!("could not connect to drop test database {name}: {e}"),
                }
            });
        });
        let _ = handle.join();
    }
}

pub struct TestApp {
    server: Option<TestServer>,
    client: awc::Client,
    /// The application state the server runs with (e.g. to close its pool).
    pub state: Option<api::state::AppState>,
    /// The mail worker and housekeeping, when the settings name an SMTP server.
    background: Vec<api::background::Background>,
    /// Other instances on the same database (see `TestApp::another_worker`).
    others: Vec<api::state::AppState>,
    /// Other HTTP servers on the same database (see `TestApp::another_instance`).
    other_servers: Vec<TestServer>,
    /// The state each HTTP worker of the server got (`AppState::for_worker`:
    /// on PostgreSQL, with a pool of its own).
    workers: Arc<Mutex<Vec<api::state::AppState>>>,
    guard: DbGuard,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the workers and the server before the database goes away; the
        // guard drops it afterwards.
        let uploads = self
            .state
            .as_ref()
            .and_then(|s| own_uploads_dir(&s.settings));
        self.background.clear();
        self.other_servers.clear();
        self.others.clear();
        drop(self.server.take());
        self.workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        drop(self.state.take());
        // The uploads folder `Settings::for_tests` named for this test.
        if let Some(dir) = uploads {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The local uploads folder of a test's settings, when it is one that
/// `Settings::for_tests` made up (a test that points storage elsewhere keeps it).
fn own_uploads_dir(settings: &api::config::Settings) -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(settings.storage_url.strip_prefix("file://")?);
    dir.file_name()?
        .to_str()?
        .starts_with(api::config::TEST_UPLOADS_PREFIX)
        .then_some(dir)
}

/// `postgres://u@h:5432/postgres?x=y` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (head, query) = match url[scheme_end..].find('?') {
        Some(q) => url.split_at(scheme_end + q),
        None => (url, ""),
    };
    let base = match head[scheme_end..].find('/') {
        Some(slash) => &head[..scheme_end + slash],
        None => head,
    };
    format!("{base}/{name}{query}")
}

/// A fresh database, the whole app on a random port, and a client for it.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Whether the suite runs on PostgreSQL (`TEST_DATABASE_URL` is set).
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty())
}

/// The Redis the suite's shared rate-limit tests use: `TEST_REDIS_URL`, by
/// default the one on 127.0.0.1:6379 (README.md#tests).
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test uses, for apps that count in Redis.
pub fn unique_redis_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// [`spawn_app`] with settings changed by `adjust` (rate limits, CORS, …).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut api::config::Settings)) -> TestApp {
    let (database_url, guard) = fresh_database().await;
    let mut settings = api::config::Settings::for_tests(database_url);
    adjust(&mut settings);
    // The service's own clock, which tests may move forward (see
    // `TestApp::advance_clock`).
    let state = api::state::AppState::init_with_clock(settings, service::Clock::system())
        .await
        .expect("AppState::init");
    let background = if state.settings.smtp_url.is_some() {
        vec![api::background::Background::start(&state.ctx)]
    } else {
        Vec::new()
    };
    let for_server = state.clone();
    let workers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&workers);
    let server = actix_test::start(move || {
        let worker = for_server.for_worker();
        seen.lock().expect("workers").push(worker.clone());
        api::app(worker)
    });
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(Duration::from_secs(60))
        .finish();
    TestApp {
        server: Some(server),
        client,
        state: Some(state),
        background,
        others: Vec::new(),
        other_servers: Vec::new(),
        workers,
        guard,
    }
}

/// A fresh, empty database: SQLite in memory, or with `TEST_DATABASE_URL`
/// a new randomly named PostgreSQL database, dropped with the guard.
pub async fn fresh_database() -> (String, DbGuard) {
    let mut guard = DbGuard {
        admin_url: None,
        name: None,
    };
    let database_url = match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if !base.trim().is_empty() => {
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(base.as_str())
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            let _ = admin.close().await;
            guard.admin_url = Some(base.clone());
            guard.name = Some(name.clone());
            with_database(&base, &name)
        }
        _ => "sqlite::memory:".to_owned(),
    };
    (database_url, guard)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.as_ref().expect("server running").url(path)
    }

    /// Starts one more mail worker on this app's database: on PostgreSQL in
    /// an instance of its own (its own pool), as a second server would; on
    /// an in-memory SQLite database, which one pool holds, beside the first.
    pub async fn another_worker(&mut self) {
        let state = self.state.as_ref().expect("state");
        let ctx = if state.settings.is_postgres() {
            let settings = (*state.settings).clone();
            let other = api::state::AppState::init_with_clock(settings, state.ctx.clock.clone())
                .await
                .expect("a second instance");
            let ctx = other.ctx.clone();
            self.others.push(other);
            ctx
        } else {
            state.ctx.clone()
        };
        self.background
            .push(api::background::Background::start(&ctx));
    }

    /// Starts a second HTTP server on this app's database and returns its
    /// base URL (`http://127.0.0.1:port`): on PostgreSQL an instance of its
    /// own (its own state and pool), as a second machine would run; on an
    /// in-memory SQLite database, which one pool holds, a second server on
    /// the same state.
    /// The states of the instances [`TestApp::another_instance`] and
    /// [`TestApp::another_worker`] started with states of their own.
    pub fn other_states(&self) -> &[api::state::AppState] {
        &self.others
    }

    /// Closes every database pool the server uses (the first one and each
    /// worker's), as if the database had gone away.
    pub async fn close_pools(&self) {
        // A worker builds its app (and its pool) when it starts, which may
        // still be under way when the server is first reachable; once it has
        // answered a request, its state is in `workers`.
        assert_eq!(self.get("/health", None).await.status, 200);
        let state = self.state.as_ref().expect("state");
        state.ctx.db.close_by_ref().await.expect("close the pool");
        let workers = self.workers.lock().expect("workers").clone();
        for worker in workers {
            worker
                .ctx
                .db
                .close_by_ref()
                .await
                .expect("close a worker's pool");
        }
    }

    pub async fn another_instance(&mut self) -> String {
        let state = self.state.as_ref().expect("state");
        let state = if state.settings.is_postgres() {
            let settings = (*state.settings).clone();
            let other = api::state::AppState::init_with_clock(settings, state.ctx.clock.clone())
                .await
                .expect("a second instance");
            self.others.push(other.clone());
            other
        } else {
            state.clone()
        };
        let server = actix_test::start(move || api::app(state.for_worker()));
        let base = server.url("");
        self.other_servers.push(server);
        base.trim_end_matches('/').to_owned()
    }

    /// The outbox as `(recipient, state, attempts)`, oldest first.
    pub async fn outbox(&self) -> Vec<(String, String, i32)> {
        use sea_orm::{FromQueryResult, Statement};
        #[derive(FromQueryResult)]
        struct Row {
            recipient: String,
            state: String,
            attempts: i32,
        }
        let db = &self.state.as_ref().expect("state").ctx.db;
        let sql = "SELECT recipient, state, attempts FROM outbox ORDER BY created_at, id";
        Row::find_by_statement(Statement::from_string(db.get_database_backend(), sql))
            .all(db)
            .await
            .expect("read the outbox")
            .into_iter()
            .map(|r| (r.recipient, r.state, r.attempts))
            .collect()
    }

    /// Moves the service's clock forward by `by` (it keeps running from there).
    pub fn advance_clock(&self, by: Duration) {
        self.state.as_ref().expect("state").ctx.clock.advance(by);
    }

    /// Runs the periodic purge of expired idempotency keys now; returns how
    /// many it deleted.
    pub async fn purge_idempotency_keys(&self) -> u64 {
        let ctx = &self.state.as_ref().expect("state").ctx;
        service::idempotency::purge_expired(ctx, &ctx.db)
            .await
            .expect("purge expired idempotency keys")
    }

    /// A request builder for `method path` (for the odd header a helper does not set).
    pub fn request(&self, method: &str, path: &str) -> awc::ClientRequest {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        self.client.request(method, self.url(path))
    }

    /// Sends `req` with `body` and reads the whole response.
    pub async fn send_req(&self, req: awc::ClientRequest, body: Body) -> Resp {
        let what = format!("{} {}", req.get_method(), req.get_uri());
        let sent = match body {
            Body::Empty => req.send().await,
            Body::Json(v) => req.send_json(&v).await,
            Body::Form(s) => {
                req.content_type("application/x-www-form-urlencoded")
                    .send_body(s)
                    .await
            }
            Body::Raw(ct, bytes) => {
                let req = if ct.is_empty() {
                    req
                } else {
                    req.content_type(ct)
                };
                req.send_body(bytes).await
            }
        };
        let mut res = sent.unwrap_or_else(|e| panic!("{what}: request failed: {e}"));
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res
            .body()
            .limit(BODY_LIMIT)
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body failed: {e}"));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Body) -> Resp {
        let mut req = self.request(method, path);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        self.send_req(req, body).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.send("GET", path, token, Body::Empty).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, json: Value) -> Resp {
        self.send("POST", path, token, Body::Json(json)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, json: Value) -> Resp {
        self.send("PUT", path, token, Body::Json(json)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, json: Value) -> Resp {
        self.send("PATCH", path, token, Body::Json(json)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Resp {
        self.send("DELETE", path, token, Body::Empty).await
    }

    /// GET with a raw `Authorization` header value.
    pub async fn get_with_authorization(&self, path: &str, authorization: &str) -> Resp {
        let req = self
            .request("GET", path)
            .insert_header(("Authorization", authorization.to_owned()));
        self.send_req(req, Body::Empty).await
    }

    // ----- accounts -----

    /// `POST /api/v1/auth/register` with any body.
    pub async fn register_with(&self, body: Value) -> Resp {
        self.post("/api/v1/auth/register", None, body).await
    }

    /// Registers `username` (e-mail `{username}@example.com`, password [`PASSWORD`]); returns the user.
    pub async fn register(&self, username: &str) -> Value {
        let r = self
            .register_with(json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
            }))
            .await;
        assert_eq!(r.status, 201, "register {username}: {r:#?}");
        r.body
    }

    /// `POST /api/v1/auth/login` with a JSON body.
    pub async fn login_json(&self, username: &str, password: &str) -> Resp {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self.login_json(username, password).await;
        assert_eq!(r.status, 200, "login {username}: {r:#?}");
        r.str("access_token")
    }

    /// Registers and logs in `username`.
    pub async fn user(&self, username: &str) -> TestUser {
        let user = self.register(username).await;
        let token = self.login(username, PASSWORD).await;
        TestUser {
            id: user["id"].as_str().expect("user id").to_owned(),
            username: username.to_owned(),
            email: format!("{username}@example.com"),
            password: PASSWORD.to_owned(),
            token,
        }
    }

    /// Logs in the first admin (from `Settings::for_tests`).
    pub async fn admin(&self) -> TestUser {
        let token = self.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
        let me = self.get("/api/v1/users/me", Some(&token)).await;
        assert_eq!(me.status, 200, "admin /users/me: {me:#?}");
        TestUser {
            id: me.str("id"),
            username: ADMIN_USERNAME.to_owned(),
            email: ADMIN_EMAIL.to_owned(),
            password: ADMIN_PASSWORD.to_owned(),
            token,
        }
    }

    // ----- posts -----

    /// `POST /api/v1/posts` with any body.
    pub async fn create_post(&self, token: &str, body: Value) -> Resp {
        self.post("/api/v1/posts", Some(token), body).await
    }

    /// Creates a post titled `title` and returns it, asserting 201.
    pub async fn new_post(&self, author: &TestUser, title: &str, published: bool) -> Value {
        let r = self
            .create_post(
                &author.token,
                json!({"title": title, "body": format!("Body of {title}"), "published": published}),
            )
            .await;
        assert_eq!(r.status, 201, "create post {title:?}: {r:#?}");
        r.body
    }
}

// ----- assertions -----

/// An RFC 9457 problem with this status: content type, `type`, `title`, `status`;
/// `errors` on 422 only.
#[track_caller]
pub fn assert_problem(r: &Resp, status: u16) {
    assert_eq!(r.status, status, "unexpected status: {r:#?}");
    assert!(
        r.content_type().starts_with("application/problem+json"),
        "expected application/problem+json, got {:?}: {r:#?}",
        r.content_type()
    );
    assert!(
        r.body.get("type").is_some_and(Value::is_string),
        "problem without `type`: {r:#?}"
    );
    assert!(
        r.body
            .get("title")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty()),
        "problem without `title`: {r:#?}"
    );
    assert_eq!(
        r.body.get("status").and_then(Value::as_u64),
        Some(u64::from(status)),
        "problem `status`: {r:#?}"
    );
    if status == 422 {
        assert!(
            r.body
                .get("errors")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty()),
            "422 without `errors`: {r:#?}"
        );
    } else {
        assert!(
            r.body.get("errors").is_none(),
            "`errors` on a {status}: {r:#?}"
        );
    }
}

/// 401 problem with `WWW-Authenticate: Bearer…`.
#[track_caller]
pub fn assert_unauthorized(r: &Resp) {
    assert_problem(r, 401);
    let www = r.header("www-authenticate").unwrap_or("");
    assert!(
        www.starts_with("Bearer"),
        "401 without `WWW-Authenticate: Bearer`: {r:#?}"
    );
}

/// A 422 problem whose `errors[]` names `field`; returns that entry.
#[track_caller]
pub fn assert_field_error(r: &Resp, field: &str) -> Value {
    assert_problem(r, 422);
    let errors = r.body["errors"].as_array().expect("errors");
    for e in errors {
        assert!(
            e.get("field").is_some_and(Value::is_string),
            "error without `field`: {r:#?}"
        );
        assert!(
            e.get("message").is_some_and(Value::is_string),
            "error without `message`: {r:#?}"
        );
        assert!(
            e.get("type").is_some_and(Value::is_string),
            "error without `type`: {r:#?}"
        );
    }
    errors
        .iter()
        .find(|e| e["field"] == field)
        .cloned()
        .unwrap_or_else(|| panic!("no error on field {field:?}: {r:#?}"))
}

/// A 422 whose `errors[]` has `field` with this `type`.
#[track_caller]
pub fn assert_field_error_type(r: &Resp, field: &str, ty: &str) {
    assert_field_error(r, field);
    let errors = r.body["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["field"] == field && e["type"] == ty),
        "no error of type {ty:?} on field {field:?}: {r:#?}"
    );
}

/// A lowercase hyphenated UUID of version 7.
#[track_caller]
pub fn assert_uuid_v7(s: &str) {
    let id = uuid::Uuid::parse_str(s).unwrap_or_else(|e| panic!("{s:?} is not a UUID: {e}"));
    assert_eq!(id.get_version_num(), 7, "{s:?} is not a UUID v7");
    assert_eq!(
        s,
        id.hyphenated().to_string(),
        "{s:?} is not lowercase hyphenated"
    );
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, and a real instant.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 27
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b'Z'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[track_caller]
pub fn assert_timestamp(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    assert!(is_timestamp(s), "{s:?} is not YYYY-MM-DDTHH:MM:SS.ffffffZ");
}

pub fn parse_ts(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("timestamp"))
        .expect("rfc3339")
        .with_timezone(&chrono::Utc)
}

/// A user body must have exactly the user shape, and never a password.
#[track_caller]
pub fn assert_user_shape(user: &Value) {
    let obj = user
        .as_object()
        .unwrap_or_else(|| panic!("user is not an object: {user}"));
    for key in [
        "id",
        "username",
        "email",
        "role",
        "is_active",
        "created_at",
        "updated_at",
    ] {
        assert!(obj.contains_key(key), "user without {key:?}: {user}");
    }
    for key in obj.keys() {
        assert!(!key.contains("password"), "user exposes {key:?}: {user}");
    }
    assert!(
        !user.to_string().contains("$2"),
        "user body looks like it holds a bcrypt hash: {user}"
    );
}

/// A post body must have the post shape.
#[track_caller]
pub fn assert_post_shape(post: &Value) {
    let obj = post
        .as_object()
        .unwrap_or_else(|| panic!("post is not an object: {post}"));
    for key in [
        "id",
        "title",
        "slug",
        "body",
        "published",
        "author_id",
        "author_username",
        "created_at",
        "updated_at",
    ] {
        assert!(obj.contains_key(key), "post without {key:?}: {post}");
    }
    assert!(
        !obj.contains_key("deleted_at") || obj["deleted_at"].is_null(),
        "post exposes deleted_at: {post}"
    );
}

/// Ids of a page's rows.
pub fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

// ----- tokens -----

/// The claims of a JWT, read without checking the signature.
pub fn jwt_claims(token: &str) -> serde_json::Map<String, Value> {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Signs `claims` with `alg` under `secret`.
pub fn sign(
    claims: &serde_json::Map<String, Value>,
    alg: jsonwebtoken::Algorithm,
    secret: &[u8],
) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign JWT")
}

/// An unsigned token (`alg: none`).
pub fn unsigned_token(claims: &serde_json::Map<String, Value>) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims"));
    format!("{header}.{payload}.")
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

// ----- conditional requests and idempotency -----

impl TestApp {
    /// `method path` with a bearer token (if any) and extra headers. A header value
    /// is sent as its bytes, so it may hold non-ASCII characters.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Resp {
        let mut req = self.request(method, path);
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        for (name, value) in headers {
            let value = awc::http::header::HeaderValue::from_bytes(value.as_bytes())
                .unwrap_or_else(|e| panic!("header {name}: {value:?}: {e}"));
            req = req.insert_header((*name, value));
        }
        self.send_req(req, body).await
    }
}

impl Resp {
    /// The `ETag` header, asserting it is a strong, quoted entity tag (RFC 9110 §8.8.3).
    #[track_caller]
    pub fn etag(&self) -> String {
        let Some(tag) = self.header("etag") else {
            panic!("no ETag header: {self:#?}");
        };
        assert!(
            is_strong_etag(tag),
            "ETag {tag:?} is not a strong quoted tag: {self:#?}"
        );
        tag.to_owned()
    }
}

/// `"opaque"`: quoted, not `W/`, and only the characters an entity tag may hold.
pub fn is_strong_etag(tag: &str) -> bool {
    let b = tag.as_bytes();
    b.len() >= 2
        && b[0] == b'"'
        && b[b.len() - 1] == b'"'
        && b[1..b.len() - 1]
            .iter()
            .all(|&c| c == 0x21 || (0x23..=0x7e).contains(&c) || c >= 0x80)
}

/// The directives of a `Cache-Control` header, lowercased and sorted.
pub fn cache_directives(r: &Resp) -> Vec<String> {
    let mut directives: Vec<String> = r
        .header("cache-control")
        .unwrap_or("")
        .split(',')
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    directives.sort();
    directives
}
