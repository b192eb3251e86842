//! Section 8, idempotent creates: every create route takes an `Idempotency-Key`.
//! The same caller repeating a key with the same body within 24 hours gets the
//! first response again, marked `Idempotent-Replayed: true`, and nothing is
//! created twice; the same key with another body (or on another route) is 422.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::*;

const REPLAYED: &str = "idempotent-replayed";

/// How many times each race runs.
const ROUNDS: usize = 4;

/// Just past the 24 hours a key is kept.
const PAST_EXPIRY: Duration = Duration::from_secs(24 * 3600 + 60);

/// Just before the 24 hours are up.
const BEFORE_EXPIRY: Duration = Duration::from_secs(24 * 3600 - 300);

/// The create routes that take an `Idempotency-Key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Post,
    Cleaning,
    /// `POST /cleanings/{id}/offers` on carol's cleaning.
    Offer,
    Language,
    /// Its caller is the client address, not a user.
    Register,
}

const ROUTES: [Route; 5] = [
    Route::Post,
    Route::Cleaning,
    Route::Offer,
    Route::Language,
    Route::Register,
];

/// alice creates, bob is a second caller, carol owns the cleaning alice offers on.
struct World {
    alice: TestUser,
    bob: TestUser,
    carol: TestUser,
    admin: TestUser,
    /// carol's cleaning: `/api/v1/cleanings/{id}`.
    cleaning: String,
}

async fn world(app: &TestApp) -> World {
    let carol = app.user("carol").await;
    let cleaning = new_cleaning(app, &carol).await;
    World {
        alice: app.user("alice").await,
        bob: app.user("bob").await,
        carol,
        admin: app.admin().await,
        cleaning,
    }
}

