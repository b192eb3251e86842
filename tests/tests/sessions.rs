//! Sessions: refresh-token rotation, reuse detection, logout, revocation on a
//! password change; and `WWW-Authenticate: Bearer` on every kind of 401.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::*;

const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";

/// Logs `user` in; returns the whole token response.
async fn login_tokens(app: &TestApp, username: &str, password: &str) -> Value {
    let r = app.login_json(username, password).await;
    assert_eq!(r.status, 200, "login: {r:#?}");
    r.body
}

async fn refresh(app: &TestApp, token: &str) -> Resp {
    app.post(REFRESH, None, json!({"refresh_token": token}))
        .await
}

fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {tokens}"))
        .to_owned()
}

#[actix_web::test]
async fn login_returns_a_refresh_token_and_its_lifetime() {
    let app = spawn_app().await;
    app.register("alice").await;
    let json_login = login_tokens(&app, "alice", PASSWORD).await;
    let form = app
        .send(
            "POST",
            "/api/v1/auth/login",
            None,
            Body::Form(format!(
                "grant_type=password&username=alice&password={PASSWORD}"
            )),
        )
        .await;
    assert_eq!(form.status, 200, "{form:#?}");
    for tokens in [&json_login, &form.body] {
        let token = refresh_token(tokens);
        assert!(token.len() >= 43, "32+ random bytes: {token}");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {token}"
        );
        assert_eq!(tokens["refresh_expires_in"], 30 * 24 * 3600);
        assert_eq!(tokens["token_type"], "bearer");
    }
    assert_ne!(refresh_token(&json_login), refresh_token(&form.body));
}

#[actix_web::test]
async fn refresh_gives_new_tokens_that_work() {
    let app = spawn_app().await;
    app.register("alice").await;
    let first = login_tokens(&app, "alice", PASSWORD).await;
    let r = refresh(&app, &refresh_token(&first)).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_ne!(refresh_token(&r.body), refresh_token(&first));
    let me = app
        .get("/api/v1/users/me", Some(&r.str("access_token")))
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
    assert_eq!(me.str("username"), "alice");
    // And the new refresh token refreshes in turn.
    let again = refresh(&app, &refresh_token(&r.body)).await;
    assert_eq!(again.status, 200, "{again:#?}");
}

