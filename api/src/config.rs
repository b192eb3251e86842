//! Configuration: environment variables (a `.env` file is read first when
//! present) and command-line flags that mirror them (README.md#settings).

use clap::{Args, Parser, Subcommand};

/// The JWT secret the test harness signs with; never used outside tests.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// How the uploads folder [`Settings::for_tests`] makes up for each test app
/// begins (in the temp dir, followed by a random id).
pub const TEST_UPLOADS_PREFIX: &str = "owned-api-test-uploads-";

/// The command line: global settings, then an optional subcommand (`serve`
/// when none is given).
#[derive(Debug, Parser)]
#[command(
    name = "owned-api",
    version,
    about = "A REST API of user-owned resources: accounts, a blog, a cleaning-jobs marketplace and a programming-languages catalogue."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run pending migrations and serve HTTP (the default).
    Serve,
    /// Apply or inspect migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Create an admin account.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read from ADMIN_PASSWORD when not given, so it stays out of shell history.
        #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Print the OpenAPI document to stdout.
    Openapi,
    /// Ask this instance's `GET /health` (on HOST and PORT; `0.0.0.0` means
    /// loopback) and exit 0 when it answers 200, 1 otherwise: a container's
    /// HEALTHCHECK without curl in the image.
    Health {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
        timeout: u64,
    },
}

/// `migrate` actions.
#[derive(Clone, Copy, Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last applied migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

/// Every setting of the service.
#[derive(Clone, Debug, Args)]
pub struct Settings {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1", global = true)]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080, global = true)]
    pub port: u16,
    /// `sqlite://path/file.db` or `postgres://user@host/db`. The default keeps
    /// an SQLite file under ./data/ (the folder is created).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/app.db",
        global = true
    )]
    pub database_url: String,
    /// HS256 signing secret, at least 32 bytes. Absent: a random one per
    /// process (tokens do not survive a restart).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    pub jwt_secret: Option<String>,
    /// Access token lifetime in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 3600, global = true)]
    pub access_token_ttl: u64,
    /// bcrypt cost factor (4–31); each step doubles the time a hash takes.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12, value_parser = clap::value_parser!(u32).range(4..=31), global = true)]
    pub bcrypt_cost: u32,
    /// Username of the admin created at start-up when no user has it.
    #[arg(long, env = "FIRST_ADMIN_USERNAME", global = true)]
    pub first_admin_username: Option<String>,
    /// E-mail of that admin.
    #[arg(long, env = "FIRST_ADMIN_EMAIL", global = true)]
    pub first_admin_email: Option<String>,
    /// Password of that admin.
    #[arg(
        long,
        env = "FIRST_ADMIN_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub first_admin_password: Option<String>,
    /// Most database connections open at once. On PostgreSQL, two serve
    /// start-up and background work and each HTTP worker has an even share
    /// of the rest (at least one) in a pool of its own. The default 12
    /// leaves requests 10, the common size of a server's one pool (sqlx's
    /// own default).
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 12, global = true)]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before it gets 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", default_value_t = 3, global = true)]
    pub db_acquire_timeout: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Register and login requests per minute per client address (0: no limit).
    #[arg(
        long,
        env = "AUTH_RATE_LIMIT_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    pub auth_rate_limit_per_minute: u32,
    /// Requests per minute per client address on every route (0: no limit).
    #[arg(
        long,
        env = "RATE_LIMIT_PER_MINUTE",
        default_value_t = 6000,
        global = true
    )]
    pub rate_limit_per_minute: u32,
    /// Addresses of proxies (load balancers) whose `X-Forwarded-For` names the
    /// client for rate limiting, comma-separated; none by default.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Origins allowed by CORS, comma-separated (`https://app.example.com`); none by default.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allowed_origins: Vec<String>,
    /// Log format: `text` (human-readable) or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value_t = 30, global = true)]
    pub shutdown_timeout: u64,
    /// Seconds of draining after SIGTERM before the listener closes: requests
    /// are still served, with `Connection: close`, and `/ready` is 503.
    #[arg(long, env = "SHUTDOWN_DRAIN", default_value_t = 1, global = true)]
    pub shutdown_drain: u64,
    /// SQL statements slower than this many milliseconds are logged (as warnings).
    #[arg(long, env = "SLOW_QUERY_MS", default_value_t = 500, global = true)]
    pub slow_query_ms: u64,
    /// Refresh token lifetime in seconds (default 30 days).
    #[arg(
        long,
        env = "REFRESH_TOKEN_TTL",
        default_value_t = 2_592_000,
        global = true
    )]
    pub refresh_token_ttl: u64,
    /// Password-reset link lifetime in seconds.
    #[arg(
        long,
        env = "PASSWORD_RESET_TTL",
        default_value_t = 3600,
        global = true
    )]
    pub password_reset_ttl: u64,
    /// Where mail goes: `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465` (TLS). Unset: mail is written as
    /// `.eml` files into MAIL_DIR.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// The sender of every mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "no-reply@localhost",
        global = true
    )]
    pub mail_from: String,
    /// Where mail is written when SMTP_URL is unset (created when missing).
    #[arg(long, env = "MAIL_DIR", default_value = "data/mail", global = true)]
    pub mail_dir: std::path::PathBuf,
    /// The service's public address, for links in mail (default `http://{HOST}:{PORT}`).
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Longest wait, in seconds, between two attempts to deliver a mail.
    #[arg(
        long,
        env = "MAIL_RETRY_MAX_DELAY",
        default_value_t = 300,
        global = true
    )]
    pub mail_retry_max_delay: u64,
    /// Attempts before a mail the server rejects for good (5xx) is given up.
    #[arg(long, env = "MAIL_MAX_ATTEMPTS", default_value_t = 10, global = true)]
    pub mail_max_attempts: u32,
    /// How often, in milliseconds, an idle mail worker looks for due mail.
    #[arg(
        long,
        env = "MAIL_POLL_INTERVAL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub mail_poll_interval_ms: u64,
    /// Where uploaded files live: `file://<folder>` or `s3://<bucket>/<prefix>`
    /// (credentials and endpoint from the usual AWS_* variables).
    #[arg(
        long,
        env = "STORAGE_URL",
        default_value = "file://./data/uploads",
        global = true
    )]
    pub storage_url: String,
    /// Redis that holds the rate limits' counts, shared by every instance
    /// (`redis://[:password@]host:port[/db]`); unset, each process counts alone.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, global = true)]
    pub redis_url: Option<String>,
    /// Prefix of the rate limits' keys in Redis, so several deployments can
    /// share one Redis.
    #[arg(
        long,
        env = "REDIS_KEY_PREFIX",
        default_value = "owned-api:",
        global = true
    )]
    pub redis_key_prefix: String,
    /// Milliseconds a rate-limit call to Redis may take; slower or failing,
    /// the request is counted in this process instead.
    #[arg(long, env = "REDIS_TIMEOUT_MS", default_value_t = 250, global = true)]
    pub redis_timeout_ms: u64,
    /// Seconds a cached row or first page is kept at most; 0 turns the cache
    /// off. Default: 60 on SQLite or with REDIS_URL (writes on other
    /// instances reach this one's cache through Redis), 0 on PostgreSQL
    /// without Redis.
    #[arg(long, env = "CACHE_TTL", global = true)]
    pub cache_ttl: Option<u64>,
    /// Entries the cache holds at most; the least recently used go first.
    #[arg(
        long,
        env = "CACHE_MAX_ENTRIES",
        default_value_t = 10_000,
        global = true
    )]
    pub cache_max_entries: u64,
    /// OTLP/HTTP collector to send traces to (`http://collector:4318`; spans
    /// go to `<endpoint>/v1/traces`). Unset: no traces are made or sent
    /// (docs/observability.md).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", global = true)]
    pub otel_exporter_otlp_endpoint: Option<String>,
    /// The `service.name` of the traces.
    #[arg(
        long,
        env = "OTEL_SERVICE_NAME",
        default_value = "owned-api",
        global = true
    )]
    pub otel_service_name: String,
    /// More resource attributes of the traces, `key=value` pairs separated by
    /// commas (`deployment.environment.name=prod,service.version=1.2`).
    #[arg(long, env = "OTEL_RESOURCE_ATTRIBUTES", global = true)]
    pub otel_resource_attributes: Option<String>,
}

