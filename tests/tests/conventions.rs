//! Section 1: ids, timestamps, bodies, errors, pagination, authentication.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::common::*;

// ----- ids and timestamps -----

#[actix_web::test]
async fn ids_are_lowercase_uuid_v7_and_timestamps_are_utc_microseconds() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let me = app.get("/api/v1/users/me", alice.tok()).await;
    assert_uuid_v7(&me.str("id"));
    assert_timestamp(&me.body["created_at"]);
    assert_timestamp(&me.body["updated_at"]);
    let post = app.new_post(&alice, "Post", true).await;
    assert_uuid_v7(post["id"].as_str().unwrap());
    assert_uuid_v7(post["author_id"].as_str().unwrap());
    assert_timestamp(&post["created_at"]);
    assert_timestamp(&post["updated_at"]);
    let listed = app.get("/api/v1/posts", None).await;
    assert_timestamp(&listed.data()[0]["created_at"]);
}

#[actix_web::test]
async fn ids_sort_by_creation_time() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut created = Vec::new();
    for i in 0..3 {
        created.push(
            app.new_post(&alice, &format!("Post {i}"), true).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted);
}

// ----- bodies and errors -----

#[actix_web::test]
async fn malformed_json_is_400_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let req = app
        .request("POST", "/api/v1/posts")
        .insert_header(("Authorization", format!("Bearer {}", alice.token)));
    let r = app
        .send_req(
            req,
            Body::Raw("application/json", br#"{"title": "x", "body": "#.to_vec()),
        )
        .await;
    assert_problem(&r, 400);
    let r = app
        .send_req(
            app.request("POST", "/api/v1/auth/register"),
            Body::Raw("application/json", b"not json at all".to_vec()),
        )
        .await;
    assert_problem(&r, 400);
}

#[actix_web::test]
async fn wrong_json_type_is_422_type_on_that_field() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(&alice.token, json!({"title": 5, "body": "b"}))
        .await;
    assert_field_error_type(&r, "title", "type");
    let r = app
        .register_with(
            json!({"username": ["alice"], "email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    assert_field_error_type(&r, "username", "type");
}

#[actix_web::test]
async fn a_json_body_that_is_not_an_object_is_a_client_error() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(&alice.token, json!(["title", "body"]))
        .await;
    assert!(r.status == 400 || r.status == 422, "{r:#?}");
    assert_problem(&r, r.status.as_u16());
}

#[actix_web::test]
async fn missing_required_field_is_422_required_naming_it() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app.create_post(&alice.token, json!({"body": "b"})).await;
    assert_field_error_type(&r, "title", "required");
    assert!(r.body["detail"].is_string(), "{r:#?}");
}

#[actix_web::test]
async fn wrong_content_type_is_415_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let req = app
        .request("POST", "/api/v1/posts")
        .insert_header(("Authorization", format!("Bearer {}", alice.token)));
    let r = app
        .send_req(
            req,
            Body::Raw("text/plain", br#"{"title": "x", "body": ""}"#.to_vec()),
        )
        .await;
    assert_problem(&r, 415);
    let r = app
        .send_req(
            app.request("POST", "/api/v1/auth/register"),
            Body::Raw(
                "text/plain",
                br#"{"username":"alice","email":"a@example.com","password":"Passw0rd!x"}"#.to_vec(),
            ),
        )
        .await;
    assert_problem(&r, 415);
    let r = app
        .send_req(
            app.request("POST", "/api/v1/auth/login"),
            Body::Raw("text/plain", b"username=alice&password=Passw0rd!x".to_vec()),
        )
        .await;
    assert_problem(&r, 415);
}

#[actix_web::test]
async fn json_body_over_1_mib_is_413_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let big = json!({"title": "Big", "body": "x".repeat(1024 * 1024 + 16)}).to_string();
    let req = app
        .request("POST", "/api/v1/posts")
        .insert_header(("Authorization", format!("Bearer {}", alice.token)));
    let r = app
        .send_req(req, Body::Raw("application/json", big.into_bytes()))
        .await;
    assert_problem(&r, 413);
}

