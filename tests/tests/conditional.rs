//! Section 8, caching and optimistic concurrency: a strong `ETag` on every single
//! resource, `If-None-Match` → 304, `If-Match` → 412 on a tag that is not the
//! current one (checked after 404 and 403, before the body's rules), two writers
//! racing with the same tag, and `Cache-Control`.

use futures_util::future::join;
use serde_json::{Value, json};

use crate::common::*;

/// How many times each race runs.
const ROUNDS: usize = 4;

/// A value no other call returns, so titles, names and e-mails never clash.
fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn missing_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// alice owns things, bob is a bystander, carol is the account the admin manages,
/// dave is a stranger to every offer.
struct Cast {
    alice: TestUser,
    bob: TestUser,
    carol: TestUser,
    dave: TestUser,
    admin: TestUser,
}

async fn cast(app: &TestApp) -> Cast {
    Cast {
        alice: app.user("alice").await,
        bob: app.user("bob").await,
        carol: app.user("carol").await,
        dave: app.user("dave").await,
        admin: app.admin().await,
    }
}

// ----- the resources, as a table -----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Post,
    Cleaning,
    Language,
    /// `PATCH /profiles/me`, read at `/profiles/{username}`.
    Profile,
    /// `PATCH /users/me`, always with `current_password`.
    Me,
    /// `PATCH /users/{id}` by an admin (`role`, `is_active`).
    UserByAdmin,
}

/// Every kind (each has PATCH).
const ALL: [Kind; 6] = [
    Kind::Post,
    Kind::Cleaning,
    Kind::Language,
    Kind::Profile,
    Kind::Me,
    Kind::UserByAdmin,
];

/// The kinds that also have PUT and DELETE.
const REPLACEABLE: [Kind; 3] = [Kind::Post, Kind::Cleaning, Kind::Language];

impl Kind {
    /// A PATCH body that changes `current`; `variant` 0 and 1 make two different changes.
    fn patch(self, current: &Value, variant: usize) -> Value {
        let u = unique();
        match self {
            Kind::Post => json!({"title": format!("Title {u}")}),
            Kind::Cleaning => json!({"name": format!("Name {u}")}),
            Kind::Language => json!({"contribution": format!("contribution {u}")}),
            Kind::Profile => json!({"bio": format!("bio {u}")}),
            Kind::Me => json!({
                "email": format!("alice.{u}@example.com"),
                "current_password": PASSWORD,
            }),
            Kind::UserByAdmin if variant == 0 => {
                let role = if current["role"] == "admin" {
                    "user"
                } else {
                    "admin"
                };
                json!({ "role": role })
            }
            Kind::UserByAdmin => {
                let active = current["is_active"].as_bool().expect("is_active");
                json!({ "is_active": !active })
            }
        }
    }

    /// A PUT body unlike any before it (replaceable kinds only).
    fn put(self) -> Value {
        let u = unique();
        match self {
            Kind::Post => {
                json!({"title": format!("Put {u}"), "body": "replaced", "published": true})
            }
            Kind::Cleaning => {
                json!({"name": format!("Put {u}"), "price": 75, "cleaning_type": "full_clean"})
            }
            Kind::Language => json!({
                "name": format!("P{u}"),
                "publication_year": 1991,
                "contribution": "replaced",
            }),
            _ => panic!("{self:?} has no PUT"),
        }
    }

    /// A PATCH body that changes nothing.
    fn no_op(self) -> Value {
        match self {
            Kind::Me => json!({ "current_password": PASSWORD }),
            _ => json!({}),
        }
    }

    /// A PATCH body that breaks a rule (422 on its own).
    fn invalid_patch(self) -> Value {
        match self {
            Kind::Post => json!({"title": ""}),
            Kind::Cleaning => json!({"price": -1}),
            Kind::Language => json!({"publication_year": 1700}),
            Kind::Profile => json!({"full_name": "x".repeat(101)}),
            Kind::Me => json!({"email": "not-an-address", "current_password": PASSWORD}),
            Kind::UserByAdmin => json!({"role": null}),
        }
    }

    /// A full body (for PUT) of the right shape that breaks a rule.
    fn invalid_put(self) -> Value {
        let mut body = self.put();
        for (field, value) in self.invalid_patch().as_object().expect("object") {
            body[field] = value.clone();
        }
        body
    }
}

/// One resource of a kind, ready to be written.
struct Target {
    kind: Kind,
    /// Where it is read.
    read: String,
    /// Where PUT, PATCH and DELETE go.
    write: String,
    /// Who reads and writes it.
    token: String,
    /// Someone who may not write it (403), when the kind has such a person.
    stranger: Option<String>,
    /// The write route of a resource that does not exist (404), when the kind has one.
    missing: Option<String>,
    /// The 201 that made it, for the kinds made by a POST.
    created: Option<Resp>,
}

