//! API keys (docs/accounts.md#api-keys): made with a login and shown once,
//! used as `X-API-Key` within their scopes, revoked at once, expired,
//! stopped with their user, capped, and declared in the OpenAPI document.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::smtp::SmtpSink;
use crate::common::*;

const KEYS: &str = "/api/v1/users/me/api-keys";

impl TestApp {
    /// `POST /users/me/api-keys` with `body`, as `user` (login token).
    async fn make_key_with(&self, user: &TestUser, body: Value) -> Resp {
        self.post(KEYS, user.tok(), body).await
    }

    /// Makes a key with `scopes` for `user`; returns the 201's body.
    async fn make_key(&self, user: &TestUser, scopes: &[&str]) -> Value {
        let r = self
            .make_key_with(user, json!({"name": "script", "scopes": scopes}))
            .await;
        assert_eq!(r.status, 201, "make key {scopes:?}: {r:#?}");
        r.body
    }

    /// `method path` with `X-API-Key: key` and no bearer token.
    async fn with_key(&self, method: &str, path: &str, key: &str, body: Body) -> Resp {
        self.send_with(method, path, None, &[("X-API-Key", key)], body)
            .await
    }
}

fn key_of(made: &Value) -> String {
    made["key"].as_str().expect("key").to_owned()
}

/// A 403 whose `detail` names `scope` in backticks.
#[track_caller]
fn assert_lacks_scope(r: &Resp, scope: &str) {
    assert_problem(r, 403);
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains(&format!("`{scope}`")),
        "403 does not name the `{scope}` scope: {r:#?}"
    );
}

/// A 403 saying a login is needed.
#[track_caller]
fn assert_needs_login(r: &Resp) {
    assert_problem(r, 403);
    let detail = r.body["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("login"),
        "403 does not ask for a login: {r:#?}"
    );
}

// ----- making, showing once, listing -----

#[actix_web::test]
async fn a_new_key_is_shown_once_with_its_location() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .make_key_with(
            &alice,
            json!({"name": "nightly export", "scopes": ["read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let body = &r.body;
    let key = key_of(body);
    assert!(key.starts_with("oak_"), "{key}");
    let rest = &key[4..];
    assert!(rest.len() >= 40, "{key} is too short");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{key} is not URL-safe"
    );
    assert_eq!(body["prefix"], key[..12], "{body}");
    assert_eq!(body["name"], "nightly export");
    assert_eq!(body["scopes"], json!(["read"]));
    assert!(body["last_used_at"].is_null(), "{body}");
    assert_uuid_v7(body["id"].as_str().expect("id"));
    assert_timestamp(&body["created_at"]);
    // Absent `expires_in_days` is 90 days.
    let lifetime = parse_ts(&body["expires_at"]) - parse_ts(&body["created_at"]);
    assert_eq!(lifetime, chrono::Duration::days(90), "{body}");
    let id = body["id"].as_str().expect("id");
    assert_eq!(
        r.header("location"),
        Some(format!("{KEYS}/{id}").as_str()),
        "{r:#?}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:#?}");

    // The Location answers, without the key; so does the list.
    let one = app.get(&format!("{KEYS}/{id}"), alice.tok()).await;
    assert_eq!(one.status, 200, "{one:#?}");
    assert!(one.body.get("key").is_none(), "{one:#?}");
    assert_eq!(one.body["prefix"], body["prefix"]);
    one.etag();
    let list = app.get(KEYS, alice.tok()).await;
    assert_eq!(list.status, 200, "{list:#?}");
    assert_eq!(ids(list.data()), [id]);
    assert!(
        !list.text.contains(&key),
        "the list shows the key: {list:#?}"
    );
    assert!(list.data()[0].get("key").is_none());
}

#[actix_web::test]
async fn the_database_keeps_only_a_hash_of_the_key() {
    use sea_orm::{ConnectionTrait as _, Statement};
    use sha2::Digest as _;
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    let db = &app.state.as_ref().expect("state").ctx.db;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT key_sha256, prefix, name, scopes FROM api_keys",
        ))
        .await
        .expect("read api_keys");
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].try_get("", "key_sha256").expect("key_sha256");
    assert_eq!(
        stored,
        format!("{:x}", sha2::Sha256::digest(key.as_bytes()))
    );
    for column in ["prefix", "name", "scopes"] {
        let value: String = rows[0].try_get("", column).expect(column);
        assert!(!value.contains(&key[12..]), "{column} holds the key");
    }
}