/// A cleaning of `owner`'s, created without a key; returns its path.
async fn new_cleaning(app: &TestApp, owner: &TestUser) -> String {
    let r = app
        .post(
            "/api/v1/cleanings",
            owner.tok(),
            json!({"name": "Flat", "price": 40}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    format!("/api/v1/cleanings/{}", r.str("id"))
}

impl Route {
    fn path(self, w: &World) -> String {
        match self {
            Route::Post => "/api/v1/posts".into(),
            Route::Cleaning => "/api/v1/cleanings".into(),
            Route::Offer => format!("{}/offers", w.cleaning),
            Route::Language => "/api/v1/languages".into(),
            Route::Register => "/api/v1/auth/register".into(),
        }
    }

    /// The caller's token: alice's, or none for register.
    fn token(self, w: &World) -> Option<&str> {
        match self {
            Route::Register => None,
            _ => w.alice.tok(),
        }
    }

    /// The `n`-th valid body: another `n`, another body (an offer's body is always `{}`).
    fn body(self, n: usize) -> Value {
        match self {
            Route::Post => json!({"title": format!("Idempotent {n}"), "body": "text"}),
            Route::Cleaning => json!({"name": format!("Cleaning {n}"), "price": 10 + n}),
            Route::Offer => json!({}),
            Route::Language => json!({
                "name": format!("Idem{n}"),
                "publication_year": 2001,
                "contribution": "tests",
            }),
            Route::Register => json!({
                "username": format!("reg_{n}"),
                "email": format!("reg_{n}@example.com"),
                "password": PASSWORD,
            }),
        }
    }

    /// A body that breaks a rule, and the field it breaks.
    fn invalid_body(self) -> (Value, &'static str) {
        match self {
            Route::Post => (json!({"title": "", "body": "text"}), "title"),
            Route::Cleaning => (json!({"name": "", "price": 10}), "name"),
            Route::Offer => panic!("an offer's body has no rules"),
            Route::Language => (
                json!({"name": "", "publication_year": 2001, "contribution": "tests"}),
                "name",
            ),
            Route::Register => (
                json!({"username": "x", "email": "x@example.com", "password": PASSWORD}),
                "username",
            ),
        }
    }

    /// How many things this route has made (as far as the test's callers can see).
    async fn count(self, app: &TestApp, w: &World) -> usize {
        let (path, token) = match self {
            Route::Post => ("/api/v1/users/me/posts?limit=100".to_owned(), &w.alice),
            Route::Cleaning => ("/api/v1/cleanings?limit=100".to_owned(), &w.alice),
            Route::Offer => (format!("{}/offers?limit=100", w.cleaning), &w.carol),
            Route::Language => (
                "/api/v1/languages?after_year=2000&limit=100".to_owned(),
                &w.alice,
            ),
            Route::Register => ("/api/v1/users?limit=100".to_owned(), &w.admin),
        };
        let r = app.get(&path, token.tok()).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        r.data().len()
    }
}

/// A key no other route of the test uses.
fn key(route: Route, n: usize) -> String {
    format!("key-{route:?}-{n}")
}

/// `POST path` with `Idempotency-Key: key` when a key is given.
async fn post_keyed(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Value,
) -> Resp {
    match key {
        Some(k) => {
            app.send_with(
                "POST",
                path,
                token,
                &[("Idempotency-Key", k)],
                Body::Json(body),
            )
            .await
        }
        None => app.post(path, token, body).await,
    }
}

/// `route`'s create, by its usual caller.
async fn create(app: &TestApp, route: Route, w: &World, key: &str, body: Value) -> Resp {
    post_keyed(app, &route.path(w), route.token(w), Some(key), body).await
}

/// A create that really ran: 201, not marked as a replay.
#[track_caller]
fn assert_fresh(r: &Resp) {
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(
        r.header(REPLAYED),
        None,
        "a first response is not a replay: {r:#?}"
    );
}

/// `replay` is `first` again: status, `Location`, `ETag` and body byte for byte,
/// marked `Idempotent-Replayed: true`.
#[track_caller]
fn assert_replay_of(replay: &Resp, first: &Resp) {
    assert_fresh(first);
    assert_eq!(replay.status, first.status, "{replay:#?}");
    assert_eq!(replay.header(REPLAYED), Some("true"), "{replay:#?}");
    assert!(first.header("location").is_some(), "{first:#?}");
    assert_eq!(
        replay.header("location"),
        first.header("location"),
        "{replay:#?}"
    );
    assert!(first.header("etag").is_some(), "{first:#?}");
    assert_eq!(replay.header("etag"), first.header("etag"), "{replay:#?}");
    assert_eq!(replay.content_type(), first.content_type(), "{replay:#?}");
    assert_eq!(replay.text, first.text, "the same body, byte for byte");
}

// ----- replays -----

#[actix_web::test]
async fn same_key_and_body_replay_the_first_response_and_create_nothing_more() {
    let app = spawn_app().await;
    let w = world(&app).await;
    for route in ROUTES {
        let before = route.count(&app, &w).await;
        let k = key(route, 0);
        let first = create(&app, route, &w, &k, route.body(0)).await;
        assert_fresh(&first);
        for _ in 0..2 {
            let again = create(&app, route, &w, &k, route.body(0)).await;
            assert_replay_of(&again, &first);
        }
        assert_eq!(
            route.count(&app, &w).await,
            before + 1,
            "{route:?}: made once"
        );
    }
}

#[actix_web::test]
async fn register_with_the_same_key_and_body_from_the_same_address_registers_once() {
    let app = spawn_app().await;
    let body = json!({"username": "erin", "email": "erin@example.com", "password": PASSWORD});
    let path = "/api/v1/auth/register";
    let first = post_keyed(&app, path, None, Some("signup-1"), body.clone()).await;
    let again = post_keyed(&app, path, None, Some("signup-1"), body.clone()).await;
    assert_replay_of(&again, &first);
    app.login("erin", PASSWORD).await;
    // The account exists once: registering it again for real is a clash.
    assert_problem(&app.register_with(body).await, 409);
}

#[actix_web::test]
async fn a_replay_is_the_first_response_even_after_the_resource_changed() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let first = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    let location = first.header("location").expect("Location").to_owned();
    let r = app
        .patch(&location, w.alice.tok(), json!({"name": "Renamed"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let again = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_replay_of(&again, &first);
    assert_eq!(Route::Cleaning.count(&app, &w).await, 1);
}

#[actix_web::test]
async fn bare_and_quoted_keys_are_the_same_key() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let path = Route::Cleaning.path(&w);
    for (n, (one, other)) in [("abc", "\"abc\""), ("\"xyz\"", "xyz")]
        .into_iter()
        .enumerate()
    {
        let body = Route::Cleaning.body(n);
        let first = post_keyed(&app, &path, w.alice.tok(), Some(one), body.clone()).await;
        let again = post_keyed(&app, &path, w.alice.tok(), Some(other), body).await;
        assert_replay_of(&again, &first);
    }
    assert_eq!(Route::Cleaning.count(&app, &w).await, 2);
}

// ----- the key does not fit the request -----

#[actix_web::test]
async fn same_key_with_a_different_body_is_422_on_idempotency_key() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // An offer's body is always `{}`: it has no different body to send.
    for route in ROUTES.into_iter().filter(|r| *r != Route::Offer) {
        let k = key(route, 0);
        let first = create(&app, route, &w, &k, route.body(0)).await;
        assert_fresh(&first);
        let count = route.count(&app, &w).await;
        let r = create(&app, route, &w, &k, route.body(1)).await;
        assert_field_error(&r, "Idempotency-Key");
        assert_eq!(
            route.count(&app, &w).await,
            count,
            "{route:?}: nothing made"
        );
        // The key still belongs to the first request.
        let again = create(&app, route, &w, &k, route.body(0)).await;
        assert_replay_of(&again, &first);
    }
}

#[actix_web::test]
async fn same_key_on_another_route_is_422_on_idempotency_key() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let first = create(&app, Route::Cleaning, &w, "shared", Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    for route in [Route::Post, Route::Offer, Route::Language] {
        let before = route.count(&app, &w).await;
        let r = create(&app, route, &w, "shared", route.body(0)).await;
        assert_field_error(&r, "Idempotency-Key");
        assert_eq!(
            route.count(&app, &w).await,
            before,
            "{route:?}: nothing made"
        );
    }
    // Offers on two cleanings are two paths.
    let other = new_cleaning(&app, &w.carol).await;
    let on_first = create(&app, Route::Offer, &w, "offer", json!({})).await;
    assert_fresh(&on_first);
    let r = post_keyed(
        &app,
        &format!("{other}/offers"),
        w.alice.tok(),
        Some("offer"),
        json!({}),
    )
    .await;
    assert_field_error(&r, "Idempotency-Key");
    let offers = app.get(&format!("{other}/offers"), w.carol.tok()).await;
    assert_eq!(offers.status, 200, "{offers:#?}");
    assert!(offers.data().is_empty(), "{offers:#?}");
}

// ----- whose key -----

#[actix_web::test]
async fn keys_are_per_caller() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let path = Route::Cleaning.path(&w);
    let body = Route::Cleaning.body(0);
    let alices = post_keyed(&app, &path, w.alice.tok(), Some("mine"), body.clone()).await;
    assert_fresh(&alices);
    let bobs = post_keyed(&app, &path, w.bob.tok(), Some("mine"), body.clone()).await;
    assert_fresh(&bobs);
    assert_ne!(bobs.body["id"], alices.body["id"], "{bobs:#?}");
    assert_eq!(bobs.body["owner_id"], w.bob.id.as_str(), "{bobs:#?}");
    for who in [&w.alice, &w.bob] {
        let r = app.get("/api/v1/cleanings", who.tok()).await;
        assert_eq!(r.data().len(), 1, "{}: {r:#?}", who.username);
    }
    // alice's key still answers alice with her own cleaning.
    let again = post_keyed(&app, &path, w.alice.tok(), Some("mine"), body).await;
    assert_replay_of(&again, &alices);

    // Two offers on one cleaning under one key: one each.
    let path = Route::Offer.path(&w);
    let alices = post_keyed(&app, &path, w.alice.tok(), Some("offer"), json!({})).await;
    assert_fresh(&alices);
    let bobs = post_keyed(&app, &path, w.bob.tok(), Some("offer"), json!({})).await;
    assert_fresh(&bobs);
    assert_eq!(bobs.body["username"], "bob", "{bobs:#?}");
    assert_eq!(Route::Offer.count(&app, &w).await, 2);
}

// ----- races -----

#[actix_web::test]
async fn concurrent_requests_with_the_same_key_create_one_resource() {
    let app = spawn_app().await;
    let w = world(&app).await;
    for round in 0..ROUNDS {
        let k = format!("race-{round}");
        let body = Route::Cleaning.body(round);
        let results =
            join_all((0..3).map(|_| create(&app, Route::Cleaning, &w, &k, body.clone()))).await;
        let fresh: Vec<usize> = (0..results.len())
            .filter(|&i| results[i].status == 201 && results[i].header(REPLAYED).is_none())
            .collect();
        assert_eq!(
            fresh.len(),
            1,
            "round {round}: one real create: {results:#?}"
        );
        let first = &results[fresh[0]];
        for (i, r) in results.iter().enumerate() {
            if i == fresh[0] {
                continue;
            }
            if r.status == 201 {
                assert_replay_of(r, first);
            } else {
                // Still running when this one came.
                assert_problem(r, 409);
            }
        }
        assert_eq!(
            Route::Cleaning.count(&app, &w).await,
            round + 1,
            "round {round}: never two"
        );
    }
}

// ----- failed creates -----

#[actix_web::test]
async fn a_failed_create_does_not_use_up_the_key() {
    let app = spawn_app().await;
    let w = world(&app).await;
    for route in ROUTES.into_iter().filter(|r| *r != Route::Offer) {
        let k = key(route, 0);
        let before = route.count(&app, &w).await;
        let (invalid, field) = route.invalid_body();
        let r = create(&app, route, &w, &k, invalid).await;
        assert_field_error(&r, field);
        let fixed = create(&app, route, &w, &k, route.body(0)).await;
        assert_fresh(&fixed);
        let again = create(&app, route, &w, &k, route.body(0)).await;
        assert_replay_of(&again, &fixed);
        assert_eq!(route.count(&app, &w).await, before + 1, "{route:?}");
    }
}

// ----- the key's form -----

#[actix_web::test]
async fn malformed_idempotency_key_is_400_and_creates_nothing() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let too_long = "a".repeat(256);
    for route in ROUTES {
        let before = route.count(&app, &w).await;
        for bad in ["\"\"", too_long.as_str(), "has space", "clé-ü"] {
            let r = create(&app, route, &w, bad, route.body(0)).await;
            assert_eq!(r.status, 400, "{route:?} key {bad:?}: {r:#?}");
            assert_problem(&r, 400);
        }
        assert_eq!(
            route.count(&app, &w).await,
            before,
            "{route:?}: nothing made"
        );
    }
}