impl Target {
    fn tok(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// A new resource of `kind` (posts published, so a stranger gets 403, not 404).
async fn target(app: &TestApp, cast: &Cast, kind: Kind) -> Target {
    let alice = &cast.alice;
    match kind {
        Kind::Post | Kind::Cleaning | Kind::Language => {
            let (collection, body) = match kind {
                Kind::Post => (
                    "/api/v1/posts",
                    json!({"title": format!("Post {}", unique()), "body": "text", "published": true}),
                ),
                Kind::Cleaning => ("/api/v1/cleanings", json!({"name": "Flat", "price": 40})),
                _ => (
                    "/api/v1/languages",
                    json!({
                        "name": format!("L{}", unique()),
                        "publication_year": 1990,
                        "contribution": "tests",
                    }),
                ),
            };
            let created = app.post(collection, alice.tok(), body).await;
            assert_eq!(created.status, 201, "create {kind:?}: {created:#?}");
            let path = format!("{collection}/{}", created.str("id"));
            Target {
                kind,
                read: path.clone(),
                write: path,
                token: alice.token.clone(),
                stranger: Some(cast.bob.token.clone()),
                missing: Some(format!("{collection}/{}", missing_id())),
                created: Some(created),
            }
        }
        Kind::Profile => Target {
            kind,
            read: format!("/api/v1/profiles/{}", alice.username),
            write: "/api/v1/profiles/me".into(),
            token: alice.token.clone(),
            stranger: None,
            missing: None,
            created: None,
        },
        Kind::Me => Target {
            kind,
            read: "/api/v1/users/me".into(),
            write: "/api/v1/users/me".into(),
            token: alice.token.clone(),
            stranger: None,
            missing: None,
            created: None,
        },
        Kind::UserByAdmin => Target {
            kind,
            read: format!("/api/v1/users/{}", cast.carol.id),
            write: format!("/api/v1/users/{}", cast.carol.id),
            token: cast.admin.token.clone(),
            stranger: Some(cast.bob.token.clone()),
            missing: Some(format!("/api/v1/users/{}", missing_id())),
            created: None,
        },
    }
}

// ----- requests -----

/// `method path` with `If-Match: tag` when a tag is given.
async fn send_if_match(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    if_match: Option<&str>,
    body: Body,
) -> Resp {
    match if_match {
        Some(tag) => {
            app.send_with(method, path, token, &[("If-Match", tag)], body)
                .await
        }
        None => app.send(method, path, token, body).await,
    }
}

async fn patch(app: &TestApp, t: &Target, body: Value, if_match: Option<&str>) -> Resp {
    send_if_match(app, "PATCH", &t.write, t.tok(), if_match, Body::Json(body)).await
}

async fn put(app: &TestApp, t: &Target, body: Value, if_match: Option<&str>) -> Resp {
    send_if_match(app, "PUT", &t.write, t.tok(), if_match, Body::Json(body)).await
}

async fn delete(app: &TestApp, t: &Target, if_match: Option<&str>) -> Resp {
    send_if_match(app, "DELETE", &t.write, t.tok(), if_match, Body::Empty).await
}

/// `GET path` with `If-None-Match: value`.
async fn get_if_none_match(app: &TestApp, path: &str, token: Option<&str>, value: &str) -> Resp {
    app.send_with("GET", path, token, &[("If-None-Match", value)], Body::Empty)
        .await
}

/// The representation and the ETag a GET returns now.
async fn current(app: &TestApp, t: &Target) -> (Value, String) {
    let r = app.get(&t.read, t.tok()).await;
    assert_eq!(r.status, 200, "{:?}: GET {}: {r:#?}", t.kind, t.read);
    let tag = r.etag();
    (r.body, tag)
}

/// Changes the resource with a PATCH without `If-Match` (which goes through) and
/// returns the tag it had before: a stale one.
async fn stale_tag(app: &TestApp, t: &Target) -> String {
    let (body, old) = current(app, t).await;
    let r = patch(app, t, t.kind.patch(&body, 0), None).await;
    assert_eq!(
        r.status, 200,
        "{:?}: a write without If-Match goes through: {r:#?}",
        t.kind
    );
    let (_, new) = current(app, t).await;
    assert_ne!(new, old, "{:?}: the write changed the ETag", t.kind);
    old
}

/// PATCH, and for the replaceable kinds PUT and DELETE, each under `If-Match: if_match`,
/// are each a `status` problem, and the resource is as it was (body and ETag).
async fn assert_every_write_refused(app: &TestApp, t: &Target, if_match: &str, status: u16) {
    let before = current(app, t).await;
    let mut answers = vec![(
        "PATCH",
        patch(app, t, t.kind.patch(&before.0, 0), Some(if_match)).await,
    )];
    if REPLACEABLE.contains(&t.kind) {
        answers.push(("PUT", put(app, t, t.kind.put(), Some(if_match)).await));
        answers.push(("DELETE", delete(app, t, Some(if_match)).await));
    }
    for (method, r) in &answers {
        assert_eq!(
            r.status, status,
            "{:?}: {method} with If-Match {if_match}: {r:#?}",
            t.kind
        );
        assert_problem(r, status);
    }
    assert_eq!(
        current(app, t).await,
        before,
        "{:?}: a refused write (If-Match {if_match}) changed nothing",
        t.kind
    );
}

/// Of two answers, the one with `ok` and the other; asserts exactly one has `ok`.
#[track_caller]
fn winner_and_loser(a: Resp, b: Resp, ok: u16, what: &str) -> (Resp, Resp) {
    match (a.status == ok, b.status == ok) {
        (true, false) => (a, b),
        (false, true) => (b, a),
        _ => panic!("{what}: expected exactly one {ok}, got {a:#?}\n{b:#?}"),
    }
}

// ----- ETag on reads -----

/// Every kind of single-resource GET, each by a reader allowed to see it: (path, token).
async fn single_gets(app: &TestApp, cast: &Cast) -> Vec<(String, Option<String>)> {
    let alice = &cast.alice;
    let post = app.new_post(alice, "Readable post", true).await;
    let cleaning = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Flat", "price": 40}),
        )
        .await;
    assert_eq!(cleaning.status, 201, "{cleaning:#?}");
    let cleaning = format!("/api/v1/cleanings/{}", cleaning.str("id"));
    let offer = app
        .post(&format!("{cleaning}/offers"), cast.bob.tok(), json!({}))
        .await;
    assert_eq!(offer.status, 201, "{offer:#?}");
    let language = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "Rust", "publication_year": 2015, "contribution": "ownership"}),
        )
        .await;
    assert_eq!(language.status, 201, "{language:#?}");
    let shipped = app.get("/api/v1/languages?before_year=1959", None).await;
    assert_eq!(shipped.status, 200, "{shipped:#?}");
    let shipped = shipped.data()[0]["id"].as_str().expect("id").to_owned();

    let post_path = format!("/api/v1/posts/{}", post["id"].as_str().expect("id"));
    let slug_path = format!(
        "/api/v1/posts/by-slug/{}",
        post["slug"].as_str().expect("slug")
    );
    let a = Some(alice.token.clone());
    vec![
        (post_path.clone(), None),
        (post_path, a.clone()),
        (slug_path, None),
        (cleaning.clone(), a.clone()),
        (format!("{cleaning}/offers/bob"), a.clone()),
        (
            format!("{cleaning}/offers/bob"),
            Some(cast.bob.token.clone()),
        ),
        (format!("/api/v1/languages/{}", language.str("id")), None),
        (format!("/api/v1/languages/{shipped}"), None),
        ("/api/v1/profiles/alice".into(), None),
        (format!("/api/v1/users/{}", alice.id), a.clone()),
        (
            format!("/api/v1/users/{}", alice.id),
            Some(cast.admin.token.clone()),
        ),
        ("/api/v1/users/me".into(), a),
    ]
}

