//! Section 3: profiles (the avatar upload is out of scope here).

use serde_json::{Value, json};

use crate::common::*;

const ME: &str = "/api/v1/profiles/me";

fn profile_path(username: &str) -> String {
    format!("/api/v1/profiles/{username}")
}

/// Exactly the profile shape: no more, no fewer members.
#[track_caller]
fn assert_profile_shape(profile: &Value) {
    let obj = profile
        .as_object()
        .unwrap_or_else(|| panic!("profile is not an object: {profile}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bio",
            "created_at",
            "full_name",
            "image",
            "updated_at",
            "username"
        ],
        "profile members: {profile}"
    );
    assert_timestamp(&profile["created_at"]);
    assert_timestamp(&profile["updated_at"]);
}

// ----- GET /profiles/{username} -----

#[actix_web::test]
async fn every_new_user_has_a_profile_with_null_fields() {
    let app = spawn_app().await;
    app.user("alice").await;
    let r = app.get(&profile_path("alice"), None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_profile_shape(&r.body);
    assert_eq!(r.body["username"], "alice");
    assert!(r.body["full_name"].is_null(), "{r:#?}");
    assert!(r.body["bio"].is_null(), "{r:#?}");
    assert!(r.body["image"].is_null(), "{r:#?}");
}

#[actix_web::test]
async fn the_first_admin_has_a_profile_too() {
    let app = spawn_app().await;
    let r = app.get(&profile_path(ADMIN_USERNAME), None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_profile_shape(&r.body);
    assert_eq!(r.body["username"], ADMIN_USERNAME);
}

#[actix_web::test]
async fn get_profile_is_public_and_readable_by_any_user() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let anonymous = app.get(&profile_path("alice"), None).await;
    assert_eq!(anonymous.status, 200, "{anonymous:#?}");
    for token in [alice.tok(), bob.tok()] {
        let r = app.get(&profile_path("alice"), token).await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.body, anonymous.body);
    }
}

#[actix_web::test]
async fn get_profile_matches_the_username_case_insensitively() {
    let app = spawn_app().await;
    app.user("Alice_W").await;
    for asked in ["Alice_W", "alice_w", "ALICE_W", "aLiCe_w"] {
        let r = app.get(&profile_path(asked), None).await;
        assert_eq!(r.status, 200, "{asked}: {r:#?}");
        assert_eq!(r.body["username"], "Alice_W", "the username as typed");
    }
}

#[actix_web::test]
async fn get_unknown_profile_is_404() {
    let app = spawn_app().await;
    app.user("alice").await;
    for name in ["nobody", "alic", "alice2", "%20"] {
        let r = app.get(&profile_path(name), None).await;
        assert_problem(&r, 404);
    }
}

#[actix_web::test]
async fn get_profile_with_a_bad_token_is_401() {
    let app = spawn_app().await;
    app.user("alice").await;
    let r = app
        .get_with_authorization(&profile_path("alice"), "Bearer not-a-token")
        .await;
    assert_unauthorized(&r);
}

// ----- PATCH /profiles/me -----

#[actix_web::test]
async fn patch_profile_sets_the_fields_and_returns_the_profile() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let before = app.get(&profile_path("alice"), None).await.body;
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({
                "full_name": "Alice Wonder",
                "bio": "Cleans like a whirlwind.",
                "image": "https://example.com/alice.png",
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_profile_shape(&r.body);
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["full_name"], "Alice Wonder");
    assert_eq!(r.body["bio"], "Cleans like a whirlwind.");
    assert_eq!(r.body["image"], "https://example.com/alice.png");
    assert_eq!(r.body["created_at"], before["created_at"]);
    assert!(
        parse_ts(&r.body["updated_at"]) > parse_ts(&before["updated_at"]),
        "updated_at moves on a change: {before} -> {}",
        r.body
    );
    let got = app.get(&profile_path("alice"), None).await;
    assert_eq!(got.body, r.body, "the change is stored");
}

