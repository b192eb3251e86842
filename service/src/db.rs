//! Connecting to SQLite or PostgreSQL with settings fit for serving.

use std::time::Duration;

use futures_util::FutureExt as _;
use log::LevelFilter;

use sea_orm::sea_query::Values;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{AccessMode, IsolationLevel, Statement, TransactionError};
use sea_orm::{ConnAcquireErr, ExecResult, QueryResult, RuntimeErr};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm::{DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use sea_query_sqlx::SqlxValues;
use tracing::Instrument as _;

use crate::ServiceError;

/// A connection or a transaction: what service functions that read or write
/// take, so the caller decides whether several calls share one transaction.
/// A function that needs several statements to be atomic opens its own
/// transaction from it ([`begin_write`]), which inside a caller's
/// transaction is a savepoint.
pub trait Conn: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T> Conn for T where T: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

/// The connection pool, as the service holds it ([`crate::Context::db`]):
/// SeaORM's `DatabaseConnection`, whose statements run on the pool's
/// sqlx driver directly.
///
/// Why: SeaORM builds each statement and maps each row, and that stays as
/// it is; but between the two, its `DatabaseConnection` passes a statement
/// through three boxed `async` layers and two `tracing` wrappers before
/// sqlx sees it, and moves each layer's large future into the next. That
/// was most of the difference between a create here and the same two
/// statements in bare sqlx (docs/performance.md#one-layer-from-seaorm-to-sqlx).
/// Here a statement takes one layer: a pooled connection, the statement
/// with its values bound, one span.
///
/// What does not change: the pool and its settings (slow statements are
/// logged by sqlx as before), the errors (the same [`DbErr`] variants
/// SeaORM gives: [`DbErr::ConnectionAcquire`] when no connection comes,
/// [`DbErr::Query`] or [`DbErr::Exec`] when the statement fails), and the
/// span of each statement, named and shaped as SeaORM's
/// (`sea_orm.query_one` … with `db.system`, `db.operation`,
/// `db.statement`, the status), which the traces rename
/// (docs/observability.md). Transactions are SeaORM's own: `begin` and
/// the rest of [`TransactionTrait`] hand over to it. `Deref` gives the
/// `DatabaseConnection` for what only it has (`ping`, the sqlx pool's
/// statistics).
#[derive(Clone, Debug)]
pub struct Pool(DatabaseConnection);

impl From<DatabaseConnection> for Pool {
    fn from(db: DatabaseConnection) -> Self {
        Self(db)
    }
}

impl std::ops::Deref for Pool {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.0
    }
}

/// One statement on the sqlx pool that `$pool` (a [`Pool`]) holds for
/// `$backend`, as SeaORM's drivers run it: a connection first (its errors
/// are acquire errors), then `$run` with `$query` (the statement with
/// SeaORM's values bound) and `$conn` (the connection). `$run` is written
/// once and compiled for each driver; `$other` answers for a backend the
/// service does not run on.
///
/// The pool's `acquire` future is boxed: it holds all the state of opening
/// a new connection, several kilobytes, and unboxed it made every future
/// that awaits it as large, copied whole each time one is moved (into the
/// statement's span, into `async_trait`'s box): about 18 000 instructions
/// of `memcpy` per statement (callgrind).
macro_rules! on_pool {
    ($pool:expr, $backend:expr, $stmt:expr, |$query:ident, $conn:ident| $run:expr, else $other:expr) => {
        match $backend {
            DbBackend::Postgres => {
                on_pool!(@run $pool.0.get_postgres_connection_pool(), $stmt, |$query, $conn| $run)
            }
            DbBackend::Sqlite => {
                on_pool!(@run $pool.0.get_sqlite_connection_pool(), $stmt, |$query, $conn| $run)
            }
            _ => return $other,
        }
    };
    (@run $sqlx_pool:expr, $stmt:expr, |$query:ident, $conn:ident| $run:expr) => {{
        let Statement { sql, values, .. } = $stmt;
        let values = SqlxValues(values.unwrap_or(Values(Vec::new())));
        let mut $conn = Box::pin($sqlx_pool.acquire())
            .await
            .map_err(acquire_error)?;
        let $query = sea_orm::sqlx::query_with(sea_orm::sqlx::AssertSqlSafe(sql), values);
        $run
    }};
}