#[actix_web::test]
async fn every_single_get_sends_a_strong_etag_that_is_stable_without_writes() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for (path, token) in single_gets(&app, &cast).await {
        let first = app.get(&path, token.as_deref()).await;
        assert_eq!(first.status, 200, "GET {path}: {first:#?}");
        let again = app.get(&path, token.as_deref()).await;
        assert_eq!(
            again.etag(),
            first.etag(),
            "GET {path}: no write in between, same ETag"
        );
    }
}

#[actix_web::test]
async fn if_none_match_with_the_current_tag_is_304_with_the_etag_and_no_body() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for (path, token) in single_gets(&app, &cast).await {
        let tag = app.get(&path, token.as_deref()).await.etag();
        let r = get_if_none_match(&app, &path, token.as_deref(), &tag).await;
        assert_eq!(r.status, 304, "GET {path} If-None-Match {tag}: {r:#?}");
        assert_eq!(r.header("etag"), Some(tag.as_str()), "GET {path}: {r:#?}");
        assert!(r.text.is_empty(), "GET {path}: a 304 has no body: {r:#?}");
    }
}

#[actix_web::test]
async fn if_none_match_matches_in_a_list_as_star_and_in_weak_form() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for (path, token) in single_gets(&app, &cast).await {
        let tag = app.get(&path, token.as_deref()).await.etag();
        for value in [
            format!("\"other\", {tag}"),
            format!("{tag}, \"other\""),
            "*".to_owned(),
            format!("W/{tag}"),
        ] {
            let r = get_if_none_match(&app, &path, token.as_deref(), &value).await;
            assert_eq!(r.status, 304, "GET {path} If-None-Match {value}: {r:#?}");
            assert_eq!(r.header("etag"), Some(tag.as_str()), "{r:#?}");
            assert!(r.text.is_empty(), "{r:#?}");
        }
    }
}

#[actix_web::test]
async fn if_none_match_with_another_tag_is_200_with_the_body() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for (path, token) in single_gets(&app, &cast).await {
        let plain = app.get(&path, token.as_deref()).await;
        for value in ["\"nope\"", "W/\"nope\"", "\"nope\", \"other\""] {
            let r = get_if_none_match(&app, &path, token.as_deref(), value).await;
            assert_eq!(r.status, 200, "GET {path} If-None-Match {value}: {r:#?}");
            assert_eq!(r.body, plain.body, "GET {path}");
            assert_eq!(r.etag(), plain.etag(), "GET {path}");
        }
    }
}

#[actix_web::test]
async fn if_none_match_with_a_tag_from_before_a_write_is_200_with_the_new_body() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let stale = stale_tag(&app, &t).await;
        let (body, tag) = current(&app, &t).await;
        let r = get_if_none_match(&app, &t.read, t.tok(), &stale).await;
        assert_eq!(r.status, 200, "{kind:?}: {r:#?}");
        assert_eq!(r.body, body, "{kind:?}");
        assert_eq!(r.etag(), tag, "{kind:?}");
    }
}

