//! Section 5: cleaning jobs, every row of the table (offers are in `offers.rs`).

use serde_json::{Value, json};

use crate::common::*;

const CLEANINGS: &str = "/api/v1/cleanings";
const FEED: &str = "/api/v1/cleanings/feed";

fn cleaning_path(id: &str) -> String {
    format!("/api/v1/cleanings/{id}")
}

fn id_of(cleaning: &Value) -> String {
    cleaning["id"].as_str().expect("cleaning id").to_owned()
}

/// Exactly the cleaning shape, with well-formed ids, timestamps and types.
#[track_caller]
fn assert_cleaning_shape(cleaning: &Value) {
    let obj = cleaning
        .as_object()
        .unwrap_or_else(|| panic!("cleaning is not an object: {cleaning}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cleaning_type",
            "created_at",
            "description",
            "id",
            "name",
            "owner_id",
            "price",
            "updated_at"
        ],
        "cleaning members: {cleaning}"
    );
    assert_uuid_v7(cleaning["id"].as_str().expect("id"));
    assert_uuid_v7(cleaning["owner_id"].as_str().expect("owner_id"));
    assert!(cleaning["name"].is_string(), "{cleaning}");
    assert!(
        cleaning["description"].is_string() || cleaning["description"].is_null(),
        "{cleaning}"
    );
    assert!(
        cleaning["price"].is_number(),
        "price is a JSON number: {cleaning}"
    );
    assert!(
        ["dust_up", "spot_clean", "full_clean"]
            .contains(&cleaning["cleaning_type"].as_str().unwrap_or("")),
        "{cleaning}"
    );
    assert_timestamp(&cleaning["created_at"]);
    assert_timestamp(&cleaning["updated_at"]);
}

async fn create(app: &TestApp, owner: &TestUser, body: Value) -> Resp {
    app.post(CLEANINGS, owner.tok(), body).await
}

/// Creates a cleaning named `name` (price 50) and returns it, asserting 201.
async fn new_cleaning(app: &TestApp, owner: &TestUser, name: &str) -> Value {
    let r = create(app, owner, json!({"name": name, "price": 50})).await;
    assert_eq!(r.status, 201, "create cleaning {name:?}: {r:#?}");
    r.body
}