#[actix_web::test]
async fn the_list_is_newest_first_and_paginated() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(app.make_key(&alice, &["read"]).await["id"].clone());
    }
    made.reverse();
    let first = app.get(&format!("{KEYS}?limit=2"), alice.tok()).await;
    assert_eq!(first.status, 200, "{first:#?}");
    assert_eq!(first.body["has_more"], true);
    let cursor = first.str("next_cursor");
    let second = app
        .get(&format!("{KEYS}?limit=2&cursor={cursor}"), alice.tok())
        .await;
    let mut seen: Vec<Value> = first.data().iter().map(|k| k["id"].clone()).collect();
    seen.extend(second.data().iter().map(|k| k["id"].clone()));
    assert_eq!(seen, made);
    assert_eq!(second.body["has_more"], false);
    let bad = app.get(&format!("{KEYS}?limit=0"), alice.tok()).await;
    assert_field_error(&bad, "limit");
}

#[actix_web::test]
async fn a_key_without_expiry_never_expires() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .make_key_with(
            &alice,
            json!({"name": "ci", "scopes": ["write"], "expires_in_days": null}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert!(r.body["expires_at"].is_null(), "{r:#?}");
    let key = key_of(&r.body);
    app.advance_clock(Duration::from_secs(400 * 24 * 3600));
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
}

#[actix_web::test]
async fn validation_errors_name_their_field() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let cases = [
        (json!({"name": "", "scopes": ["read"]}), "name"),
        (json!({"name": "x".repeat(101), "scopes": ["read"]}), "name"),
        (json!({"scopes": ["read"]}), "name"),
        (json!({"name": "k", "scopes": []}), "scopes"),
        (json!({"name": "k"}), "scopes"),
        (
            json!({"name": "k", "scopes": ["read"], "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "expires_in_days": "30"}),
            "expires_in_days",
        ),
        (
            json!({"name": "k", "scopes": ["read"], "expires_in_days": 1.5}),
            "expires_in_days",
        ),
    ];
    for (body, field) in cases {
        let r = app.make_key_with(&alice, body.clone()).await;
        assert_field_error(&r, field);
    }
    let r = app
        .make_key_with(&alice, json!({"name": "k", "scopes": ["owner"]}))
        .await;
    assert_problem(&r, 422);
    assert!(
        r.body["errors"][0]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("scopes")),
        "{r:#?}"
    );
    // Bounds are inclusive, and repeated scopes count once.
    for days in [1, 365] {
        let r = app
            .make_key_with(
                &alice,
                json!({"name": "k", "scopes": ["write", "read", "write"], "expires_in_days": days}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:#?}");
        assert_eq!(r.body["scopes"], json!(["read", "write"]));
    }
    // Nothing half-made: only the two good keys exist.
    assert_eq!(app.get(KEYS, alice.tok()).await.data().len(), 2);
}

#[actix_web::test]
async fn idempotency_key_does_not_replay_a_secret() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let body = Body::Json(json!({"name": "k", "scopes": ["read"]}));
    let send = async |body| {
        app.send_with(
            "POST",
            KEYS,
            alice.tok(),
            &[("Idempotency-Key", "same-key-1")],
            body,
        )
        .await
    };
    let first = send(body).await;
    let second = send(Body::Json(json!({"name": "k", "scopes": ["read"]}))).await;
    assert_eq!((first.status.as_u16(), second.status.as_u16()), (201, 201));
    assert_ne!(first.body["key"], second.body["key"]);
    assert!(second.header("idempotent-replayed").is_none());
}

// ----- using a key -----

#[actix_web::test]
async fn a_key_acts_as_its_user() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["write"]).await);
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
    assert_eq!(me.body["id"], alice.id.as_str());
    let post = app
        .with_key(
            "POST",
            "/api/v1/posts",
            &key,
            Body::Json(json!({"title": "By key", "body": "", "published": false})),
        )
        .await;
    assert_eq!(post.status, 201, "{post:#?}");
    assert_eq!(post.body["author_id"], alice.id.as_str());
    // Her draft is hers to read with the key.
    let id = post.str("id");
    let read = app
        .with_key("GET", &format!("/api/v1/posts/{id}"), &key, Body::Empty)
        .await;
    assert_eq!(read.status, 200, "{read:#?}");
}