#[actix_web::test]
async fn if_none_match_never_reveals_what_the_caller_may_not_see() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let alice = &cast.alice;
    // A draft: 404 to anyone but its author, even with its current tag.
    let draft = app.new_post(alice, "Secret draft", false).await;
    let draft = format!("/api/v1/posts/{}", draft["id"].as_str().expect("id"));
    let tag = app.get(&draft, alice.tok()).await.etag();
    assert_problem(&get_if_none_match(&app, &draft, None, &tag).await, 404);
    assert_problem(
        &get_if_none_match(&app, &draft, cast.bob.tok(), &tag).await,
        404,
    );
    // A cleaning needs a token.
    let cleaning = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Flat", "price": 40}),
        )
        .await;
    let cleaning = format!("/api/v1/cleanings/{}", cleaning.str("id"));
    let tag = app.get(&cleaning, alice.tok()).await.etag();
    assert_unauthorized(&get_if_none_match(&app, &cleaning, None, &tag).await);
    // An offer is for its two parties; a user for themself and admins.
    let offer = app
        .post(&format!("{cleaning}/offers"), cast.bob.tok(), json!({}))
        .await
        .etag();
    let offer_path = format!("{cleaning}/offers/bob");
    assert_problem(
        &get_if_none_match(&app, &offer_path, cast.dave.tok(), &offer).await,
        403,
    );
    let user = format!("/api/v1/users/{}", alice.id);
    let tag = app.get(&user, alice.tok()).await.etag();
    assert_problem(
        &get_if_none_match(&app, &user, cast.bob.tok(), &tag).await,
        403,
    );
}

// ----- ETag on writes -----

#[actix_web::test]
async fn create_responses_carry_the_etag_a_following_get_returns() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in REPLACEABLE {
        let t = target(&app, &cast, kind).await;
        let created = t.created.as_ref().expect("made by a POST");
        assert_eq!(
            created.header("location"),
            Some(t.read.as_str()),
            "{created:#?}"
        );
        assert_eq!(created.etag(), current(&app, &t).await.1, "{kind:?}");
    }
    // An offer, read by either party.
    let cleaning = target(&app, &cast, Kind::Cleaning).await;
    let offer = app
        .post(
            &format!("{}/offers", cleaning.read),
            cast.bob.tok(),
            json!({}),
        )
        .await;
    assert_eq!(offer.status, 201, "{offer:#?}");
    let offer_path = format!("{}/offers/bob", cleaning.read);
    for reader in [&cast.alice, &cast.bob] {
        let got = app.get(&offer_path, reader.tok()).await;
        assert_eq!(got.status, 200, "{got:#?}");
        assert_eq!(
            got.etag(),
            offer.etag(),
            "offer read by {}",
            reader.username
        );
    }
    // A user, at its Location.
    let registered = app
        .register_with(json!({
            "username": "erin",
            "email": "erin@example.com",
            "password": PASSWORD,
        }))
        .await;
    assert_eq!(registered.status, 201, "{registered:#?}");
    let token = app.login("erin", PASSWORD).await;
    let location = registered.header("location").expect("Location").to_owned();
    let got = app.get(&location, Some(&token)).await;
    assert_eq!(got.status, 200, "{got:#?}");
    assert_eq!(got.etag(), registered.etag(), "register");
}

#[actix_web::test]
async fn put_and_patch_responses_carry_the_new_etag_a_following_get_returns() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let (body, old) = current(&app, &t).await;
        let r = patch(&app, &t, kind.patch(&body, 0), None).await;
        assert_eq!(r.status, 200, "{kind:?} PATCH: {r:#?}");
        let new = r.etag();
        assert_ne!(
            new, old,
            "{kind:?}: a PATCH that changes it changes the ETag"
        );
        assert_eq!(current(&app, &t).await, (r.body, new.clone()), "{kind:?}");
        if REPLACEABLE.contains(&kind) {
            let r = put(&app, &t, kind.put(), None).await;
            assert_eq!(r.status, 200, "{kind:?} PUT: {r:#?}");
            let newer = r.etag();
            assert_ne!(
                newer, new,
                "{kind:?}: a PUT that changes it changes the ETag"
            );
            assert_eq!(current(&app, &t).await, (r.body, newer), "{kind:?}");
        }
    }
}

#[actix_web::test]
async fn a_patch_that_changes_nothing_keeps_the_etag() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let before = current(&app, &t).await;
        let r = patch(&app, &t, kind.no_op(), None).await;
        assert_eq!(r.status, 200, "{kind:?}: {r:#?}");
        assert_eq!(r.etag(), before.1, "{kind:?}: the no-op PATCH's ETag");
        assert_eq!(current(&app, &t).await, before, "{kind:?}");
        // The old tag is still the current one, so it still passes If-Match.
        let r = patch(&app, &t, kind.no_op(), Some(&before.1)).await;
        assert_eq!(r.status, 200, "{kind:?}: {r:#?}");
    }
}

// ----- If-Match -----

