//! Logs, request ids and traces (docs/observability.md,
//! docs/conventions.md#operations).
//!
//! Every response carries `X-Request-Id`: the client's when it sent a sane
//! one, else a new UUID v7. One span per request holds that id, so every log
//! line of the request carries it. Logs are human-readable by default and
//! JSON with `LOG_FORMAT=json`.
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the subscriber gains an
//! OpenTelemetry layer and that same span becomes the request's server span
//! (`GET /api/v1/posts/{id}`), the child of an incoming `traceparent`; the
//! places that already log make child spans (SQL through SeaORM's
//! `tracing-spans`, Redis, storage, mail). Spans leave in batches from a
//! thread of their own through a bounded queue: a collector that is down
//! or slow costs dropped spans (counted on `/metrics`), never a slower
//! request. Unset, none of this is built.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::{SpanKind, TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry::{Context as OtelContext, KeyValue, Value};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SamplingDecision, SamplingResult,
    SdkTracerProvider, ShouldSample, SpanData, SpanExporter, SpanProcessor,
};
use tracing::Instrument as _;
use tracing::field::{Empty, display};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Settings;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// W3C trace context: the parent of a request's span when a client sends
/// it; the request's own span on the response while tracing is on.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C trace context: vendor data that goes with `traceparent`.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The id of the current request, in the request's extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The route pattern the request matched (`None`: no route), in the
/// request's extensions once the server span has recorded it, so the
/// metrics need not look it up again.
#[derive(Clone, Debug)]
pub struct MatchedRoute(pub Option<String>);

/// The default log filter: `info`, with SQL below warnings hidden, so only
/// slow statements show.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,service::db=warn";

/// What [`init`] installed; [`Telemetry::shutdown`] sends the spans still
/// queued when the server stops.
#[derive(Debug, Default)]
#[must_use = "call shutdown() when the server stops, or queued spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn tracing(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports what is queued (waiting at most a few seconds for the
    /// collector) and stops the exporter's thread.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            tracing::warn!(error = %e, "traces: the last spans could not be sent");
        }
    }
}

/// Installs the global subscriber: `RUST_LOG` filters the logs (default
/// [`DEFAULT_FILTER`]), `LOG_FORMAT` is `text` or `json`. With `traces` (the
/// `serve` command) and `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are
/// exported too.
///
/// # Errors
/// An endpoint the exporter refuses (not a URL).
pub fn init(settings: &Settings, traces: bool) -> anyhow::Result<Telemetry> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| DEFAULT_FILTER.into())
    };
    let endpoint = settings
        .otel_exporter_otlp_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| traces && !e.is_empty());
    let Some(endpoint) = endpoint else {
        // Exactly the subscriber of a service without traces.
        let builder = tracing_subscriber::fmt().with_env_filter(filter());
        if settings.log_format == "json" {
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .init();
        } else {
            builder.init();
        }
        return Ok(Telemetry::default());
    };
    let provider = provider(settings, endpoint)?;
    let tracer = provider.tracer("owned-api");
    if settings.log_format == "json" {
        let logs = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter());
        tracing_subscriber::registry()
            .with(logs)
            .with(spans(tracer))
            .init();
    } else {
        let logs = tracing_subscriber::fmt::layer().with_filter(filter());
        tracing_subscriber::registry()
            .with(logs)
            .with(spans(tracer))
            .init();
    }
    service::tracecontext::enable();
    tracing::info!(endpoint, "traces go to an OTLP/HTTP collector");
    Ok(Telemetry {
        provider: Some(provider),
    })
}

/// The OpenTelemetry layer. Spans only: SQL below INFO (sea-orm's own
/// `trace` spans, sqlx's per-statement events) and the exporter's HTTP
/// client stay out.
fn spans<S>(tracer: opentelemetry_sdk::trace::SdkTracer) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_target(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        // Nothing here reads OpenTelemetry's own current context (ids come
        // from the tracing span), so entering a span need not install it:
        // that is a clone and a thread-local push at every poll.
        .with_context_activation(false)
        .with_filter(
            Targets::new()
                .with_default(LevelFilter::INFO)
                .with_target("sqlx", LevelFilter::WARN)
                .with_target("hyper", LevelFilter::OFF)
                .with_target("hyper_util", LevelFilter::OFF)
                .with_target("reqwest", LevelFilter::OFF)
                .with_target("h2", LevelFilter::OFF)
                .with_target("opentelemetry", LevelFilter::OFF),
        )
}