#[actix_web::test]
async fn a_read_key_reads_and_may_not_write() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Mine", true).await;
    let id = post["id"].as_str().expect("id");
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    for path in [
        "/api/v1/users/me",
        "/api/v1/users/me/posts",
        "/api/v1/cleanings",
    ] {
        let r = app.with_key("GET", path, &key, Body::Empty).await;
        assert_eq!(r.status, 200, "GET {path}: {r:#?}");
    }
    let r = app
        .with_key(
            "POST",
            "/api/v1/posts",
            &key,
            Body::Json(json!({"title": "No", "body": ""})),
        )
        .await;
    assert_lacks_scope(&r, "write");
    let r = app
        .with_key(
            "PATCH",
            &format!("/api/v1/posts/{id}"),
            &key,
            Body::Json(json!({"title": "Changed"})),
        )
        .await;
    assert_lacks_scope(&r, "write");
    let r = app
        .with_key("DELETE", &format!("/api/v1/posts/{id}"), &key, Body::Empty)
        .await;
    assert_lacks_scope(&r, "write");
    // The scope is checked before the body and the resource: a read key
    // learns nothing from a write.
    let nowhere = uuid::Uuid::now_v7();
    let r = app
        .with_key(
            "DELETE",
            &format!("/api/v1/posts/{nowhere}"),
            &key,
            Body::Empty,
        )
        .await;
    assert_lacks_scope(&r, "write");
    let after = app.get(&format!("/api/v1/posts/{id}"), None).await;
    assert_eq!(after.body["title"], "Mine", "nothing changed");
}