#[actix_web::test]
async fn if_match_with_the_current_tag_lets_put_patch_and_delete_through() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let (body, tag) = current(&app, &t).await;
        let r = patch(&app, &t, kind.patch(&body, 0), Some(&tag)).await;
        assert_eq!(r.status, 200, "{kind:?} PATCH If-Match current: {r:#?}");
        let tag = r.etag();
        assert_eq!(current(&app, &t).await, (r.body, tag.clone()), "{kind:?}");
        if REPLACEABLE.contains(&kind) {
            let r = put(&app, &t, kind.put(), Some(&tag)).await;
            assert_eq!(r.status, 200, "{kind:?} PUT If-Match current: {r:#?}");
            let tag = r.etag();
            assert_eq!(current(&app, &t).await, (r.body, tag.clone()), "{kind:?}");
            let r = delete(&app, &t, Some(&tag)).await;
            assert_eq!(r.status, 204, "{kind:?} DELETE If-Match current: {r:#?}");
            assert_problem(&app.get(&t.read, t.tok()).await, 404);
        }
    }
}

#[actix_web::test]
async fn stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let stale = stale_tag(&app, &t).await;
        assert_every_write_refused(&app, &t, &stale, 412).await;
    }
}

#[actix_web::test]
async fn if_match_with_an_unknown_tag_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        for tag in ["\"nope\"", "\"nope\", \"other\""] {
            assert_every_write_refused(&app, &t, tag, 412).await;
        }
    }
}

#[actix_web::test]
async fn weak_if_match_never_matches_even_the_current_tag_and_is_412() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let (_, tag) = current(&app, &t).await;
        assert_every_write_refused(&app, &t, &format!("W/{tag}"), 412).await;
    }
}

#[actix_web::test]
async fn if_match_star_lets_the_write_through() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let (body, old) = current(&app, &t).await;
        let r = patch(&app, &t, kind.patch(&body, 0), Some("*")).await;
        assert_eq!(r.status, 200, "{kind:?} PATCH If-Match *: {r:#?}");
        assert_ne!(r.etag(), old, "{kind:?}");
        if REPLACEABLE.contains(&kind) {
            let r = put(&app, &t, kind.put(), Some("*")).await;
            assert_eq!(r.status, 200, "{kind:?} PUT If-Match *: {r:#?}");
            let r = delete(&app, &t, Some("*")).await;
            assert_eq!(r.status, 204, "{kind:?} DELETE If-Match *: {r:#?}");
            assert_problem(&app.get(&t.read, t.tok()).await, 404);
        }
    }
}

#[actix_web::test]
async fn malformed_if_match_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        for tag in ["abc", "\"unterminated"] {
            assert_every_write_refused(&app, &t, tag, 400).await;
        }
    }
}

#[actix_web::test]
async fn missing_is_404_and_someone_elses_is_403_even_with_a_stale_if_match() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let stale = stale_tag(&app, &t).await;
        let before = current(&app, &t).await;
        let mut methods = vec!["PATCH"];
        if REPLACEABLE.contains(&kind) {
            methods.extend(["PUT", "DELETE"]);
        }
        let body_for = |method: &str| match method {
            "PATCH" => Body::Json(kind.patch(&before.0, 0)),
            "PUT" => Body::Json(kind.put()),
            _ => Body::Empty,
        };
        for method in methods {
            if let Some(missing) = &t.missing {
                let body = body_for(method);
                let r = send_if_match(&app, method, missing, t.tok(), Some(&stale), body).await;
                assert_eq!(r.status, 404, "{kind:?} {method} missing: {r:#?}");
                assert_problem(&r, 404);
            }
            if let Some(stranger) = &t.stranger {
                let body = body_for(method);
                let r =
                    send_if_match(&app, method, &t.write, Some(stranger), Some(&stale), body).await;
                assert_eq!(r.status, 403, "{kind:?} {method} by a stranger: {r:#?}");
                assert_problem(&r, 403);
            }
        }
        assert_eq!(current(&app, &t).await, before, "{kind:?}: nothing changed");
    }
}

/// A body of the wrong shape (a missing member, a wrong type) is refused as
/// it is read, before anything is looked up; a body that breaks a rule is
/// checked after the precondition.
#[actix_web::test]
async fn stale_if_match_is_checked_before_the_body_rules() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        let stale = stale_tag(&app, &t).await;
        let before = current(&app, &t).await;
        let alone = patch(&app, &t, kind.invalid_patch(), None).await;
        assert_eq!(alone.status, 422, "{kind:?}: the body alone: {alone:#?}");
        let r = patch(&app, &t, kind.invalid_patch(), Some(&stale)).await;
        assert_eq!(r.status, 412, "{kind:?} PATCH: {r:#?}");
        assert_problem(&r, 412);
        if REPLACEABLE.contains(&kind) {
            let alone = put(&app, &t, kind.invalid_put(), None).await;
            assert_eq!(
                alone.status, 422,
                "{kind:?}: the PUT body alone: {alone:#?}"
            );
            let r = put(&app, &t, kind.invalid_put(), Some(&stale)).await;
            assert_eq!(r.status, 412, "{kind:?} PUT: {r:#?}");
            assert_problem(&r, 412);
        }
        assert_eq!(current(&app, &t).await, before, "{kind:?}: nothing changed");
    }
}

// ----- races -----

#[actix_web::test]
async fn concurrent_patches_with_the_same_if_match_give_one_200_and_one_412() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in ALL {
        let t = target(&app, &cast, kind).await;
        for round in 0..ROUNDS {
            let (body, tag) = current(&app, &t).await;
            let (a, b) = join(
                patch(&app, &t, kind.patch(&body, 0), Some(&tag)),
                patch(&app, &t, kind.patch(&body, 1), Some(&tag)),
            )
            .await;
            let what = format!("{kind:?} round {round}");
            let (winner, loser) = winner_and_loser(a, b, 200, &what);
            assert_problem(&loser, 412);
            assert_eq!(
                current(&app, &t).await,
                (winner.body.clone(), winner.etag()),
                "{what}: the winner's state"
            );
        }
    }
}