impl Pool {
    /// Closes the pool's connections.
    ///
    /// # Errors
    /// As SeaORM's `DatabaseConnection::close`.
    pub async fn close(self) -> Result<(), DbErr> {
        self.0.close().await
    }

    /// The statement's first row, if any.
    ///
    /// # Errors
    /// [`DbErr::ConnectionAcquire`] or [`DbErr::Conn`] when no connection
    /// comes; [`DbErr::Query`] when the statement fails.
    pub async fn fetch_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let backend = self.0.get_database_backend();
        let span = statement_span("sea_orm.query_one", backend, &stmt.sql);
        let run = async {
            let row = on_pool!(self, backend, stmt, |q, c| {
                q.fetch_optional(&mut *c)
                    .await
                    .map(|r| r.map(QueryResult::from))
            }, else self.0.query_one_raw(stmt).await);
            row.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))
        };
        finish(&span, run.instrument(span.clone()).await)
    }

    /// Every row of the statement.
    ///
    /// # Errors
    /// As [`Pool::fetch_one`].
    pub async fn fetch_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let backend = self.0.get_database_backend();
        let span = statement_span("sea_orm.query_all", backend, &stmt.sql);
        let run = async {
            let rows = on_pool!(self, backend, stmt, |q, c| {
                q.fetch_all(&mut *c)
                    .await
                    .map(|r| r.into_iter().map(QueryResult::from).collect())
            }, else self.0.query_all_raw(stmt).await);
            rows.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))
        };
        finish(&span, run.instrument(span.clone()).await)
    }

    /// Runs a statement that returns no rows.
    ///
    /// # Errors
    /// As [`Pool::fetch_one`], with [`DbErr::Exec`] when the statement fails.
    pub async fn run(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let backend = self.0.get_database_backend();
        let span = statement_span("sea_orm.execute", backend, &stmt.sql);
        let run = async {
            let done = on_pool!(self, backend, stmt, |q, c| {
                q.execute(&mut *c).await.map(ExecResult::from)
            }, else self.0.execute_raw(stmt).await);
            done.map_err(|e| DbErr::Exec(RuntimeErr::SqlxError(e.into())))
        };
        finish(&span, run.instrument(span.clone()).await)
    }
}

/// What SeaORM makes of an error while acquiring a connection.
fn acquire_error(e: sea_orm::sqlx::Error) -> DbErr {
    match e {
        sea_orm::sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sea_orm::sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
        }
        other => DbErr::Conn(RuntimeErr::SqlxError(other.into())),
    }
}

/// The span of one statement, with the fields of SeaORM's own (its
/// `tracing-spans` feature), so that traces show every statement alike
/// whichever path ran it. Target `service::db`, level INFO.
fn statement_span(name: &'static str, backend: DbBackend, sql: &str) -> tracing::Span {
    let system = match backend {
        DbBackend::Postgres => "postgresql",
        DbBackend::Sqlite => "sqlite",
        _ => "mysql",
    };
    let first = sql.split_whitespace().next().unwrap_or("");
    let operation = ["SELECT", "INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .find(|op| first.eq_ignore_ascii_case(op))
        .unwrap_or("EXECUTE");
    tracing::info_span!(
        target: "service::db",
        "sql",
        otel.name = name,
        otel.kind = "client",
        db.system = system,
        db.operation = operation,
        db.statement = sql,
        otel.status_code = tracing::field::Empty,
        exception.message = tracing::field::Empty,
    )
}

/// Records a statement's outcome on its span, as SeaORM does.
fn finish<T>(span: &tracing::Span, result: Result<T, DbErr>) -> Result<T, DbErr> {
    match &result {
        Ok(_) => span.record("otel.status_code", "OK"),
        Err(e) => span
            .record("otel.status_code", "ERROR")
            .record("exception.message", tracing::field::display(e)),
    };
    result
}

#[async_trait::async_trait]
impl ConnectionTrait for Pool {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.run(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.fetch_one(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.fetch_all(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }
}

#[async_trait::async_trait]
impl TransactionTrait for Pool {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        self.0.begin().await
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.0.begin_with_config(isolation_level, access_mode).await
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        self.0.begin_with_options(options).await
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            )
                -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.0.transaction(callback).await
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            )
                -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        self.0
            .transaction_with_config(callback, isolation_level, access_mode)
            .await
    }
}