/// The tracer provider: resource from the settings, the sampler, and the
/// batch exporter behind a bounded, counted queue.
fn provider(settings: &Settings, endpoint: &str) -> anyhow::Result<SdkTracerProvider> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    // The standard per-signal variable, when set, names the full URL itself.
    if std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() {
        exporter = exporter.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
    }
    let exporter = exporter
        .build()
        .with_context(|| format!("OTEL_EXPORTER_OTLP_ENDPOINT {endpoint:?}"))?;
    let max_queue = std::env::var(opentelemetry_sdk::trace::OTEL_BSP_MAX_QUEUE_SIZE)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(opentelemetry_sdk::trace::OTEL_BSP_MAX_QUEUE_SIZE_DEFAULT);
    let queued = Arc::new(AtomicUsize::new(0));
    let batch = BatchSpanProcessor::builder(Counted {
        inner: exporter,
        queued: Arc::clone(&queued),
        failing: AtomicBool::new(false),
    })
    .with_batch_config(
        // OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_EXPORT_BATCH_SIZE … apply.
        BatchConfigBuilder::default()
            .with_max_queue_size(max_queue)
            .build(),
    )
    .build();
    let resource = Resource::builder()
        .with_attributes(resource_attributes(
            settings.otel_resource_attributes.as_deref(),
        ))
        .with_service_name(settings.otel_service_name.clone())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(NoOrphanClients(Sampler::ParentBased(Box::new(
            Sampler::AlwaysOn,
        ))))
        .with_span_processor(Bounded {
            inner: batch,
            queued,
            max: max_queue,
        })
        .build())
}

/// `key=value,key=value` (OTEL_RESOURCE_ATTRIBUTES, values percent-decoded
/// as the specification says); malformed pairs are skipped.
fn resource_attributes(list: Option<&str>) -> Vec<KeyValue> {
    list.unwrap_or("")
        .split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| {
                let value = percent_encoding::percent_decode_str(value.trim())
                    .decode_utf8_lossy()
                    .into_owned();
                KeyValue::new(key.to_owned(), value)
            })
        })
        .collect()
}

/// Parent-based sampling (an incoming `traceparent`'s sampled flag is
/// respected; a request without one is sampled), except that a client span
/// outside any trace is dropped: the SQL of migrations, of the mail
/// worker's polling and of housekeeping would otherwise be one trace per
/// statement.
#[derive(Clone, Debug)]
struct NoOrphanClients(Sampler);

impl ShouldSample for NoOrphanClients {
    fn should_sample(
        &self,
        parent_context: Option<&OtelContext>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        let orphan = !parent_context.is_some_and(|cx| cx.span().span_context().is_valid());
        if orphan && *span_kind == SpanKind::Client {
            return SamplingResult {
                decision: SamplingDecision::Drop,
                attributes: Vec::new(),
                trace_state: Default::default(),
            };
        }
        self.0
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

/// Spans ended but not yet handed to the collector (or given up on).
///
/// In front of the batch processor: a span that would not fit its queue is
/// dropped here and counted (`trace_spans_dropped_total{reason="queue_full"}`);
/// the rest get today's semantic-convention names (see [`sql_conventions`]).
#[derive(Debug)]
struct Bounded {
    inner: BatchSpanProcessor,
    queued: Arc<AtomicUsize>,
    max: usize,
}

impl SpanProcessor for Bounded {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &OtelContext) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            ::metrics::counter!(crate::metrics::TRACE_SPANS_DROPPED, "reason" => "queue_full")
                .increment(1);
            return;
        }
        if span.span_kind == SpanKind::Server {
            // Fields for the log lines only: the span has its ids already.
            span.attributes
                .retain(|kv| !matches!(kv.key.as_str(), "trace_id" | "span_id"));
            // Named by the method alone at its start; the route is known
            // once the request has been routed (see `server_span`).
            if let Some(route) = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "http.route")
            {
                span.name = Cow::Owned(format!("{} {}", span.name, route.value.as_str()));
            }
        }
        sql_conventions(&mut span);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter, counting what it sends and what it loses, and saying
/// once when the collector stops answering and once when it is back.
#[derive(Debug)]
struct Counted {
    inner: opentelemetry_otlp::SpanExporter,
    queued: Arc<AtomicUsize>,
    failing: AtomicBool,
}