#[actix_web::test]
async fn json_body_just_under_1_mib_is_parsed() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    // 300 000 characters of 3 bytes each: 900 000 bytes, so the size limit is not hit
    // and the 100 000-character rule decides.
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Big", "body": "€".repeat(300_000)}),
        )
        .await;
    assert_field_error(&r, "body");
}

#[actix_web::test]
async fn unknown_route_is_404_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/posts",
        "/api/v1/posts/by-slug",
    ] {
        let r = app.get(path, alice.tok()).await;
        assert_problem(&r, 404);
    }
    let r = app.get("/nope", None).await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn wrong_method_is_405_with_allow_header() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app.delete("/api/v1/posts", alice.tok()).await;
    assert_problem(&r, 405);
    let allow = r
        .header("allow")
        .unwrap_or_else(|| panic!("405 without Allow: {r:#?}"))
        .to_uppercase();
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    assert!(
        methods.contains(&"GET") && methods.contains(&"POST"),
        "Allow: {allow:?}"
    );
    assert!(!methods.contains(&"DELETE"), "Allow: {allow:?}");

    let r = app.delete("/api/v1/users/me", alice.tok()).await;
    assert_problem(&r, 405);
    let allow = r.header("allow").unwrap_or("").to_uppercase();
    assert!(
        allow.contains("GET") && allow.contains("PATCH"),
        "Allow: {allow:?}"
    );

    let post = app.new_post(&alice, "Post", true).await;
    let r = app
        .post(
            &format!("/api/v1/posts/{}", post["id"].as_str().unwrap()),
            alice.tok(),
            json!({}),
        )
        .await;
    assert_problem(&r, 405);
    let allow = r.header("allow").unwrap_or("").to_uppercase();
    for m in ["GET", "PUT", "PATCH", "DELETE"] {
        assert!(allow.contains(m), "Allow {allow:?} lacks {m}");
    }
    assert!(!allow.contains("POST"), "Allow: {allow:?}");

    let r = app.put("/api/v1/auth/login", None, json!({})).await;
    assert_problem(&r, 405);
    assert!(
        r.header("allow")
            .unwrap_or("")
            .to_uppercase()
            .contains("POST"),
        "{r:#?}"
    );
}

#[actix_web::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "T", "body": "b", "colour": "red", "nested": {"a": 1}}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert!(r.body.get("colour").is_none());
    assert!(r.body.get("nested").is_none());
}

#[actix_web::test]
async fn conflict_problem_names_the_clash_in_detail() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.new_post(&alice, "Dup", true).await;
    let r = app
        .create_post(&alice.token, json!({"title": "Dup", "body": ""}))
        .await;
    assert_problem(&r, 409);
    assert!(r.str("detail").len() > 10, "{r:#?}");
}

// ----- pagination -----

#[actix_web::test]
async fn limit_outside_1_to_100_or_not_a_number_is_422_on_limit() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for path in ["/api/v1/posts", "/api/v1/users/me/posts", "/api/v1/users"] {
        for bad in ["0", "101", "abc", "-1", "1.5"] {
            let r = app.get(&format!("{path}?limit={bad}"), admin.tok()).await;
            assert_field_error(&r, "limit");
        }
        for good in ["1", "100"] {
            let r = app.get(&format!("{path}?limit={good}"), admin.tok()).await;
            assert_eq!(r.status, 200, "{path}?limit={good}: {r:#?}");
        }
    }
}

#[actix_web::test]
async fn malformed_cursor_is_400_problem() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for path in ["/api/v1/posts", "/api/v1/users/me/posts", "/api/v1/users"] {
        for bad in ["garbage", "AAAA", "%00%01", "eyJub3QiOiJhIGN1cnNvciJ9"] {
            let r = app.get(&format!("{path}?cursor={bad}"), admin.tok()).await;
            assert_problem(&r, 400);
        }
    }
}

