//! Prometheus metrics (docs/conventions.md#metrics), served at `GET /metrics`.
//!
//! Code records with the `metrics` crate's macros (`counter!`, `gauge!`,
//! `histogram!`); one process-wide recorder from `metrics-exporter-prometheus`
//! keeps the values, and the `/metrics` route renders them as Prometheus
//! text (no listener of its own). Values that are read rather than counted,
//! such as the database pool's size, are registered with
//! [`Metrics::register_gauge`] and read at each scrape.
//!
//! Requests are labelled by route *pattern* (`/api/v1/posts/{id}`), never by
//! the path a client sent, so unknown paths add no series: they count under
//! `route="unmatched"`.

use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use ::metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use futures_util::future::LocalBoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseConnection, DbBackend};

/// Requests answered, by `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "http_requests_total";
/// Time from a request's arrival to its response, by `method` and `route`.
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
/// Connections the database pools hold open (summed over the instance's
/// pools: on PostgreSQL one per HTTP worker plus one for background work).
pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";
/// Of those, the idle ones.
pub const DB_POOL_IDLE: &str = "db_pool_idle_connections";
/// The pools' largest sizes, summed (`DB_MAX_CONNECTIONS`, or a little
/// more when it is smaller than two plus the number of workers).
pub const DB_POOL_MAX: &str = "db_pool_max_connections";
/// Rate-limit decisions, by `limit`, `store` (`redis`, `process`) and
/// `outcome` (`allowed`, `limited`).
pub const RATE_LIMIT_CHECKS: &str = "rate_limit_checks_total";
/// 1 while the rate limits count in Redis, 0 while Redis is unavailable and
/// each process counts alone; absent without `REDIS_URL`.
pub const RATE_LIMIT_REDIS_UP: &str = "rate_limit_redis_up";
/// Gauge: mails in the outbox waiting to be sent.
pub const OUTBOX_BACKLOG: &str = "outbox_backlog";

/// Spans handed to the trace collector (docs/observability.md).
pub const TRACE_SPANS_EXPORTED: &str = "trace_spans_exported_total";
/// Spans lost, by `reason`: `queue_full` (the export queue was full: the
/// collector is slow or down) or `export_failed` (it refused or did not
/// answer).
pub const TRACE_SPANS_DROPPED: &str = "trace_spans_dropped_total";

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets, seconds: 5 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder's handle, installing the recorder on first use.
/// Metrics recorded before then are dropped. If another recorder was
/// installed first, this one renders nothing but the service still runs.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "Requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response, by method and route pattern"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Connections the database pools hold open (all of the instance's pools)"
    );
    describe_gauge!(DB_POOL_IDLE, "Idle connections in the database pools");
    describe_gauge!(
        DB_POOL_MAX,
        "Most connections the database pools may hold (DB_MAX_CONNECTIONS, split between them)"
    );
    let cache_counters = [
        (
            service::cache::HITS,
            "Reads the server-side cache answered, by kind of entry",
        ),
        (
            service::cache::MISSES,
            "Reads the cache passed to the database, by kind of entry",
        ),
        (
            service::cache::EVICTIONS,
            "Cache entries evicted for size or age, by kind of entry",
        ),
        (
            service::cache::DROPS_PUBLISHED,
            "Cache drops (a write's invalidations) this instance published to the others through Redis",
        ),
        (
            service::cache::DROPS_RECEIVED,
            "Cache drops from other instances this instance applied",
        ),
    ];
    for (name, description) in cache_counters {
        describe_counter!(name, description);
    }
    describe_counter!(
        RATE_LIMIT_CHECKS,
        "Rate-limit decisions, by limit, store (redis or process) and outcome"
    );
    describe_gauge!(
        OUTBOX_BACKLOG,
        "Mails in the outbox waiting to be sent (due now or later)"
    );
    describe_counter!(
        TRACE_SPANS_EXPORTED,
        "Spans sent to the trace collector (OTEL_EXPORTER_OTLP_ENDPOINT)"
    );
    describe_counter!(
        TRACE_SPANS_DROPPED,
        "Spans lost, by reason: queue_full (collector slow or down) or export_failed"
    );
    describe_gauge!(
        RATE_LIMIT_REDIS_UP,
        "1 while rate limits are counted in Redis, 0 while each process counts alone"
    );
}

/// A gauge read at each scrape: `None` skips it this time (say, its query
/// failed), keeping the last value.
type Reader = Arc<dyn Fn() -> LocalBoxFuture<'static, Option<f64>> + Send + Sync>;

