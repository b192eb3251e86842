//! Section 4: posts, every row of the table.

use serde_json::{Value, json};

use crate::common::*;

fn post_path(post: &Value) -> String {
    format!("/api/v1/posts/{}", post["id"].as_str().expect("post id"))
}

// ----- POST /posts -----

#[actix_web::test]
async fn create_post_returns_201_with_location_and_the_post() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "First post", "body": "Hello there"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_post_shape(&r.body);
    let id = r.str("id");
    assert_uuid_v7(&id);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/posts/{id}").as_str())
    );
    assert_eq!(r.body["title"], "First post");
    assert_eq!(r.body["slug"], "first-post");
    assert_eq!(r.body["body"], "Hello there");
    assert_eq!(r.body["published"], false, "published defaults to false");
    assert_eq!(r.body["author_id"], alice.id.as_str());
    assert_eq!(r.body["author_username"], "alice");
    assert_timestamp(&r.body["created_at"]);
    assert_timestamp(&r.body["updated_at"]);

    let got = app.get(&format!("/api/v1/posts/{id}"), alice.tok()).await;
    assert_eq!(got.status, 200, "{got:#?}");
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn create_post_without_token_is_401() {
    let app = spawn_app().await;
    let r = app
        .post("/api/v1/posts", None, json!({"title": "t", "body": "b"}))
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn create_post_takes_the_author_from_the_token_and_ignores_body_ids() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let forged = uuid::Uuid::now_v7().to_string();
    let r = app
        .create_post(
            &alice.token,
            json!({
                "title": "Mine", "body": "b", "author_id": bob.id, "author_username": "bob",
                "id": forged, "created_at": "2000-01-01T00:00:00.000000Z",
                "updated_at": "2000-01-01T00:00:00.000000Z", "deleted_at": "2000-01-01T00:00:00.000000Z",
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["author_id"], alice.id.as_str());
    assert_eq!(r.body["author_username"], "alice");
    assert_ne!(r.body["id"], forged.as_str());
    assert_ne!(r.body["created_at"], "2000-01-01T00:00:00.000000Z");
    assert_eq!(
        app.get(&post_path(&r.body), alice.tok()).await.status,
        200,
        "deleted_at was taken from the body"
    );
}

#[actix_web::test]
async fn create_post_derives_the_slug_from_the_title() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for (title, slug) in [
        ("Hello, Wörld!", "hello-world"),
        ("  Rust -- 2024 Edition!!  ", "rust-2024-edition"),
        ("Crème Brûlée à la carte", "creme-brulee-a-la-carte"),
        ("snake_case_title", "snake-case-title"),
    ] {
        let r = app
            .create_post(&alice.token, json!({"title": title, "body": ""}))
            .await;
        assert_eq!(r.status, 201, "{title:?}: {r:#?}");
        assert_eq!(r.body["slug"], slug, "slug of {title:?}");
        assert_eq!(r.body["title"], title, "the title is kept as typed");
    }
}

#[actix_web::test]
async fn create_post_keeps_a_given_valid_slug() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Anything", "slug": "my-own-slug-2", "body": "b"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["slug"], "my-own-slug-2");
    let r = app
        .get("/api/v1/posts/by-slug/my-own-slug-2", alice.tok())
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
}

#[actix_web::test]
async fn create_post_with_invalid_slug_is_422_on_slug() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [
        "Upper-Case".to_owned(),
        "with space".to_owned(),
        "double--hyphen".to_owned(),
        "-leading".to_owned(),
        "trailing-".to_owned(),
        "ünicode".to_owned(),
        "under_score".to_owned(),
        String::new(),
        "a".repeat(201),
    ] {
        let r = app
            .create_post(
                &alice.token,
                json!({"title": "Fine", "slug": bad, "body": ""}),
            )
            .await;
        assert_field_error(&r, "slug");
    }
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Fine", "slug": "a".repeat(200), "body": ""}),
        )
        .await;
    assert_eq!(r.status, 201, "200 characters is fine: {r:#?}");
}

#[actix_web::test]
async fn create_post_with_a_title_that_yields_no_slug_is_422_on_title() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for title in ["!!!", "   ", "---"] {
        let r = app
            .create_post(&alice.token, json!({"title": title, "body": ""}))
            .await;
        assert_field_error(&r, "title");
    }
    // With an explicit slug, the same title is fine.
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "!!!", "slug": "bang", "body": ""}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
}

