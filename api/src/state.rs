//! What every request handler shares.

use std::sync::Arc;

use anyhow::Context as _;
use rand::Rng as _;
use sea_orm::DatabaseConnection;
use service::accounts::{self, PasswordHasher, UserCreate};
use service::mail::Mailer;
use service::{Clock, Context, Lifetimes};

use crate::auth::JwtKeys;
use crate::config::Settings;
use crate::limits::{self, RateLimits};

/// Shared state: the service context (database, hasher, clock), the token
/// keys and the settings.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Context,
    pub jwt: Arc<JwtKeys>,
    pub settings: Arc<Settings>,
    /// The per-address rate limits, shared by every worker.
    pub limits: RateLimits,
    /// How a client's address is told (trusted proxies), for the limits and
    /// for the idempotency keys of callers with no account.
    pub clients: limits::ClientIp,
    /// Set on SIGTERM while the service drains (see `shutdown`).
    pub draining: crate::shutdown::Draining,
    /// This instance's metrics (`/metrics`), where other modules register
    /// gauges read at each scrape.
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// Connects, runs pending migrations (under a lock on PostgreSQL, see
    /// [`crate::migrate`]), prepares the hasher, keys, rate limits and
    /// metrics, and creates the first admin from `FIRST_ADMIN_*` when no user
    /// has that name. Several instances may start together on one database.
    ///
    /// # Errors
    /// A `JWT_SECRET` under 32 bytes; a database that cannot be opened or
    /// migrated; a `REDIS_URL` that is not a Redis URL; first-admin settings
    /// that break the account rules.
    pub async fn init(settings: Settings) -> anyhow::Result<Self> {
        Self::init_with_clock(settings, Clock::system()).await
    }

    /// [`AppState::init`] with a given clock (tests move it forward to see
    /// expiries).
    ///
    /// # Errors
    /// As [`AppState::init`].
    pub async fn init_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let secret = jwt_secret(&settings)?;
        settings.cors_allowed_origins = settings
            .cors_allowed_origins
            .iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        check_origins(&settings.cors_allowed_origins)?;
        let db = connect(&settings).await?;
        crate::migrate::up(&settings, &db).await?;
        let hasher = PasswordHasher::new(settings.bcrypt_cost).await?;
        let metrics = crate::metrics::Metrics::new(&db);
        let clients = limits::ClientIp {
            trusted_proxies: settings.trusted_proxies.clone().into(),
        };
        let mailer = Mailer::new(&settings.mail()).context("mail settings")?;
        let lifetimes = Lifetimes {
            refresh_token: std::time::Duration::from_secs(settings.refresh_token_ttl),
            password_reset: std::time::Duration::from_secs(settings.password_reset_ttl),
        };
        let state = Self {
            ctx: Context {
                db: db.into(),
                hasher,
                clock,
                mailer: Arc::new(mailer),
                lifetimes,
                storage: service::storage::Storage::open(&settings.storage_url)
                    .context("storage settings (STORAGE_URL)")?,
                cache: service::cache::Cache::new(settings.cache_ttl(), settings.cache_max_entries),
            },
            jwt: Arc::new(JwtKeys::new(&secret, settings.access_token_ttl)),
            limits: RateLimits::new(&settings, clients.clone())?,
            clients,
            settings: Arc::new(settings),
            draining: Default::default(),
            metrics,
        };
        if let Some(url) = state
            .settings
            .redis_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            crate::cache::spawn_bridge(&state.ctx.cache, url, &state.settings.redis_key_prefix)
                .context("REDIS_URL is not a Redis URL")?;
        }
        let ctx = state.ctx.clone();
        state
            .metrics
            .register_gauge(crate::metrics::OUTBOX_BACKLOG, move || {
                let ctx = ctx.clone();
                async move { service::mail::backlog(&ctx.db).await.ok().map(|n| n as f64) }
            });
        state.ensure_first_admin().await?;
        Ok(state)
    }

    /// The state one HTTP worker serves with; call it in the worker's
    /// factory (`HttpServer::new(move || api::app(state.for_worker()))`).
    ///
    /// On PostgreSQL the worker gets a pool of its own
    /// ([`Settings::worker_pool`]), opened lazily from its own thread, so
    /// each connection's socket is watched by the event loop of the worker
    /// that queries it: a shared pool hands a worker connections another
    /// thread opened, and each answer then wakes that thread first. The
    /// pool's gauges join the others on `/metrics`. SQLite keeps the one
    /// pool (its connections run on threads of their own, and an
    /// in-memory database cannot be opened twice).
    pub fn for_worker(&self) -> Self {
        if !self.settings.is_postgres() {
            return self.clone();
        }
        match service::db::connect_lazy(&self.settings.database_url, &self.settings.worker_pool()) {
            Ok(db) => {
                self.metrics.add_pool(&db);
                let mut state = self.clone();
                state.ctx.db = db.into();
                state
            }
            Err(e) => {
                tracing::warn!(error = %e, "a worker's own pool could not be made; it shares the first");
                self.clone()
            }
        }
    }

    async fn ensure_first_admin(&self) -> anyhow::Result<()> {
        let s = &self.settings;
        let (Some(username), Some(email), Some(password)) = (
            s.first_admin_username.clone(),
            s.first_admin_email.clone(),
            s.first_admin_password.clone(),
        ) else {
            if s.first_admin_username.is_some()
                || s.first_admin_email.is_some()
                || s.first_admin_password.is_some()
            {
                tracing::warn!(
                    "FIRST_ADMIN_USERNAME, FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD must all be set; no admin created"
                );
            }
            return Ok(());
        };
        let input = UserCreate {
            username,
            email,
            password,
        };
        match accounts::ensure_admin(&self.ctx, input).await {
            Ok(Some(admin)) => {
                tracing::info!(username = %admin.username, "created the first admin")
            }
            Ok(None) => {}
            Err(e) => anyhow::bail!("FIRST_ADMIN_* settings: {e:?}"),
        }
        Ok(())
    }
}

/// Opens the database named in the settings, creating an SQLite file's folder.
///
/// # Errors
/// When the folder cannot be made or the database cannot be opened.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    if let Some(dir) = settings.sqlite_dir() {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    service::db::connect(&settings.database_url, &settings.pool())
        .await
        .context("opening the database (DATABASE_URL)")
}

fn jwt_secret(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    match &settings.jwt_secret {
        Some(secret) if secret.len() >= 32 => Ok(secret.as_bytes().to_vec()),
        Some(_) => anyhow::bail!("JWT_SECRET must be at least 32 bytes long"),
        None => {
            tracing::warn!(
                "JWT_SECRET is not set: using a random secret; tokens will not survive a restart"
            );
            let mut bytes = vec![0u8; 64];
            rand::rng().fill(bytes.as_mut_slice());
            Ok(bytes)
        }
    }
}

/// Each CORS origin must be `scheme://host[:port]`: actix-cors would panic on
/// anything else, so the service refuses to start instead.
fn check_origins(origins: &[String]) -> anyhow::Result<()> {
    for origin in origins {
        let uri: actix_web::http::Uri = origin
            .parse()
            .with_context(|| format!("CORS_ALLOWED_ORIGINS: {origin:?} is not a URL"))?;
        let bare = uri.path() == "/" && !origin.ends_with('/') && uri.query().is_none();
        if uri.scheme().is_none() || uri.host().is_none() || !bare {
            anyhow::bail!(
                "CORS_ALLOWED_ORIGINS: {origin:?} must look like https://app.example.com"
            );
        }
    }
    Ok(())
}