/// A cleaning with every field set.
async fn full_cleaning(app: &TestApp, owner: &TestUser) -> Value {
    let r = create(
        app,
        owner,
        json!({
            "name": "Two-room flat",
            "description": "Windows too",
            "price": 120.5,
            "cleaning_type": "full_clean",
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:#?}");
    r.body
}

/// Walks every page of `base` (which has no query string) with `limit`.
async fn all_pages(app: &TestApp, base: &str, token: Option<&str>, limit: u32) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut path = format!("{base}?limit={limit}");
    for _ in 0..100 {
        let r = app.get(&path, token).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        assert!(r.data().len() <= limit as usize, "{r:#?}");
        rows.extend(r.data().iter().cloned());
        if r.body["has_more"] == true {
            let cursor = r.str("next_cursor");
            path = format!("{base}?limit={limit}&cursor={cursor}");
        } else {
            assert!(r.body["next_cursor"].is_null(), "{r:#?}");
            return rows;
        }
    }
    panic!("more than 100 pages of {base}");
}

// ----- POST /cleanings -----

#[actix_web::test]
async fn create_cleaning_returns_201_with_location_and_the_cleaning() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = create(
        &app,
        &alice,
        json!({"name": "Kitchen", "description": "Oven too", "price": 49.5, "cleaning_type": "dust_up"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_cleaning_shape(&r.body);
    let id = r.str("id");
    assert_eq!(r.header("location"), Some(cleaning_path(&id).as_str()));
    assert_eq!(r.body["name"], "Kitchen");
    assert_eq!(r.body["description"], "Oven too");
    assert_eq!(r.body["price"], json!(49.5));
    assert_eq!(r.body["cleaning_type"], "dust_up");
    assert_eq!(r.body["owner_id"], alice.id.as_str());
    assert_eq!(r.body["created_at"], r.body["updated_at"]);
    let got = app.get(&cleaning_path(&id), alice.tok()).await;
    assert_eq!(got.status, 200, "{got:#?}");
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn create_cleaning_defaults_description_to_null_and_type_to_spot_clean() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = create(&app, &alice, json!({"name": "Hall", "price": 10})).await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_cleaning_shape(&r.body);
    assert!(r.body["description"].is_null(), "{r:#?}");
    assert_eq!(r.body["cleaning_type"], "spot_clean");
    assert_eq!(r.body["price"], json!(10));
}

#[actix_web::test]
async fn create_cleaning_accepts_each_cleaning_type() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for kind in ["dust_up", "spot_clean", "full_clean"] {
        let r = create(
            &app,
            &alice,
            json!({"name": kind, "price": 1, "cleaning_type": kind}),
        )
        .await;
        assert_eq!(r.status, 201, "{kind}: {r:#?}");
        assert_eq!(r.body["cleaning_type"], kind);
        let got = app.get(&cleaning_path(&r.str("id")), alice.tok()).await;
        assert_eq!(got.body["cleaning_type"], kind);
    }
}

#[actix_web::test]
async fn create_cleaning_with_an_unknown_type_is_422_on_cleaning_type() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [
        json!("deep_clean"),
        json!("Spot_Clean"),
        json!("spot-clean"),
        json!(""),
        json!(1),
    ] {
        let r = create(
            &app,
            &alice,
            json!({"name": "x", "price": 1, "cleaning_type": bad}),
        )
        .await;
        assert_field_error(&r, "cleaning_type");
    }
    let mine = app.get(CLEANINGS, alice.tok()).await;
    assert!(mine.data().is_empty(), "nothing was stored: {mine:#?}");
}

#[actix_web::test]
async fn create_cleaning_without_token_is_401() {
    let app = spawn_app().await;
    let r = app
        .post(CLEANINGS, None, json!({"name": "x", "price": 1}))
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn create_cleaning_ignores_owner_id_and_other_server_fields_in_the_body() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let forged = uuid::Uuid::now_v7().to_string();
    let r = create(
        &app,
        &alice,
        json!({
            "name": "Mine", "price": 5, "owner_id": bob.id, "id": forged,
            "created_at": "2000-01-01T00:00:00.000000Z", "updated_at": "2000-01-01T00:00:00.000000Z",
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(
        r.body["owner_id"],
        alice.id.as_str(),
        "owner from the token"
    );
    assert_ne!(r.body["id"], forged.as_str());
    assert_ne!(r.body["created_at"], "2000-01-01T00:00:00.000000Z");
    assert_ne!(r.body["updated_at"], "2000-01-01T00:00:00.000000Z");
    let id = r.str("id");
    let mine = app.get(CLEANINGS, alice.tok()).await;
    assert_eq!(ids(mine.data()), vec![id.clone()]);
    let bobs = app.get(CLEANINGS, bob.tok()).await;
    assert!(bobs.data().is_empty(), "not bob's: {bobs:#?}");
    let feed = app.get(FEED, bob.tok()).await;
    assert_eq!(ids(feed.data()), vec![id], "in bob's feed as alice's");
}

#[actix_web::test]
async fn create_cleaning_name_must_be_1_to_100_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [String::new(), "n".repeat(101)] {
        let r = create(&app, &alice, json!({"name": bad, "price": 1})).await;
        assert_field_error(&r, "name");
    }
    for good in ["n".to_owned(), "n".repeat(100), "é".repeat(100)] {
        let r = create(&app, &alice, json!({"name": good, "price": 1})).await;
        assert_eq!(r.status, 201, "{r:#?}");
        assert_eq!(r.body["name"], good.as_str());
    }
}

#[actix_web::test]
async fn create_cleaning_description_is_at_most_2000_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = create(
        &app,
        &alice,
        json!({"name": "x", "price": 1, "description": "d".repeat(2001)}),
    )
    .await;
    assert_field_error(&r, "description");
    let r = create(
        &app,
        &alice,
        json!({"name": "x", "price": 1, "description": "d".repeat(2000)}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let r = create(
        &app,
        &alice,
        json!({"name": "x", "price": 1, "description": null}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert!(r.body["description"].is_null());
}

#[actix_web::test]
async fn create_cleaning_without_name_or_price_is_422_required() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = create(&app, &alice, json!({"price": 1})).await;
    assert_field_error_type(&r, "name", "required");
    let r = create(&app, &alice, json!({"name": "x"})).await;
    assert_field_error_type(&r, "price", "required");
}

#[actix_web::test]
async fn create_cleaning_with_wrong_json_types_is_422_on_that_field() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = create(&app, &alice, json!({"name": 5, "price": 1})).await;
    assert_field_error(&r, "name");
    let r = create(
        &app,
        &alice,
        json!({"name": "x", "price": 1, "description": 7}),
    )
    .await;
    assert_field_error(&r, "description");
}

#[actix_web::test]
async fn price_is_a_json_number_kept_exactly() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for (sent, text) in [
        ("0", "0"),
        ("0.01", "0.01"),
        ("0.1", "0.1"),
        ("0.3", "0.3"),
        ("1.5", "1.5"),
        ("1.50", "1.5"),
        ("10.10", "10.1"),
        ("19.99", "19.99"),
        ("33.33", "33.33"),
        ("12345.67", "12345.67"),
        ("999999.99", "999999.99"),
        ("1000000", "1000000"),
        ("1000000.00", "1000000"),
        ("7", "7"),
    ] {
        let req = app
            .request("POST", CLEANINGS)
            .insert_header(("Authorization", format!("Bearer {}", alice.token)));
        let body = format!(r#"{{"name": "p", "price": {sent}}}"#);
        let r = app
            .send_req(req, Body::Raw("application/json", body.into_bytes()))
            .await;
        assert_eq!(r.status, 201, "price {sent}: {r:#?}");
        let expected: Value = serde_json::from_str(text).expect("number");
        assert_eq!(r.body["price"], expected, "price {sent} in the 201: {r:#?}");
        assert!(
            r.text.contains(&format!("\"price\":{text}")),
            "price {sent} written as the number {text}: {}",
            r.text
        );
        // And as stored.
        let got = app.get(&cleaning_path(&r.str("id")), alice.tok()).await;
        assert_eq!(
            got.body["price"], expected,
            "price {sent} read back: {got:#?}"
        );
        assert!(
            got.text.contains(&format!("\"price\":{text}")),
            "price {sent} read back as {text}: {}",
            got.text
        );
    }
}

#[actix_web::test]
async fn price_out_of_range_or_with_more_than_two_decimals_is_422_on_price() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [
        "1.505",
        "0.001",
        "19.999",
        "-1",
        "-0.01",
        "1000000.01",
        "1000001",
        "10000000",
        "1e7",
        // Found by the conformance fuzzing: once read as 0.
        "2.7006491901399315e-300",
        "1e-29",
    ] {
        let req = app
            .request("POST", CLEANINGS)
            .insert_header(("Authorization", format!("Bearer {}", alice.token)));
        let body = format!(r#"{{"name": "p", "price": {bad}}}"#);
        let r = app
            .send_req(req, Body::Raw("application/json", body.into_bytes()))
            .await;
        assert_field_error(&r, "price");
    }
    let mine = app.get(CLEANINGS, alice.tok()).await;
    assert!(mine.data().is_empty(), "nothing was stored: {mine:#?}");
}

#[actix_web::test]
async fn price_that_is_not_a_number_is_422_on_price() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [
        json!("1.5"),
        json!("10"),
        json!(null),
        json!(true),
        json!([1]),
        json!({"amount": 1}),
    ] {
        let r = create(&app, &alice, json!({"name": "p", "price": bad})).await;
        assert_field_error(&r, "price");
    }
}

#[actix_web::test]
async fn create_cleaning_with_wrong_content_type_is_415() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let req = app
        .request("POST", CLEANINGS)
        .insert_header(("Authorization", format!("Bearer {}", alice.token)));
    let r = app
        .send_req(
            req,
            Body::Raw("text/plain", br#"{"name": "x", "price": 1}"#.to_vec()),
        )
        .await;
    assert_problem(&r, 415);
}

// ----- GET /cleanings -----

#[actix_web::test]
async fn list_my_cleanings_shows_only_mine_newest_first() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let a1 = new_cleaning(&app, &alice, "a1").await;
    let b1 = new_cleaning(&app, &bob, "b1").await;
    let a2 = new_cleaning(&app, &alice, "a2").await;
    let r = app.get(CLEANINGS, alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(ids(r.data()), vec![id_of(&a2), id_of(&a1)]);
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_cursor"].is_null(), "{r:#?}");
    for c in r.data() {
        assert_cleaning_shape(c);
    }
    assert_eq!(r.data()[0], a2, "list rows are the full cleaning");
    let r = app.get(CLEANINGS, bob.tok()).await;
    assert_eq!(ids(r.data()), vec![id_of(&b1)]);
}

#[actix_web::test]
async fn list_my_cleanings_is_empty_for_a_new_user_even_for_an_admin() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    new_cleaning(&app, &alice, "a1").await;
    let carol = app.user("carol").await;
    let r = app.get(CLEANINGS, carol.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.data().is_empty());
    assert_eq!(r.body["has_more"], false);
    let admin = app.admin().await;
    let r = app.get(CLEANINGS, admin.tok()).await;
    assert!(
        r.data().is_empty(),
        "own cleanings only, admins too: {r:#?}"
    );
}

#[actix_web::test]
async fn list_my_cleanings_paginates_with_a_cursor() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(id_of(&new_cleaning(&app, &alice, &format!("a{i}")).await));
        new_cleaning(&app, &bob, &format!("b{i}")).await;
    }
    made.reverse();
    let r = app.get(&format!("{CLEANINGS}?limit=2"), alice.tok()).await;
    assert_eq!(r.data().len(), 2);
    assert_eq!(r.body["has_more"], true);
    let rows = all_pages(&app, CLEANINGS, alice.tok(), 2).await;
    assert_eq!(ids(&rows), made, "every one once, newest first");
}

#[actix_web::test]
async fn list_my_cleanings_without_token_is_401() {
    let app = spawn_app().await;
    assert_unauthorized(&app.get(CLEANINGS, None).await);
}

#[actix_web::test]
async fn cleaning_lists_check_limit_and_cursor() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for base in [CLEANINGS, FEED] {
        for bad in ["0", "101", "abc", "-1"] {
            let r = app.get(&format!("{base}?limit={bad}"), alice.tok()).await;
            assert_field_error(&r, "limit");
        }
        let r = app
            .get(&format!("{base}?cursor=%21%21garbage"), alice.tok())
            .await;
        assert_problem(&r, 400);
        let r = app.get(&format!("{base}?limit=100"), alice.tok()).await;
        assert_eq!(r.status, 200, "{r:#?}");
    }
}

// ----- GET /cleanings/feed -----

#[actix_web::test]
async fn feed_shows_everyone_elses_cleanings_newest_first() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let b1 = new_cleaning(&app, &bob, "b1").await;
    let a1 = new_cleaning(&app, &alice, "a1").await;
    let c1 = new_cleaning(&app, &carol, "c1").await;
    let b2 = new_cleaning(&app, &bob, "b2").await;
    let r = app.get(FEED, alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(ids(r.data()), vec![id_of(&b2), id_of(&c1), id_of(&b1)]);
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_cursor"].is_null());
    for c in r.data() {
        assert_cleaning_shape(c);
    }
    let r = app.get(FEED, bob.tok()).await;
    assert_eq!(ids(r.data()), vec![id_of(&c1), id_of(&a1)]);
    let r = app.get(FEED, carol.tok()).await;
    assert_eq!(ids(r.data()), vec![id_of(&b2), id_of(&a1), id_of(&b1)]);
}

#[actix_web::test]
async fn feed_never_shows_the_callers_own_cleanings() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.admin().await;
    let mut others = Vec::new();
    for i in 0..4 {
        new_cleaning(&app, &alice, &format!("a{i}")).await;
        others.push(id_of(&new_cleaning(&app, &bob, &format!("b{i}")).await));
        new_cleaning(&app, &alice, &format!("a{i}'")).await;
    }
    others.reverse();
    for limit in [1, 2, 3, 20] {
        let rows = all_pages(&app, FEED, alice.tok(), limit).await;
        assert!(
            rows.iter().all(|c| c["owner_id"] != alice.id.as_str()),
            "alice's own cleaning in her feed (limit {limit}): {rows:#?}"
        );
        assert_eq!(ids(&rows), others, "limit {limit}");
    }
    // The admin sees everyone's but not their own.
    let own = new_cleaning(&app, &admin, "admin's").await;
    let rows = all_pages(&app, FEED, admin.tok(), 5).await;
    assert_eq!(rows.len(), 12, "{rows:#?}");
    assert!(!ids(&rows).contains(&id_of(&own)));
    // A user whose cleanings are the only ones sees an empty feed.
    let app2 = spawn_app().await;
    let solo = app2.user("solo").await;
    new_cleaning(&app2, &solo, "mine").await;
    let r = app2.get(FEED, solo.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.data().is_empty(), "{r:#?}");
}