#[actix_web::test]
async fn create_post_title_must_be_1_to_200_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(&alice.token, json!({"title": "", "body": ""}))
        .await;
    assert_field_error(&r, "title");
    let r = app
        .create_post(&alice.token, json!({"title": "t".repeat(201), "body": ""}))
        .await;
    assert_field_error(&r, "title");
    let r = app
        .create_post(&alice.token, json!({"title": "t".repeat(200), "body": ""}))
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "é".repeat(200), "slug": "e", "body": ""}),
        )
        .await;
    assert_eq!(r.status, 201, "200 characters (400 bytes) is fine: {r:#?}");
}

#[actix_web::test]
async fn create_post_body_may_be_empty_and_at_most_100000_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(&alice.token, json!({"title": "Empty", "body": ""}))
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["body"], "");
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Too long", "body": "x".repeat(100_001)}),
        )
        .await;
    assert_field_error(&r, "body");
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Longest", "body": "é".repeat(100_000)}),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "100 000 characters (200 000 bytes) is fine: {r:#?}"
    );
    assert_eq!(r.body["body"].as_str().unwrap().chars().count(), 100_000);
}

#[actix_web::test]
async fn create_post_without_title_and_body_reports_both_as_required() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(&alice.token, json!({"published": true}))
        .await;
    assert_field_error_type(&r, "title", "required");
    assert_field_error_type(&r, "body", "required");
}

#[actix_web::test]
async fn create_post_with_a_live_slug_is_409_whether_given_or_derived() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.new_post(&alice, "Hello World", false).await;
    let r = app
        .create_post(&bob.token, json!({"title": "Hello, world!", "body": ""}))
        .await;
    assert_problem(&r, 409);
    assert!(
        r.str("detail").to_lowercase().contains("slug"),
        "409 detail does not name the slug: {r:#?}"
    );
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Other", "slug": "hello-world", "body": ""}),
        )
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn concurrent_creates_of_the_same_slug_give_one_201_and_409s_never_5xx() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let requests = (0..8).map(|i| {
        let token = if i % 2 == 0 { &alice.token } else { &bob.token };
        app.create_post(
            token,
            json!({"title": format!("Race {i}"), "slug": "the-race", "body": "go"}),
        )
    });
    let results = futures_util::future::join_all(requests).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    for r in &results {
        assert!(
            r.status == 201 || r.status == 409,
            "neither 201 nor 409: {r:#?}"
        );
        if r.status == 409 {
            assert_problem(r, 409);
        }
    }
    assert_eq!(created, 1, "exactly one create wins: {results:#?}");
    let r = app.get("/api/v1/users/me/posts", alice.tok()).await;
    let mine = r.data().len();
    let r = app.get("/api/v1/users/me/posts", bob.tok()).await;
    assert_eq!(mine + r.data().len(), 1, "exactly one post exists");
}

#[actix_web::test]
async fn concurrent_creates_with_the_same_derived_slug_give_one_201() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let requests =
        (0..8).map(|_| app.create_post(&alice.token, json!({"title": "Same Title", "body": ""})));
    let results = futures_util::future::join_all(requests).await;
    for r in &results {
        assert!(r.status == 201 || r.status == 409, "{r:#?}");
    }
    assert_eq!(
        results.iter().filter(|r| r.status == 201).count(),
        1,
        "{results:#?}"
    );
}

// ----- GET /posts/{id}, /posts/by-slug/{slug} -----

#[actix_web::test]
async fn get_published_post_is_public() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Public", true).await;
    let r = app.get(&post_path(&post), None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, post);
    let r = app.get("/api/v1/posts/by-slug/public", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, post);
}

#[actix_web::test]
async fn get_missing_post_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .get(
            &format!("/api/v1/posts/{}", uuid::Uuid::now_v7()),
            alice.tok(),
        )
        .await;
    assert_problem(&r, 404);
    let r = app
        .get("/api/v1/posts/by-slug/no-such-slug", alice.tok())
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn post_with_malformed_id_is_404_on_every_method() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let path = "/api/v1/posts/not-a-uuid";
    assert_problem(&app.get(path, admin.tok()).await, 404);
    assert_problem(
        &app.put(path, admin.tok(), json!({"title": "t", "body": ""}))
            .await,
        404,
    );
    assert_problem(
        &app.patch(path, admin.tok(), json!({"title": "t"})).await,
        404,
    );
    assert_problem(&app.delete(path, admin.tok()).await, 404);
}