/// This instance's metrics: the recorder's handle and the gauges read at
/// each scrape. Cheap to clone; clones share the gauges.
#[derive(Clone)]
pub struct Metrics {
    handle: &'static PrometheusHandle,
    gauges: Arc<RwLock<Vec<(&'static str, Reader)>>>,
    /// Every pool of the instance, summed in the `db_pool_*` gauges.
    pools: Arc<RwLock<Vec<DatabaseConnection>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .gauges
            .read()
            .map(|g| g.iter().map(|(name, _)| *name).collect())
            .unwrap_or_default();
        f.debug_struct("Metrics").field("gauges", &names).finish()
    }
}

impl Metrics {
    /// Installs the recorder (once per process) and registers the database
    /// pool's gauges: open connections, idle ones, and the largest size.
    pub fn new(db: &DatabaseConnection) -> Self {
        let metrics = Self {
            handle: handle(),
            gauges: Arc::default(),
            pools: Arc::new(RwLock::new(vec![db.clone()])),
        };
        let pools = |read: fn(&DatabaseConnection) -> f64| {
            let pools = Arc::clone(&metrics.pools);
            move || {
                let pools = pools
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                std::future::ready(Some(pools.iter().map(read).sum()))
            }
        };
        metrics.register_gauge(DB_POOL_CONNECTIONS, pools(|db| pool_stats(db).0));
        metrics.register_gauge(DB_POOL_IDLE, pools(|db| pool_stats(db).1));
        metrics.register_gauge(DB_POOL_MAX, pools(|db| pool_stats(db).2));
        metrics
    }

    /// Counts `db` in the pool gauges too (a worker's own pool, see
    /// `AppState::for_worker`): they give the sums over every pool. A
    /// worker that actix starts again after a panic adds its new pool
    /// beside the old one, so the sums overstate the largest size until
    /// the process restarts.
    pub fn add_pool(&self, db: &DatabaseConnection) {
        self.pools
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(db.clone());
    }

    /// Registers a gauge whose value `read` gives at each scrape of
    /// `/metrics` (a count in the database, a queue's length). Describe it
    /// once with `metrics::describe_gauge!` for its `# HELP` line. Use
    /// `metrics::gauge!(name).set(…)` instead where the value changes in
    /// one place that can set it.
    ///
    /// The mail outbox's backlog is one (`AppState::init`).
    pub fn register_gauge<F, Fut>(&self, name: &'static str, read: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<f64>> + 'static,
    {
        let reader: Reader = Arc::new(move || Box::pin(read()));
        self.gauges
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name, reader));
    }

    /// Reads the registered gauges, then renders every metric as Prometheus
    /// text (exposition format 0.0.4).
    pub async fn render(&self) -> String {
        let gauges: Vec<(&'static str, Reader)> = self
            .gauges
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (name, read) in gauges {
            if let Some(value) = read().await {
                gauge!(name).set(value);
            }
        }
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Open, idle and largest number of connections of the database pool.
fn pool_stats(db: &DatabaseConnection) -> (f64, f64, f64) {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> (f64, f64, f64) {
        (
            f64::from(pool.size()),
            pool.num_idle() as f64,
            f64::from(pool.options().get_max_connections()),
        )
    }
    match db.get_database_backend() {
        DbBackend::Postgres => of(db.get_postgres_connection_pool()),
        DbBackend::Sqlite => of(db.get_sqlite_connection_pool()),
        _ => (0.0, 0.0, 0.0),
    }
}

/// Runs the recorder's upkeep every few seconds, so latency samples are
/// folded into their histograms even when nobody scrapes. Runs until the
/// runtime stops.
pub fn spawn_upkeep() {
    let handle = handle();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

/// The method label: the standard methods by name, anything else as
/// `other`, so a client cannot add series by inventing methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Middleware (`actix_web::middleware::from_fn`): counts every response by
/// method, route pattern and status, and times it.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let res = next.call(req).await;
    let (route, status) = match &res {
        // The pattern is known once routing has happened, so it is read
        // from the request the response carries (while tracing is on, the
        // request's span has read it already).
        Ok(res) => (
            res.request()
                .extensions()
                .get::<crate::telemetry::MatchedRoute>()
                .map(|found| found.0.clone())
                .unwrap_or_else(|| res.request().match_pattern()),
            res.status().as_u16().to_string(),
        ),
        Err(e) => (
            None,
            e.as_response_error().status_code().as_u16().to_string(),
        ),
    };
    let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
    histogram!(HTTP_DURATION, "method" => method, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status).increment(1);
    res
}
