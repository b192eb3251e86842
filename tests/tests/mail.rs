//! Mail through a real SMTP server over TCP (`common::smtp`): the welcome
//! mail, password recovery end to end, delivery that waits out a down
//! server, retries and gives up as it should, and sends each mail once with
//! two workers.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::common::smtp::{Mode, SmtpSink};
use crate::common::*;

const RECOVERY: &str = "/api/v1/auth/password-recovery";
const RESET: &str = "/api/v1/auth/reset-password";
const WAIT: Duration = Duration::from_secs(15);

/// An app whose mail goes to `sink`.
pub(crate) async fn app_mailing(
    sink: &SmtpSink,
    adjust: impl FnOnce(&mut api::config::Settings),
) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |s| {
        s.smtp_url = Some(url);
        s.public_url = Some("https://app.example.com".into());
        // No first admin: its welcome mail would be in every count.
        s.first_admin_username = None;
        s.first_admin_email = None;
        s.first_admin_password = None;
        adjust(s);
    })
    .await
}

/// Moves the clock past any backoff until `done` holds or `WAIT` passes.
async fn hurry_until(app: &TestApp, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return true;
        }
        app.advance_clock(Duration::from_secs(301));
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    done().await
}

/// Whether the first outbox row is marked `sent` within `WAIT`. The sink
/// holds a mail a moment before the worker, having read the server's reply,
/// records the send, so a check right after the mail arrives can still see
/// `pending`.
async fn recorded_as_sent(app: &TestApp) -> bool {
    hurry_until(app, async || app.outbox().await[0].1 == "sent").await
}

/// The reset token in a recovery mail's link.
pub(crate) fn token_in(body: &str) -> String {
    let start = body
        .find("https://app.example.com/reset-password?token=")
        .unwrap_or_else(|| panic!("no reset link in {body:?}"))
        + "https://app.example.com/reset-password?token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[actix_web::test]
async fn registration_sends_a_welcome_mail_naming_the_user() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    app.register("Alice_W").await;
    let got = sink.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let mail = &got[0];
    assert_eq!(mail.to, ["alice_w@example.com"]);
    assert_eq!(mail.from, "no-reply@localhost");
    assert!(
        mail.header("subject")
            .is_some_and(|s| s.contains("Alice_W")),
        "{mail:#?}"
    );
    let body = mail.body();
    assert!(body.starts_with("Hello Alice_W,"), "{body:?}");
    assert!(
        !body.lines().any(|l| l.starts_with(' ')),
        "no stray indentation: {body:?}"
    );
    let id = mail.header("message-id").expect("Message-ID");
    assert!(id.starts_with('<') && id.ends_with("@localhost>"), "{id}");
    assert!(recorded_as_sent(&app).await, "{:?}", app.outbox().await);
}

#[actix_web::test]
async fn a_failed_registration_sends_no_mail() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    app.register("alice").await;
    let clash = app
        .register_with(
            json!({"username": "ALICE", "email": "other@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(clash.status, 409);
    sink.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "only alice's welcome");
    assert_eq!(app.outbox().await.len(), 1);
}

#[actix_web::test]
async fn password_recovery_end_to_end() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    let alice = app.user("alice").await;
    let session = app.login_json("alice", PASSWORD).await.str("refresh_token");
    let asked = app
        .post(RECOVERY, None, json!({"email": "ALICE@example.com"}))
        .await;
    assert_eq!(asked.status, 202, "{asked:#?}");
    let got = sink.wait_for(2, WAIT).await;
    let mail = got
        .iter()
        .find(|m| m.header("subject").is_some_and(|s| s.contains("Reset")))
        .unwrap_or_else(|| panic!("no reset mail in {got:#?}"));
    assert_eq!(mail.to, [alice.email.as_str()]);
    let token = token_in(&mail.body());
    assert!(token.len() >= 43, "{token}");

    let reset = app
        .post(
            RESET,
            None,
            json!({"token": token, "new_password": "Fresh123!"}),
        )
        .await;
    assert_eq!(reset.status, 204, "{reset:#?}");
    assert_unauthorized(&app.login_json("alice", PASSWORD).await);
    assert_eq!(app.login_json("alice", "Fresh123!").await.status, 200);
    // Every session ended; the token is spent.
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": session}),
        )
        .await;
    assert_unauthorized(&refreshed);
    let again = app
        .post(
            RESET,
            None,
            json!({"token": token, "new_password": "Other123!"}),
        )
        .await;
    assert_problem(&again, 400);
}

#[actix_web::test]
async fn recovery_answers_the_same_for_an_unknown_address_and_mails_nothing() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    app.register("alice").await;
    sink.wait_for(1, WAIT).await;
    let known = app
        .post(RECOVERY, None, json!({"email": "alice@example.com"}))
        .await;
    let unknown = app
        .post(RECOVERY, None, json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(known.status, 202);
    assert_eq!(unknown.status, 202);
    assert_eq!(known.body, unknown.body);
    sink.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let to: Vec<Vec<String>> = sink.messages().into_iter().map(|m| m.to).collect();
    assert_eq!(to, [["alice@example.com"], ["alice@example.com"]]);
    assert_field_error(
        &app.post(RECOVERY, None, json!({"email": "not-an-address"}))
            .await,
        "email",
    );
}

#[actix_web::test]
async fn a_new_password_that_breaks_the_rules_is_422_and_keeps_the_token() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    app.register("alice").await;
    app.post(RECOVERY, None, json!({"email": "alice@example.com"}))
        .await;
    let got = sink.wait_for(2, WAIT).await;
    let token = token_in(&got[1].body());
    let weak = app
        .post(
            RESET,
            None,
            json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_field_error(&weak, "new_password");
    let good = app
        .post(
            RESET,
            None,
            json!({"token": token, "new_password": "Fresh123!"}),
        )
        .await;
    assert_eq!(good.status, 204, "the token was not spent: {good:#?}");
}