#[actix_web::test]
async fn someone_elses_draft_is_404_by_id_and_by_slug() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let draft = app.new_post(&alice, "Secret Draft", false).await;
    assert_problem(&app.get(&post_path(&draft), bob.tok()).await, 404);
    assert_problem(&app.get(&post_path(&draft), None).await, 404);
    assert_problem(
        &app.get("/api/v1/posts/by-slug/secret-draft", bob.tok())
            .await,
        404,
    );
    assert_problem(
        &app.get("/api/v1/posts/by-slug/secret-draft", None).await,
        404,
    );
}

#[actix_web::test]
async fn a_draft_is_visible_to_its_author_and_to_admins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let draft = app.new_post(&alice, "Secret Draft", false).await;
    for who in [&alice, &admin] {
        let r = app.get(&post_path(&draft), who.tok()).await;
        assert_eq!(r.status, 200, "{}: {r:#?}", who.username);
        assert_eq!(r.body, draft);
        let r = app
            .get("/api/v1/posts/by-slug/secret-draft", who.tok())
            .await;
        assert_eq!(r.status, 200, "{}: {r:#?}", who.username);
    }
}

// ----- GET /posts, /users/me/posts -----

#[actix_web::test]
async fn list_posts_shows_published_posts_of_everyone_only() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let a1 = app.new_post(&alice, "Alice published", true).await;
    app.new_post(&alice, "Alice draft", false).await;
    let b1 = app.new_post(&bob, "Bob published", true).await;
    app.new_post(&bob, "Bob draft", false).await;
    for token in [None, alice.tok(), bob.tok()] {
        let r = app.get("/api/v1/posts", token).await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(
            ids(r.data()),
            ids(&[b1.clone(), a1.clone()]),
            "published only, newest first"
        );
        assert_eq!(r.body["has_more"], false);
        assert!(r.body["next_cursor"].is_null());
        for p in r.data() {
            assert_post_shape(p);
        }
    }
    // Admins see the public list too: drafts are for GET by id.
    let admin = app.admin().await;
    let r = app.get("/api/v1/posts", admin.tok()).await;
    assert!(r.data().iter().all(|p| p["published"] == true), "{r:#?}");
}

#[actix_web::test]
async fn list_posts_filters_by_author_case_insensitively() {
    let app = spawn_app().await;
    let alice = app.user("Alice").await;
    let bob = app.user("bob").await;
    let a1 = app.new_post(&alice, "Alice one", true).await;
    let a2 = app.new_post(&alice, "Alice two", true).await;
    app.new_post(&alice, "Alice draft", false).await;
    app.new_post(&bob, "Bob one", true).await;
    for name in ["Alice", "alice", "ALICE"] {
        let r = app.get(&format!("/api/v1/posts?author={name}"), None).await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(
            ids(r.data()),
            ids(&[a2.clone(), a1.clone()]),
            "author={name}"
        );
    }
}

#[actix_web::test]
async fn list_posts_of_an_unknown_author_is_an_empty_page() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.new_post(&alice, "Alice one", true).await;
    let r = app.get("/api/v1/posts?author=nobody", None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.data().is_empty(), "{r:#?}");
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_cursor"].is_null());
}

#[actix_web::test]
async fn my_posts_include_drafts_and_only_mine() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let a1 = app.new_post(&alice, "Alice published", true).await;
    let a2 = app.new_post(&alice, "Alice draft", false).await;
    app.new_post(&bob, "Bob published", true).await;
    app.new_post(&bob, "Bob draft", false).await;
    let r = app.get("/api/v1/users/me/posts", alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(ids(r.data()), ids(&[a2, a1]));
    assert_eq!(r.body["has_more"], false);
}

#[actix_web::test]
async fn my_posts_without_token_is_401() {
    let app = spawn_app().await;
    assert_unauthorized(&app.get("/api/v1/users/me/posts", None).await);
}

// ----- PUT /posts/{id} -----

