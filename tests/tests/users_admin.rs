//! Section 2, administration: `/users`, `/users/{id}`, the first admin, the last-admin rule.

use serde_json::json;

use crate::common::*;

#[actix_web::test]
async fn first_admin_from_configuration_can_log_in_and_is_admin() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let me = app.get("/api/v1/users/me", admin.tok()).await;
    assert_eq!(me.status, 200, "{me:#?}");
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["email"], ADMIN_EMAIL);
    assert_eq!(me.body["is_active"], true);
}

#[actix_web::test]
async fn admin_lists_all_users_paginated() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.register("alice").await;
    app.register("bob").await;
    let r = app.get("/api/v1/users", admin.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_cursor"].is_null(), "{r:#?}");
    let names: Vec<&str> = r
        .data()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "alice", "admin"], "newest first");
    for u in r.data() {
        assert_user_shape(u);
    }
}

#[actix_web::test]
async fn list_users_pages_visit_every_user_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for name in ["u_one", "u_two", "u_three", "u_four", "u_five"] {
        app.register(name).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_owned();
    for _ in 0..10 {
        let r = app.get(&path, admin.tok()).await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert!(r.data().len() <= 2);
        seen.extend(ids(r.data()));
        if r.body["has_more"] == false {
            assert!(r.body["next_cursor"].is_null(), "{r:#?}");
            break;
        }
        let cursor = r.str("next_cursor");
        path = format!("/api/v1/users?limit=2&cursor={cursor}");
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "a user was repeated: {seen:?}");
}

#[actix_web::test]
async fn list_users_as_user_is_403() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    assert_problem(&app.get("/api/v1/users", alice.tok()).await, 403);
}

#[actix_web::test]
async fn list_users_without_token_is_401() {
    let app = spawn_app().await;
    assert_unauthorized(&app.get("/api/v1/users", None).await);
}

#[actix_web::test]
async fn get_user_by_id_as_admin_is_200() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let r = app
        .get(&format!("/api/v1/users/{}", alice.id), admin.tok())
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_user_shape(&r.body);
    assert_eq!(r.body["username"], "alice");
}

#[actix_web::test]
async fn get_user_by_id_as_self_is_200() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .get(&format!("/api/v1/users/{}", alice.id), alice.tok())
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["id"], alice.id.as_str());
}

#[actix_web::test]
async fn get_user_by_id_as_another_user_is_403() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    assert_problem(
        &app.get(&format!("/api/v1/users/{}", alice.id), bob.tok())
            .await,
        403,
    );
}

#[actix_web::test]
async fn get_user_by_id_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    assert_unauthorized(&app.get(&format!("/api/v1/users/{}", alice.id), None).await);
}

#[actix_web::test]
async fn get_missing_user_as_admin_is_404() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let r = app
        .get(
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            admin.tok(),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn get_user_with_malformed_id_is_404() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for bad in ["not-a-uuid", "123", "0190a5b4-zzzz-7000-8000-000000000000"] {
        let r = app.get(&format!("/api/v1/users/{bad}"), admin.tok()).await;
        assert_problem(&r, 404);
    }
}

#[actix_web::test]
async fn patch_user_as_user_is_403_even_on_self() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            alice.tok(),
            json!({"role": "admin"}),
        )
        .await;
    assert_problem(&r, 403);
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            bob.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_problem(&r, 403);
    let me = app.get("/api/v1/users/me", alice.tok()).await;
    assert_eq!(me.body["role"], "user");
    assert_eq!(me.body["is_active"], true);
}

#[actix_web::test]
async fn patch_user_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            None,
            json!({"role": "admin"}),
        )
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn patch_missing_user_is_404() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            admin.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_problem(&r, 404);
    let r = app
        .patch(
            "/api/v1/users/not-a-uuid",
            admin.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn patch_user_unknown_role_is_422_on_role() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"role": "superuser"}),
        )
        .await;
    assert_field_error(&r, "role");
}

#[actix_web::test]
async fn patch_user_is_active_of_wrong_type_is_422() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"is_active": "no"}),
        )
        .await;
    assert_field_error_type(&r, "is_active", "type");
}

#[actix_web::test]
async fn promoted_user_can_list_users_with_the_existing_token() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    assert_problem(&app.get("/api/v1/users", alice.tok()).await, 403);
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_user_shape(&r.body);
    assert_eq!(r.body["role"], "admin");
    let r = app.get("/api/v1/users", alice.tok()).await;
    assert_eq!(
        r.status, 200,
        "the role change must take effect on the existing token: {r:#?}"
    );
}

#[actix_web::test]
async fn demoted_admin_loses_admin_rights_at_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let path = format!("/api/v1/users/{}", alice.id);
    assert_eq!(
        app.patch(&path, admin.tok(), json!({"role": "admin"}))
            .await
            .status,
        200
    );
    assert_eq!(app.get("/api/v1/users", alice.tok()).await.status, 200);
    let r = app.patch(&path, admin.tok(), json!({"role": "user"})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_problem(&app.get("/api/v1/users", alice.tok()).await, 403);
}

#[actix_web::test]
async fn demoting_the_last_active_admin_is_409() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", admin.id),
            admin.tok(),
            json!({"role": "user"}),
        )
        .await;
    assert_problem(&r, 409);
    let me = app.get("/api/v1/users/me", admin.tok()).await;
    assert_eq!(me.body["role"], "admin");
}

#[actix_web::test]
async fn disabling_the_last_active_admin_is_409() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", admin.id),
            admin.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_problem(&r, 409);
    assert_eq!(app.get("/api/v1/users/me", admin.tok()).await.status, 200);
}

#[actix_web::test]
async fn an_admin_can_be_demoted_while_another_active_admin_remains() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    assert_eq!(
        app.patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"role": "admin"})
        )
        .await
        .status,
        200
    );
    let r = app
        .patch(
            &format!("/api/v1/users/{}", admin.id),
            alice.tok(),
            json!({"role": "user"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["role"], "user");
    // Now alice is the last active admin.
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            alice.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn a_disabled_admin_does_not_count_as_an_active_admin() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let alice_path = format!("/api/v1/users/{}", alice.id);
    assert_eq!(
        app.patch(&alice_path, admin.tok(), json!({"role": "admin"}))
            .await
            .status,
        200
    );
    assert_eq!(
        app.patch(&alice_path, admin.tok(), json!({"is_active": false}))
            .await
            .status,
        200
    );
    // alice is an admin but disabled: the first admin is the last active one.
    let r = app
        .patch(
            &format!("/api/v1/users/{}", admin.id),
            admin.tok(),
            json!({"role": "user"}),
        )
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn patch_user_with_only_unknown_fields_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let path = format!("/api/v1/users/{}", alice.id);
    let before = app.get(&path, admin.tok()).await;
    let r = app
        .patch(
            &path,
            admin.tok(),
            json!({"username": "renamed", "email": "x@example.com", "id": "x"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, before.body);
}