impl SpanExporter for Counted {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        let result = self.inner.export(batch).await;
        self.queued.fetch_sub(n, Ordering::AcqRel);
        let n = n as u64;
        match &result {
            Ok(()) => {
                ::metrics::counter!(crate::metrics::TRACE_SPANS_EXPORTED).increment(n);
                if self.failing.swap(false, Ordering::AcqRel) {
                    tracing::info!("traces: the collector answers again");
                }
            }
            Err(e) => {
                ::metrics::counter!(crate::metrics::TRACE_SPANS_DROPPED, "reason" => "export_failed")
                    .increment(n);
                if !self.failing.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "traces: the collector does not take spans; they are dropped until it does");
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// SeaORM's spans (`sea_orm.query_all` …) carry the older semantic
/// conventions (`db.statement`, `db.operation`); collectors and UIs now read
/// `db.query.text`, `db.operation.name`, `db.system.name`. Renamed here, and
/// the span named `SELECT posts` (operation and table) as the conventions
/// ask. The statement is SeaORM's, with placeholders: values are bound,
/// never in the text.
fn sql_conventions(span: &mut SpanData) {
    if !span.name.starts_with("sea_orm.") {
        return;
    }
    let mut system = None;
    let mut text = None;
    let mut table = None;
    span.attributes.retain_mut(|attr| match attr.key.as_str() {
        "db.statement" => {
            // Moved out, not copied: the statement is the longest value.
            let sql = match std::mem::replace(&mut attr.value, Value::Bool(false)) {
                Value::String(sql) => sql,
                other => other.as_str().into_owned().into(),
            };
            table = collection(sql.as_str());
            text = Some(sql);
            false
        }
        // Re-derived below: SeaORM says EXECUTE for all but the four
        // data statements.
        "db.operation" => false,
        "db.system" => {
            system = Some(attr.value.clone());
            true
        }
        _ => true,
    });
    // SELECT … INSERT …; otherwise the statement's first word (CREATE,
    // PRAGMA), or what SeaORM's span says (`sea_orm.begin`: BEGIN).
    let operation = text
        .as_ref()
        .and_then(|sql| sql.as_str().split_whitespace().next())
        .unwrap_or_else(|| span.name.trim_start_matches("sea_orm."))
        .to_ascii_uppercase();
    if let Some(system) = system {
        span.attributes
            .push(KeyValue::new("db.system.name", system));
    }
    span.attributes
        .push(KeyValue::new("db.operation.name", operation.clone()));
    if let Some(text) = text {
        span.attributes.push(KeyValue::new("db.query.text", text));
    }
    span.name = Cow::Owned(match table {
        Some(table) => {
            let name = format!("{operation} {table}");
            span.attributes
                .push(KeyValue::new("db.collection.name", Value::from(table)));
            name
        }
        None => operation,
    });
}

/// The first table a statement names: after `FROM` (`SELECT`, `DELETE`),
/// `INTO` (`INSERT`) or `UPDATE`.
fn collection(sql: &str) -> Option<String> {
    let mut words = sql.split_whitespace();
    let first = words.next()?.to_ascii_uppercase();
    let (after, spaced) = match first.as_str() {
        "UPDATE" => return words.next().map(unquote),
        "INSERT" => ("INTO", " INTO "),
        "SELECT" | "DELETE" | "WITH" => ("FROM", " FROM "),
        _ => return None,
    };
    // SeaORM writes its keywords in capitals between single spaces: one
    // substring search finds them, where a word-by-word scan of a long
    // column list costs thousands of instructions per statement. Other
    // SQL takes the scan.
    let table = match sql.find(spaced) {
        Some(at) => sql[at + spaced.len()..].split_whitespace().next(),
        None => words.skip_while(|w| !w.eq_ignore_ascii_case(after)).nth(1),
    };
    table
        .map(unquote)
        .filter(|t| !t.is_empty() && !t.starts_with('('))
}

fn unquote(word: &str) -> String {
    word.trim_matches(|c| c == '"' || c == '`' || c == ';')
        .to_owned()
}

/// A client-sent id is kept when it is 1–128 visible ASCII characters
/// without spaces; anything else is replaced, so logs stay parseable.
fn sane(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| s.to_owned())
}

/// Reads `traceparent` and `tracestate` from the request's headers.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// The request's server span while tracing is on: named by method and
/// route pattern (the route is recorded once the request has been routed,
/// when finding it is cheap, and joins the name as the span ends), with
/// OpenTelemetry's HTTP attributes, the child of the client's
/// `traceparent` if it sent one, and the trace and span ids as
/// fields so every log line of the request carries them. With the span
/// come its ids (when it is sampled).
fn server_span(
    req: &ServiceRequest,
    id: &str,
) -> (tracing::Span, Option<opentelemetry::trace::SpanContext>) {
    let method = req.method().as_str();
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let client = req.peer_addr().map(|a| a.ip());
    let span = tracing::info_span!(
        "request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        request_id = %id,
        http.request.method = method,
        http.route = Empty,
        url.path = req.path(),
        user_agent.original = user_agent,
        client.address = client.map(display),
        http.response.status_code = Empty,
        trace_id = Empty,
        span_id = Empty,
    );
    let parent = TraceContextPropagator::new().extract(&Headers(req.headers()));
    // Only fails when the span is disabled or already started: it is neither.
    let _ = span.set_parent(parent);
    let ids = span.context().span().span_context().clone();
    if !ids.is_valid() {
        return (span, None);
    }
    span.record("trace_id", display(ids.trace_id()));
    span.record("span_id", display(ids.span_id()));
    (span, Some(ids))
}

/// Middleware (`actix_web::middleware::from_fn`): picks the request id,
/// runs the request inside a span that carries it, echoes it on the
/// response, and writes one access-log line per request. (A span that the
/// log filter disables costs next to nothing.) While tracing is on, that
/// span is the request's server span and the response carries its
/// `traceparent`.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(sane)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let tracing_on = service::tracecontext::enabled();
    // The span, and its own ids while tracing is on.
    let (span, trace) = if tracing_on {
        server_span(&req, &id)
    } else {
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            http.method = %method,
            http.target = %path,
        );
        (span, None)
    };
    let started = Instant::now();
    let answered = next.call(req).instrument(span.clone()).await;
    let status = match &answered {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    if tracing_on {
        // After routing, actix builds the pattern from the resource that
        // matched; before it, it would match the path against every
        // route's expression again.
        if let Ok(res) = &answered {
            let route = res.request().match_pattern();
            if let Some(route) = &route {
                span.record("http.route", route.as_str());
            }
            res.request().extensions_mut().insert(MatchedRoute(route));
        }
        span.record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
    }
    let mut res = answered?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(value) = trace
        .as_ref()
        .and_then(service::tracecontext::format)
        .and_then(|tp| HeaderValue::from_str(&tp).ok())
    {
        res.headers_mut().insert(TRACEPARENT, value);
    }
    access_log(&id, &method, &path, status, started, trace.as_ref());
    Ok(res)
}