#[actix_web::test]
async fn feed_without_token_is_401() {
    let app = spawn_app().await;
    assert_unauthorized(&app.get(FEED, None).await);
}

// ----- GET /cleanings/{id} -----

#[actix_web::test]
async fn any_authenticated_user_may_read_any_cleaning() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.admin().await;
    let c = full_cleaning(&app, &alice).await;
    for reader in [&alice, &bob, &admin] {
        let r = app.get(&cleaning_path(&id_of(&c)), reader.tok()).await;
        assert_eq!(r.status, 200, "{}: {r:#?}", reader.username);
        assert_eq!(r.body, c);
    }
}

#[actix_web::test]
async fn get_cleaning_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = new_cleaning(&app, &alice, "x").await;
    assert_unauthorized(&app.get(&cleaning_path(&id_of(&c)), None).await);
    let r = app
        .get_with_authorization(&cleaning_path(&id_of(&c)), "Bearer garbage")
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn get_missing_cleaning_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let missing = uuid::Uuid::now_v7().to_string();
    assert_problem(&app.get(&cleaning_path(&missing), alice.tok()).await, 404);
}

#[actix_web::test]
async fn cleaning_with_malformed_id_is_404_on_every_method() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in ["not-a-uuid", "123", "0190f0e4-zzzz-7000-8000-000000000000"] {
        let path = cleaning_path(bad);
        assert_problem(&app.get(&path, alice.tok()).await, 404);
        let body = json!({"name": "x", "price": 1});
        assert_problem(&app.put(&path, alice.tok(), body.clone()).await, 404);
        assert_problem(&app.patch(&path, alice.tok(), body).await, 404);
        assert_problem(&app.delete(&path, alice.tok()).await, 404);
    }
}