#[actix_web::test]
async fn pages_of_2_visit_all_5_posts_once_newest_first() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.new_post(&alice, &format!("Post {i}"), true).await);
    }
    created.reverse();
    let expected = ids(&created);

    for base in ["/api/v1/posts?limit=2", "/api/v1/users/me/posts?limit=2"] {
        let mut seen = Vec::new();
        let mut path = base.to_owned();
        let mut pages = 0;
        loop {
            let r = app.get(&path, alice.tok()).await;
            assert_eq!(r.status, 200, "{r:#?}");
            pages += 1;
            seen.extend(ids(r.data()));
            let has_more = r.body["has_more"].as_bool().expect("has_more");
            if pages < 3 {
                assert_eq!(r.data().len(), 2, "{r:#?}");
                assert!(has_more, "{r:#?}");
                let cursor = r.str("next_cursor");
                assert!(!cursor.is_empty());
                path = format!("{base}&cursor={cursor}");
            } else {
                assert_eq!(r.data().len(), 1, "{r:#?}");
                assert!(!has_more, "{r:#?}");
                assert!(
                    r.body["next_cursor"].is_null(),
                    "next_cursor on the last page: {r:#?}"
                );
                break;
            }
        }
        assert_eq!(seen, expected, "{base}");
    }
}

#[actix_web::test]
async fn a_full_last_page_has_no_more() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for i in 0..4 {
        app.new_post(&alice, &format!("Post {i}"), true).await;
    }
    let r = app.get("/api/v1/posts?limit=4", None).await;
    assert_eq!(r.data().len(), 4);
    assert_eq!(r.body["has_more"], false, "{r:#?}");
    assert!(r.body["next_cursor"].is_null(), "{r:#?}");
    let r = app.get("/api/v1/posts?limit=2", None).await;
    let r = app
        .get(
            &format!("/api/v1/posts?limit=2&cursor={}", r.str("next_cursor")),
            None,
        )
        .await;
    assert_eq!(r.data().len(), 2);
    assert_eq!(r.body["has_more"], false, "{r:#?}");
    assert!(r.body["next_cursor"].is_null(), "{r:#?}");
}

#[actix_web::test]
async fn default_page_size_is_20() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for i in 0..21 {
        app.new_post(&alice, &format!("Post {i}"), true).await;
    }
    let r = app.get("/api/v1/posts", None).await;
    assert_eq!(r.data().len(), 20, "{r:#?}");
    assert_eq!(r.body["has_more"], true);
    let r = app
        .get(
            &format!("/api/v1/posts?cursor={}", r.str("next_cursor")),
            None,
        )
        .await;
    assert_eq!(r.data().len(), 1, "{r:#?}");
}

#[actix_web::test]
async fn rows_inserted_between_pages_neither_repeat_nor_vanish() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut created = Vec::new();
    for i in 0..4 {
        created.push(app.new_post(&alice, &format!("Post {i}"), true).await);
    }
    let r = app.get("/api/v1/posts?limit=2", None).await;
    let first = ids(r.data());
    app.new_post(&alice, "Newcomer", true).await;
    let r = app
        .get(
            &format!("/api/v1/posts?limit=2&cursor={}", r.str("next_cursor")),
            None,
        )
        .await;
    let second = ids(r.data());
    created.reverse();
    assert_eq!([first, second].concat(), ids(&created));
}

