//! Per-client rate limits (docs/conventions.md#rate-limits): a strict one on
//! register and login (`AUTH_RATE_LIMIT_PER_MINUTE`) and a generous one on
//! every route under `/api/v1` (`RATE_LIMIT_PER_MINUTE`).
//!
//! Each limit is a GCRA (generic cell rate algorithm): `n` a minute, all of
//! which may come at once, then one every `60/n` s. With `REDIS_URL` set the
//! counts live in Redis, so every instance behind a balancer shares them:
//! one Lua script reads and writes a client's count atomically, by Redis's
//! own clock. Without Redis, and whenever Redis fails or takes longer than
//! `REDIS_TIMEOUT_MS`, the `governor` crate counts in this process by the
//! same rule; a warning is logged once per outage, a probe finds Redis again
//! by itself, and no request ever fails because of Redis.
//!
//! Every limited response carries `RateLimit-Limit`, `RateLimit-Remaining`
//! and `RateLimit-Reset` (seconds until the whole allowance is back), the
//! fields of draft-ietf-httpapi-ratelimit-headers-06. Over the limit the
//! answer is 429 problem+json with `Retry-After` in whole seconds.
//!
//! Clients are told apart by their address (IPv6 by /56 prefix): the TCP
//! peer's, or, when the peer is one of `TRUSTED_PROXIES` (a load balancer),
//! the nearest untrusted address in `X-Forwarded-For`. A client cannot
//! spoof that header past a proxy that appends to it, and a client that
//! connects directly has its header ignored.

use std::future::{Ready, ready};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::rt::time::{sleep, timeout};
use actix_web::{HttpRequest, ResponseError};
use anyhow::Context as _;
use futures_util::future::LocalBoxFuture;
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::Instrument as _;

use crate::config::Settings;
use crate::error::ApiError;

/// `RateLimit-Limit`: the requests a client may make in a burst.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: the requests left right now.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the whole allowance is back.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// How often an unavailable Redis is tried again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The key of a rate limit: the client's address.
#[derive(Clone, Debug, Default)]
pub struct ClientIp {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpAddr]>,
}

impl ClientIp {
    /// The client behind a trusted proxy: walking `X-Forwarded-For` from the
    /// right (the entries our own proxies appended), the first address that
    /// is not one of them.
    fn forwarded_client(&self, req: &HttpRequest) -> Option<IpAddr> {
        let hops: Vec<IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|hop| hop.trim().parse().ok())
            .collect();
        hops.into_iter()
            .rev()
            .find(|ip| !self.trusted_proxies.contains(ip))
    }
}

/// IPv6 clients often hold a whole /56: they count as one.
fn prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[7..].fill(0);
            IpAddr::V6(octets.into())
        }
        v4 => v4,
    }
}

impl ClientIp {
    /// The client's address as the limits count it: the TCP peer's, or
    /// behind a trusted proxy the nearest untrusted `X-Forwarded-For` hop;
    /// IPv6 by /56. `None` when the peer is unknown (never over TCP).
    pub fn of(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        let client = if self.trusted_proxies.contains(&peer) {
            self.forwarded_client(req).unwrap_or(peer)
        } else {
            peer
        };
        Some(prefix(client))
    }
}

/// What a limit says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// The limit: requests a minute, and the largest burst.
    pub limit: u32,
    /// Requests the client may still make at once, after this one.
    pub remaining: u32,
    /// Until the client's whole allowance is back.
    pub reset: Duration,
    /// When refused, until the next request would pass; zero otherwise.
    pub retry_after: Duration,
}

/// Whole seconds, rounded up: a client that waits this long gets through.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Decision {
    /// Writes `RateLimit-Limit`, `-Remaining` and `-Reset`. When two limits
    /// apply (register and login are under both), the one nearer to
    /// running out is shown, as the draft asks.
    fn write_headers(&self, headers: &mut HeaderMap) {
        let shown = headers
            .get(&RATELIMIT_REMAINING)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        if shown.is_some_and(|shown| shown <= self.remaining) {
            return;
        }
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(ceil_secs(self.reset)));
    }

    /// The 429 problem+json with `Retry-After` and the `RateLimit-*` fields.
    fn refusal(&self) -> actix_web::HttpResponse {
        let seconds = ceil_secs(self.retry_after).max(1);
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many requests from this address; retry in {seconds} s"),
        )
        .error_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        self.write_headers(res.headers_mut());
        res
    }
}

/// The GCRA in Redis, the same rule `governor` counts by in process.
/// KEYS[1]: the client's key. ARGV[1]: the emission interval in µs (a
/// minute divided by the limit); ARGV[2]: the burst (the limit). The key
/// holds the client's theoretical arrival time (µs by Redis's clock) and
/// expires once it has passed. Returns {allowed, remaining, retry after µs,
/// reset µs}.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
";

