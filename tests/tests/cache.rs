//! The server-side cache (docs/conventions.md#server-side-cache): a client
//! reads its own writes at once for every cached kind, drafts never leak
//! through a cached row, ETags and 304s follow the writes, the cache counts
//! its hits, and with Redis a write on one instance reaches another's cache.
//!
//! Each app here turns the cache on (`CACHE_TTL=60`, as a single instance
//! may), on both databases.

use std::time::Duration;

use serde_json::{Value, json};
use service::cache::{Key, Table};

use crate::common::*;

async fn cached_app() -> TestApp {
    spawn_app_with(|s| s.cache_ttl = Some(60)).await
}

/// The sum of a counter's series whose labels include `label`, from
/// `/metrics`.
async fn counter(app: &TestApp, name: &str, label: &str) -> f64 {
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    let text = r.text.clone();
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn get_ok(app: &TestApp, path: &str, token: Option<&str>) -> Resp {
    let r = app.get(path, token).await;
    assert_eq!(r.status, 200, "GET {path}: {r:#?}");
    r
}

#[actix_web::test]
async fn a_second_read_is_a_hit_and_a_write_is_read_back_at_once() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Cached", true).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());

    get_ok(&app, &path, None).await;
    let hits = counter(&app, "cache_hits_total", "kind=\"post\"").await;
    let first = get_ok(&app, &path, None).await;
    assert!(
        counter(&app, "cache_hits_total", "kind=\"post\"").await > hits,
        "the second read was not a cache hit"
    );

    let r = app
        .patch(&path, alice.tok(), json!({"title": "Changed"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let after = get_ok(&app, &path, None).await;
    assert_eq!(after.body["title"], "Changed");
    assert_ne!(after.header("etag"), first.header("etag"));
}

#[actix_web::test]
async fn conditional_reads_follow_the_writes() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Tagged", true).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let old = get_ok(&app, &path, None).await;
    let old_tag = old.header("etag").unwrap().to_owned();
    let again = app
        .send_req(
            app.request("GET", &path)
                .insert_header(("If-None-Match", old_tag.as_str())),
            Body::Empty,
        )
        .await;
    assert_eq!(again.status, 304);

    let r = app.patch(&path, alice.tok(), json!({"body": "New"})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    let stale = app
        .send_req(
            app.request("GET", &path)
                .insert_header(("If-None-Match", old_tag.as_str())),
            Body::Empty,
        )
        .await;
    assert_eq!(stale.status, 200, "the old tag still matched: {stale:#?}");
    assert_eq!(stale.body["body"], "New");

    // A write with the old tag checks the database, not the cache.
    let r = app
        .send_req(
            app.request("PATCH", &path)
                .bearer_auth(alice.token.as_str())
                .insert_header(("If-Match", old_tag.as_str())),
            Body::Json(json!({"title": "Late"})),
        )
        .await;
    assert_problem(&r, 412);
}

#[actix_web::test]
async fn a_slug_read_follows_a_slug_change_and_a_delete() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Old slug", true).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let old = format!("/api/v1/posts/by-slug/{}", post["slug"].as_str().unwrap());
    get_ok(&app, &old, None).await;
    get_ok(&app, &old, None).await;

    let r = app
        .patch(&path, alice.tok(), json!({"slug": "new-slug"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_problem(&app.get(&old, None).await, 404);
    get_ok(&app, "/api/v1/posts/by-slug/new-slug", None).await;

    assert_eq!(app.delete(&path, alice.tok()).await.status, 204);
    assert_problem(&app.get("/api/v1/posts/by-slug/new-slug", None).await, 404);
    assert_problem(&app.get(&path, None).await, 404);
}

#[actix_web::test]
async fn a_cached_draft_stays_invisible_to_others() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let draft = app.new_post(&alice, "Secret draft", false).await;
    let path = format!("/api/v1/posts/{}", draft["id"].as_str().unwrap());
    let slug = format!("/api/v1/posts/by-slug/{}", draft["slug"].as_str().unwrap());

    // The author's reads put the draft in the cache ...
    get_ok(&app, &path, alice.tok()).await;
    get_ok(&app, &path, alice.tok()).await;
    get_ok(&app, &slug, alice.tok()).await;
    // ... and nobody else sees it through there.
    for (who, token) in [("anonymous", None), ("bob", bob.tok())] {
        let r = app.get(&path, token).await;
        assert_eq!(r.status, 404, "{who} read a draft by id: {r:#?}");
        let r = app.get(&slug, token).await;
        assert_eq!(r.status, 404, "{who} read a draft by slug: {r:#?}");
    }
    let list = get_ok(&app, "/api/v1/posts", None).await;
    assert!(!ids(list.data()).contains(&draft["id"].as_str().unwrap().to_owned()));

    let r = app
        .patch(&path, alice.tok(), json!({"published": true}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    get_ok(&app, &path, bob.tok()).await;
    get_ok(&app, &path, None).await;
}

#[actix_web::test]
async fn the_first_page_of_posts_shows_a_new_post_at_once() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let first = app.new_post(&alice, "First", true).await;
    for path in ["/api/v1/posts", "/api/v1/posts?author=ALICE"] {
        let page = get_ok(&app, path, None).await;
        assert_eq!(ids(page.data()), vec![first["id"].as_str().unwrap()]);
    }
    let hits = counter(&app, "cache_hits_total", "kind=\"post_list\"").await;
    get_ok(&app, "/api/v1/posts", None).await;
    assert!(counter(&app, "cache_hits_total", "kind=\"post_list\"").await > hits);

    let second = app.new_post(&alice, "Second", true).await;
    for path in ["/api/v1/posts", "/api/v1/posts?author=alice"] {
        let page = get_ok(&app, path, None).await;
        assert_eq!(
            ids(page.data()),
            vec![
                second["id"].as_str().unwrap(),
                first["id"].as_str().unwrap()
            ],
            "{path}"
        );
    }
    // A delete takes it off the cached page too.
    let path = format!("/api/v1/posts/{}", second["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, alice.tok()).await.status, 204);
    let page = get_ok(&app, "/api/v1/posts", None).await;
    assert_eq!(ids(page.data()), vec![first["id"].as_str().unwrap()]);
}

#[actix_web::test]
async fn languages_by_id_and_each_filtered_first_page_follow_writes() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let filtered = "/api/v1/languages?after_year=1990&limit=5";
    let before = get_ok(&app, filtered, None).await;
    get_ok(&app, "/api/v1/languages", None).await;
    let r = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "Zig", "publication_year": 2016, "contribution": "comptime"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let id = r.str("id");
    let after = get_ok(&app, filtered, None).await;
    assert_eq!(after.data().len(), before.data().len() + 1);
    assert!(ids(after.data()).contains(&id));

    let path = format!("/api/v1/languages/{id}");
    get_ok(&app, &path, None).await;
    let r = app
        .patch(
            &path,
            alice.tok(),
            json!({"contribution": "explicit allocators"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(
        get_ok(&app, &path, None).await.body["contribution"],
        "explicit allocators"
    );
    assert_eq!(app.delete(&path, alice.tok()).await.status, 204);
    assert_problem(&app.get(&path, None).await, 404);
    assert!(!ids(get_ok(&app, filtered, None).await.data()).contains(&id));
}

#[actix_web::test]
async fn cleanings_profiles_and_users_read_their_writes() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;

    let r = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Kitchen", "price": 50}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let cleaning = format!("/api/v1/cleanings/{}", r.str("id"));
    get_ok(&app, &cleaning, alice.tok()).await;
    let r = app
        .patch(&cleaning, alice.tok(), json!({"price": 75}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(
        get_ok(&app, &cleaning, alice.tok()).await.body["price"],
        json!(75)
    );
    assert_eq!(app.delete(&cleaning, alice.tok()).await.status, 204);
    assert_problem(&app.get(&cleaning, alice.tok()).await, 404);

    get_ok(&app, "/api/v1/profiles/ALICE", None).await;
    get_ok(&app, "/api/v1/profiles/alice", None).await;
    let r = app
        .patch(
            "/api/v1/profiles/me",
            alice.tok(),
            json!({"bio": "Cleans kitchens"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    for name in ["alice", "ALICE"] {
        let profile = get_ok(&app, &format!("/api/v1/profiles/{name}"), None).await;
        assert_eq!(profile.body["bio"], "Cleans kitchens", "{name}");
    }

    let user = format!("/api/v1/users/{}", alice.id);
    get_ok(&app, &user, admin.tok()).await;
    get_ok(&app, "/api/v1/users/me", alice.tok()).await;
    let r = app
        .patch(&user, admin.tok(), json!({"role": "admin"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(get_ok(&app, &user, admin.tok()).await.body["role"], "admin");
    assert_eq!(
        get_ok(&app, "/api/v1/users/me", alice.tok()).await.body["role"],
        "admin"
    );
}

#[actix_web::test]
async fn metrics_name_each_kind_of_entry() {
    let app = cached_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Counted", true).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    get_ok(&app, &path, None).await;
    get_ok(&app, &path, None).await;
    get_ok(&app, "/api/v1/languages", None).await;
    let r = app.get("/metrics", None).await;
    let text = r.text.clone();
    for line in [
        "cache_misses_total{kind=\"post\"}",
        "cache_hits_total{kind=\"post\"}",
        "cache_misses_total{kind=\"language_list\"}",
    ] {
        assert!(text.contains(line), "no {line} in /metrics:\n{text}");
    }
    assert!(text.contains("# HELP cache_evictions_total"));
}

/// Two instances on one database and one Redis: a write on the first
/// reaches the second's cache. (On SQLite the test's second server shares
/// the first one's process and cache, so this is checked on PostgreSQL.)
#[actix_web::test]
async fn with_redis_a_write_on_one_instance_reaches_the_others_cache() {
    if !on_postgres() {
        return;
    }
    let prefix = unique_redis_prefix();
    let mut app = spawn_app_with(|s| {
        s.redis_url = Some(redis_url());
        s.redis_key_prefix = prefix.clone();
    })
    .await;
    let other = app.another_instance().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Shared", true).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let read_other = |path: String| {
        let client = awc::Client::default();
        let url = format!("{other}{path}");
        async move {
            let mut r = client.get(url).send().await.expect("the second instance");
            let body: Value = r.json().await.expect("json");
            body
        }
    };
    let caches = [
        app.state.as_ref().unwrap().ctx.cache.clone(),
        app.other_states()[0].ctx.cache.clone(),
    ];
    // Each instance reads around its cache until its subscription is up.
    wait_until(|| async { caches.iter().all(|c| !c.is_suspended()) }).await;
    let id = uuid::Uuid::parse_str(post["id"].as_str().unwrap()).unwrap();
    let key = Key::Row(Table::Posts, id);
    // A read whose fill overlaps the create's own message (it reaches the
    // second instance over Redis at about the same time) is rightly not
    // stored; the next one is.
    for _ in 0..20 {
        assert_eq!(read_other(path.clone()).await["title"], "Shared");
        if caches[1].contains(&key) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        caches[1].contains(&key),
        "the second instance did not cache the post"
    );

    let r = app
        .patch(&path, alice.tok(), json!({"title": "Seen"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    // The message drops the entry; a read then sees the new title.
    wait_until(|| async { !caches[1].contains(&key) }).await;
    assert_eq!(read_other(path.clone()).await["title"], "Seen");
}

async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting");
}