#[actix_web::test]
async fn refresh_takes_the_oauth2_form_too() {
    let app = spawn_app().await;
    app.register("alice").await;
    let tokens = login_tokens(&app, "alice", PASSWORD).await;
    let token = refresh_token(&tokens);
    let r = app
        .send(
            "POST",
            REFRESH,
            None,
            Body::Form(format!("grant_type=refresh_token&refresh_token={token}")),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let wrong_grant = app
        .send(
            "POST",
            REFRESH,
            None,
            Body::Form(format!(
                "grant_type=password&refresh_token={}",
                refresh_token(&r.body)
            )),
        )
        .await;
    assert_field_error(&wrong_grant, "grant_type");
}

#[actix_web::test]
async fn a_spent_refresh_token_presented_again_revokes_its_whole_family() {
    let app = spawn_app().await;
    app.register("alice").await;
    let first = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let second = refresh(&app, &first).await;
    assert_eq!(second.status, 200);
    let second = refresh_token(&second.body);
    // The first token again: theft. 401, and the legitimate successor dies too.
    let replay = refresh(&app, &first).await;
    assert_unauthorized(&replay);
    assert_eq!(replay.body["error"], "invalid_grant", "{replay:#?}");
    assert_unauthorized(&refresh(&app, &second).await);
    // Another login is another family, untouched.
    let other = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    assert_eq!(refresh(&app, &other).await.status, 200);
}

#[actix_web::test]
async fn reuse_revokes_only_that_family() {
    let app = spawn_app().await;
    app.register("alice").await;
    let phone = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let laptop = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let rotated = refresh(&app, &phone).await;
    assert_eq!(rotated.status, 200);
    assert_unauthorized(&refresh(&app, &phone).await);
    assert_eq!(
        refresh(&app, &laptop).await.status,
        200,
        "the laptop's session stays"
    );
}

#[actix_web::test]
async fn concurrent_refreshes_of_one_token_give_one_success() {
    let app = spawn_app().await;
    app.register("alice").await;
    for round in 0..3 {
        let token = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
        let results = join_all((0..4).map(|_| refresh(&app, &token))).await;
        let ok: Vec<&Resp> = results.iter().filter(|r| r.status == 200).collect();
        assert_eq!(ok.len(), 1, "round {round}: {results:#?}");
        for r in results.iter().filter(|r| r.status != 200) {
            assert_unauthorized(r);
        }
        // The others presented a spent token: the family is revoked, the
        // winner's successor too (a client must refresh once per token).
        assert_unauthorized(&refresh(&app, &refresh_token(&ok[0].body)).await);
    }
}

#[actix_web::test]
async fn unknown_or_malformed_refresh_token_is_401() {
    let app = spawn_app().await;
    for token in ["nope", "", &"x".repeat(43)] {
        let r = refresh(&app, token).await;
        assert_unauthorized(&r);
        assert_eq!(r.body["error"], "invalid_grant");
    }
    let missing = app.post(REFRESH, None, json!({})).await;
    assert_field_error(&missing, "refresh_token");
}

#[actix_web::test]
async fn an_expired_refresh_token_is_401() {
    let app = spawn_app().await;
    app.register("alice").await;
    let token = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    app.advance_clock(Duration::from_secs(30 * 24 * 3600 + 1));
    assert_unauthorized(&refresh(&app, &token).await);
}

#[actix_web::test]
async fn a_refresh_token_still_works_just_before_it_expires() {
    let app = spawn_app().await;
    app.register("alice").await;
    let token = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    app.advance_clock(Duration::from_secs(30 * 24 * 3600 - 60));
    assert_eq!(refresh(&app, &token).await.status, 200);
}

#[actix_web::test]
async fn refresh_for_a_disabled_user_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let token = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let admin = app.admin().await;
    let off = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{off:#?}");
    assert_unauthorized(&refresh(&app, &token).await);
}

#[actix_web::test]
async fn logout_ends_the_session_and_is_safe_to_repeat() {
    let app = spawn_app().await;
    app.register("alice").await;
    let first = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let rotated = refresh(&app, &first).await;
    let current = refresh_token(&rotated.body);
    let out = app
        .post(LOGOUT, None, json!({"refresh_token": current}))
        .await;
    assert_eq!(out.status, 204, "{out:#?}");
    assert!(out.text.is_empty());
    assert_unauthorized(&refresh(&app, &current).await);
    // Again, with an old token of the family, and with one never issued.
    for token in [current.as_str(), first.as_str(), "never-issued"] {
        let again = app
            .post(LOGOUT, None, json!({"refresh_token": token}))
            .await;
        assert_eq!(again.status, 204, "{again:#?}");
    }
}

#[actix_web::test]
async fn changing_the_password_revokes_every_refresh_token() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let one = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let two = refresh_token(&login_tokens(&app, "alice", PASSWORD).await);
    let changed = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"password": "Changed123", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, 200, "{changed:#?}");
    assert_unauthorized(&refresh(&app, &one).await);
    assert_unauthorized(&refresh(&app, &two).await);
    // A change of e-mail alone keeps the sessions.
    let three = refresh_token(&login_tokens(&app, "alice", "Changed123").await);
    let email = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "new@example.com", "current_password": "Changed123"}),
        )
        .await;
    assert_eq!(email.status, 200, "{email:#?}");
    assert_eq!(refresh(&app, &three).await.status, 200);
}

#[actix_web::test]
async fn every_kind_of_401_carries_www_authenticate_bearer() {
    let app = spawn_app().await;
    app.register("alice").await;
    let cases = [
        (
            "wrong password",
            app.login_json("alice", "Wrong12345").await,
        ),
        ("unknown user", app.login_json("nobody", PASSWORD).await),
        (
            "form login, wrong password",
            app.send(
                "POST",
                "/api/v1/auth/login",
                None,
                Body::Form("grant_type=password&username=alice&password=Wrong12345".into()),
            )
            .await,
        ),
        ("unknown refresh token", refresh(&app, "nope").await),
        ("no token", app.get("/api/v1/users/me", None).await),
        (
            "a bad token",
            app.get("/api/v1/users/me", Some("not.a.jwt")).await,
        ),
        (
            "another scheme",
            app.get_with_authorization("/api/v1/posts", "Basic YTpi")
                .await,
        ),
    ];
    for (what, r) in cases {
        assert_eq!(r.status, 401, "{what}: {r:#?}");
        let www = r.header("www-authenticate").unwrap_or("");
        assert!(www.starts_with("Bearer"), "{what}: {r:#?}");
        assert_problem(&r, 401);
    }
}

#[actix_web::test]
async fn the_document_names_the_refresh_url_and_the_new_routes() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json", None).await.body;
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/api/v1/auth/login");
    assert_eq!(flow["refreshUrl"], "/api/v1/auth/refresh");
    for path in [
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/password-recovery",
        "/api/v1/auth/reset-password",
    ] {
        assert!(doc["paths"][path]["post"].is_object(), "{path}");
    }
    let token = &doc["components"]["schemas"]["TokenResponse"]["properties"];
    assert!(token["refresh_token"].is_object() && token["refresh_expires_in"].is_object());
}