// ----- PUT /cleanings/{id} -----

#[actix_web::test]
async fn put_replaces_the_cleaning_and_resets_absent_optional_fields() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .put(
            &cleaning_path(&id_of(&c)),
            alice.tok(),
            json!({"name": "Studio", "price": 80}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_cleaning_shape(&r.body);
    assert_eq!(r.body["id"], c["id"]);
    assert_eq!(r.body["name"], "Studio");
    assert_eq!(r.body["price"], json!(80));
    assert!(
        r.body["description"].is_null(),
        "absent description -> null: {r:#?}"
    );
    assert_eq!(
        r.body["cleaning_type"], "spot_clean",
        "absent type -> default"
    );
    assert_eq!(r.body["owner_id"], alice.id.as_str());
    assert_eq!(r.body["created_at"], c["created_at"]);
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&c["updated_at"]));
    let got = app.get(&cleaning_path(&id_of(&c)), alice.tok()).await;
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn put_with_every_field_sets_them() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = new_cleaning(&app, &alice, "x").await;
    let r = app
        .put(
            &cleaning_path(&id_of(&c)),
            alice.tok(),
            json!({"name": "Loft", "description": "Big", "price": 1.50, "cleaning_type": "dust_up"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["name"], "Loft");
    assert_eq!(r.body["description"], "Big");
    assert_eq!(r.body["price"], json!(1.5));
    assert_eq!(r.body["cleaning_type"], "dust_up");
}

#[actix_web::test]
async fn put_ignores_owner_id_in_the_body() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let c = new_cleaning(&app, &alice, "x").await;
    let r = app
        .put(
            &cleaning_path(&id_of(&c)),
            alice.tok(),
            json!({"name": "y", "price": 2, "owner_id": bob.id, "id": uuid::Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["owner_id"], alice.id.as_str());
    assert_eq!(r.body["id"], c["id"]);
    let r = app.get(CLEANINGS, bob.tok()).await;
    assert!(r.data().is_empty(), "{r:#?}");
}

#[actix_web::test]
async fn put_by_non_owner_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .put(
            &cleaning_path(&id_of(&c)),
            bob.tok(),
            json!({"name": "Hijacked", "price": 1}),
        )
        .await;
    assert_problem(&r, 403);
    let got = app.get(&cleaning_path(&id_of(&c)), alice.tok()).await;
    assert_eq!(got.body, c);
}

#[actix_web::test]
async fn put_by_admin_is_allowed_and_keeps_the_owner() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .put(
            &cleaning_path(&id_of(&c)),
            admin.tok(),
            json!({"name": "Moderated", "price": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["name"], "Moderated");
    assert_eq!(r.body["owner_id"], alice.id.as_str());
}

#[actix_web::test]
async fn put_missing_cleaning_is_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let missing = uuid::Uuid::now_v7().to_string();
    let r = app
        .put(
            &cleaning_path(&missing),
            alice.tok(),
            json!({"name": "x", "price": 1}),
        )
        .await;
    assert_problem(&r, 404);
}

#[actix_web::test]
async fn put_without_token_is_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = new_cleaning(&app, &alice, "x").await;
    let r = app
        .put(
            &cleaning_path(&id_of(&c)),
            None,
            json!({"name": "x", "price": 1}),
        )
        .await;
    assert_unauthorized(&r);
}

