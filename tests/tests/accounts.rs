//! Section 2: register, login, `/users/me`.

use serde_json::json;

use crate::common::*;

// ----- register -----

#[actix_web::test]
async fn register_returns_201_with_location_and_the_user_without_password() {
    let app = spawn_app().await;
    let r = app
        .register_with(
            json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_user_shape(&r.body);
    let id = r.str("id");
    assert_uuid_v7(&id);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/users/{id}").as_str())
    );
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["email"], "alice@example.com");
    assert_eq!(r.body["role"], "user");
    assert_eq!(r.body["is_active"], true);
    assert!(!r.text.contains(PASSWORD), "the password is echoed: {r:#?}");
    let token = app.login("alice", PASSWORD).await;
    let located = app.get(r.header("location").unwrap(), Some(&token)).await;
    assert_eq!(located.status, 200, "{located:#?}");
    assert_eq!(located.body, r.body);
}

#[actix_web::test]
async fn register_keeps_username_as_typed_and_lowercases_email() {
    let app = spawn_app().await;
    let r = app
        .register_with(json!({"username": "Alice_1", "email": "Alice.Smith@Example.COM", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["username"], "Alice_1");
    assert_eq!(r.body["email"], "alice.smith@example.com");
}

#[actix_web::test]
async fn register_ignores_role_id_and_is_active_in_the_body() {
    let app = spawn_app().await;
    let forged_id = uuid::Uuid::now_v7().to_string();
    let r = app
        .register_with(json!({
            "username": "mallory", "email": "mallory@example.com", "password": PASSWORD,
            "role": "admin", "id": forged_id, "is_active": false,
            "created_at": "2000-01-01T00:00:00.000000Z",
        }))
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["role"], "user");
    assert_eq!(r.body["is_active"], true);
    assert_ne!(r.body["id"], forged_id.as_str());
    assert_ne!(r.body["created_at"], "2000-01-01T00:00:00.000000Z");
    let token = app.login("mallory", PASSWORD).await;
    assert_problem(&app.get("/api/v1/users", Some(&token)).await, 403);
}

#[actix_web::test]
async fn register_duplicate_username_in_other_case_is_409_naming_username() {
    let app = spawn_app().await;
    app.register("alice").await;
    let r = app
        .register_with(
            json!({"username": "Alice", "email": "other@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(&r, 409);
    let detail = r.str("detail").to_lowercase();
    assert!(
        detail.contains("username"),
        "409 detail does not name username: {r:#?}"
    );
}

#[actix_web::test]
async fn register_duplicate_email_is_409_naming_email() {
    let app = spawn_app().await;
    app.register("alice").await;
    let r = app
        .register_with(
            json!({"username": "alice2", "email": "ALICE@example.com", "password": PASSWORD}),
        )
        .await;
    assert_problem(&r, 409);
    let detail = r.str("detail").to_lowercase();
    assert!(
        detail.contains("email") || detail.contains("e-mail"),
        "409 detail does not name email: {r:#?}"
    );
}

#[actix_web::test]
async fn register_username_must_be_3_to_50_characters() {
    let app = spawn_app().await;
    for bad in ["ab".to_owned(), "a".repeat(51), String::new()] {
        let r = app
            .register_with(json!({"username": bad, "email": "x@example.com", "password": PASSWORD}))
            .await;
        assert_field_error(&r, "username");
    }
    for (i, good) in ["abc".to_owned(), "b".repeat(50)].into_iter().enumerate() {
        let r = app
            .register_with(json!({"username": good, "email": format!("ok{i}@example.com"), "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 201, "{good:?}: {r:#?}");
    }
}

#[actix_web::test]
async fn register_username_only_letters_digits_and_underscore() {
    let app = spawn_app().await;
    for bad in ["bad name", "bad-name", "bad.name", "bädname", "bad@name"] {
        let r = app
            .register_with(json!({"username": bad, "email": "x@example.com", "password": PASSWORD}))
            .await;
        assert_field_error(&r, "username");
    }
    let r = app
        .register_with(
            json!({"username": "Good_Name_42", "email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
}

#[actix_web::test]
async fn register_invalid_email_is_422_on_email() {
    let app = spawn_app().await;
    for bad in ["not-an-email", "a@", "@example.com", ""] {
        let r = app
            .register_with(json!({"username": "alice", "email": bad, "password": PASSWORD}))
            .await;
        let e = assert_field_error(&r, "email");
        assert_eq!(e["type"], "email", "{bad:?}: {r:#?}");
    }
}

#[actix_web::test]
async fn register_password_shorter_than_8_bytes_is_422() {
    let app = spawn_app().await;
    let r = app
        .register_with(
            json!({"username": "alice", "email": "alice@example.com", "password": "Sh0rtAb"}),
        )
        .await;
    assert_field_error(&r, "password");
    let r = app
        .register_with(
            json!({"username": "alice", "email": "alice@example.com", "password": "Sh0rtAbc"}),
        )
        .await;
    assert_eq!(r.status, 201, "8 bytes is enough: {r:#?}");
}

#[actix_web::test]
async fn register_password_without_digit_or_uppercase_is_422() {
    let app = spawn_app().await;
    for bad in ["NoDigitsHere", "nouppercase1", "12345678"] {
        let r = app
            .register_with(
                json!({"username": "alice", "email": "alice@example.com", "password": bad}),
            )
            .await;
        assert_field_error(&r, "password");
    }
}

#[actix_web::test]
async fn register_password_of_73_bytes_is_422_and_72_bytes_is_accepted() {
    let app = spawn_app().await;
    let long = format!("A1{}", "x".repeat(71));
    assert_eq!(long.len(), 73);
    let r = app
        .register_with(json!({"username": "alice", "email": "alice@example.com", "password": long}))
        .await;
    assert_field_error(&r, "password");

    let max = format!("A1{}", "x".repeat(70));
    assert_eq!(max.len(), 72);
    let r = app
        .register_with(json!({"username": "alice", "email": "alice@example.com", "password": max}))
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    // All 72 bytes count: the password minus its last byte must not log in.
    app.login("alice", &max).await;
    let r = app.login_json("alice", &max[..71]).await;
    assert_problem(&r, 401);
}

#[actix_web::test]
async fn register_password_length_counts_bytes_not_characters() {
    let app = spawn_app().await;
    // 38 characters, 73 bytes: too long.
    let long = format!("A1{}", "é".repeat(35)) + "x";
    assert_eq!(long.len(), 73);
    let r = app
        .register_with(json!({"username": "alice", "email": "alice@example.com", "password": long}))
        .await;
    assert_field_error(&r, "password");
}

#[actix_web::test]
async fn register_without_email_and_password_reports_both_as_required() {
    let app = spawn_app().await;
    let r = app.register_with(json!({"username": "alice"})).await;
    assert_field_error_type(&r, "email", "required");
    assert_field_error_type(&r, "password", "required");
}

#[actix_web::test]
async fn register_reports_every_broken_rule() {
    let app = spawn_app().await;
    let r = app
        .register_with(json!({"username": "a", "email": "nope", "password": "short"}))
        .await;
    assert_field_error(&r, "username");
    assert_field_error(&r, "email");
    assert_field_error(&r, "password");
}

// ----- login -----

#[actix_web::test]
async fn login_with_json_returns_a_bearer_token() {
    let app = spawn_app().await;
    let user = app.register("alice").await;
    let r = app.login_json("alice", PASSWORD).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["token_type"], "bearer");
    assert_eq!(r.body["expires_in"], 3600);
    let token = r.str("access_token");
    let claims = jwt_claims(&token);
    assert_eq!(claims["sub"], user["id"]);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600, "{claims:?}");
    let me = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:#?}");
    assert_eq!(me.body["username"], "alice");
}

#[actix_web::test]
async fn login_with_form_grant_type_and_basic_client_auth_succeeds_like_swagger_ui() {
    let app = spawn_app().await;
    app.register("alice").await;
    let req = app
        .request("POST", "/api/v1/auth/login")
        .insert_header(("Authorization", "Basic Og=="))
        .insert_header(("Accept", "application/json"));
    let r = app
        .send_req(
            req,
            Body::Form(format!(
                "grant_type=password&username=alice&password={}",
                "Passw0rd%21x"
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["token_type"], "bearer");
    let token = r.str("access_token");
    assert_eq!(app.get("/api/v1/users/me", Some(&token)).await.status, 200);
}

#[actix_web::test]
async fn login_with_form_without_grant_type_succeeds() {
    let app = spawn_app().await;
    app.register("alice").await;
    let req = app.request("POST", "/api/v1/auth/login");
    let r = app
        .send_req(
            req,
            Body::Form("username=alice&password=Passw0rd%21x".to_owned()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.body["access_token"].is_string());
}

#[actix_web::test]
async fn login_with_form_and_other_grant_type_is_refused() {
    let app = spawn_app().await;
    app.register("alice").await;
    let req = app.request("POST", "/api/v1/auth/login");
    let r = app
        .send_req(
            req,
            Body::Form(
                "grant_type=client_credentials&username=alice&password=Passw0rd%21x".to_owned(),
            ),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{r:#?}");
    assert_problem(&r, r.status.as_u16());
    let error = r.body["error"].as_str().unwrap_or_default();
    assert!(
        error == "invalid_request" || error == "unsupported_grant_type",
        "OAuth2 `error` of a refused grant type: {r:#?}"
    );
}

#[actix_web::test]
async fn login_by_email_works() {
    let app = spawn_app().await;
    app.register("alice").await;
    let r = app.login_json("alice@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.body["access_token"].is_string());
    let r = app.login_json("ALICE@Example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "e-mail in other case: {r:#?}");
}

#[actix_web::test]
async fn login_username_is_case_insensitive() {
    let app = spawn_app().await;
    app.register("Alice").await;
    for name in ["alice", "ALICE", "Alice"] {
        let r = app.login_json(name, PASSWORD).await;
        assert_eq!(r.status, 200, "{name}: {r:#?}");
    }
}

#[actix_web::test]
async fn login_wrong_password_and_unknown_user_get_the_same_401() {
    let app = spawn_app().await;
    app.register("alice").await;
    let wrong = app.login_json("alice", "Wr0ngPassword").await;
    let unknown = app.login_json("nobody", "Wr0ngPassword").await;
    assert_problem(&wrong, 401);
    assert_problem(&unknown, 401);
    assert_eq!(wrong.body["error"], "invalid_grant", "{wrong:#?}");
    assert!(wrong.body["error_description"].is_string(), "{wrong:#?}");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    assert_eq!(wrong.body["error"], unknown.body["error"]);
    assert_eq!(
        wrong.body["error_description"],
        unknown.body["error_description"]
    );
    assert_eq!(
        wrong.body, unknown.body,
        "the bodies must not tell the cases apart"
    );
}

#[actix_web::test]
async fn login_failure_with_form_carries_oauth2_error_members() {
    let app = spawn_app().await;
    app.register("alice").await;
    let req = app
        .request("POST", "/api/v1/auth/login")
        .insert_header(("Authorization", "Basic Og=="));
    let r = app
        .send_req(
            req,
            Body::Form("grant_type=password&username=alice&password=nope".to_owned()),
        )
        .await;
    assert_problem(&r, 401);
    assert_eq!(r.body["error"], "invalid_grant", "{r:#?}");
    assert!(
        r.body["error_description"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{r:#?}"
    );
}

#[actix_web::test]
async fn login_of_disabled_user_is_403_with_right_password_and_401_with_wrong_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["is_active"], false);

    assert_problem(&app.login_json("alice", PASSWORD).await, 403);
    let wrong = app.login_json("alice", "Wr0ngPassword").await;
    assert_problem(&wrong, 401);
    assert_eq!(wrong.body["error"], "invalid_grant");
}

#[actix_web::test]
async fn disabled_users_existing_token_is_401_at_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    assert_eq!(app.get("/api/v1/users/me", alice.tok()).await.status, 200);
    let r = app
        .patch(
            &format!("/api/v1/users/{}", alice.id),
            admin.tok(),
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_unauthorized(&app.get("/api/v1/users/me", alice.tok()).await);
    assert_unauthorized(
        &app.create_post(&alice.token, json!({"title": "t", "body": ""}))
            .await,
    );
}

#[actix_web::test]
async fn reenabled_user_can_log_in_again() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let path = format!("/api/v1/users/{}", alice.id);
    assert_eq!(
        app.patch(&path, admin.tok(), json!({"is_active": false}))
            .await
            .status,
        200
    );
    assert_problem(&app.login_json("alice", PASSWORD).await, 403);
    assert_eq!(
        app.patch(&path, admin.tok(), json!({"is_active": true}))
            .await
            .status,
        200
    );
    assert_eq!(app.login_json("alice", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn malformed_login_is_a_client_error_with_invalid_request() {
    let app = spawn_app().await;
    app.register("alice").await;
    let r = app
        .post("/api/v1/auth/login", None, json!({"username": "alice"}))
        .await;
    assert!(r.status == 400 || r.status == 422, "{r:#?}");
    assert_problem(&r, r.status.as_u16());
    assert_eq!(r.body["error"], "invalid_request", "{r:#?}");
    let r = app
        .send_req(
            app.request("POST", "/api/v1/auth/login"),
            Body::Form("grant_type=password&username=alice".to_owned()),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{r:#?}");
    assert_problem(&r, r.status.as_u16());
    assert_eq!(r.body["error"], "invalid_request", "{r:#?}");
}

// ----- /users/me -----

#[actix_web::test]
async fn get_me_returns_the_caller() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let r = app.get("/api/v1/users/me", alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_user_shape(&r.body);
    assert_eq!(r.body["id"], alice.id.as_str());
    assert_eq!(r.body["username"], "alice");
    assert_eq!(r.body["email"], "alice@example.com");
    assert_eq!(r.body["role"], "user");
}

#[actix_web::test]
async fn get_me_without_token_is_401() {
    let app = spawn_app().await;
    assert_unauthorized(&app.get("/api/v1/users/me", None).await);
}

#[actix_web::test]
async fn patch_me_without_token_is_401() {
    let app = spawn_app().await;
    let r = app
        .patch(
            "/api/v1/users/me",
            None,
            json!({"email": "x@example.com", "current_password": PASSWORD}),
        )
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn patch_me_without_current_password_is_422() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "new@example.com"}),
        )
        .await;
    assert_field_error(&r, "current_password");
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"password": "N3wPassword"}),
        )
        .await;
    assert_field_error(&r, "current_password");
    assert_problem(&app.login_json("alice", "N3wPassword").await, 401);
    let me = app.get("/api/v1/users/me", alice.tok()).await;
    assert_eq!(me.body["email"], "alice@example.com");
}

#[actix_web::test]
async fn patch_me_with_wrong_current_password_is_403() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "new@example.com", "current_password": "Wr0ngPassword"}),
        )
        .await;
    assert_problem(&r, 403);
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"password": "N3wPassword", "current_password": "Wr0ngPassword"}),
        )
        .await;
    assert_problem(&r, 403);
    assert_eq!(app.login_json("alice", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn patch_me_email_changes_it_lowercased() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let before = app.get("/api/v1/users/me", alice.tok()).await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "Alice.New@Example.com", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_user_shape(&r.body);
    assert_eq!(r.body["email"], "alice.new@example.com");
    assert!(
        parse_ts(&r.body["updated_at"]) > parse_ts(&before.body["updated_at"]),
        "{r:#?}"
    );
    assert_eq!(
        app.login_json("alice.new@example.com", PASSWORD)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn patch_me_email_taken_by_another_user_is_409() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    app.register("bob").await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "bob@example.com", "current_password": PASSWORD}),
        )
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn patch_me_invalid_email_is_422() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "nope", "current_password": PASSWORD}),
        )
        .await;
    assert_field_error(&r, "email");
}

#[actix_web::test]
async fn patch_me_password_then_new_one_logs_in_and_old_one_fails() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"password": "N3wPassword", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_user_shape(&r.body);
    assert_eq!(app.login_json("alice", "N3wPassword").await.status, 200);
    assert_problem(&app.login_json("alice", PASSWORD).await, 401);
}

#[actix_web::test]
async fn patch_me_new_password_must_follow_the_rules() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [
        "short1A",
        "nouppercase1",
        "NoDigitHere",
        &format!("A1{}", "x".repeat(71)),
    ] {
        let r = app
            .patch(
                "/api/v1/users/me",
                alice.tok(),
                json!({"password": bad, "current_password": PASSWORD}),
            )
            .await;
        assert_field_error(&r, "password");
    }
    assert_eq!(app.login_json("alice", PASSWORD).await.status, 200);
}

#[actix_web::test]
async fn patch_me_cannot_change_role_username_or_id() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let before = app.get("/api/v1/users/me", alice.tok()).await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"role": "admin", "username": "root", "id": uuid::Uuid::now_v7().to_string(),
                   "is_active": false, "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let after = app.get("/api/v1/users/me", alice.tok()).await;
    assert_eq!(after.status, 200, "{after:#?}");
    assert_eq!(
        after.body, before.body,
        "unknown fields must change nothing"
    );
    assert_eq!(after.body["role"], "user");
    assert_problem(&app.get("/api/v1/users", alice.tok()).await, 403);
}

#[actix_web::test]
async fn concurrent_registrations_of_one_username_give_one_201_and_409s_never_5xx() {
    let app = spawn_app().await;
    let requests = (0..8).map(|i| {
        let name = if i % 2 == 0 { "Racer" } else { "racer" };
        app.register_with(json!({"username": name, "email": format!("racer{i}@example.com"), "password": PASSWORD}))
    });
    let results = futures_util::future::join_all(requests).await;
    for r in &results {
        assert!(
            r.status == 201 || r.status == 409,
            "neither 201 nor 409: {r:#?}"
        );
    }
    assert_eq!(
        results.iter().filter(|r| r.status == 201).count(),
        1,
        "{results:#?}"
    );
}

#[actix_web::test]
async fn patch_me_email_and_password_together_changes_both() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .patch(
            "/api/v1/users/me",
            alice.tok(),
            json!({"email": "fresh@example.com", "password": "N3wPassword", "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["email"], "fresh@example.com");
    assert_eq!(
        app.login_json("fresh@example.com", "N3wPassword")
            .await
            .status,
        200
    );
    assert_problem(
        &app.login_json("alice@example.com", "N3wPassword").await,
        401,
    );
}
