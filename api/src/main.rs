//! The `owned-api` binary: `serve` (default), `migrate`, `create-admin`,
//! `openapi`, `health`.

use anyhow::Context as _;
use api::config::{Cli, Command, MigrateAction};
use api::state::{self, AppState};
use clap::Parser as _;
use sea_orm_migration::MigratorTrait as _;
use service::Role;
use service::accounts::{self, NewAccount, UserCreate};

/// mimalloc instead of the system allocator: a request allocates and frees
/// many small buffers (headers, JSON, rows), and glibc's malloc spent about
/// 15 % of `GET /posts/{id}` (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process. Where the kernel backs every
/// large enough mapping with 2 MiB pages (`always`, the default of many
/// distributions), mimalloc's arenas hold about 20 MiB more resident memory
/// for no measurable speed; this is what mimalloc itself does when told
/// `MIMALLOC_ALLOW_THP=0`, and it touches this process only.
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1) takes plain integers and changes
    // no memory this program holds, only how later page faults are served.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_transparent_huge_pages() {}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    no_transparent_huge_pages();
    // A missing .env is normal; a malformed one is worth a warning below.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    let settings = cli.settings;
    let command = cli.command.unwrap_or(Command::Serve);
    // Traces from the server only: the other commands are over in a moment.
    let telemetry = api::telemetry::init(&settings, matches!(command, Command::Serve))?;
    if let Err(e) = dotenv
        && !e.not_found()
    {
        tracing::warn!(error = %e, "could not read .env");
    }
    match command {
        Command::Serve => serve(settings, telemetry).await,
        Command::Openapi => {
            let doc = api::openapi_document().to_pretty_json()?;
            println!("{doc}");
            Ok(())
        }
        // Exit 1 through the error when the answer is not 200, or none came.
        Command::Health { timeout } => {
            let summary =
                api::healthcheck::check(&settings, std::time::Duration::from_secs(timeout))
                    .map_err(|e| anyhow::anyhow!("unhealthy: {e}"))?;
            println!("healthy: {summary}");
            Ok(())
        }
        Command::Migrate { action } => {
            let db = state::connect(&settings).await?;
            match action {
                MigrateAction::Up => api::migrate::up(&settings, &db).await?,
                MigrateAction::Down => migration::Migrator::down(&db, Some(1)).await?,
                MigrateAction::Status => migration::Migrator::status(&db).await?,
            }
            Ok(())
        }
        Command::CreateAdmin {
            username,
            email,
            password,
        } => {
            let state = AppState::init(settings).await?;
            let ctx = &state.ctx;
            let input = UserCreate {
                username,
                email,
                password,
            };
            let admin = async {
                let account = NewAccount::prepare(ctx, input, Role::Admin).await?;
                accounts::create(ctx, &ctx.db, account).await
            }
            .await
            .map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
            println!("created admin {} ({})", admin.username, admin.id);
            Ok(())
        }
    }
}

async fn serve(
    settings: api::config::Settings,
    telemetry: api::telemetry::Telemetry,
) -> anyhow::Result<()> {
    let (host, port, workers) = (settings.host.clone(), settings.port, settings.workers);
    let shutdown_timeout = settings.shutdown_timeout;
    let drain = std::time::Duration::from_secs(settings.shutdown_drain);
    let state = AppState::init(settings).await?;
    state.limits.spawn_cleanup();
    tracing::info!("mail goes {}", state.ctx.mailer.describe());
    tracing::info!("uploads go to {}", state.ctx.storage.describe());
    let background = api::background::Background::start(&state.ctx);
    api::metrics::spawn_upkeep();
    let draining = state.draining.clone();
    // Signals are ours (see api::shutdown): drain first, then actix's
    // graceful stop, which gives in-flight requests SHUTDOWN_TIMEOUT seconds
    // and makes `run` return Ok: exit 0.
    let mut server = actix_web::HttpServer::new(move || api::app(state.for_worker()))
        .shutdown_timeout(shutdown_timeout)
        .disable_signals();
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    let server = server
        .bind((host.as_str(), port))
        .with_context(|| format!("binding {host}:{port}"))?;
    for addr in server.addrs() {
        tracing::info!("serving on http://{addr}; Swagger UI at http://{addr}/docs/");
    }
    let server = server.run();
    actix_web::rt::spawn(api::shutdown::on_signal(server.handle(), draining, drain));
    let served = server.await.context("running the server");
    // The mail worker finishes the mail in hand, then the process exits.
    background.stop().await;
    // The spans of the last requests and mails, before the process exits.
    telemetry.shutdown();
    served
}