#[actix_web::test]
async fn put_breaking_a_rule_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let path = cleaning_path(&id_of(&c));
    for (body, field) in [
        (json!({"price": 1}), "name"),
        (json!({"name": "x"}), "price"),
        (json!({"name": "", "price": 1}), "name"),
        (json!({"name": "n".repeat(101), "price": 1}), "name"),
        (json!({"name": "x", "price": 1.505}), "price"),
        (json!({"name": "x", "price": "1.5"}), "price"),
        (json!({"name": "x", "price": -1}), "price"),
        (json!({"name": "x", "price": 1_000_000.01}), "price"),
        (
            json!({"name": "x", "price": 1, "cleaning_type": "deep"}),
            "cleaning_type",
        ),
        (
            json!({"name": "x", "price": 1, "description": "d".repeat(2001)}),
            "description",
        ),
    ] {
        let r = app.put(&path, alice.tok(), body.clone()).await;
        assert_field_error(&r, field);
    }
    let got = app.get(&path, alice.tok()).await;
    assert_eq!(got.body, c);
}

// ----- PATCH /cleanings/{id} -----

#[actix_web::test]
async fn patch_changes_only_the_given_fields() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let path = cleaning_path(&id_of(&c));
    let r = app.patch(&path, alice.tok(), json!({"price": 99.99})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_cleaning_shape(&r.body);
    assert_eq!(r.body["price"], json!(99.99));
    for key in [
        "id",
        "name",
        "description",
        "cleaning_type",
        "owner_id",
        "created_at",
    ] {
        assert_eq!(r.body[key], c[key], "{key} stays");
    }
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&c["updated_at"]));
    let r = app
        .patch(
            &path,
            alice.tok(),
            json!({"name": "Renamed", "cleaning_type": "dust_up", "description": "New"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["name"], "Renamed");
    assert_eq!(r.body["cleaning_type"], "dust_up");
    assert_eq!(r.body["description"], "New");
    assert_eq!(r.body["price"], json!(99.99));
    let got = app.get(&path, alice.tok()).await;
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn patch_null_description_clears_it() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let path = cleaning_path(&id_of(&c));
    let r = app
        .patch(&path, alice.tok(), json!({"description": null}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.body["description"].is_null(), "{r:#?}");
    assert_eq!(r.body["name"], c["name"]);
    let got = app.get(&path, alice.tok()).await;
    assert!(got.body["description"].is_null());
}

#[actix_web::test]
async fn patch_null_for_a_non_nullable_field_is_422_null() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let path = cleaning_path(&id_of(&c));
    for field in ["name", "price", "cleaning_type"] {
        let r = app.patch(&path, alice.tok(), json!({ field: null })).await;
        assert_field_error_type(&r, field, "null");
    }
    let got = app.get(&path, alice.tok()).await;
    assert_eq!(got.body, c, "nothing changed");
}

#[actix_web::test]
async fn patch_empty_body_returns_the_cleaning_unchanged() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .patch(&cleaning_path(&id_of(&c)), alice.tok(), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, c, "`{{}}` changes nothing, updated_at included");
}