#[actix_web::test]
async fn only_an_admin_grants_admin() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for scopes in [json!(["admin"]), json!(["read", "admin"])] {
        let r = app
            .make_key_with(&alice, json!({"name": "k", "scopes": scopes}))
            .await;
        assert_problem(&r, 403);
        assert!(r.text.contains("`admin`"), "{r:#?}");
    }
    // Permission comes before the values' rules.
    let r = app
        .make_key_with(&alice, json!({"name": "", "scopes": ["admin"]}))
        .await;
    assert_problem(&r, 403);
    let admin = app.admin().await;
    let r = app
        .make_key_with(
            &admin,
            json!({"name": "audit", "scopes": ["read", "admin"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["scopes"], json!(["read", "admin"]));
    // `admin` alone could do nothing: it adds to `read` or `write`.
    let r = app
        .make_key_with(&admin, json!({"name": "k", "scopes": ["admin"]}))
        .await;
    assert_field_error(&r, "scopes");
}

#[actix_web::test]
async fn an_admin_key_with_the_admin_scope_has_admin_powers() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let draft = app.new_post(&alice, "Draft", false).await;
    let draft = draft["id"].as_str().expect("id");
    let admin = app.admin().await;
    let read_admin = key_of(&app.make_key(&admin, &["read", "admin"]).await);
    let r = app
        .with_key("GET", "/api/v1/users", &read_admin, Body::Empty)
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let r = app
        .with_key(
            "GET",
            &format!("/api/v1/posts/{draft}"),
            &read_admin,
            Body::Empty,
        )
        .await;
    assert_eq!(r.status, 200, "admins see drafts: {r:#?}");
    // Admin powers do not widen the method scope.
    let r = app
        .with_key(
            "PATCH",
            &format!("/api/v1/users/{}", alice.id),
            &read_admin,
            Body::Json(json!({"is_active": false})),
        )
        .await;
    assert_lacks_scope(&r, "write");
    let write_admin = key_of(&app.make_key(&admin, &["write", "admin"]).await);
    let r = app
        .with_key(
            "PATCH",
            &format!("/api/v1/posts/{draft}"),
            &write_admin,
            Body::Json(json!({"title": "Moderated"})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
}

#[actix_web::test]
async fn an_admin_key_without_the_admin_scope_acts_as_a_plain_user() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let draft = app.new_post(&alice, "Draft", false).await;
    let draft = draft["id"].as_str().expect("id");
    let public = app.new_post(&alice, "Public", true).await;
    let public = public["id"].as_str().expect("id");
    let admin = app.admin().await;
    let key = key_of(&app.make_key(&admin, &["write"]).await);
    let r = app
        .with_key("GET", "/api/v1/users", &key, Body::Empty)
        .await;
    assert_lacks_scope(&r, "admin");
    let r = app
        .with_key(
            "GET",
            &format!("/api/v1/users/{}", alice.id),
            &key,
            Body::Empty,
        )
        .await;
    assert_lacks_scope(&r, "admin");
    let r = app
        .with_key("GET", &format!("/api/v1/posts/{draft}"), &key, Body::Empty)
        .await;
    assert_problem(&r, 404);
    let r = app
        .with_key(
            "PATCH",
            &format!("/api/v1/posts/{public}"),
            &key,
            Body::Json(json!({"title": "Not mine"})),
        )
        .await;
    assert_lacks_scope(&r, "admin");
    // Its own things, it may do.
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
    assert_eq!(me.body["role"], "admin");
}

#[actix_web::test]
async fn keys_and_the_password_need_a_login() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let made = app.make_key(&alice, &["write"]).await;
    let (key, id) = (key_of(&made), made["id"].as_str().expect("id").to_owned());
    let cases = [
        (
            "POST",
            KEYS.to_owned(),
            json!({"name": "more", "scopes": ["write"]}),
        ),
        ("GET", KEYS.to_owned(), Value::Null),
        ("GET", format!("{KEYS}/{id}"), Value::Null),
        ("DELETE", format!("{KEYS}/{id}"), Value::Null),
        (
            "PATCH",
            "/api/v1/users/me".to_owned(),
            json!({"current_password": PASSWORD, "password": "Stolen123"}),
        ),
        (
            "PATCH",
            "/api/v1/users/me".to_owned(),
            json!({"current_password": PASSWORD, "email": "thief@example.com"}),
        ),
    ];
    for (method, path, body) in cases {
        let body = if body.is_null() {
            Body::Empty
        } else {
            Body::Json(body)
        };
        let r = app.with_key(method, &path, &key, body).await;
        assert_needs_login(&r);
    }
    // Nothing changed: the key lives, the password and e-mail are as they were.
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
    assert_eq!(me.body["email"], alice.email.as_str());
    assert_eq!(app.login_json("alice", PASSWORD).await.status, 200);
    assert_eq!(app.get(KEYS, alice.tok()).await.data().len(), 1);

    // The admin's key operations need a login too, even with `admin`.
    let admin = app.admin().await;
    let admin_key = key_of(&app.make_key(&admin, &["write", "admin"]).await);
    let list = format!("/api/v1/users/{}/api-keys", alice.id);
    let r = app.with_key("GET", &list, &admin_key, Body::Empty).await;
    assert_needs_login(&r);
    let revoke = format!("/api/v1/users/{}/api-keys/{id}", alice.id);
    let r = app
        .with_key("DELETE", &revoke, &admin_key, Body::Empty)
        .await;
    assert_needs_login(&r);
}

#[actix_web::test]
async fn bad_keys_are_401_even_on_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    let other_char = if key.ends_with('A') { "B" } else { "A" };
    let unknown = format!("{}{other_char}", &key[..key.len() - 1]);
    for bad in [
        "",
        "oak_short",
        "not-a-key-at-all-but-quite-long-enough-to-look-like-one",
        unknown.as_str(),
    ] {
        for path in ["/api/v1/users/me", "/api/v1/posts"] {
            let r = app.with_key("GET", path, bad, Body::Empty).await;
            assert_unauthorized(&r);
        }
    }
}