/// The shared counts in Redis (`REDIS_URL`), and whether Redis answers.
pub struct RedisStore {
    conn: ConnectionManager,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    up: AtomicBool,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `url` (`redis://[:password@]host:port[/db]`) whose keys
    /// start with `prefix`, each call bounded by `timeout`. Connects on
    /// first use, so the service starts while Redis is down. Needs a Tokio
    /// runtime (the connection's reconnect task runs on it).
    ///
    /// # Errors
    /// A URL the `redis` crate cannot read.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url).context("REDIS_URL is not a Redis URL")?;
        // One attempt per call: while Redis is down, the probe retries, not
        // the requests.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .context("preparing the Redis connection (REDIS_URL)")?;
        ::metrics::gauge!(crate::metrics::RATE_LIMIT_REDIS_UP).set(1.0);
        Ok(Arc::new(Self {
            conn,
            script: redis::Script::new(GCRA_LUA),
            prefix: prefix.to_owned(),
            timeout,
            up: AtomicBool::new(true),
        }))
    }

    /// False from a failed call until the probe reaches Redis again.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// Counts one request of `client` against `limit`/minute under `name`;
    /// `None` when Redis is down, fails or is slow (the caller counts in
    /// process then).
    async fn check(self: &Arc<Self>, name: &str, client: IpAddr, limit: u32) -> Option<Decision> {
        if !self.is_up() {
            return None;
        }
        let key = format!("{}ratelimit:{name}:{client}", self.prefix);
        match self.gcra(key, limit).await {
            Ok((allowed, remaining, retry_us, reset_us)) => {
                let micros = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
                Some(Decision {
                    allowed: allowed == 1,
                    limit,
                    remaining: u32::try_from(remaining).unwrap_or(0),
                    reset: micros(reset_us),
                    retry_after: micros(retry_us),
                })
            }
            Err(why) => {
                self.went_down(&why);
                None
            }
        }
    }

    /// Runs [`GCRA_LUA`] on `key` for `limit` a minute, within the timeout.
    async fn gcra(&self, key: String, limit: u32) -> Result<(i64, i64, i64, i64), String> {
        let interval_us = (60_000_000 / u64::from(limit)).max(1);
        let mut conn = self.conn.clone();
        let mut invocation = self.script.key(key);
        invocation.arg(interval_us).arg(limit);
        let span = redis_span();
        let answer = timeout(self.timeout, invocation.invoke_async(&mut conn))
            .instrument(span.clone())
            .await;
        let answer = match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        if answer.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        answer
    }

    /// The first failure of an outage logs one warning and starts the
    /// probe; later ones (other requests in flight) say nothing.
    fn went_down(self: &Arc<Self>, why: &str) {
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(
                error = why,
                "Redis is unavailable: rate limits are counted in each process until it answers again"
            );
            ::metrics::gauge!(crate::metrics::RATE_LIMIT_REDIS_UP).set(0.0);
            let store = Arc::clone(self);
            actix_web::rt::spawn(async move { store.probe().await });
        }
    }

    /// Every [`PROBE_EVERY`], runs the script on a key of its own (so the
    /// whole path is tried, not just the connection) until it works, then
    /// shares the counts again.
    async fn probe(self: Arc<Self>) {
        let key = format!("{}ratelimit:probe", self.prefix);
        loop {
            sleep(PROBE_EVERY).await;
            if self.gcra(key.clone(), u32::MAX).await.is_ok() {
                self.up.store(true, Ordering::SeqCst);
                ::metrics::gauge!(crate::metrics::RATE_LIMIT_REDIS_UP).set(1.0);
                tracing::info!("Redis answers again: rate limits are shared again");
                return;
            }
        }
    }
}

/// The client span of one rate-limit call (docs/observability.md), or none
/// while tracing is off. The script runs as `EVALSHA` (`EVAL` the first
/// time Redis has not seen it).
fn redis_span() -> tracing::Span {
    if !service::tracecontext::enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        "redis",
        otel.name = "EVALSHA",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = "redis",
        db.system = "redis",
        db.operation.name = "EVALSHA",
    )
}

/// The in-process counts: `governor`'s keyed GCRA.
type LocalLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// One configured limit: `limit` requests a minute per client, all of which
/// may come at once.
#[derive(Clone)]
pub struct Limit {
    name: &'static str,
    limit: u32,
    clients: ClientIp,
    local: Arc<LocalLimiter>,
    redis: Option<Arc<RedisStore>>,
}

impl std::fmt::Debug for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limit")
            .field("name", &self.name)
            .field("limit", &self.limit)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