/// A connection or a transaction, chosen at run time: for code that takes
/// one concrete type whichever it is given (a create with or without an
/// `Idempotency-Key`). A statement on it takes the path of what it holds.
#[derive(Clone, Copy, Debug)]
pub enum Executor<'a> {
    /// The pool.
    Pool(&'a Pool),
    /// An open transaction.
    Transaction(&'a DatabaseTransaction),
}

#[async_trait::async_trait]
impl ConnectionTrait for Executor<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pool(p) => p.get_database_backend(),
            Self::Transaction(t) => t.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(p) => p.run(stmt).await,
            Self::Transaction(t) => t.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(p) => p.0.execute_unprepared(sql).await,
            Self::Transaction(t) => t.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pool(p) => p.fetch_one(stmt).await,
            Self::Transaction(t) => t.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pool(p) => p.fetch_all(stmt).await,
            Self::Transaction(t) => t.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            Self::Pool(p) => p.support_returning(),
            Self::Transaction(t) => t.support_returning(),
        }
    }
}

#[async_trait::async_trait]
impl TransactionTrait for Executor<'_> {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(p) => p.0.begin().await,
            Self::Transaction(t) => t.begin().await,
        }
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(p) => p.0.begin_with_config(isolation_level, access_mode).await,
            Self::Transaction(t) => t.begin_with_config(isolation_level, access_mode).await,
        }
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(p) => p.0.begin_with_options(options).await,
            Self::Transaction(t) => t.begin_with_options(options).await,
        }
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            )
                -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        match self {
            Self::Pool(p) => p.0.transaction(callback).await,
            Self::Transaction(t) => t.transaction(callback).await,
        }
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            )
                -> std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        match self {
            Self::Pool(p) => {
                p.0.transaction_with_config(callback, isolation_level, access_mode)
                    .await
            }
            Self::Transaction(t) => {
                t.transaction_with_config(callback, isolation_level, access_mode)
                    .await
            }
        }
    }
}

/// Pool settings. Defaults suit a small server.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Largest number of open connections.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it gets 503.
    pub acquire_timeout: Duration,
    /// Statements slower than this are logged at WARN (target `sqlx::query`);
    /// others are not logged at all.
    pub slow_query: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            slow_query: Duration::from_millis(500),
        }
    }
}

