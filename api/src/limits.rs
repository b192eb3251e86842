//! Per-client rate limits (docs/conventions.md#rate-limits), with `actix-governor`:
//! a strict one on register and login (`AUTH_RATE_LIMIT_PER_MINUTE`) and a
//! generous one on every route (`RATE_LIMIT_PER_MINUTE`). Over the limit the
//! answer is 429 problem+json with `Retry-After` in whole seconds.
//!
//! Clients are told apart by their address (IPv6 by /56 prefix): the TCP
//! peer's, or, when the peer is one of `TRUSTED_PROXIES` (a load balancer),
//! the nearest untrusted address in `X-Forwarded-For`. A client cannot
//! spoof that header past a proxy that appends to it, and a client that
//! connects directly has its header ignored.

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, PeerIpKeyExtractor,
    SimpleKeyExtractionError,
};
use std::net::IpAddr;
use std::sync::Arc;

use actix_governor::Governor;
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_web::dev::ServiceRequest;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Condition;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};

use crate::error::ApiError;

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

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        match self.of(req.request()) {
            Some(ip) => Ok(ip),
            None => PeerIpKeyExtractor.extract(req),
        }
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        // Whole seconds, rounded up: a client that waits this long gets through.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many requests from this address; retry in {seconds} s"),
        )
        .error_response();
        let headers = res.headers_mut();
        headers.insert(header::RETRY_AFTER, seconds.into());
        res
    }
}

/// A configured limit.
pub type Limit =
    GovernorConfig<ClientIp, actix_governor::governor::middleware::NoOpMiddleware<QuantaInstant>>;

/// `per_minute` requests a minute per client, all of which may come at once;
/// `None` when `per_minute` is 0 (no limit).
pub fn per_minute(per_minute: u32, clients: ClientIp) -> Option<Limit> {
    if per_minute == 0 {
        return None;
    }
    GovernorConfigBuilder::default()
        .requests_per_minute(u64::from(per_minute))
        .burst_size(per_minute)
        .key_extractor(clients)
        .finish()
}

/// The middleware that enforces `limit`, or passes everything when it is
/// `None`. (`Condition` needs a middleware either way; the stand-in limit is
/// never consulted.)
pub fn middleware(
    limit: Option<Limit>,
) -> Condition<Governor<ClientIp, NoOpMiddleware<QuantaInstant>>> {
    let enabled = limit.is_some();
    let limit = limit
        .or_else(|| per_minute(1, ClientIp::default()))
        .expect("a limit of 1 a minute is valid");
    Condition::new(enabled, Governor::new(&limit))
}

/// The two limits of the service.
#[derive(Clone, Default)]
pub struct RateLimits {
    /// Register and login.
    pub auth: Option<Limit>,
    /// Every route.
    pub general: Option<Limit>,
}

impl RateLimits {
    /// Forgets, once a minute, the addresses whose quota has refilled, so the
    /// limiters' memory tracks recent clients rather than every client ever
    /// seen. Runs until the runtime stops.
    pub fn spawn_cleanup(&self) {
        let limiters: Vec<_> = [&self.auth, &self.general]
            .into_iter()
            .flatten()
            .map(Limit::limiter)
            .collect();
        if limiters.is_empty() {
            return;
        }
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(60));
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