#[actix_web::test]
async fn public_routes_that_act_for_nobody_ask_no_scope() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    let r = app
        .with_key(
            "POST",
            "/api/v1/auth/logout",
            &key,
            Body::Json(json!({"refresh_token": "not-a-token"})),
        )
        .await;
    assert_eq!(r.status, 204, "{r:#?}");
    let r = app
        .with_key(
            "POST",
            "/api/v1/auth/password-recovery",
            &key,
            Body::Json(json!({"email": "nobody@example.com"})),
        )
        .await;
    assert_eq!(r.status, 202, "{r:#?}");
    // A bad key there is still 401.
    let r = app
        .with_key(
            "POST",
            "/api/v1/auth/logout",
            "oak_bad",
            Body::Json(json!({"refresh_token": "x"})),
        )
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn a_bearer_token_and_a_key_together_are_400() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    for path in ["/api/v1/users/me", "/api/v1/posts"] {
        let r = app
            .send_with(
                "GET",
                path,
                alice.tok(),
                &[("X-API-Key", &key)],
                Body::Empty,
            )
            .await;
        assert_problem(&r, 400);
    }
}

// ----- revocation, expiry, the user's state -----

#[actix_web::test]
async fn a_revoked_key_fails_on_the_very_next_request() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let made = app.make_key(&alice, &["read"]).await;
    let (key, id) = (key_of(&made), made["id"].as_str().expect("id").to_owned());
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200);
    let r = app.delete(&format!("{KEYS}/{id}"), alice.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert!(r.text.is_empty());
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_unauthorized(&me);
    assert!(me.text.contains("revoked"), "{me:#?}");
    let again = app.delete(&format!("{KEYS}/{id}"), alice.tok()).await;
    assert_problem(&again, 404);
    assert_problem(&app.get(&format!("{KEYS}/{id}"), alice.tok()).await, 404);
    assert!(app.get(KEYS, alice.tok()).await.data().is_empty());
}

#[actix_web::test]
async fn someone_elses_key_id_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let made = app.make_key(&alice, &["read"]).await;
    let (key, id) = (key_of(&made), made["id"].as_str().expect("id").to_owned());
    assert_problem(&app.get(&format!("{KEYS}/{id}"), bob.tok()).await, 404);
    assert_problem(&app.delete(&format!("{KEYS}/{id}"), bob.tok()).await, 404);
    assert_problem(
        &app.delete(&format!("{KEYS}/not-a-uuid"), bob.tok()).await,
        404,
    );
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "alice's key still works: {me:#?}");
}

#[actix_web::test]
async fn a_key_that_expired_a_second_ago_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .make_key_with(
            &alice,
            json!({"name": "k", "scopes": ["read"], "expires_in_days": 1}),
        )
        .await;
    let key = key_of(&r.body);
    app.advance_clock(Duration::from_secs(24 * 3600 - 5));
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "still valid 5 s before: {me:#?}");
    app.advance_clock(Duration::from_secs(6));
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_unauthorized(&me);
    assert!(me.text.contains("expired"), "{me:#?}");
    assert!(app.get(KEYS, alice.tok()).await.data().is_empty());
}