#[actix_web::test]
async fn concurrent_puts_with_the_same_if_match_give_one_200_and_one_412() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in REPLACEABLE {
        let t = target(&app, &cast, kind).await;
        for round in 0..ROUNDS {
            let (_, tag) = current(&app, &t).await;
            let (a, b) = join(
                put(&app, &t, kind.put(), Some(&tag)),
                put(&app, &t, kind.put(), Some(&tag)),
            )
            .await;
            let what = format!("{kind:?} round {round}");
            let (winner, loser) = winner_and_loser(a, b, 200, &what);
            assert_problem(&loser, 412);
            assert_eq!(
                current(&app, &t).await,
                (winner.body.clone(), winner.etag()),
                "{what}: the winner's state"
            );
        }
    }
}

#[actix_web::test]
async fn concurrent_deletes_with_the_same_if_match_delete_once() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in REPLACEABLE {
        for round in 0..ROUNDS {
            let t = target(&app, &cast, kind).await;
            let (_, tag) = current(&app, &t).await;
            let (a, b) = join(delete(&app, &t, Some(&tag)), delete(&app, &t, Some(&tag))).await;
            let what = format!("{kind:?} round {round}");
            let (_, loser) = winner_and_loser(a, b, 204, &what);
            // 412 when it checked the tag first; 404 when the winner had already finished.
            assert!(
                loser.status == 412 || loser.status == 404,
                "{what}: {loser:#?}"
            );
            assert_problem(&loser, loser.status.as_u16());
            assert_problem(&app.get(&t.read, t.tok()).await, 404);
        }
    }
}

#[actix_web::test]
async fn a_patch_and_a_delete_with_the_same_if_match_let_exactly_one_through() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    for kind in REPLACEABLE {
        for round in 0..ROUNDS {
            let t = target(&app, &cast, kind).await;
            let (body, tag) = current(&app, &t).await;
            let (patched, deleted) = join(
                patch(&app, &t, kind.patch(&body, 0), Some(&tag)),
                delete(&app, &t, Some(&tag)),
            )
            .await;
            let what = format!("{kind:?} round {round}");
            match (patched.status.as_u16(), deleted.status.as_u16()) {
                (200, _) => {
                    // The resource is still there, so the delete's tag was stale.
                    assert_problem(&deleted, 412);
                    assert_eq!(
                        current(&app, &t).await,
                        (patched.body.clone(), patched.etag()),
                        "{what}: the patch's state"
                    );
                }
                (_, 204) => {
                    assert!(
                        patched.status == 412 || patched.status == 404,
                        "{what}: {patched:#?}"
                    );
                    assert_problem(&patched, patched.status.as_u16());
                    assert_problem(&app.get(&t.read, t.tok()).await, 404);
                }
                _ => panic!("{what}: neither went through: {patched:#?}\n{deleted:#?}"),
            }
        }
    }
}

// ----- offers -----

/// A new cleaning of alice's; returns its path.
async fn new_cleaning(app: &TestApp, cast: &Cast) -> String {
    let r = app
        .post(
            "/api/v1/cleanings",
            cast.alice.tok(),
            json!({"name": "Flat", "price": 40}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    format!("/api/v1/cleanings/{}", r.str("id"))
}

/// `by` offers on the cleaning at `cleaning`; returns the 201.
async fn offer(app: &TestApp, cleaning: &str, by: &TestUser) -> Resp {
    let r = app
        .post(&format!("{cleaning}/offers"), by.tok(), json!({}))
        .await;
    assert_eq!(r.status, 201, "{} offers: {r:#?}", by.username);
    r
}

/// `POST {cleaning}/offers/{username}/{action}` under `If-Match` when given.
async fn act(
    app: &TestApp,
    cleaning: &str,
    username: &str,
    action: &str,
    by: &TestUser,
    if_match: Option<&str>,
) -> Resp {
    let path = format!("{cleaning}/offers/{username}/{action}");
    send_if_match(app, "POST", &path, by.tok(), if_match, Body::Empty).await
}

/// The offer of `username` and its ETag, as the cleaning's owner reads it.
async fn offer_now(app: &TestApp, cast: &Cast, cleaning: &str, username: &str) -> (Value, String) {
    let r = app
        .get(&format!("{cleaning}/offers/{username}"), cast.alice.tok())
        .await;
    assert_eq!(r.status, 200, "offer of {username}: {r:#?}");
    let tag = r.etag();
    (r.body, tag)
}

/// Asserts a 200 move whose ETag and body are what a following GET returns.
async fn assert_moved(
    app: &TestApp,
    cast: &Cast,
    cleaning: &str,
    username: &str,
    r: &Resp,
    status: &str,
) {
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["status"], status, "{r:#?}");
    assert_eq!(
        offer_now(app, cast, cleaning, username).await,
        (r.body.clone(), r.etag()),
        "the move's ETag is the one a GET returns"
    );
}

#[actix_web::test]
async fn offer_moves_carry_the_new_etag_a_following_get_returns() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    let bob0 = offer(&app, &cleaning, &c.bob).await.etag();
    offer(&app, &cleaning, &c.carol).await;
    let r = act(&app, &cleaning, "bob", "accept", &c.alice, None).await;
    assert_moved(&app, &c, &cleaning, "bob", &r, "accepted").await;
    let bob1 = r.etag();
    assert_ne!(bob1, bob0, "accepting changes the ETag");
    let r = act(&app, &cleaning, "bob", "cancel", &c.bob, None).await;
    assert_moved(&app, &c, &cleaning, "bob", &r, "cancelled").await;
    assert_ne!(r.etag(), bob1, "cancelling changes the ETag");
    let carol = offer_now(&app, &c, &cleaning, "carol").await.1;
    let r = act(&app, &cleaning, "carol", "reject", &c.alice, None).await;
    assert_moved(&app, &c, &cleaning, "carol", &r, "rejected").await;
    assert_ne!(r.etag(), carol, "rejecting changes the ETag");
}

