//! Mail (docs/accounts.md#mail): a durable outbox and the worker that
//! delivers it.
//!
//! A mail is a row of `outbox`, written by [`enqueue`] in the caller's
//! transaction, so it exists exactly when the change that causes it does. A
//! worker in every instance ([`Worker::run`]) claims one due row at a time
//! (on PostgreSQL with `FOR UPDATE SKIP LOCKED`; on SQLite, which has no row
//! locks, by a conditional `UPDATE` that must touch the row), holds it for a
//! lease, sends it and records the outcome:
//!
//! - accepted: `sent`;
//! - the server cannot be reached, or answers 4xx (try later): due again
//!   after a backoff of 1 s, 2 s, 4 s … capped at `MAIL_RETRY_MAX_DELAY`,
//!   for as long as it takes;
//! - the server answers 5xx (rejected for good): the same backoff, and after
//!   `MAIL_MAX_ATTEMPTS` attempts `failed`, logged as an error.
//!
//! A worker that dies mid-send leaves its lease to expire, and another one
//! sends the mail again; its `Message-ID` (from the outbox id) lets the
//! recipient's server and client recognise the repeat.

use std::path::PathBuf;
use std::time::Duration;

use entity::outbox::{self, MailState};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tokio::sync::watch;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::db::{self, Conn};
use crate::{Context, ServiceError};

/// A mail to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// One address.
    pub to: String,
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// An HTML alternative, if any.
    pub html: Option<String>,
}

/// Writes `mail` to the outbox, due now. Call it in the transaction of the
/// change that causes the mail.
///
/// # Errors
/// Database errors only.
pub async fn enqueue(ctx: &Context, conn: &impl Conn, mail: Mail) -> Result<Uuid, ServiceError> {
    let now = ctx.clock.now();
    let id = Uuid::now_v7();
    outbox::ActiveModel {
        id: Set(id),
        recipient: Set(mail.to),
        subject: Set(mail.subject),
        body_text: Set(mail.text),
        body_html: Set(mail.html),
        state: Set(MailState::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        traceparent: Set(crate::tracecontext::current_traceparent()),
    }
    .insert(conn)
    .await?;
    Ok(id)
}

/// How many mails wait to be sent (for metrics).
///
/// # Errors
/// Database errors only.
pub async fn backlog(conn: &impl Conn) -> Result<u64, ServiceError> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::State.eq(MailState::Pending))
        .count(conn)
        .await?)
}

/// Where mail goes and how it is retried.
#[derive(Clone, Debug)]
pub struct MailSettings {
    /// `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS); `None`: each mail is
    /// written as `<outbox id>.eml` into `dir` instead.
    pub smtp_url: Option<String>,
    /// Where mail is written without `smtp_url`.
    pub dir: PathBuf,
    /// The sender, `name <address>` or an address.
    pub from: String,
    /// The service's public address, for links in mail (no trailing slash).
    pub public_url: String,
    /// Longest wait between two attempts.
    pub retry_max_delay: Duration,
    /// Attempts before a mail the server rejects (5xx) is given up.
    pub max_attempts: u32,
    /// How often an idle worker looks for due mail.
    pub poll_interval: Duration,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Sends mail: the transport, the sender, and the retry rules.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    /// The service's public address, for links in mail.
    pub public_url: String,
    retry_max_delay: Duration,
    max_attempts: u32,
    poll_interval: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &transport)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for Mailer {
    /// lettre's connection pool closes its connections from a task it spawns
    /// when dropped, which panics outside a tokio runtime (a runtime's
    /// threads ending with the last clone of the context). There the
    /// connections close with the process anyway: the pool is let go.
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err()
            && let Transport::Smtp(smtp) =
                std::mem::replace(&mut self.transport, Transport::Files(PathBuf::new()))
        {
            std::mem::forget(smtp);
        }
    }
}

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    Sent,
    /// Try again later: the server was unreachable or said 4xx.
    Later(String),
    /// The server said 5xx, or the mail cannot be built: counted toward
    /// `max_attempts`.
    Rejected(String),
}

/// How long a worker holds a claimed mail before another may take it: longer
/// than an SMTP conversation can last.
const LEASE: Duration = Duration::from_secs(120);