#[actix_web::test]
async fn a_key_of_255_visible_characters_is_accepted() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let visible = "AZaz09-_.~!#$%&'*+^`|";
    let k: String = visible.chars().cycle().take(255).collect();
    let first = create(&app, Route::Cleaning, &w, &k, Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    let again = create(&app, Route::Cleaning, &w, &k, Route::Cleaning.body(0)).await;
    assert_replay_of(&again, &first);
}

// ----- expiry -----

#[actix_web::test]
async fn a_key_is_still_replayed_just_before_24_hours() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let path = Route::Cleaning.path(&w);
    let first = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    app.advance_clock(BEFORE_EXPIRY);
    // The access token has long expired; the caller is the user, not the token.
    let token = app.login("alice", PASSWORD).await;
    let again = post_keyed(
        &app,
        &path,
        Some(&token),
        Some("k"),
        Route::Cleaning.body(0),
    )
    .await;
    assert_replay_of(&again, &first);
    let r = post_keyed(
        &app,
        &path,
        Some(&token),
        Some("k"),
        Route::Cleaning.body(1),
    )
    .await;
    assert_field_error(&r, "Idempotency-Key");
}

#[actix_web::test]
async fn after_24_hours_the_same_key_with_another_body_creates_afresh() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let path = Route::Cleaning.path(&w);
    let first = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    app.advance_clock(PAST_EXPIRY);
    let token = app.login("alice", PASSWORD).await;
    let r = post_keyed(
        &app,
        &path,
        Some(&token),
        Some("k"),
        Route::Cleaning.body(1),
    )
    .await;
    assert_fresh(&r);
    let mine = app.get("/api/v1/cleanings", Some(&token)).await;
    assert_eq!(mine.data().len(), 2, "{mine:#?}");
}