#[actix_web::test]
async fn disabling_a_user_stops_their_keys_and_enabling_brings_them_back() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    let user = format!("/api/v1/users/{}", alice.id);
    let r = app
        .patch(&user, admin.tok(), json!({"is_active": false}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_unauthorized(&me);
    let r = app
        .patch(&user, admin.tok(), json!({"is_active": true}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
}

#[actix_web::test]
async fn changing_a_known_password_keeps_the_keys() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["read"]).await);
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"current_password": PASSWORD, "password": "NewPassw0rd"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "{me:#?}");
}

#[actix_web::test]
async fn a_password_reset_revokes_every_key_of_the_user() {
    let sink = SmtpSink::start().await;
    let app = crate::mail::app_mailing(&sink, |_| {}).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let keys = [
        key_of(&app.make_key(&alice, &["read"]).await),
        key_of(&app.make_key(&alice, &["write"]).await),
    ];
    let bobs = key_of(&app.make_key(&bob, &["read"]).await);
    let asked = app
        .post(
            "/api/v1/auth/password-recovery",
            None,
            json!({"email": alice.email}),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:#?}");
    let got = sink.wait_for(3, Duration::from_secs(15)).await;
    let mail = got
        .iter()
        .find(|m| m.to == [alice.email.clone()] && m.body().contains("reset-password"))
        .unwrap_or_else(|| panic!("no reset mail in {got:#?}"));
    let token = crate::mail::token_in(&mail.body());
    let r = app
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"token": token, "new_password": "Fresh1234"}),
        )
        .await;
    assert_eq!(r.status, 204, "{r:#?}");
    for key in &keys {
        let me = app
            .with_key("GET", "/api/v1/users/me", key, Body::Empty)
            .await;
        assert_unauthorized(&me);
    }
    let me = app
        .with_key("GET", "/api/v1/users/me", &bobs, Body::Empty)
        .await;
    assert_eq!(me.status, 200, "bob's key is not alice's: {me:#?}");
    let token = app.login("alice", "Fresh1234").await;
    assert!(app.get(KEYS, Some(&token)).await.data().is_empty());
}

#[actix_web::test]
async fn last_used_at_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let made = app.make_key(&alice, &["read"]).await;
    let (key, id) = (key_of(&made), made["id"].as_str().expect("id").to_owned());
    let last_used = async || {
        let r = app.get(&format!("{KEYS}/{id}"), alice.tok()).await;
        assert_eq!(r.status, 200, "{r:#?}");
        r.body["last_used_at"].clone()
    };
    assert!(last_used().await.is_null());
    let use_key = async || {
        let r = app
            .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
            .await;
        assert_eq!(r.status, 200, "{r:#?}");
    };
    use_key().await;
    let first = last_used().await;
    assert_timestamp(&first);
    for _ in 0..5 {
        use_key().await;
    }
    app.advance_clock(Duration::from_secs(30));
    use_key().await;
    assert_eq!(last_used().await, first, "written again within the minute");
    app.advance_clock(Duration::from_secs(31));
    use_key().await;
    let later = last_used().await;
    assert!(parse_ts(&later) > parse_ts(&first), "{first} then {later}");
}

// ----- the cap -----

