//! Traces (docs/observability.md): the real binary, started as a child
//! process (the tracing subscriber is process-wide) with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a small OTLP/HTTP receiver in
//! this test, which decodes what it gets with `opentelemetry-proto`.
//!
//! Checked: the server span of a request is the child of the `traceparent`
//! sent, is named by the route pattern and carries the status; its SQL
//! statements are child spans whose text holds no values; the response
//! carries the request's own `traceparent`; the access-log line carries the
//! trace and span ids; the welcome mail's send span links back to the
//! registration's trace; and with the collector down, requests still answer
//! at once and the lost spans are counted.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::{Value, json};

use crate::common::*;

/// Spans the receiver got, in arrival order.
type Received = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest`, answered 200.
struct Receiver {
    server: actix_test::TestServer,
    spans: Received,
}

impl Receiver {
    fn start() -> Self {
        let spans = Received::default();
        let shared = spans.clone();
        let server = actix_test::start(move || {
            let shared = shared.clone();
            App::new().route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let shared = shared.clone();
                    async move {
                        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                            return HttpResponse::BadRequest().finish();
                        };
                        let mut spans = shared.lock().expect("lock");
                        for resource in request.resource_spans {
                            for scope in resource.scope_spans {
                                spans.extend(scope.spans);
                            }
                        }
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .finish()
                    }
                }),
            )
        });
        Self { server, spans }
    }

    /// `http://127.0.0.1:port` (the exporter adds `/v1/traces`).
    fn endpoint(&self) -> String {
        self.server.url("").trim_end_matches('/').to_owned()
    }

    /// Waits up to 20 s for a span that `wanted` accepts.
    async fn wait_for(&self, what: &str, wanted: impl Fn(&Span) -> bool) -> Span {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(span) = self.spans.lock().expect("lock").iter().find(|s| wanted(s)) {
                return span.clone();
            }
            if Instant::now() > deadline {
                let names: Vec<String> = self
                    .spans
                    .lock()
                    .expect("lock")
                    .iter()
                    .map(|s| format!("{} {}", hex(&s.trace_id), s.name))
                    .collect();
                panic!("no span {what} arrived; got {names:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn all(&self) -> Vec<Span> {
        self.spans.lock().expect("lock").clone()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attribute of `span`, as a string (ints formatted).
fn attr(span: &Span, key: &str) -> Option<String> {
    find(&span.attributes, key)
}

fn find(attrs: &[KeyValue], key: &str) -> Option<String> {
    let value = attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value {
        AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        } => Some(s.clone()),
        AnyValue {
            value: Some(any_value::Value::IntValue(i)),
        } => Some(i.to_string()),
        AnyValue {
            value: Some(any_value::Value::BoolValue(b)),
        } => Some(b.to_string()),
        _ => None,
    }
}

/// A free port on loopback (closed again: nothing listens there).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The `owned-api` binary of this build, brought up to date first (the
/// test binary does not depend on it, so `cargo test` alone may not have
/// built it).
fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/http-<hash> → target/<profile>/owned-api
            let exe = std::env::current_exe().expect("the test binary's path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps");
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .args(["build", "--quiet", "-p", "api", "--bin", "owned-api"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if release {
                cargo.arg("--release");
            }
            if let Some(target_dir) = profile_dir.parent() {
                cargo.env("CARGO_TARGET_DIR", target_dir);
            }
            let status = cargo.status().expect("run cargo build");
            assert!(
                status.success(),
                "cargo build -p api --bin owned-api failed"
            );
            profile_dir.join(format!("owned-api{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

/// The binary serving on a free port with its own database, mail folder and
/// uploads folder, its logs (JSON) in a file; killed when dropped.
struct Served {
    child: Child,
    base: String,
    dir: PathBuf,
    _guard: DbGuard,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Served {
    async fn start(otlp_endpoint: &str) -> Self {
        let (database_url, guard) = fresh_database().await;
        let dir = std::env::temp_dir().join(format!("owned-api-traces-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let database_url = if database_url.starts_with("sqlite") {
            format!("sqlite://{}/app.db?mode=rwc", dir.display())
        } else {
            database_url
        };
        let port = free_port();
        let log = std::fs::File::create(dir.join("log.jsonl")).expect("log file");
        let mut cmd = Command::new(binary());
        for (key, _) in std::env::vars() {
            // Nothing of the caller's configuration leaks in.
            if key.starts_with("OTEL_")
                || key.starts_with("FIRST_ADMIN_")
                || ["REDIS_URL", "SMTP_URL", "RUST_LOG", "CORS_ALLOWED_ORIGINS"]
                    .contains(&key.as_str())
            {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .arg("serve")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", api::config::TEST_JWT_SECRET)
            .env("BCRYPT_COST", "4")
            .env("WORKERS", "2")
            .env("RATE_LIMIT_PER_MINUTE", "0")
            .env("AUTH_RATE_LIMIT_PER_MINUTE", "0")
            .env("MAIL_DIR", dir.join("mail"))
            .env("MAIL_POLL_INTERVAL_MS", "50")
            .env(
                "STORAGE_URL",
                format!("file://{}", dir.join("uploads").display()),
            )
            .env("LOG_FORMAT", "json")
            .env("SHUTDOWN_DRAIN", "0")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint)
            .env("OTEL_SERVICE_NAME", "owned-api-test")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start owned-api");
        let served = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            _guard: guard,
        };
        served.wait_until_healthy().await;
        served
    }

    async fn wait_until_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = client().get(format!("{}/health", self.base)).send().await
                && res.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "owned-api did not come up; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log.jsonl")).unwrap_or_default()
    }

    /// Sends `method path` with `headers` and an optional JSON body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Resp {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client().request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            req = req.insert_header((*name, value.as_str()));
        }
        let mut res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        }
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        let bytes = res.body().limit(1 << 20).await.expect("body");
        Resp {
            status: res.status(),
            headers: res.headers().clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish()
}

/// A fresh W3C parent: (`traceparent`, trace id, span id).
fn parent() -> (String, String, String) {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = uuid::Uuid::new_v4().simple().to_string()[..16].to_owned();
    (format!("00-{trace}-{span}-01"), trace, span)
}

#[actix_web::test]
async fn a_request_is_a_trace_under_the_callers_traceparent_with_sql_and_mail_spans() {
    let receiver = Receiver::start();
    let app = Served::start(&receiver.endpoint()).await;

    // Registration, under a parent of ours; it writes the welcome mail.
    let (tp, register_trace, _) = parent();
    let username = format!("tracer{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let r = app
        .send(
            "POST",
            "/api/v1/auth/register",
            &[("traceparent", tp)],
            Some(json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let token = {
        let r = app
            .send(
                "POST",
                "/api/v1/auth/login",
                &[],
                Some(json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, 200, "{r:#?}");
        r.str("access_token")
    };
    let title = format!("Title {}", uuid::Uuid::new_v4().simple());
    let r = app
        .send(
            "POST",
            "/api/v1/posts",
            &[("authorization", format!("Bearer {token}"))],
            Some(json!({"title": title, "body": "a secret body"})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let post_id = r.str("id");

    // The read we follow.
    let (tp, trace, caller_span) = parent();
    let r = app
        .send(
            "GET",
            &format!("/api/v1/posts/{post_id}"),
            &[
                ("traceparent", tp),
                ("user-agent", "traces-test/1".into()),
                ("authorization", format!("Bearer {token}")),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let echoed = r
        .header("traceparent")
        .expect("a traceparent on the response");
    let parts: Vec<&str> = echoed.split('-').collect();
    assert_eq!(parts.len(), 4, "{echoed}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1], trace, "the response names the caller's trace");
    assert_ne!(parts[2], caller_span, "and the request's own span");
    assert_eq!(parts[3], "01");

    let server = receiver
        .wait_for("GET /api/v1/posts/{id} in the caller's trace", |s| {
            hex(&s.trace_id) == trace && s.name == "GET /api/v1/posts/{id}"
        })
        .await;
    assert_eq!(
        hex(&server.parent_span_id),
        caller_span,
        "child of the caller's span"
    );
    assert_eq!(
        hex(&server.span_id),
        parts[2],
        "the response names this span"
    );
    assert_eq!(server.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(
        attr(&server, "http.route").as_deref(),
        Some("/api/v1/posts/{id}")
    );
    assert_eq!(attr(&server, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        attr(&server, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(&server, "url.path"),
        Some(format!("/api/v1/posts/{post_id}"))
    );
    assert_eq!(
        attr(&server, "user_agent.original").as_deref(),
        Some("traces-test/1")
    );
    assert_eq!(
        attr(&server, "client.address").as_deref(),
        Some("127.0.0.1")
    );
    assert!(attr(&server, "request_id").is_some_and(|id| !id.is_empty()));
    assert_ne!(
        server.status.as_ref().map_or(0, |s| s.code),
        2,
        "not an error"
    );

    // Its SQL: child spans with the statement, without the values.
    let sql = receiver
        .wait_for("SQL under the GET", |s| {
            s.trace_id == server.trace_id
                && s.parent_span_id == server.span_id
                && attr(s, "db.query.text").is_some()
        })
        .await;
    assert_eq!(sql.kind, 3, "SPAN_KIND_CLIENT");
    let system = if on_postgres() {
        "postgresql"
    } else {
        "sqlite"
    };
    assert_eq!(attr(&sql, "db.system.name").as_deref(), Some(system));
    assert_eq!(attr(&sql, "db.operation.name").as_deref(), Some("SELECT"));
    assert!(
        sql.name.starts_with("SELECT "),
        "named by operation and table: {}",
        sql.name
    );
    assert!(
        sql.end_time_unix_nano > sql.start_time_unix_nano,
        "a duration"
    );
    let statements: Vec<String> = receiver
        .all()
        .iter()
        .filter_map(|s| attr(s, "db.query.text"))
        .collect();
    assert!(!statements.is_empty());
    for text in &statements {
        for value in [&post_id, &username, &title, "a secret body", PASSWORD] {
            assert!(!text.contains(value), "a value in {text:?}");
        }
    }
    // Resource: the service's name from OTEL_SERVICE_NAME (checked on the
    // wire format's spans indirectly: the receiver keeps spans only).

    // The access-log line of the GET carries the trace and span ids.
    let logged = app.log();
    let line = logged
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| {
            l["fields"]["path"] == format!("/api/v1/posts/{post_id}")
                && l["fields"]["message"] == "request"
        })
        .unwrap_or_else(|| panic!("no access-log line for the GET in:\n{logged}"));
    assert_eq!(line["fields"]["trace_id"], trace.as_str(), "{line}");
    assert_eq!(line["fields"]["span_id"], parts[2], "{line}");

    // The welcome mail's send span: a trace of its own, linked to the
    // registration's.
    let mail = receiver
        .wait_for("mail send linked to the registration", |s| {
            s.name == "mail send" && s.links.iter().any(|l| hex(&l.trace_id) == register_trace)
        })
        .await;
    assert_ne!(hex(&mail.trace_id), register_trace, "its own trace, linked");
    assert_eq!(mail.kind, 5, "SPAN_KIND_CONSUMER");
    let registration = receiver
        .wait_for("the registration's server span", |s| {
            hex(&s.trace_id) == register_trace && s.name == "POST /api/v1/auth/register"
        })
        .await;
    assert_eq!(
        attr(&registration, "http.response.status_code").as_deref(),
        Some("201")
    );
    let link = mail
        .links
        .iter()
        .find(|l| hex(&l.trace_id) == register_trace)
        .expect("the link");
    assert!(
        receiver
            .all()
            .iter()
            .any(|s| s.trace_id == link.trace_id && s.span_id == link.span_id),
        "the link names a span of the registration's trace"
    );
}

#[actix_web::test]
async fn an_unknown_route_is_named_by_its_method_and_a_request_without_parent_starts_a_trace() {
    let receiver = Receiver::start();
    let app = Served::start(&receiver.endpoint()).await;
    let r = app.send("GET", "/no/such/thing", &[], None).await;
    assert_eq!(r.status, 404);
    let echoed = r.header("traceparent").expect("a traceparent").to_owned();
    let trace = echoed.split('-').nth(1).expect("a trace id").to_owned();
    let span = receiver
        .wait_for("the 404's server span", |s| hex(&s.trace_id) == trace)
        .await;
    assert_eq!(span.name, "GET");
    assert!(span.parent_span_id.is_empty(), "a root span");
    assert_eq!(
        attr(&span, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(attr(&span, "http.route"), None);
}

#[actix_web::test]
async fn with_the_collector_down_requests_answer_at_once_and_lost_spans_are_counted() {
    // Nothing listens on this port.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let app = Served::start(&endpoint).await;
    let started = Instant::now();
    for i in 0..30 {
        let path = if i % 2 == 0 {
            "/health"
        } else {
            "/api/v1/posts"
        };
        let asked = Instant::now();
        let r = app.send("GET", path, &[], None).await;
        assert!(r.status.is_success(), "{path}: {r:#?}");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            asked.elapsed()
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    // The exporter gives up on its batches and says how many spans it lost.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = app.send("GET", "/metrics", &[], None).await;
        assert_eq!(metrics.status, 200);
        let dropped = metrics
            .text
            .lines()
            .find(|l| l.starts_with("trace_spans_dropped_total{reason=\"export_failed\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<f64>().ok());
        if dropped.is_some_and(|n| n > 0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dropped spans counted:\n{}",
            metrics.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        app.send("GET", "/health", &[], None)
            .await
            .status
            .is_success()
    );
}

#[actix_web::test]
async fn with_tracing_off_no_traceparent_is_added_and_an_incoming_one_is_ignored() {
    // The in-process harness never sets OTEL_EXPORTER_OTLP_ENDPOINT.
    let app = spawn_app().await;
    let (tp, _, _) = parent();
    let req = app
        .request("GET", "/api/v1/posts")
        .insert_header(("traceparent", tp));
    let r = app.send_req(req, Body::Empty).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("traceparent"), None);
    assert!(r.header("x-request-id").is_some());
}
