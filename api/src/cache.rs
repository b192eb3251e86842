//! The HTTP side of the server-side cache ([`service::cache`],
//! docs/conventions.md#server-side-cache): the middleware that settles a
//! request's drops once its writes have committed, and the Redis bridge
//! that carries drops between instances.
//!
//! With `REDIS_URL`, every drop is published (as JSON) on the channel
//! `<REDIS_KEY_PREFIX>cache`, and every instance subscribes to it. An
//! instance reads around its cache from start-up until it has subscribed,
//! and again from the moment it loses the subscription until it has it
//! back; each time the subscription starts, the cache starts empty (drops
//! may have been missed meanwhile). Redis being down never fails a request.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use futures_util::StreamExt as _;
use redis::AsyncCommands as _;
use service::cache::{Cache, Invalidation};
use tokio::sync::mpsc;

use crate::state::AppState;

/// How long the bridge waits before subscribing again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Middleware (`actix_web::middleware::from_fn`): a request that may write
/// runs with its drops collected; once its handler has answered (its
/// transaction committed), they are applied again and published
/// ([`Cache::settle`]). Safe methods pass straight through.
pub async fn settle_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.call(req).await;
    }
    let cache = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.ctx.cache.clone())
        .filter(Cache::is_on);
    let Some(cache) = cache else {
        return next.call(req).await;
    };
    let (response, dropped) = service::cache::collect(next.call(req)).await;
    cache.settle(dropped);
    response
}

/// The channel drops travel on, under `prefix`.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}cache")
}

/// Starts the bridge between `cache` and Redis at `url`: a task that
/// publishes this instance's drops and one that applies the others'.
/// Suspends the cache until the subscription is up. Needs a Tokio runtime.
///
/// # Errors
/// A URL the `redis` crate cannot read.
pub fn spawn_bridge(cache: &Cache, url: &str, prefix: &str) -> anyhow::Result<()> {
    if !cache.is_on() {
        return Ok(());
    }
    let client = redis::Client::open(url)?;
    let channel = channel(prefix);
    cache.suspend();
    let (tx, rx) = mpsc::unbounded_channel();
    cache.set_publisher(tx);
    tokio::spawn(publish(client.clone(), channel.clone(), rx));
    tokio::spawn(subscribe(client, channel, cache.clone()));
    Ok(())
}

/// Sends each drop as it comes. While Redis is down the drops are lost,
/// which is safe: every instance's subscription is down too, and each
/// empties its cache when it subscribes again.
async fn publish(
    client: redis::Client,
    channel: String,
    mut rx: mpsc::UnboundedReceiver<Invalidation>,
) {
    let mut conn = None;
    while let Some(invalidation) = rx.recv().await {
        let Ok(message) = serde_json::to_string(&invalidation) else {
            continue;
        };
        // A connection that broke while idle (Redis restarted) fails the
        // first send: connect again and send once more.
        for _ in 0..2 {
            if conn.is_none() {
                conn = client.get_multiplexed_async_connection().await.ok();
            }
            let Some(c) = conn.as_mut() else { break };
            let sent: redis::RedisResult<i64> = c.publish(&channel, &message).await;
            match sent {
                Ok(_) => {
                    metrics::counter!(service::cache::DROPS_PUBLISHED).increment(1);
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "could not publish a cache drop");
                    conn = None;
                }
            }
        }
    }
}

/// Subscribes, applies what arrives, and on losing the subscription
/// suspends the cache and tries again.
async fn subscribe(client: redis::Client, channel: String, cache: Cache) {
    let mut lost_logged = false;
    loop {
        match listen(&client, &channel, &cache).await {
            Ok(()) => {
                tracing::warn!(
                    "lost the cache's Redis subscription: reading from the database until it is back"
                );
                lost_logged = false;
            }
            Err(e) if !lost_logged => {
                tracing::warn!(error = %e, "cannot subscribe to the cache's Redis channel: reading from the database until it can");
                lost_logged = true;
            }
            Err(_) => {}
        }
        cache.suspend();
        tokio::time::sleep(RETRY).await;
    }
}

/// One subscription: returns when it ends.
async fn listen(client: &redis::Client, channel: &str, cache: &Cache) -> redis::RedisResult<()> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    cache.resume();
    tracing::info!(channel, "cache drops travel through Redis");
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload: String = match message.get_payload() {
            Ok(payload) => payload,
            Err(_) => continue,
        };
        match serde_json::from_str::<Invalidation>(&payload) {
            Ok(invalidation) => cache.apply(&invalidation),
            Err(e) => tracing::warn!(error = %e, "ignoring a cache message that does not parse"),
        }
    }
    Ok(())
}