#[actix_web::test]
async fn patch_with_only_server_owned_fields_is_a_no_op() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .patch(
            &cleaning_path(&id_of(&c)),
            alice.tok(),
            json!({
                "owner_id": bob.id, "id": uuid::Uuid::now_v7().to_string(),
                "created_at": "2000-01-01T00:00:00.000000Z", "updated_at": "2000-01-01T00:00:00.000000Z",
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, c, "owner_id in a body is ignored");
    let r = app.get(CLEANINGS, bob.tok()).await;
    assert!(r.data().is_empty(), "{r:#?}");
}

#[actix_web::test]
async fn patch_with_the_same_values_keeps_updated_at() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .patch(
            &cleaning_path(&id_of(&c)),
            alice.tok(),
            json!({"name": c["name"], "price": 120.50, "cleaning_type": c["cleaning_type"], "description": c["description"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, c, "nothing changed, updated_at stays");
}

#[actix_web::test]
async fn patch_breaking_a_rule_is_422_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = full_cleaning(&app, &alice).await;
    let path = cleaning_path(&id_of(&c));
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(101)}), "name"),
        (json!({"description": "d".repeat(2001)}), "description"),
        (json!({"price": 1.505}), "price"),
        (json!({"price": "1.5"}), "price"),
        (json!({"price": -0.01}), "price"),
        (json!({"price": 1_000_000.01}), "price"),
        (json!({"cleaning_type": "deep_clean"}), "cleaning_type"),
        (json!({"name": "fine", "price": 1.001}), "price"),
    ] {
        let r = app.patch(&path, alice.tok(), body.clone()).await;
        assert_field_error(&r, field);
    }
    let got = app.get(&path, alice.tok()).await;
    assert_eq!(got.body, c);
}

