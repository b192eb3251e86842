//! Per-client rate limits (API.md section 2; issue 5), with `actix-governor`:
//! a strict one on register and login (`AUTH_RATE_LIMIT_PER_MINUTE`) and a
//! generous one on every route (`RATE_LIMIT_PER_MINUTE`). Over the limit the
//! answer is 429 problem+json with `Retry-After` in whole seconds.
//!
//! Clients are told apart by the peer address (IPv6 by /56 prefix). Behind a
//! load balancer every client shares its address; see the README.

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, PeerIpKeyExtractor,
    SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};

use crate::error::ApiError;

/// The key of a rate limit: the client's address.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp;

impl KeyExtractor for ClientIp {
    type Key = std::net::IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        PeerIpKeyExtractor.extract(req)
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
pub fn per_minute(per_minute: u32) -> Option<Limit> {
    if per_minute == 0 {
        return None;
    }
    GovernorConfigBuilder::default()
        .requests_per_minute(u64::from(per_minute))
        .burst_size(per_minute)
        .key_extractor(ClientIp)
        .finish()
}

/// The two limits of the service.
#[derive(Clone, Default)]
pub struct RateLimits {
    /// Register and login.
    pub auth: Option<Limit>,
    /// Every route.
    pub general: Option<Limit>,
}