#[actix_web::test]
async fn put_replaces_the_post_and_resets_absent_optional_fields() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Old title", "slug": "custom-slug", "body": "old", "published": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let post = r.body;
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "New Title!", "body": "new"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_post_shape(&r.body);
    assert_eq!(r.body["id"], post["id"]);
    assert_eq!(r.body["title"], "New Title!");
    assert_eq!(r.body["body"], "new");
    assert_eq!(
        r.body["published"], false,
        "absent `published` goes back to false"
    );
    assert_eq!(
        r.body["slug"], "new-title",
        "absent slug is derived from the new title"
    );
    assert_eq!(r.body["created_at"], post["created_at"]);
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&post["updated_at"]));
    assert_eq!(r.body["author_id"], alice.id.as_str());
    let got = app.get(&post_path(&post), alice.tok()).await;
    assert_eq!(got.body, r.body);
    // The old slug no longer names the post.
    assert_problem(
        &app.get("/api/v1/posts/by-slug/custom-slug", alice.tok())
            .await,
        404,
    );
}

#[actix_web::test]
async fn put_with_all_fields_sets_them() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Draft", false).await;
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "Done", "slug": "done-for-real", "body": "text", "published": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["slug"], "done-for-real");
    assert_eq!(r.body["published"], true);
    assert_eq!(
        app.get(&post_path(&post), None).await.status,
        200,
        "now published"
    );
}

#[actix_web::test]
async fn put_keeping_its_own_slug_is_not_a_clash() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Same Title", true).await;
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "Same Title", "body": "edited", "published": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["slug"], "same-title");
}

#[actix_web::test]
async fn put_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Post", true).await;
    let r = app
        .put(&post_path(&post), None, json!({"title": "x", "body": ""}))
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn put_by_non_owner_on_published_post_is_403() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "Alice's", true).await;
    let r = app
        .put(
            &post_path(&post),
            bob.tok(),
            json!({"title": "Bob's now", "body": ""}),
        )
        .await;
    assert_problem(&r, 403);
    assert_eq!(
        app.get(&post_path(&post), None).await.body,
        post,
        "unchanged"
    );
}

#[actix_web::test]
async fn put_by_non_owner_on_draft_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let draft = app.new_post(&alice, "Alice's draft", false).await;
    let r = app
        .put(
            &post_path(&draft),
            bob.tok(),
            json!({"title": "x", "body": ""}),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn put_on_missing_post_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .put(
            &format!("/api/v1/posts/{}", uuid::Uuid::now_v7()),
            alice.tok(),
            json!({"title": "x", "body": ""}),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn put_with_a_slug_of_another_live_post_is_409() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.new_post(&bob, "Taken", true).await;
    let post = app.new_post(&alice, "Mine", true).await;
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "Mine", "slug": "taken", "body": ""}),
        )
        .await;
    assert_problem(&r, 409);
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "Taken", "body": ""}),
        )
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn put_that_breaks_a_rule_is_422() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Mine", true).await;
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "", "body": ""}),
        )
        .await;
    assert_field_error(&r, "title");
    let r = app
        .put(&post_path(&post), alice.tok(), json!({"title": "ok"}))
        .await;
    assert_field_error_type(&r, "body", "required");
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "ok", "slug": "Bad Slug", "body": ""}),
        )
        .await;
    assert_field_error(&r, "slug");
    let r = app
        .put(
            &post_path(&post),
            alice.tok(),
            json!({"title": "!!!", "body": ""}),
        )
        .await;
    assert_field_error(&r, "title");
    assert_eq!(
        app.get(&post_path(&post), None).await.body,
        post,
        "unchanged"
    );
}