#[actix_web::test]
async fn a_cursor_never_widens_what_the_caller_may_see() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut published = Vec::new();
    for i in 0..3 {
        app.new_post(&alice, &format!("Draft {i}"), false).await;
        published.push(app.new_post(&alice, &format!("Published {i}"), true).await);
    }
    app.new_post(&bob, "Bob's draft", false).await;

    // Alice's own list (drafts included): take a cursor from its first page.
    let r = app.get("/api/v1/users/me/posts?limit=1", alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    let cursor = r.str("next_cursor");

    // Bob reuses it on his own list: never Alice's posts.
    let r = app
        .get(
            &format!("/api/v1/users/me/posts?cursor={cursor}"),
            bob.tok(),
        )
        .await;
    assert!(r.status == 200 || r.status == 400, "{r:#?}");
    if r.status == 200 {
        assert!(
            r.data().iter().all(|p| p["author_id"] == bob.id.as_str()),
            "{r:#?}"
        );
    }

    // Anyone reuses it on the public list: never a draft.
    for token in [None, bob.tok(), alice.tok()] {
        let r = app
            .get(&format!("/api/v1/posts?cursor={cursor}"), token)
            .await;
        assert!(r.status == 200 || r.status == 400, "{r:#?}");
        if r.status == 200 {
            assert!(
                r.data().iter().all(|p| p["published"] == true),
                "a draft leaked: {r:#?}"
            );
        }
    }

    // A public-list cursor with ?author= keeps filtering.
    let r = app.get("/api/v1/posts?limit=1", None).await;
    let cursor = r.str("next_cursor");
    let r = app
        .get(&format!("/api/v1/posts?author=bob&cursor={cursor}"), None)
        .await;
    assert!(r.status == 200 || r.status == 400, "{r:#?}");
    if r.status == 200 {
        assert!(r.data().is_empty(), "bob has no published post: {r:#?}");
    }
}

// ----- authentication -----

#[actix_web::test]
async fn protected_route_without_token_is_401_with_www_authenticate_bearer() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/users/me",
        "/api/v1/users/me/posts",
        "/api/v1/users",
    ] {
        assert_unauthorized(&app.get(path, None).await);
    }
}

#[actix_web::test]
async fn garbage_token_is_401() {
    let app = spawn_app().await;
    app.user("alice").await;
    for bad in ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Bearer"] {
        let r = app.get_with_authorization("/api/v1/users/me", bad).await;
        assert_unauthorized(&r);
    }
}