/// The access-log line. The ids are formatted only when the line is
/// written (`RUST_LOG` may leave INFO out).
fn access_log(
    id: &str,
    method: &actix_web::http::Method,
    path: &str,
    status: StatusCode,
    started: Instant,
    trace: Option<&opentelemetry::trace::SpanContext>,
) {
    let trace_id = trace.map(|cx| display(cx.trace_id()));
    let span_id = trace.map(|cx| display(cx.span_id()));
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        trace_id,
        span_id,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_a_statement_is_the_one_after_from_into_or_update() {
        let cases = [
            (
                r#"SELECT "posts"."id" FROM "posts" WHERE "posts"."id" = $1"#,
                Some("posts"),
            ),
            (r#"INSERT INTO "outbox" ("id") VALUES (?)"#, Some("outbox")),
            (r#"UPDATE "users" SET "version" = $1"#, Some("users")),
            (
                "DELETE FROM idempotency_keys WHERE expires_at < ?",
                Some("idempotency_keys"),
            ),
            ("select id from users where id = ?", Some("users")),
            (
                r#"SELECT "a"."x" FROM "a" JOIN "b" ON "b"."id" = "a"."b_id""#,
                Some("a"),
            ),
            ("SELECT 1", None),
            ("BEGIN", None),
        ];
        for (sql, table) in cases {
            assert_eq!(collection(sql).as_deref(), table, "{sql}");
        }
    }

    #[test]
    fn resource_attributes_are_pairs_with_percent_decoded_values() {
        let attrs = resource_attributes(Some("a=1, b = x%20y ,broken,=v"));
        let pairs: Vec<(String, String)> = attrs
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.as_str().into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
    }
}