#[actix_web::test]
async fn accepting_an_offer_changes_the_etag_of_the_offers_it_rejects() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    offer(&app, &cleaning, &c.bob).await;
    let carol_before = offer(&app, &cleaning, &c.carol).await.etag();
    let r = act(&app, &cleaning, "bob", "accept", &c.alice, None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    let (carol, tag) = offer_now(&app, &c, &cleaning, "carol").await;
    assert_eq!(carol["status"], "rejected", "{carol}");
    assert_ne!(tag, carol_before, "carol's offer changed, so did its ETag");
}

#[actix_web::test]
async fn offer_moves_with_the_current_if_match_go_through() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    offer(&app, &cleaning, &c.bob).await;
    let carol = offer(&app, &cleaning, &c.carol).await.etag();
    // The tag of the create response.
    let r = act(&app, &cleaning, "carol", "reject", &c.alice, Some(&carol)).await;
    assert_moved(&app, &c, &cleaning, "carol", &r, "rejected").await;
    // The tag of a GET.
    let (_, bob) = offer_now(&app, &c, &cleaning, "bob").await;
    let r = act(&app, &cleaning, "bob", "accept", &c.alice, Some(&bob)).await;
    assert_moved(&app, &c, &cleaning, "bob", &r, "accepted").await;
    // The tag of the previous move.
    let r = act(&app, &cleaning, "bob", "cancel", &c.bob, Some(&r.etag())).await;
    assert_moved(&app, &c, &cleaning, "bob", &r, "cancelled").await;
    // Rescinding a pending offer.
    let dave = offer(&app, &cleaning, &c.dave).await.etag();
    let path = format!("{cleaning}/offers/dave");
    let r = send_if_match(
        &app,
        "DELETE",
        &path,
        c.dave.tok(),
        Some(&dave),
        Body::Empty,
    )
    .await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_problem(&app.get(&path, c.dave.tok()).await, 404);
}

#[actix_web::test]
async fn offer_move_with_if_match_star_goes_through() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    offer(&app, &cleaning, &c.bob).await;
    let r = act(&app, &cleaning, "bob", "accept", &c.alice, Some("*")).await;
    assert_moved(&app, &c, &cleaning, "bob", &r, "accepted").await;
}

#[actix_web::test]
async fn offer_moves_with_a_stale_unknown_or_weak_if_match_are_412_and_change_nothing() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    let bob0 = offer(&app, &cleaning, &c.bob).await.etag();
    let carol0 = offer(&app, &cleaning, &c.carol).await.etag();
    let bob_before = offer_now(&app, &c, &cleaning, "bob").await;
    let carol_before = offer_now(&app, &c, &cleaning, "carol").await;

    let r = act(&app, &cleaning, "bob", "accept", &c.alice, Some("\"nope\"")).await;
    assert_problem(&r, 412);
    let weak = format!("W/{carol0}");
    let r = act(&app, &cleaning, "carol", "reject", &c.alice, Some(&weak)).await;
    assert_problem(&r, 412);
    let path = format!("{cleaning}/offers/carol");
    let r = send_if_match(
        &app,
        "DELETE",
        &path,
        c.carol.tok(),
        Some("\"nope\""),
        Body::Empty,
    )
    .await;
    assert_problem(&r, 412);
    assert_eq!(offer_now(&app, &c, &cleaning, "bob").await, bob_before);
    assert_eq!(offer_now(&app, &c, &cleaning, "carol").await, carol_before);

    // Accepted without If-Match, the create's tag is stale.
    let r = act(&app, &cleaning, "bob", "accept", &c.alice, None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    let accepted = offer_now(&app, &c, &cleaning, "bob").await;
    let r = act(&app, &cleaning, "bob", "cancel", &c.bob, Some(&bob0)).await;
    assert_problem(&r, 412);
    assert_eq!(offer_now(&app, &c, &cleaning, "bob").await, accepted);
    assert_eq!(accepted.0["status"], "accepted");
}