#[actix_web::test]
async fn fifty_live_keys_is_the_most_and_revoked_or_expired_ones_do_not_count() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let short = app
        .make_key_with(
            &alice,
            json!({"name": "short", "scopes": ["read"], "expires_in_days": 1}),
        )
        .await;
    assert_eq!(short.status, 201);
    let mut last = Value::Null;
    for _ in 0..49 {
        last = app.make_key(&alice, &["read"]).await;
    }
    let r = app
        .make_key_with(&alice, json!({"name": "51st", "scopes": ["read"]}))
        .await;
    assert_problem(&r, 409);
    assert!(r.text.contains("50"), "{r:#?}");
    let id = last["id"].as_str().expect("id");
    assert_eq!(
        app.delete(&format!("{KEYS}/{id}"), alice.tok())
            .await
            .status,
        204
    );
    app.make_key(&alice, &["read"]).await;
    assert_problem(
        &app.make_key_with(&alice, json!({"name": "k", "scopes": ["read"]}))
            .await,
        409,
    );
    app.advance_clock(Duration::from_secs(24 * 3600 + 1));
    app.make_key(&alice, &["read"]).await;
    // Another user has a cap of their own.
    let bob = app.user("bob").await;
    app.make_key(&bob, &["read"]).await;
}

#[actix_web::test]
async fn concurrent_requests_cannot_pass_the_cap_together() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for _ in 0..48 {
        app.make_key(&alice, &["read"]).await;
    }
    let attempts = (0..6).map(|i| {
        app.make_key_with(
            &alice,
            json!({"name": format!("race {i}"), "scopes": ["read"]}),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let made = results.iter().filter(|r| r.status == 201).count();
    let refused = results.iter().filter(|r| r.status == 409).count();
    assert_eq!((made, refused), (2, 4), "{results:#?}");
}

// ----- admins -----

#[actix_web::test]
async fn admins_list_and_revoke_anyones_keys() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.admin().await;
    let made = app.make_key(&alice, &["read"]).await;
    let (key, id) = (key_of(&made), made["id"].as_str().expect("id").to_owned());
    let list = format!("/api/v1/users/{}/api-keys", alice.id);
    let r = app.get(&list, admin.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(ids(r.data()), [id.as_str()]);
    assert!(r.data()[0].get("key").is_none());
    // Not for users, not even their own through the admin path.
    assert_problem(&app.get(&list, bob.tok()).await, 403);
    assert_problem(&app.get(&list, alice.tok()).await, 403);
    let revoke = format!("/api/v1/users/{}/api-keys/{id}", alice.id);
    assert_problem(&app.delete(&revoke, bob.tok()).await, 403);
    // A key under the wrong user, and an unknown user, are 404.
    let wrong = format!("/api/v1/users/{}/api-keys/{id}", bob.id);
    assert_problem(&app.delete(&wrong, admin.tok()).await, 404);
    let nobody = uuid::Uuid::now_v7();
    assert_problem(
        &app.get(&format!("/api/v1/users/{nobody}/api-keys"), admin.tok())
            .await,
        404,
    );
    let r = app.delete(&revoke, admin.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    let me = app
        .with_key("GET", "/api/v1/users/me", &key, Body::Empty)
        .await;
    assert_unauthorized(&me);
    assert!(app.get(&list, admin.tok()).await.data().is_empty());
}

// ----- the race -----

/// Requests with a key on one instance while another revokes it: none sent
/// after the revoke answered gets through.
#[actix_web::test]
async fn no_request_gets_through_after_the_revoke_answered() {
    let mut app = spawn_app().await;
    let alice = app.user("alice").await;
    let made = app.make_key(&alice, &["read"]).await;
    let (key, id) = (key_of(&made), made["id"].as_str().expect("id").to_owned());
    let other = app.another_instance().await;
    let seen: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut users = Vec::new();
    for _ in 0..4 {
        let (seen, stop, key) = (seen.clone(), stop.clone(), key.clone());
        let url = format!("{other}/api/v1/users/me");
        users.push(actix_web::rt::spawn(async move {
            let client = awc::Client::default();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = Instant::now();
                let status = client
                    .get(&url)
                    .insert_header(("X-API-Key", key.as_str()))
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16();
                seen.lock().expect("lock").push((sent, status));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app.delete(&format!("{KEYS}/{id}"), alice.tok()).await;
    let answered = Instant::now();
    assert_eq!(r.status, 204, "{r:#?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for user in users {
        user.await.expect("user task");
    }
    let seen = seen.lock().expect("lock");
    let before = seen.iter().filter(|(at, _)| *at < answered).count();
    let after: Vec<_> = seen.iter().filter(|(at, _)| *at >= answered).collect();
    assert!(
        before > 0 && !after.is_empty(),
        "{before} before, {} after",
        after.len()
    );
    assert!(
        seen.iter().all(|(_, s)| *s == 200 || *s == 401),
        "only 200 and 401: {seen:?}"
    );
    let through: Vec<_> = after.iter().filter(|(_, s)| *s != 401).collect();
    assert!(
        through.is_empty(),
        "sent after the revoke answered and let through: {through:?}"
    );
}

// ----- the document -----

/// Operations that need a login token: they declare `oauth2` alone.
const LOGIN_ONLY: &[(&str, &str)] = &[
    ("post", "/api/v1/users/me/api-keys"),
    ("get", "/api/v1/users/me/api-keys"),
    ("get", "/api/v1/users/me/api-keys/{id}"),
    ("delete", "/api/v1/users/me/api-keys/{id}"),
    ("get", "/api/v1/users/{id}/api-keys"),
    ("delete", "/api/v1/users/{id}/api-keys/{key_id}"),
    ("patch", "/api/v1/users/me"),
];

#[actix_web::test]
async fn the_document_offers_a_key_wherever_a_key_works() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json", None).await.body;
    let scheme = &doc["components"]["securitySchemes"]["apiKey"];
    assert_eq!(scheme["type"], "apiKey", "{scheme}");
    assert_eq!(scheme["in"], "header", "{scheme}");
    assert_eq!(scheme["name"], "X-API-Key", "{scheme}");

    let alice = app.user("alice").await;
    let key = key_of(&app.make_key(&alice, &["write"]).await);
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let requirements = op["security"].as_array().cloned().unwrap_or_default();
            let names: Vec<&str> = requirements
                .iter()
                .flat_map(|r| r.as_object().into_iter().flat_map(|o| o.keys()))
                .map(String::as_str)
                .collect();
            if !names.contains(&"oauth2") {
                assert!(!names.contains(&"apiKey"), "{method} {path}: {names:?}");
                continue;
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.contains_key("400"),
                "{method} {path} does not document the 400 of two credentials"
            );
            if names.contains(&"apiKey") && method != "get" {
                assert!(
                    responses.contains_key("403"),
                    "{method} {path} does not document the 403 of a key without `write`"
                );
            }
            let login_only = LOGIN_ONLY.contains(&(method.as_str(), path.as_str()));
            assert_eq!(
                names.contains(&"apiKey"),
                !login_only,
                "{method} {path} declares {requirements:?}"
            );
            // A key alternative is a requirement of its own, not an AND.
            assert!(
                requirements
                    .iter()
                    .all(|r| r.as_object().is_some_and(|o| o.len() <= 1)),
                "{method} {path}: {requirements:?}"
            );
            if login_only {
                continue;
            }
            // What the document offers a key for, a key may do.
            let concrete = path
                .replace("{id}", &uuid::Uuid::now_v7().to_string())
                .replace("{key_id}", &uuid::Uuid::now_v7().to_string())
                .replace("{username}", "nobody")
                .replace("{slug}", "nothing");
            let body = if matches!(method.as_str(), "post" | "put" | "patch") {
                Body::Json(json!({}))
            } else {
                Body::Empty
            };
            let r = app
                .with_key(&method.to_uppercase(), &concrete, &key, body)
                .await;
            assert!(
                !(r.status == 403 && r.text.contains("login")),
                "{method} {path} is offered to keys but refuses one: {r:#?}"
            );
            assert_ne!(r.status, 401, "{method} {path}: {r:#?}");
        }
    }
}