#[actix_web::test]
async fn basic_authorization_on_a_protected_route_is_401() {
    let app = spawn_app().await;
    app.user("alice").await;
    // alice:Passw0rd!x
    let r = app
        .get_with_authorization("/api/v1/users/me", "Basic YWxpY2U6UGFzc3cwcmQheA==")
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn bad_credentials_on_a_public_route_are_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "Public", true).await;
    let post_path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    for path in [
        "/api/v1/posts",
        post_path.as_str(),
        "/api/v1/posts/by-slug/public",
    ] {
        assert_unauthorized(&app.get_with_authorization(path, "Bearer garbage").await);
        assert_unauthorized(&app.get_with_authorization(path, "Basic Og==").await);
        assert_eq!(app.get(path, None).await.status, 200);
        assert_eq!(app.get(path, alice.tok()).await.status, 200);
    }
    let req = app
        .request("POST", "/api/v1/auth/register")
        .insert_header(("Authorization", "Bearer garbage"));
    let r = app
        .send_req(
            req,
            Body::Json(
                json!({"username": "bob", "email": "bob@example.com", "password": PASSWORD}),
            ),
        )
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn login_ignores_basic_client_authentication_but_not_a_bad_bearer_token_elsewhere() {
    let app = spawn_app().await;
    app.register("alice").await;
    let req = app
        .request("POST", "/api/v1/auth/login")
        .insert_header(("Authorization", "Basic Og=="));
    let r = app
        .send_req(
            req,
            Body::Json(json!({"username": "alice", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
}

/// The claims of a real token, to forge variants of.
async fn real_claims(app: &TestApp) -> (TestUser, serde_json::Map<String, Value>) {
    let alice = app.user("alice").await;
    let claims = jwt_claims(&alice.token);
    (alice, claims)
}

const SECRET: &[u8] = api::config::TEST_JWT_SECRET.as_bytes();

#[actix_web::test]
async fn a_token_resigned_with_the_right_secret_is_accepted() {
    // The control for the forged-token tests below: our signing matches the service's.
    let app = spawn_app().await;
    let (alice, claims) = real_claims(&app).await;
    let token = sign(&claims, Algorithm::HS256, SECRET);
    let r = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["id"], alice.id.as_str());
}

#[actix_web::test]
async fn expired_token_is_401() {
    let app = spawn_app().await;
    let (_, mut claims) = real_claims(&app).await;
    claims.insert("iat".into(), json!(now_secs() - 7200));
    claims.insert("exp".into(), json!(now_secs() - 3600));
    let token = sign(&claims, Algorithm::HS256, SECRET);
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
}

#[actix_web::test]
async fn token_issued_in_the_future_is_401() {
    let app = spawn_app().await;
    let (_, mut claims) = real_claims(&app).await;
    claims.insert("iat".into(), json!(now_secs() + 3600));
    claims.insert("exp".into(), json!(now_secs() + 7200));
    let token = sign(&claims, Algorithm::HS256, SECRET);
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
}

#[actix_web::test]
async fn token_without_exp_iat_or_sub_is_401() {
    let app = spawn_app().await;
    let (_, claims) = real_claims(&app).await;
    for missing in ["exp", "iat", "sub"] {
        let mut c = claims.clone();
        c.remove(missing);
        let token = sign(&c, Algorithm::HS256, SECRET);
        let r = app.get("/api/v1/users/me", Some(&token)).await;
        assert_eq!(r.status, 401, "token without {missing}: {r:#?}");
        assert_unauthorized(&r);
    }
}

#[actix_web::test]
async fn token_for_a_user_that_does_not_exist_is_401() {
    let app = spawn_app().await;
    let (_, mut claims) = real_claims(&app).await;
    claims.insert("sub".into(), json!(uuid::Uuid::now_v7().to_string()));
    let token = sign(&claims, Algorithm::HS256, SECRET);
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
    claims.insert("sub".into(), json!("not-a-uuid"));
    let token = sign(&claims, Algorithm::HS256, SECRET);
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
}

#[actix_web::test]
async fn token_signed_with_another_secret_is_401() {
    let app = spawn_app().await;
    let (_, claims) = real_claims(&app).await;
    let token = sign(
        &claims,
        Algorithm::HS256,
        b"another-secret-that-is-long-enough-32+",
    );
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
}

#[actix_web::test]
async fn token_with_tampered_claims_is_401() {
    let app = spawn_app().await;
    let (alice, _) = real_claims(&app).await;
    let bob = app.user("bob").await;
    let parts: Vec<&str> = alice.token.split('.').collect();
    let mut claims = jwt_claims(&alice.token);
    claims.insert("sub".into(), json!(bob.id));
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&claims).unwrap());
    let token = format!("{}.{}.{}", parts[0], payload, parts[2]);
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
}

#[actix_web::test]
async fn token_with_another_algorithm_is_401() {
    let app = spawn_app().await;
    let (_, claims) = real_claims(&app).await;
    for alg in [Algorithm::HS512, Algorithm::HS384] {
        let token = sign(&claims, alg, SECRET);
        let r = app.get("/api/v1/users/me", Some(&token)).await;
        assert_eq!(r.status, 401, "{alg:?}: {r:#?}");
        assert_unauthorized(&r);
    }
}

#[actix_web::test]
async fn unsigned_token_with_alg_none_is_401() {
    let app = spawn_app().await;
    let (_, claims) = real_claims(&app).await;
    let token = unsigned_token(&claims);
    assert_unauthorized(&app.get("/api/v1/users/me", Some(&token)).await);
    assert_unauthorized(&app.get("/api/v1/posts", Some(&token)).await);
}

#[actix_web::test]
async fn every_4xx_of_the_api_is_a_problem() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "Post", true).await;
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let cases = [
        (app.get("/api/v1/users/me", None).await, 401),
        (
            app.patch(&path, bob.tok(), json!({"title": "x"})).await,
            403,
        ),
        (app.get("/api/v1/posts/by-slug/none", None).await, 404),
        (
            app.create_post(&alice.token, json!({"title": "Post", "body": ""}))
                .await,
            409,
        ),
        (
            app.create_post(&alice.token, json!({"title": ""})).await,
            422,
        ),
        (app.login_json("alice", "Wr0ngPassword").await, 401),
    ];
    for (r, status) in &cases {
        assert_problem(r, *status);
    }
}