/// The longest an SMTP conversation may last.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    /// A mailer for `settings`.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] for an `SMTP_URL` or `MAIL_FROM` that does
    /// not parse, or a mail folder that cannot be made.
    pub fn new(settings: &MailSettings) -> Result<Self, ServiceError> {
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| ServiceError::Internal(format!("MAIL_FROM {:?}: {e}", settings.from)))?;
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| ServiceError::Internal(format!("SMTP_URL: {e}")))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&settings.dir).map_err(|e| {
                    ServiceError::Internal(format!("mail folder {}: {e}", settings.dir.display()))
                })?;
                Transport::Files(settings.dir.clone())
            }
        };
        Ok(Self {
            transport,
            from,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            retry_max_delay: settings.retry_max_delay,
            max_attempts: Ord::max(settings.max_attempts, 1),
            poll_interval: settings.poll_interval,
        })
    }

    /// Where mail goes, for the start-up log.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "over SMTP (SMTP_URL)".to_owned(),
            Transport::Files(dir) => format!(
                "to .eml files in {} (set SMTP_URL to send it)",
                dir.display()
            ),
        }
    }

    /// The message of an outbox row. Its `Message-ID` comes from the row's
    /// id, so a mail sent twice (a worker died after sending) is the same
    /// message to whoever receives it.
    fn message(&self, row: &outbox::Model) -> Result<Message, String> {
        let to: Mailbox = row
            .recipient
            .parse()
            .map_err(|e| format!("recipient {:?}: {e}", row.recipient))?;
        let domain = self.from.email.domain().to_owned();
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", row.id)));
        let built = match &row.body_html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                row.body_text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(row.body_text.clone())),
        };
        built.map_err(|e| format!("building the message: {e}"))
    }

    async fn deliver(&self, row: &outbox::Model) -> Outcome {
        let message = match self.message(row) {
            Ok(message) => message,
            Err(e) => return Outcome::Rejected(e),
        };
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.send(message).await {
                Ok(_) => Outcome::Sent,
                Err(e) if e.is_permanent() => Outcome::Rejected(e.to_string()),
                Err(e) => Outcome::Later(e.to_string()),
            },
            Transport::Files(dir) => {
                let path = dir.join(format!("{}.eml", row.id));
                match tokio::fs::write(&path, message.formatted()).await {
                    Ok(()) => Outcome::Sent,
                    Err(e) => Outcome::Later(format!("writing {}: {e}", path.display())),
                }
            }
        }
    }

    /// The wait before attempt `attempts + 1`: 1 s, doubling, capped.
    fn backoff(&self, attempts: i32) -> Duration {
        let exponent = Ord::min(u32::try_from(attempts.saturating_sub(1)).unwrap_or(0), 30);
        Duration::from_secs(1u64 << exponent).min(self.retry_max_delay)
    }
}

/// Claims the most overdue mail, if any: it is held for [`LEASE`] and its
/// attempt counted.
async fn claim(ctx: &Context, conn: &impl Conn) -> Result<Option<outbox::Model>, ServiceError> {
    let now = ctx.clock.now();
    let txn = db::begin_write(conn).await?;
    let due = outbox::Entity::find()
        .filter(outbox::Column::State.eq(MailState::Pending))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(1)
        // PostgreSQL: rows another worker holds are skipped, not waited
        // for. SQLite has no row locks (the clause is dropped there); the
        // IMMEDIATE transaction and the conditional update below decide.
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(&txn)
        .await?;
    let Some(row) = due else {
        return Ok(None);
    };
    let lease = chrono::Duration::from_std(LEASE).unwrap_or_default();
    let claimed = outbox::Entity::update_many()
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + lease))
        .col_expr(
            outbox::Column::Attempts,
            Expr::col(outbox::Column::Attempts).add(1),
        )
        .filter(outbox::Column::Id.eq(row.id))
        .filter(outbox::Column::State.eq(MailState::Pending))
        .filter(outbox::Column::NextAttemptAt.eq(row.next_attempt_at))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok((claimed.rows_affected == 1).then(|| outbox::Model {
        attempts: row.attempts + 1,
        ..row
    }))
}