#[actix_web::test]
async fn admin_can_put_anyones_post_and_the_author_stays() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    for published in [true, false] {
        let post = app
            .new_post(&alice, &format!("Alice {published}"), published)
            .await;
        let r = app
            .put(
                &post_path(&post),
                admin.tok(),
                json!({"title": format!("Moderated {published}"), "body": "x"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.body["author_id"], alice.id.as_str());
        assert_eq!(r.body["author_username"], "alice");
    }
}

// ----- PATCH /posts/{id} -----

#[actix_web::test]
async fn patch_changes_given_fields_and_keeps_absent_ones() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(&alice.token, json!({"title": "Original", "slug": "kept-slug", "body": "kept body", "published": true}))
        .await;
    let post = r.body;
    let r = app
        .patch(&post_path(&post), alice.tok(), json!({"title": "Renamed"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_post_shape(&r.body);
    assert_eq!(r.body["title"], "Renamed");
    assert_eq!(
        r.body["slug"], "kept-slug",
        "PATCH does not re-derive an absent slug"
    );
    assert_eq!(r.body["body"], "kept body");
    assert_eq!(r.body["published"], true);
    assert_eq!(r.body["created_at"], post["created_at"]);
    assert!(
        parse_ts(&r.body["updated_at"]) > parse_ts(&post["updated_at"]),
        "updated_at moves on a change"
    );

    let r = app
        .patch(
            &post_path(&post),
            alice.tok(),
            json!({"published": false, "slug": "new-slug", "body": ""}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["title"], "Renamed");
    assert_eq!(r.body["slug"], "new-slug");
    assert_eq!(r.body["body"], "");
    assert_eq!(r.body["published"], false);
    assert_eq!(app.get(&post_path(&post), alice.tok()).await.body, r.body);
}

#[actix_web::test]
async fn patch_with_null_for_any_field_is_422_null() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Original", true).await;
    for field in ["title", "slug", "body", "published"] {
        let r = app
            .patch(&post_path(&post), alice.tok(), json!({ field: null }))
            .await;
        assert_field_error_type(&r, field, "null");
    }
    assert_eq!(
        app.get(&post_path(&post), None).await.body,
        post,
        "unchanged"
    );
}

#[actix_web::test]
async fn patch_with_empty_object_returns_the_post_unchanged() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Original", true).await;
    let r = app.patch(&post_path(&post), alice.tok(), json!({})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, post, "same fields, same updated_at");
    assert_eq!(app.get(&post_path(&post), None).await.body, post);
}

#[actix_web::test]
async fn patch_with_only_unknown_fields_is_a_no_op() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "Original", true).await;
    let r = app
        .patch(
            &post_path(&post),
            alice.tok(),
            json!({"id": uuid::Uuid::now_v7().to_string(), "author_id": bob.id,
                   "created_at": "2000-01-01T00:00:00.000000Z", "deleted_at": "2000-01-01T00:00:00.000000Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, post);
    assert_eq!(app.get(&post_path(&post), None).await.body, post);
}

#[actix_web::test]
async fn patch_that_breaks_a_rule_is_422() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Original", true).await;
    let r = app
        .patch(&post_path(&post), alice.tok(), json!({"title": ""}))
        .await;
    assert_field_error(&r, "title");
    let r = app
        .patch(
            &post_path(&post),
            alice.tok(),
            json!({"slug": "Not--Valid"}),
        )
        .await;
    assert_field_error(&r, "slug");
    let r = app
        .patch(
            &post_path(&post),
            alice.tok(),
            json!({"body": "x".repeat(100_001)}),
        )
        .await;
    assert_field_error(&r, "body");
    let r = app
        .patch(&post_path(&post), alice.tok(), json!({"published": "yes"}))
        .await;
    assert_field_error_type(&r, "published", "type");
}

#[actix_web::test]
async fn patch_with_a_slug_of_another_live_post_is_409() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.new_post(&alice, "Taken", true).await;
    let post = app.new_post(&alice, "Mine", true).await;
    let r = app
        .patch(&post_path(&post), alice.tok(), json!({"slug": "taken"}))
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn patch_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Post", true).await;
    assert_unauthorized(
        &app.patch(&post_path(&post), None, json!({"title": "x"}))
            .await,
    );
}

#[actix_web::test]
async fn patch_by_non_owner_is_403_on_published_and_404_on_draft() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let published = app.new_post(&alice, "Published", true).await;
    let draft = app.new_post(&alice, "Draft", false).await;
    assert_problem(
        &app.patch(&post_path(&published), bob.tok(), json!({"title": "x"}))
            .await,
        403,
    );
    assert_problem(
        &app.patch(&post_path(&draft), bob.tok(), json!({"title": "x"}))
            .await,
        404,
    );
    assert_eq!(app.get(&post_path(&published), None).await.body, published);
}

#[actix_web::test]
async fn patch_on_missing_post_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            &format!("/api/v1/posts/{}", uuid::Uuid::now_v7()),
            alice.tok(),
            json!({"title": "x"}),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn admin_can_patch_anyones_post() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let draft = app.new_post(&alice, "Draft", false).await;
    let r = app
        .patch(&post_path(&draft), admin.tok(), json!({"published": true}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["published"], true);
    assert_eq!(r.body["author_id"], alice.id.as_str());
    assert_eq!(app.get(&post_path(&draft), None).await.status, 200);
}