/// On PostgreSQL, the most connections the pool for start-up and background
/// work holds (see [`Settings::pool`]).
const BACKGROUND_CONNECTIONS: u32 = 2;

impl Settings {
    /// Settings for the test suite: cheap bcrypt, a fixed secret, no rate
    /// limits, and a first admin `admin` / `admin@example.com` / `AdminPass1`.
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            database_url: database_url.into(),
            jwt_secret: Some(TEST_JWT_SECRET.into()),
            access_token_ttl: 3600,
            bcrypt_cost: 4,
            first_admin_username: Some("admin".into()),
            first_admin_email: Some("admin@example.com".into()),
            first_admin_password: Some("AdminPass1".into()),
            db_max_connections: 5,
            db_acquire_timeout: 5,
            workers: Some(1),
            auth_rate_limit_per_minute: 0,
            rate_limit_per_minute: 0,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            log_format: "text".into(),
            shutdown_timeout: 5,
            shutdown_drain: 0,
            slow_query_ms: 500,
            refresh_token_ttl: 2_592_000,
            password_reset_ttl: 3600,
            smtp_url: None,
            mail_from: "no-reply@localhost".into(),
            mail_dir: std::env::temp_dir().join("owned-api-test-mail"),
            public_url: Some("http://127.0.0.1:8080".into()),
            mail_retry_max_delay: 300,
            mail_max_attempts: 10,
            mail_poll_interval_ms: 50,
            storage_url: format!(
                "file://{}",
                std::env::temp_dir()
                    .join(format!(
                        "{TEST_UPLOADS_PREFIX}{}",
                        uuid::Uuid::new_v4().simple()
                    ))
                    .display()
            ),
            redis_url: None,
            redis_key_prefix: "owned-api:".into(),
            redis_timeout_ms: 250,
            cache_ttl: None,
            cache_max_entries: 10_000,
            otel_exporter_otlp_endpoint: None,
            otel_service_name: "owned-api".into(),
            otel_resource_attributes: None,
        }
    }

    /// The cache's lifetime for an entry: `CACHE_TTL`, or its default (60 s
    /// on SQLite or with Redis, 0 = off on PostgreSQL without Redis, where
    /// another instance's writes would go unseen).
    pub fn cache_ttl(&self) -> std::time::Duration {
        let shared = self
            .redis_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty());
        let default = if self.database_url.starts_with("sqlite:") || shared {
            60
        } else {
            0
        };
        std::time::Duration::from_secs(self.cache_ttl.unwrap_or(default))
    }

    /// The mail settings for [`service::mail::Mailer`].
    pub fn mail(&self) -> service::mail::MailSettings {
        service::mail::MailSettings {
            smtp_url: self.smtp_url.clone().filter(|u| !u.trim().is_empty()),
            dir: self.mail_dir.clone(),
            from: self.mail_from.clone(),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}:{}", self.host, self.port)),
            retry_max_delay: std::time::Duration::from_secs(self.mail_retry_max_delay.max(1)),
            max_attempts: self.mail_max_attempts.max(1),
            poll_interval: std::time::Duration::from_millis(self.mail_poll_interval_ms.max(10)),
        }
    }

    /// The pool settings for [`service::db::connect`]: the pool the
    /// service starts with. On SQLite it is the only one and holds up to
    /// `DB_MAX_CONNECTIONS`. On PostgreSQL it serves start-up and the
    /// background work (mail, housekeeping, gauges) with at most two
    /// connections, and each HTTP worker gets a pool of its own
    /// ([`Settings::worker_pool`]).
    pub fn pool(&self) -> service::db::PoolSettings {
        let max = self.db_max_connections.max(1);
        service::db::PoolSettings {
            max_connections: if self.is_postgres() {
                max.min(BACKGROUND_CONNECTIONS)
            } else {
                max
            },
            acquire_timeout: std::time::Duration::from_secs(self.db_acquire_timeout.max(1)),
            slow_query: std::time::Duration::from_millis(self.slow_query_ms),
        }
    }

    /// On PostgreSQL, the pool of each HTTP worker: an even share of what
    /// `DB_MAX_CONNECTIONS` leaves after [`Settings::pool`], at least one.
    /// The instance so opens at most `DB_MAX_CONNECTIONS` (when it is at
    /// least two plus the number of workers). With the default 12 and two
    /// workers: 2 for background work and 5 per worker.
    pub fn worker_pool(&self) -> service::db::PoolSettings {
        let shared = self.pool().max_connections;
        let rest = self.db_max_connections.max(1).saturating_sub(shared);
        let workers = u32::try_from(self.worker_count()).unwrap_or(u32::MAX);
        service::db::PoolSettings {
            max_connections: (rest / workers).max(1),
            ..self.pool()
        }
    }

    /// HTTP worker threads: `WORKERS`, else one per core (actix-web's own
    /// default).
    pub fn worker_count(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
            .max(1)
    }

    /// Whether `DATABASE_URL` names PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        service::db::is_postgres(&self.database_url)
    }

    /// For an SQLite file URL, the folder the file goes in.
    pub fn sqlite_dir(&self) -> Option<std::path::PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let path = rest
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or("");
        if path.is_empty() || path.contains(":memory:") {
            return None;
        }
        std::path::Path::new(path)
            .parent()
            .map(std::path::Path::to_path_buf)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn postgres_connections_are_split_between_background_work_and_each_worker() {
        let sizes = |url: &str, max: u32, workers: usize| {
            let mut s = Settings::for_tests(url);
            s.db_max_connections = max;
            s.workers = Some(workers);
            (s.pool().max_connections, s.worker_pool().max_connections)
        };
        let pg = "postgres://postgres@127.0.0.1:5432/x";
        // 2 + 2 × 5 = 12: the instance stays within DB_MAX_CONNECTIONS.
        assert_eq!(sizes(pg, 12, 2), (2, 5));
        assert_eq!(sizes(pg, 10, 2), (2, 4));
        assert_eq!(sizes(pg, 5, 1), (2, 3));
        assert_eq!(sizes(pg, 7, 2), (2, 2));
        // Too few to split: every worker still gets one.
        assert_eq!(sizes(pg, 1, 2), (1, 1));
        assert_eq!(sizes(pg, 3, 4), (2, 1));
        // SQLite keeps one pool of the whole size.
        assert_eq!(sizes("sqlite::memory:", 10, 2).0, 10);
    }

    #[test]
    fn help_lists_the_opentelemetry_settings_with_their_variables() {
        let help = Cli::command().render_long_help().to_string();
        for name in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_SERVICE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES",
        ] {
            assert!(help.contains(name), "{name} missing from --help");
        }
        assert!(help.contains("[default: owned-api]"), "{help}");
    }
}