/// A pooled connection idle at least this long is checked with a round trip
/// before it is handed out; one used more recently is handed out as it is.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens a pool on `url` (`sqlite:…` or `postgres://…`).
///
/// A connection that has sat idle for [`PING_IF_IDLE_FOR`] is pinged before
/// use, so one the server or a proxy dropped meanwhile is replaced, not
/// handed to a request. A busier one is not: pinging on every checkout (the
/// driver's default) is a second round trip per request. The price is that
/// a connection cut less than a second after its last use fails the one
/// query that finds it dead (503), and the pool then opens a new one.
///
/// SQLite runs in WAL mode with `synchronous=NORMAL` and a 5 s busy timeout,
/// and creates its file when missing; an in-memory database (the tests') has
/// one connection, kept forever, since it vanishes with the last one. PostgreSQL gets
/// a bounded pool with a short acquire timeout, so an outage answers 503
/// quickly instead of holding requests for sqlx's default 30 s.
///
/// # Errors
/// The connection error when the database cannot be opened.
pub async fn connect(url: &str, pool: &PoolSettings) -> Result<DatabaseConnection, DbErr> {
    let mut opts = options(url, pool);
    opts.min_connections(1);
    let in_memory = is_in_memory(url);
    if in_memory {
        // One pooled connection (plus the keeper below): writers
        // serialise on it, as they would on SQLite's write lock anyway,
        // and shared-cache table locks never come into play.
        opts.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    let db = Database::connect(opts).await?;
    if in_memory {
        keep_alive(&db).await?;
    }
    Ok(db)
}

/// A pool on a PostgreSQL `url` with the settings of [`connect`], opened
/// without connecting: each connection is opened on first use, from the
/// thread that asks for it, and its socket then reports to that thread's
/// event loop. One such pool per HTTP worker keeps a query's answer on the
/// thread that waits for it (see `AppState::for_worker` in the API crate);
/// a pool shared by the workers hands a worker connections whose sockets
/// another thread watches, and every answer then costs a wake-up across
/// threads.
///
/// Must be called inside a Tokio runtime (sqlx starts the pool's idle
/// reaper on it).
///
/// # Errors
/// `url` is not a PostgreSQL URL, or not one sqlx can parse.
pub fn connect_lazy(url: &str, pool: &PoolSettings) -> Result<DatabaseConnection, DbErr> {
    if !is_postgres(url) {
        // Not the URL itself: it may hold a password.
        return Err(DbErr::Custom(
            "a lazily opened pool is for PostgreSQL only".into(),
        ));
    }
    let mut opts = options(url, pool);
    opts.min_connections(0).connect_lazy(true);
    // Lazy, and with no after-connect hook, SeaORM's connect does no I/O:
    // its future is ready at the first poll.
    Database::connect(opts)
        .now_or_never()
        .unwrap_or_else(|| Err(DbErr::Custom("a lazy pool tried to connect".into())))
}

/// The options both [`connect`] and [`connect_lazy`] start from.
fn options(url: &str, pool: &PoolSettings) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(pool.max_connections)
        .acquire_timeout(pool.acquire_timeout)
        .connect_timeout(pool.acquire_timeout)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(true)
        .sqlx_logging_level(LevelFilter::Trace)
        .sqlx_slow_statements_logging_settings(LevelFilter::Warn, pool.slow_query);
    if url.starts_with("sqlite:") {
        opts.map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        })
        .map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|conn, _| Box::pin(async move { stable_plans(conn).await }))
        });
    }
    opts
}

/// Turns on SQLite's query planner stability guarantee
/// (`SQLITE_DBCONFIG_ENABLE_QPSG`) for a new connection: a statement's plan
/// depends on its SQL and the schema, never on the values bound to it.
///
/// Why: without it SQLite lets some bound values steer the plan, and a
/// statement whose plan read a value is compiled again from its SQL each
/// time a new value is bound. SeaORM's `.one()` binds its `LIMIT 1`, so
/// every read of one row (a post by id, the caller's user) was parsed and
/// planned afresh: about 170 000 instructions, half of a `GET
/// /posts/{id}` (docs/performance.md#sqlite-plans). With the guarantee the
/// driver's cached statement runs as prepared. Plans that depend on a
/// value are not used: the queries here are written so as not to need
/// them (the partial index on published posts is named by its bare
/// column).
///
/// sqlx has no option for this setting, so it is set through the raw
/// handle, as sqlx itself sets its other `sqlite3_db_config` options.
async fn stable_plans(
    conn: &mut sea_orm::sqlx::SqliteConnection,
) -> Result<(), sea_orm::sqlx::Error> {
    match stability_guarantee(conn, 1).await? {
        1 => Ok(()),
        rc => Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused the query planner stability guarantee ({rc})").into(),
        )),
    }
}

/// `sqlite3_db_config(SQLITE_DBCONFIG_ENABLE_QPSG, value)` on `conn`: 1
/// turns the guarantee on, 0 off, -1 only asks. Gives the setting after the
/// call (1 on, 0 off), or SQLite's error code as a negative number.
async fn stability_guarantee(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    value: std::ffi::c_int,
) -> Result<std::ffi::c_int, sea_orm::sqlx::Error> {
    use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK, sqlite3_db_config};

    let mut handle = conn.lock_handle().await?;
    let mut now: std::ffi::c_int = -1;
    // SAFETY: the handle is a live connection, locked for this call, so no
    // other call uses it meanwhile; ENABLE_QPSG takes an int and a pointer
    // to an int that receives the setting, which lives across the call.
    let rc = unsafe {
        sqlite3_db_config(
            handle.as_raw_handle().as_ptr(),
            SQLITE_DBCONFIG_ENABLE_QPSG,
            value,
            &raw mut now,
        )
    };
    Ok(if rc == SQLITE_OK { now } else { -rc })
}