#[actix_web::test]
async fn after_24_hours_the_same_key_and_body_are_not_replayed() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let path = Route::Cleaning.path(&w);
    let first = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    app.advance_clock(PAST_EXPIRY);
    let token = app.login("alice", PASSWORD).await;
    let r = post_keyed(
        &app,
        &path,
        Some(&token),
        Some("k"),
        Route::Cleaning.body(0),
    )
    .await;
    assert_fresh(&r);
    assert_ne!(r.header("location"), first.header("location"), "{r:#?}");
}

#[actix_web::test]
async fn purge_deletes_expired_keys_and_only_those() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let path = Route::Cleaning.path(&w);
    let first = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_fresh(&first);
    assert_eq!(
        app.purge_idempotency_keys().await,
        0,
        "no key has expired yet"
    );
    let again = create(&app, Route::Cleaning, &w, "k", Route::Cleaning.body(0)).await;
    assert_replay_of(&again, &first);

    app.advance_clock(PAST_EXPIRY);
    assert!(
        app.purge_idempotency_keys().await >= 1,
        "the expired key is purged"
    );
    assert_eq!(
        app.purge_idempotency_keys().await,
        0,
        "nothing left to purge"
    );
    let token = app.login("alice", PASSWORD).await;
    let r = post_keyed(
        &app,
        &path,
        Some(&token),
        Some("k"),
        Route::Cleaning.body(1),
    )
    .await;
    assert_fresh(&r);
}