#[actix_web::test]
async fn an_unknown_or_expired_reset_token_is_400() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    app.register("alice").await;
    let unknown = app
        .post(
            RESET,
            None,
            json!({"token": "x".repeat(43), "new_password": "Fresh123!"}),
        )
        .await;
    assert_problem(&unknown, 400);
    app.post(RECOVERY, None, json!({"email": "alice@example.com"}))
        .await;
    let got = sink.wait_for(2, WAIT).await;
    let token = token_in(&got[1].body());
    app.advance_clock(Duration::from_secs(3601));
    let late = app
        .post(
            RESET,
            None,
            json!({"token": token, "new_password": "Fresh123!"}),
        )
        .await;
    assert_problem(&late, 400);
    assert_eq!(app.login_json("alice", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn asking_again_leaves_the_earlier_link_valid() {
    let sink = SmtpSink::start().await;
    let app = app_mailing(&sink, |_| {}).await;
    app.register("alice").await;
    for _ in 0..2 {
        app.post(RECOVERY, None, json!({"email": "alice@example.com"}))
            .await;
    }
    let got = sink.wait_for(3, WAIT).await;
    let first = token_in(&got[1].body());
    let second = token_in(&got[2].body());
    assert_ne!(first, second);
    let r = app
        .post(
            RESET,
            None,
            json!({"token": first, "new_password": "Fresh123!"}),
        )
        .await;
    assert_eq!(r.status, 204, "{r:#?}");
    // A completed reset spends the other links of the account too.
    let other = app
        .post(
            RESET,
            None,
            json!({"token": second, "new_password": "Other123!"}),
        )
        .await;
    assert_problem(&other, 400);
}

#[actix_web::test]
async fn mail_waits_for_a_down_server_and_arrives_once_when_it_is_back() {
    let sink = SmtpSink::start().await;
    sink.stop();
    let app = app_mailing(&sink, |_| {}).await;
    app.register("alice").await;
    assert!(
        hurry_until(&app, async || app.outbox().await[0].2 >= 2).await,
        "the worker kept trying: {:?}",
        app.outbox().await
    );
    assert_eq!(app.outbox().await[0].1, "pending");
    let metrics = app.get("/metrics", None).await;
    assert!(
        metrics.text.contains("outbox_backlog 1"),
        "{}",
        metrics.text
    );
    sink.restart().await;
    assert!(hurry_until(&app, async || !sink.messages().is_empty()).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "once");
    assert_eq!(app.outbox().await[0].1, "sent");
    let metrics = app.get("/metrics", None).await;
    assert!(
        metrics.text.contains("outbox_backlog 0"),
        "{}",
        metrics.text
    );
}

#[actix_web::test]
async fn a_temporary_refusal_is_retried_until_accepted() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Defer);
    let app = app_mailing(&sink, |s| s.mail_max_attempts = 2).await;
    app.register("alice").await;
    // 4xx never counts toward the limit: well past it, still pending.
    assert!(hurry_until(&app, async || sink.refused() >= 4).await);
    assert_eq!(app.outbox().await[0].1, "pending");
    sink.set_mode(Mode::Accept);
    assert!(hurry_until(&app, async || !sink.messages().is_empty()).await);
    assert!(recorded_as_sent(&app).await, "{:?}", app.outbox().await);
}

#[actix_web::test]
async fn a_permanent_rejection_fails_after_the_maximum_attempts() {
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::Reject);
    let app = app_mailing(&sink, |s| s.mail_max_attempts = 3).await;
    app.register("alice").await;
    assert!(
        hurry_until(&app, async || app.outbox().await[0].1 == "failed").await,
        "{:?}",
        app.outbox().await
    );
    let (_, state, attempts) = app.outbox().await.remove(0);
    assert_eq!((state.as_str(), attempts), ("failed", 3));
    assert_eq!(sink.refused(), 3);
    // Failed is final.
    app.advance_clock(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.refused(), 3);
}

#[actix_web::test]
async fn two_workers_send_each_mail_once() {
    let sink = SmtpSink::start().await;
    let mut app = app_mailing(&sink, |_| {}).await;
    app.another_worker().await;
    let names: Vec<String> = (0..12).map(|i| format!("user{i}")).collect();
    for name in &names {
        app.register(name).await;
    }
    let got = sink.wait_for(names.len(), WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if got.len() < sink.messages().len() {
        sink.messages()
    } else {
        got
    };
    assert_eq!(got.len(), names.len(), "each mail once");
    let ids: HashSet<String> = got.iter().filter_map(|m| m.header("message-id")).collect();
    assert_eq!(ids.len(), names.len());
    let outbox = app.outbox().await;
    assert!(
        outbox
            .iter()
            .all(|(_, state, attempts)| state == "sent" && *attempts == 1),
        "{outbox:?}"
    );
}

#[actix_web::test]
async fn without_an_smtp_server_mail_is_written_to_files() {
    let dir = std::env::temp_dir().join(format!("owned-api-mail-{}", uuid::Uuid::new_v4()));
    let path = dir.clone();
    let mut app = spawn_app_with(move |s| {
        s.mail_dir = path;
        s.first_admin_username = None;
    })
    .await;
    app.another_worker().await;
    app.register("alice").await;
    let mut files = Vec::new();
    for _ in 0..150 {
        files = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "eml"));
    let text = std::fs::read_to_string(&files[0]).expect("the .eml");
    assert!(text.contains("To: alice@example.com"), "{text}");
    assert!(text.contains("alice"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