/// The span of one delivery attempt (docs/observability.md): a trace of its
/// own, linked to the request that wrote the mail (the outbox keeps that
/// request's `traceparent`). No span while tracing is off.
fn send_span(row: &outbox::Model) -> tracing::Span {
    if !crate::tracecontext::enabled() {
        return tracing::Span::none();
    }
    let span = tracing::info_span!(
        "mail.send",
        otel.name = "mail send",
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        mail.id = %row.id,
        mail.attempt = row.attempts,
    );
    crate::tracecontext::link(&span, row.traceparent.as_deref());
    span
}

/// Records what an attempt came to.
async fn record(
    ctx: &Context,
    conn: &impl Conn,
    row: &outbox::Model,
    outcome: Outcome,
) -> Result<(), ServiceError> {
    let mailer = &ctx.mailer;
    let now = ctx.clock.now();
    let retry_at =
        |attempts| now + chrono::Duration::from_std(mailer.backoff(attempts)).unwrap_or_default();
    let mut update = outbox::ActiveModel {
        id: Set(row.id),
        ..Default::default()
    };
    match outcome {
        Outcome::Sent => {
            tracing::info!(mail = %row.id, attempts = row.attempts, "mail sent");
            update.state = Set(MailState::Sent);
            update.sent_at = Set(Some(now));
            update.last_error = Set(None);
        }
        Outcome::Later(error) => {
            tracing::warn!(mail = %row.id, attempts = row.attempts, %error, "mail not delivered; will retry");
            update.next_attempt_at = Set(retry_at(row.attempts));
            update.last_error = Set(Some(error));
        }
        Outcome::Rejected(error) if row.attempts >= mailer.max_attempts as i32 => {
            tracing::error!(mail = %row.id, to = %row.recipient, attempts = row.attempts, %error,
                "mail rejected for good; giving up");
            update.state = Set(MailState::Failed);
            update.last_error = Set(Some(error));
        }
        Outcome::Rejected(error) => {
            tracing::warn!(mail = %row.id, attempts = row.attempts, %error, "mail rejected; will retry");
            update.next_attempt_at = Set(retry_at(row.attempts));
            update.last_error = Set(Some(error));
        }
    }
    update.update(conn).await?;
    Ok(())
}

/// Delivers due mail until asked to stop.
pub struct Worker {
    ctx: Context,
    stop: watch::Receiver<bool>,
}

impl Worker {
    /// A worker over `ctx`'s database and mailer that stops when `stop`
    /// turns `true`.
    pub fn new(ctx: Context, stop: watch::Receiver<bool>) -> Self {
        Self { ctx, stop }
    }

    /// Claims, sends and records one mail at a time while any is due, then
    /// waits `poll_interval`. On stop it finishes the mail in hand and
    /// returns. Database errors (an outage) are logged and retried on the
    /// next tick.
    pub async fn run(mut self) {
        let poll = self.ctx.mailer.poll_interval;
        while !*self.stop.borrow() {
            let worked = match self.step().await {
                Ok(worked) => worked,
                Err(e) => {
                    tracing::warn!(error = %e, "mail worker: database error; retrying");
                    false
                }
            };
            if !worked {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    _ = self.stop.changed() => {}
                }
            }
        }
    }

    /// One mail, if one is due; whether there was one.
    async fn step(&self) -> Result<bool, ServiceError> {
        let ctx = &self.ctx;
        let Some(row) = claim(ctx, &ctx.db).await? else {
            return Ok(false);
        };
        let span = send_span(&row);
        async {
            let outcome = ctx.mailer.deliver(&row).await;
            if !matches!(outcome, Outcome::Sent) {
                span.record("otel.status_code", "ERROR");
            }
            record(ctx, &ctx.db, &row, outcome).await
        }
        .instrument(span.clone())
        .await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A runtime: building an SMTP transport starts its pool's task.
    #[tokio::test]
    async fn backoff_doubles_from_one_second_up_to_the_cap() {
        let mailer = Mailer::new(&MailSettings {
            smtp_url: Some("smtp://127.0.0.1:2525".into()),
            dir: PathBuf::new(),
            from: "no-reply@localhost".into(),
            public_url: "http://127.0.0.1:8080/".into(),
            retry_max_delay: Duration::from_secs(300),
            max_attempts: 10,
            poll_interval: Duration::from_secs(1),
        })
        .expect("mailer");
        let waits: Vec<u64> = (1..=10).map(|a| mailer.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(mailer.backoff(1000), Duration::from_secs(300));
        assert_eq!(mailer.public_url, "http://127.0.0.1:8080");
    }
}