#[actix_web::test]
async fn patch_price_1_50_comes_back_as_the_number_1_5() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let c = new_cleaning(&app, &alice, "x").await;
    let req = app
        .request("PATCH", &cleaning_path(&id_of(&c)))
        .insert_header(("Authorization", format!("Bearer {}", alice.token)));
    let r = app
        .send_req(
            req,
            Body::Raw("application/json", br#"{"price": 1.50}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.text.contains(r#""price":1.5"#), "{}", r.text);
    assert_eq!(r.body["price"], json!(1.5));
}

#[actix_web::test]
async fn patch_by_non_owner_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let c = full_cleaning(&app, &alice).await;
    let path = cleaning_path(&id_of(&c));
    let r = app
        .patch(&path, bob.tok(), json!({"name": "Mine now"}))
        .await;
    assert_problem(&r, 403);
    let r = app.patch(&path, bob.tok(), json!({})).await;
    assert_problem(&r, 403);
    let got = app.get(&path, alice.tok()).await;
    assert_eq!(got.body, c);
}

#[actix_web::test]
async fn patch_by_admin_is_allowed() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let c = full_cleaning(&app, &alice).await;
    let r = app
        .patch(
            &cleaning_path(&id_of(&c)),
            admin.tok(),
            json!({"description": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.body["description"].is_null());
    assert_eq!(r.body["owner_id"], alice.id.as_str());
}

#[actix_web::test]
async fn patch_missing_cleaning_is_404_and_without_token_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let missing = uuid::Uuid::now_v7().to_string();
    let r = app
        .patch(&cleaning_path(&missing), alice.tok(), json!({"name": "x"}))
        .await;
    assert_problem(&r, 404);
    let c = new_cleaning(&app, &alice, "x").await;
    let r = app
        .patch(&cleaning_path(&id_of(&c)), None, json!({"name": "y"}))
        .await;
    assert_unauthorized(&r);
}