#[actix_web::test]
async fn patch_profile_leaves_absent_fields_as_they_are() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({"full_name": "Alice", "bio": "Bio", "image": "http://example.com/a.jpg"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let r = app.patch(ME, alice.tok(), json!({"bio": "New bio"})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["full_name"], "Alice");
    assert_eq!(r.body["bio"], "New bio");
    assert_eq!(r.body["image"], "http://example.com/a.jpg");
}

#[actix_web::test]
async fn patch_profile_null_clears_a_field() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.patch(
        ME,
        alice.tok(),
        json!({"full_name": "Alice", "bio": "Bio", "image": "https://example.com/a.png"}),
    )
    .await;
    let r = app
        .patch(ME, alice.tok(), json!({"full_name": null, "image": null}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.body["full_name"].is_null(), "{r:#?}");
    assert!(r.body["image"].is_null(), "{r:#?}");
    assert_eq!(r.body["bio"], "Bio", "absent stays");
    let r = app.patch(ME, alice.tok(), json!({"bio": null})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.body["bio"].is_null(), "{r:#?}");
    let got = app.get(&profile_path("alice"), None).await;
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn patch_profile_empty_body_changes_nothing_and_keeps_updated_at() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let set = app
        .patch(ME, alice.tok(), json!({"full_name": "Alice"}))
        .await;
    assert_eq!(set.status, 200, "{set:#?}");
    let r = app.patch(ME, alice.tok(), json!({})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, set.body, "`{{}}` is a no-op, updated_at included");
}

#[actix_web::test]
async fn patch_profile_ignores_unknown_and_server_owned_fields() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let before = app.get(&profile_path("alice"), None).await.body;
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({
                "username": "bob", "user_id": uuid::Uuid::now_v7().to_string(),
                "created_at": "2000-01-01T00:00:00.000000Z",
                "updated_at": "2000-01-01T00:00:00.000000Z", "nickname": "al",
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, before, "a body of unknown fields is a no-op");
    let bob = app.get(&profile_path("bob"), None).await;
    assert!(bob.body["full_name"].is_null());
    assert_eq!(bob.body["username"], "bob");
}

#[actix_web::test]
async fn patch_profile_same_values_keeps_updated_at() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let set = app
        .patch(ME, alice.tok(), json!({"full_name": "Alice", "bio": null}))
        .await;
    assert_eq!(set.status, 200, "{set:#?}");
    let r = app
        .patch(ME, alice.tok(), json!({"full_name": "Alice", "bio": null}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(
        r.body["updated_at"], set.body["updated_at"],
        "nothing changed"
    );
}

#[actix_web::test]
async fn patch_profile_changes_only_the_callers_profile() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let r = app.patch(ME, bob.tok(), json!({"bio": "Bob's bio"})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["username"], "bob");
    let a = app.get(&profile_path("alice"), alice.tok()).await;
    assert!(a.body["bio"].is_null(), "{a:#?}");
    let b = app.get(&profile_path("BOB"), None).await;
    assert_eq!(b.body["bio"], "Bob's bio");
}

#[actix_web::test]
async fn patch_profile_without_token_is_401() {
    let app = spawn_app().await;
    let r = app.patch(ME, None, json!({"bio": "x"})).await;
    assert_unauthorized(&r);
    let r = app
        .send(
            "PATCH",
            ME,
            None,
            Body::Json(json!({"full_name": "Nobody"})),
        )
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn patch_profile_with_a_bad_token_is_401() {
    let app = spawn_app().await;
    let r = app
        .patch(ME, Some("not.a.token"), json!({"bio": "x"}))
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn patch_profile_full_name_is_at_most_100_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(ME, alice.tok(), json!({"full_name": "n".repeat(101)}))
        .await;
    assert_field_error(&r, "full_name");
    let r = app
        .patch(ME, alice.tok(), json!({"full_name": "n".repeat(100)}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let r = app
        .patch(ME, alice.tok(), json!({"full_name": "é".repeat(100)}))
        .await;
    assert_eq!(r.status, 200, "100 characters (200 bytes) is fine: {r:#?}");
    let r = app.patch(ME, alice.tok(), json!({"full_name": ""})).await;
    assert_eq!(r.status, 200, "no lower bound: {r:#?}");
}

#[actix_web::test]
async fn patch_profile_bio_is_at_most_2000_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(ME, alice.tok(), json!({"bio": "b".repeat(2001)}))
        .await;
    assert_field_error(&r, "bio");
    let r = app
        .patch(ME, alice.tok(), json!({"bio": "b".repeat(2000)}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["bio"].as_str().map(str::len), Some(2000));
}

#[actix_web::test]
async fn patch_profile_image_must_be_an_http_url() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [
        "not a url",
        "example.com/a.png",
        "/api/v1/profiles/alice/avatar",
        "ftp://example.com/a.png",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "file:///etc/passwd",
        "https://",
        "",
    ] {
        let r = app.patch(ME, alice.tok(), json!({"image": bad})).await;
        assert_field_error(&r, "image");
    }
    let got = app.get(&profile_path("alice"), None).await;
    assert!(got.body["image"].is_null(), "nothing was stored: {got:#?}");
    for good in [
        "https://example.com/a.png",
        "http://example.com/a.png",
        "https://cdn.example.org:8443/u/alice?size=64",
    ] {
        let r = app.patch(ME, alice.tok(), json!({"image": good})).await;
        assert_eq!(r.status, 200, "{good}: {r:#?}");
        assert_eq!(r.body["image"], good);
    }
}

#[actix_web::test]
async fn patch_profile_image_is_at_most_500_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let prefix = "https://example.com/";
    let too_long = format!("{prefix}{}", "a".repeat(501 - prefix.len()));
    assert_eq!(too_long.len(), 501);
    let r = app.patch(ME, alice.tok(), json!({"image": too_long})).await;
    assert_field_error(&r, "image");
    let longest = format!("{prefix}{}", "a".repeat(500 - prefix.len()));
    let r = app.patch(ME, alice.tok(), json!({"image": longest})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["image"], longest.as_str());
}

#[actix_web::test]
async fn patch_profile_with_wrong_types_is_422_on_that_field() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for (field, value) in [
        ("full_name", json!(5)),
        ("bio", json!(["a"])),
        ("image", json!({"url": "https://example.com"})),
    ] {
        let r = app.patch(ME, alice.tok(), json!({ field: value })).await;
        assert_field_error(&r, field);
    }
}

#[actix_web::test]
async fn a_rejected_patch_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let set = app
        .patch(ME, alice.tok(), json!({"full_name": "Alice", "bio": "Bio"}))
        .await;
    assert_eq!(set.status, 200, "{set:#?}");
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({"full_name": "Changed", "image": "not a url"}),
        )
        .await;
    assert_field_error(&r, "image");
    let got = app.get(&profile_path("alice"), None).await;
    assert_eq!(got.body, set.body, "no partial update");
}