/// `per_minute` requests a minute per client, all of which may come at
/// once, counted under `name` (`auth`, `general`: part of the Redis key and
/// of the metrics' labels), in `redis` when given; `None` when `per_minute`
/// is 0 (no limit).
pub fn per_minute(
    name: &'static str,
    per_minute: u32,
    clients: ClientIp,
    redis: Option<Arc<RedisStore>>,
) -> Option<Limit> {
    let limit = NonZeroU32::new(per_minute)?;
    let local = RateLimiter::keyed(Quota::per_minute(limit))
        .with_middleware::<StateInformationMiddleware>();
    Some(Limit {
        name,
        limit: per_minute,
        clients,
        local: Arc::new(local),
        redis,
    })
}

impl Limit {
    /// The Redis store this limit counts in, if any.
    pub fn redis(&self) -> Option<&Arc<RedisStore>> {
        self.redis.as_ref()
    }

    /// Counts one request of `client`: in Redis when there is one and it
    /// answers in time, else in process.
    pub async fn check(&self, client: IpAddr) -> Decision {
        let (decision, store) = match &self.redis {
            Some(redis) => match redis.check(self.name, client, self.limit).await {
                Some(decision) => (decision, "redis"),
                None => (self.check_locally(client), "process"),
            },
            None => (self.check_locally(client), "process"),
        };
        let outcome = if decision.allowed {
            "allowed"
        } else {
            "limited"
        };
        ::metrics::counter!(
            crate::metrics::RATE_LIMIT_CHECKS,
            "limit" => self.name, "store" => store, "outcome" => outcome
        )
        .increment(1);
        decision
    }

    fn check_locally(&self, client: IpAddr) -> Decision {
        let interval = Duration::from_secs(60) / self.limit;
        match self.local.check_key(&client) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: self.limit,
                    remaining,
                    reset: interval * (self.limit - remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.local.clock().now());
                Decision {
                    allowed: false,
                    limit: self.limit,
                    remaining: 0,
                    reset: wait + interval * (self.limit - 1),
                    retry_after: wait,
                }
            }
        }
    }
}

/// The middleware that enforces `limit`, or passes everything when it is
/// `None`.
pub fn middleware(limit: Option<Limit>) -> RateLimit {
    RateLimit(limit)
}

/// The rate-limit middleware (see [`middleware`]).
#[derive(Clone, Debug)]
pub struct RateLimit(Option<Limit>);

impl<S, B> Transform<S, ServiceRequest> for RateLimit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RateLimitService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RateLimitService {
            service: Rc::new(service),
            limit: self.0.clone(),
        }))
    }
}

/// The service [`RateLimit`] wraps around the routes it limits.
pub struct RateLimitService<S> {
    service: Rc<S>,
    limit: Option<Limit>,
}

impl<S, B> Service<ServiceRequest> for RateLimitService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let limit = self.limit.clone();
        Box::pin(async move {
            let client = limit
                .as_ref()
                .and_then(|limit| Some((limit, limit.clients.of(req.request())?)));
            let Some((limit, client)) = client else {
                return service.call(req).await.map(|res| res.map_into_left_body());
            };
            let decision = limit.check(client).await;
            if !decision.allowed {
                return Ok(req.into_response(decision.refusal()).map_into_right_body());
            }
            let mut res = service.call(req).await?;
            decision.write_headers(res.headers_mut());
            Ok(res.map_into_left_body())
        })
    }
}

/// The two limits of the service.
#[derive(Clone, Debug, Default)]
pub struct RateLimits {
    /// Register and login.
    pub auth: Option<Limit>,
    /// Every route under `/api/v1`.
    pub general: Option<Limit>,
}

impl RateLimits {
    /// The limits the settings ask for, counted in Redis when `REDIS_URL`
    /// is set. Needs a Tokio runtime when it is.
    ///
    /// # Errors
    /// A `REDIS_URL` that is not a Redis URL.
    pub fn new(settings: &Settings, clients: ClientIp) -> anyhow::Result<Self> {
        let redis = match &settings.redis_url {
            Some(url) => Some(RedisStore::new(
                url,
                &settings.redis_key_prefix,
                Duration::from_millis(settings.redis_timeout_ms.max(1)),
            )?),
            None => None,
        };
        Ok(Self {
            auth: per_minute(
                "auth",
                settings.auth_rate_limit_per_minute,
                clients.clone(),
                redis.clone(),
            ),
            general: per_minute("general", settings.rate_limit_per_minute, clients, redis),
        })
    }

    /// Forgets, once a minute, the addresses whose in-process quota has
    /// refilled, so the limiters' memory tracks recent clients rather than
    /// every client ever seen. Runs until the runtime stops.
    pub fn spawn_cleanup(&self) {
        let limiters: Vec<_> = [&self.auth, &self.general]
            .into_iter()
            .flatten()
            .map(|limit| Arc::clone(&limit.local))
            .collect();
        if limiters.is_empty() {
            return;
        }
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                for limiter in &limiters {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
    }
}