/// Whether `url` names a PostgreSQL database (`postgres://`,
/// `postgresql://`).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres")
}

fn is_in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// An in-memory SQLite database vanishes with its last connection, and sqlx
/// closes a connection whose query was cancelled (a request dropped halfway,
/// say). A connection detached from the pool and parked in a task keeps the
/// database alive for as long as the runtime that opened it.
async fn keep_alive(db: &DatabaseConnection) -> Result<(), DbErr> {
    let keeper = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(|e| DbErr::Custom(format!("in-memory keeper connection: {e}")))?
        .detach();
    tokio::spawn(async move {
        let _keeper = keeper;
        std::future::pending::<()>().await;
    });
    Ok(())
}

/// Begins a transaction that will write. On SQLite it starts `IMMEDIATE`, so
/// it takes the write lock up front and a read-then-write cannot fail with
/// `SQLITE_BUSY` halfway; on PostgreSQL it is a plain `BEGIN` (row locks are
/// taken with `SELECT … FOR UPDATE` where a rule needs them). Inside a
/// transaction it opens a savepoint.
///
/// # Errors
/// The database error when the transaction cannot begin.
pub async fn begin_write(db: &impl Conn) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Deletes the rows of `E` whose `expires_at` is at or before `now` (the
/// housekeeping of tokens and keys that expire); returns how many.
///
/// # Errors
/// Database errors only.
pub async fn delete_expired<E: sea_orm::EntityTrait>(
    conn: &impl Conn,
    expires_at: E::Column,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, ServiceError> {
    use sea_orm::{ColumnTrait as _, QueryFilter as _};
    let deleted = E::delete_many()
        .filter(expires_at.lte(now))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}

/// Does the database answer? (`/ready`.)
///
/// # Errors
/// [`ServiceError::Unavailable`] when it does not.
pub async fn ping(db: &DatabaseConnection) -> Result<(), ServiceError> {
    db.ping().await.map_err(ServiceError::Unavailable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement on the pool's own path answers as SeaORM's would: rows
    /// mapped, a failing statement as a query or exec error, a closed pool
    /// as an acquire error (which the API answers 503).
    #[tokio::test]
    async fn the_pool_runs_statements_and_keeps_seaorms_errors() {
        let pool = Pool::from(
            connect("sqlite::memory:", &PoolSettings::default())
                .await
                .unwrap(),
        );
        let sql = |s: &str| Statement::from_string(DbBackend::Sqlite, s);
        let one = pool.fetch_one(sql("SELECT 41 + 1 AS n")).await.unwrap();
        assert_eq!(one.unwrap().try_get::<i32>("", "n").unwrap(), 42);
        let none = pool.fetch_one(sql("SELECT 1 WHERE 0")).await.unwrap();
        assert!(none.is_none());
        let all = pool
            .fetch_all(sql("SELECT 1 UNION ALL SELECT 2"))
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        pool.run(sql("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            .await
            .unwrap();
        let done = pool
            .run(sql("INSERT INTO t (id) VALUES (7)"))
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        let taken = pool.run(sql("INSERT INTO t (id) VALUES (7)")).await;
        assert!(matches!(taken, Err(DbErr::Exec(_))), "{taken:?}");
        assert!(matches!(
            taken.unwrap_err().sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ));
        let wrong = pool.fetch_one(sql("SELECT FROM")).await;
        assert!(matches!(wrong, Err(DbErr::Query(_))), "{wrong:?}");

        let kept = pool.clone();
        pool.close().await.unwrap();
        let closed = kept.fetch_one(sql("SELECT 1")).await;
        assert!(
            matches!(
                closed,
                Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))
            ),
            "{closed:?}"
        );
    }

    /// Every connection of a SQLite pool has the stability guarantee on
    /// (read back with `-1`, which asks without changing it).
    #[tokio::test]
    async fn sqlite_connections_keep_one_plan_per_statement() {
        let db = connect("sqlite::memory:", &PoolSettings::default())
            .await
            .unwrap();
        let mut conn = db.get_sqlite_connection_pool().acquire().await.unwrap();
        assert_eq!(
            stability_guarantee(&mut conn, -1).await.unwrap(),
            1,
            "the query planner stability guarantee is off"
        );
    }
}