// ----- DELETE /cleanings/{id} -----

#[actix_web::test]
async fn delete_by_owner_is_204_and_the_cleaning_is_gone() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let keep = new_cleaning(&app, &alice, "keep").await;
    let c = new_cleaning(&app, &alice, "gone").await;
    let path = cleaning_path(&id_of(&c));
    let r = app.delete(&path, alice.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert!(r.text.is_empty(), "204 has no body: {r:#?}");
    assert_problem(&app.get(&path, alice.tok()).await, 404);
    assert_problem(&app.get(&path, bob.tok()).await, 404);
    assert_eq!(
        ids(app.get(CLEANINGS, alice.tok()).await.data()),
        vec![id_of(&keep)]
    );
    assert_eq!(
        ids(app.get(FEED, bob.tok()).await.data()),
        vec![id_of(&keep)]
    );
    // Every write on it is 404 now.
    assert_problem(&app.delete(&path, alice.tok()).await, 404);
    assert_problem(
        &app.patch(&path, alice.tok(), json!({"name": "x"})).await,
        404,
    );
    assert_problem(
        &app.put(&path, alice.tok(), json!({"name": "x", "price": 1}))
            .await,
        404,
    );
}

#[actix_web::test]
async fn delete_by_non_owner_is_403_and_keeps_the_cleaning() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let c = new_cleaning(&app, &alice, "x").await;
    let path = cleaning_path(&id_of(&c));
    assert_problem(&app.delete(&path, bob.tok()).await, 403);
    let got = app.get(&path, alice.tok()).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, c);
}

#[actix_web::test]
async fn delete_by_admin_is_204() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let c = new_cleaning(&app, &alice, "x").await;
    let path = cleaning_path(&id_of(&c));
    let r = app.delete(&path, admin.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_problem(&app.get(&path, alice.tok()).await, 404);
}

#[actix_web::test]
async fn delete_missing_cleaning_is_404_and_without_token_401() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let missing = uuid::Uuid::now_v7().to_string();
    assert_problem(
        &app.delete(&cleaning_path(&missing), alice.tok()).await,
        404,
    );
    let c = new_cleaning(&app, &alice, "x").await;
    assert_unauthorized(&app.delete(&cleaning_path(&id_of(&c)), None).await);
    assert_eq!(
        app.get(&cleaning_path(&id_of(&c)), alice.tok())
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn bodies_rejected_by_the_extractor_never_break_later_requests() {
    // A body that fails to deserialize is refused while the token's user is
    // still being read; that must not cost the app its database (on SQLite in
    // memory, losing the last pooled connection loses every table).
    for round in 0..20 {
        let app = spawn_app().await;
        let alice = app.user("alice").await;
        for bad in [
            json!("deep_clean"),
            json!(""),
            json!(1),
            json!("x"),
            json!([]),
        ] {
            let r = create(
                &app,
                &alice,
                json!({"name": "x", "price": 1, "cleaning_type": bad}),
            )
            .await;
            assert_problem(&r, 422);
        }
        let r = app.get(CLEANINGS, alice.tok()).await;
        assert_eq!(r.status, 200, "round {round}: {r:#?}");
        let r = create(&app, &alice, json!({"name": "x", "price": 1})).await;
        assert_eq!(r.status, 201, "round {round}: {r:#?}");
    }
}