#[actix_web::test]
async fn offer_move_with_a_malformed_if_match_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    offer(&app, &cleaning, &c.bob).await;
    let before = offer_now(&app, &c, &cleaning, "bob").await;
    for tag in ["abc", "\"unterminated"] {
        let r = act(&app, &cleaning, "bob", "accept", &c.alice, Some(tag)).await;
        assert_problem(&r, 400);
        let path = format!("{cleaning}/offers/bob");
        let r = send_if_match(&app, "DELETE", &path, c.bob.tok(), Some(tag), Body::Empty).await;
        assert_problem(&r, 400);
    }
    assert_eq!(offer_now(&app, &c, &cleaning, "bob").await, before);
}

#[actix_web::test]
async fn offer_move_by_a_stranger_is_403_and_on_a_missing_offer_404_even_with_a_stale_if_match() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let cleaning = new_cleaning(&app, &c).await;
    let stale = offer(&app, &cleaning, &c.bob).await.etag();
    let r = act(&app, &cleaning, "bob", "accept", &c.alice, None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    let before = offer_now(&app, &c, &cleaning, "bob").await;

    // Cancelling belongs to the offerer: the owner and dave are 403.
    for who in [&c.dave, &c.alice] {
        let r = act(&app, &cleaning, "bob", "cancel", who, Some(&stale)).await;
        assert_problem(&r, 403);
    }
    // Rejecting belongs to the owner.
    let r = act(&app, &cleaning, "bob", "reject", &c.dave, Some(&stale)).await;
    assert_problem(&r, 403);
    // No such offer, no such cleaning.
    let r = act(&app, &cleaning, "erin", "accept", &c.alice, Some(&stale)).await;
    assert_problem(&r, 404);
    let gone = format!("/api/v1/cleanings/{}", missing_id());
    let r = act(&app, &gone, "bob", "cancel", &c.bob, Some(&stale)).await;
    assert_problem(&r, 404);
    let r = send_if_match(
        &app,
        "DELETE",
        &format!("{gone}/offers/bob"),
        c.bob.tok(),
        Some(&stale),
        Body::Empty,
    )
    .await;
    assert_problem(&r, 404);
    assert_eq!(offer_now(&app, &c, &cleaning, "bob").await, before);
}

#[actix_web::test]
async fn concurrent_offer_moves_with_the_same_if_match_give_one_200_and_one_412() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    for round in 0..ROUNDS {
        let cleaning = new_cleaning(&app, &c).await;
        let tag = offer(&app, &cleaning, &c.bob).await.etag();
        let (a, b) = join(
            act(&app, &cleaning, "bob", "accept", &c.alice, Some(&tag)),
            act(&app, &cleaning, "bob", "reject", &c.alice, Some(&tag)),
        )
        .await;
        let what = format!("accept and reject, round {round}");
        let (winner, loser) = winner_and_loser(a, b, 200, &what);
        assert_problem(&loser, 412);
        assert_eq!(
            offer_now(&app, &c, &cleaning, "bob").await,
            (winner.body.clone(), winner.etag()),
            "{what}: the winner's state"
        );
    }
}

// ----- Cache-Control -----

#[actix_web::test]
async fn public_single_gets_without_a_token_are_no_cache() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Public", true).await;
    let language = app
        .get("/api/v1/languages?limit=1", None)
        .await
        .data()
        .first()
        .cloned()
        .expect("a shipped language");
    for path in [
        format!("/api/v1/posts/{}", post["id"].as_str().expect("id")),
        format!(
            "/api/v1/posts/by-slug/{}",
            post["slug"].as_str().expect("slug")
        ),
        format!("/api/v1/languages/{}", language["id"].as_str().expect("id")),
        "/api/v1/profiles/alice".to_owned(),
    ] {
        let r = app.get(&path, None).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        assert_eq!(cache_directives(&r), ["no-cache"], "{path}: {r:#?}");
    }
}

#[actix_web::test]
async fn authenticated_single_gets_are_private_no_cache() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let post = app.new_post(&c.alice, "Seen with a token", true).await;
    let cleaning = new_cleaning(&app, &c).await;
    offer(&app, &cleaning, &c.bob).await;
    for (path, who) in [
        (
            format!("/api/v1/posts/{}", post["id"].as_str().expect("id")),
            &c.bob,
        ),
        (cleaning.clone(), &c.alice),
        (cleaning.clone(), &c.bob),
        (format!("{cleaning}/offers/bob"), &c.alice),
        (format!("{cleaning}/offers/bob"), &c.bob),
        ("/api/v1/users/me".to_owned(), &c.alice),
        (format!("/api/v1/users/{}", c.alice.id), &c.alice),
        (format!("/api/v1/users/{}", c.alice.id), &c.admin),
    ] {
        let r = app.get(&path, who.tok()).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        assert_eq!(
            cache_directives(&r),
            ["no-cache", "private"],
            "{path} as {}: {r:#?}",
            who.username
        );
    }
}

#[actix_web::test]
async fn a_successful_login_is_no_store() {
    let app = spawn_app().await;
    app.register("alice").await;
    let json = app.login_json("alice", PASSWORD).await;
    let form = app
        .send(
            "POST",
            "/api/v1/auth/login",
            None,
            Body::Form("username=alice&password=Passw0rd%21x".to_owned()),
        )
        .await;
    for r in [json, form] {
        assert_eq!(r.status, 200, "{r:#?}");
        assert!(
            cache_directives(&r).iter().any(|d| d == "no-store"),
            "login without Cache-Control: no-store: {r:#?}"
        );
    }
}