// ----- DELETE /posts/{id} -----

#[actix_web::test]
async fn delete_is_204_and_then_the_post_is_404_on_every_route() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Doomed", true).await;
    let path = post_path(&post);
    let r = app.delete(&path, alice.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert!(r.text.is_empty(), "204 with a body: {r:#?}");
    for who in [None, alice.tok(), admin.tok()] {
        assert_problem(&app.get(&path, who).await, 404);
        assert_problem(&app.get("/api/v1/posts/by-slug/doomed", who).await, 404);
    }
    assert_problem(
        &app.put(&path, alice.tok(), json!({"title": "x", "body": ""}))
            .await,
        404,
    );
    assert_problem(
        &app.patch(&path, alice.tok(), json!({"title": "x"})).await,
        404,
    );
    assert_problem(&app.delete(&path, alice.tok()).await, 404);
    assert_problem(&app.delete(&path, admin.tok()).await, 404);
}

#[actix_web::test]
async fn deleted_post_disappears_from_lists() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Doomed", true).await;
    let keep = app.new_post(&alice, "Kept", true).await;
    assert_eq!(app.delete(&post_path(&post), alice.tok()).await.status, 204);
    let r = app.get("/api/v1/posts", None).await;
    assert_eq!(ids(r.data()), ids(std::slice::from_ref(&keep)));
    let r = app.get("/api/v1/users/me/posts", alice.tok()).await;
    assert_eq!(ids(r.data()), ids(&[keep]));
}

#[actix_web::test]
async fn the_slug_of_a_deleted_post_can_be_used_again() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "Reusable", true).await;
    assert_eq!(app.delete(&post_path(&post), alice.tok()).await.status, 204);
    let r = app
        .create_post(
            &bob.token,
            json!({"title": "Reusable", "body": "again", "published": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["slug"], "reusable");
    assert_ne!(r.body["id"], post["id"]);
    let by_slug = app.get("/api/v1/posts/by-slug/reusable", None).await;
    assert_eq!(by_slug.status, 200, "{by_slug:#?}");
    assert_eq!(by_slug.body["id"], r.body["id"]);
    // And once more, with an explicit slug and through PATCH.
    let other = app.new_post(&alice, "Other", true).await;
    assert_eq!(app.delete(&post_path(&r.body), bob.tok()).await.status, 204);
    let r = app
        .patch(&post_path(&other), alice.tok(), json!({"slug": "reusable"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
}

#[actix_web::test]
async fn delete_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Post", true).await;
    assert_unauthorized(&app.delete(&post_path(&post), None).await);
    assert_eq!(app.get(&post_path(&post), None).await.status, 200);
}

#[actix_web::test]
async fn delete_by_non_owner_is_403_on_published_and_404_on_draft() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let published = app.new_post(&alice, "Published", true).await;
    let draft = app.new_post(&alice, "Draft", false).await;
    assert_problem(&app.delete(&post_path(&published), bob.tok()).await, 403);
    assert_problem(&app.delete(&post_path(&draft), bob.tok()).await, 404);
    assert_eq!(app.get(&post_path(&published), None).await.status, 200);
    assert_eq!(app.get(&post_path(&draft), alice.tok()).await.status, 200);
}

#[actix_web::test]
async fn delete_missing_post_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .delete(
            &format!("/api/v1/posts/{}", uuid::Uuid::now_v7()),
            alice.tok(),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn admin_can_delete_anyones_post() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let draft = app.new_post(&alice, "Draft", false).await;
    let r = app.delete(&post_path(&draft), admin.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_problem(&app.get(&post_path(&draft), alice.tok()).await, 404);
}

#[actix_web::test]
async fn unpublishing_a_post_hides_it_from_others_at_once() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "Now you see it", true).await;
    assert_eq!(app.get(&post_path(&post), bob.tok()).await.status, 200);
    let r = app
        .patch(&post_path(&post), alice.tok(), json!({"published": false}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_problem(&app.get(&post_path(&post), bob.tok()).await, 404);
    assert_problem(
        &app.get("/api/v1/posts/by-slug/now-you-see-it", None).await,
        404,
    );
    assert!(app.get("/api/v1/posts", None).await.data().is_empty());
    assert_problem(
        &app.patch(&post_path(&post), bob.tok(), json!({"title": "x"}))
            .await,
        404,
    );
}
