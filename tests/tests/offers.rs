//! Section 5: offers on a cleaning, every row of the table, the check order,
//! and the races around accepting.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::*;

/// How many times each race runs (each time on a new cleaning).
const RACE_ITERATIONS: usize = 5;

fn cleaning_path(id: &str) -> String {
    format!("/api/v1/cleanings/{id}")
}

fn offers_path(id: &str) -> String {
    format!("/api/v1/cleanings/{id}/offers")
}

fn offer_path(id: &str, username: &str) -> String {
    format!("/api/v1/cleanings/{id}/offers/{username}")
}

fn action_path(id: &str, username: &str, action: &str) -> String {
    format!("/api/v1/cleanings/{id}/offers/{username}/{action}")
}

fn missing_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Exactly the offer shape.
#[track_caller]
fn assert_offer_shape(offer: &Value) {
    let obj = offer
        .as_object()
        .unwrap_or_else(|| panic!("offer is not an object: {offer}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cleaning_id",
            "created_at",
            "status",
            "updated_at",
            "user_id",
            "username"
        ],
        "offer members: {offer}"
    );
    assert_uuid_v7(offer["cleaning_id"].as_str().expect("cleaning_id"));
    assert_uuid_v7(offer["user_id"].as_str().expect("user_id"));
    assert!(
        ["pending", "accepted", "rejected", "cancelled"]
            .contains(&offer["status"].as_str().unwrap_or("")),
        "{offer}"
    );
    assert_timestamp(&offer["created_at"]);
    assert_timestamp(&offer["updated_at"]);
}

/// Creates a cleaning owned by `owner` and returns its id.
async fn new_cleaning(app: &TestApp, owner: &TestUser) -> String {
    let r = app
        .post(
            "/api/v1/cleanings",
            owner.tok(),
            json!({"name": "Flat", "price": 40}),
        )
        .await;
    assert_eq!(r.status, 201, "create cleaning: {r:#?}");
    r.str("id")
}

/// `POST …/offers` with no body at all.
async fn offer(app: &TestApp, id: &str, by: &TestUser) -> Resp {
    app.send("POST", &offers_path(id), by.tok(), Body::Empty)
        .await
}

/// Makes an offer and returns it, asserting 201.
async fn offer_ok(app: &TestApp, id: &str, by: &TestUser) -> Value {
    let r = offer(app, id, by).await;
    assert_eq!(r.status, 201, "{} offers: {r:#?}", by.username);
    r.body
}

/// `POST …/offers/{username}/{action}`.
async fn act(app: &TestApp, id: &str, username: &str, action: &str, by: &TestUser) -> Resp {
    app.send(
        "POST",
        &action_path(id, username, action),
        by.tok(),
        Body::Empty,
    )
    .await
}

/// Makes a move and returns the offer, asserting 200.
async fn act_ok(app: &TestApp, id: &str, username: &str, action: &str, by: &TestUser) -> Value {
    let r = act(app, id, username, action, by).await;
    assert_eq!(
        r.status, 200,
        "{} {action}s the offer of {username}: {r:#?}",
        by.username
    );
    assert_offer_shape(&r.body);
    r.body
}

/// The status of every offer on the cleaning, by username, as its owner lists them.
async fn statuses(app: &TestApp, id: &str, owner: &TestUser) -> BTreeMap<String, String> {
    let r = app
        .get(&format!("{}?limit=100", offers_path(id)), owner.tok())
        .await;
    assert_eq!(r.status, 200, "list offers: {r:#?}");
    r.data()
        .iter()
        .map(|o| {
            (
                o["username"].as_str().expect("username").to_owned(),
                o["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The owner alice, offerers bob and carol, a stranger dave.
struct Cast {
    alice: TestUser,
    bob: TestUser,
    carol: TestUser,
    dave: TestUser,
}

async fn cast(app: &TestApp) -> Cast {
    Cast {
        alice: app.user("alice").await,
        bob: app.user("bob").await,
        carol: app.user("carol").await,
        dave: app.user("dave").await,
    }
}

// ----- POST /cleanings/{id}/offers -----

#[actix_web::test]
async fn offer_without_a_body_is_201_pending_with_location() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let r = offer(&app, &id, &c.bob).await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_offer_shape(&r.body);
    assert_eq!(
        r.header("location"),
        Some(offer_path(&id, "bob").as_str()),
        "{r:#?}"
    );
    assert_eq!(r.body["cleaning_id"], id.as_str());
    assert_eq!(r.body["user_id"], c.bob.id.as_str());
    assert_eq!(r.body["username"], "bob");
    assert_eq!(r.body["status"], "pending");
    // The Location is where the offer lives.
    let got = app.get(&offer_path(&id, "bob"), c.bob.tok()).await;
    assert_eq!(got.status, 200, "{got:#?}");
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn offer_with_an_empty_json_object_is_201() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let r = app.post(&offers_path(&id), c.bob.tok(), json!({})).await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["username"], "bob");
}

#[actix_web::test]
async fn offer_ignores_fields_in_the_body() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let other = new_cleaning(&app, &c.alice).await;
    let r = app
        .post(
            &offers_path(&id),
            c.bob.tok(),
            json!({
                "status": "accepted", "user_id": c.carol.id, "username": "carol",
                "cleaning_id": other, "created_at": "2000-01-01T00:00:00.000000Z",
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["user_id"], c.bob.id.as_str());
    assert_eq!(r.body["username"], "bob");
    assert_eq!(r.body["cleaning_id"], id.as_str());
    assert_ne!(r.body["created_at"], "2000-01-01T00:00:00.000000Z");
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "pending")])
    );
    assert!(statuses(&app, &other, &c.alice).await.is_empty());
}

#[actix_web::test]
async fn offer_with_malformed_json_is_400() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let req = app
        .request("POST", &offers_path(&id))
        .insert_header(("Authorization", format!("Bearer {}", c.bob.token)));
    let r = app
        .send_req(req, Body::Raw("application/json", b"{\"a\":".to_vec()))
        .await;
    assert_problem(&r, 400);
    assert!(statuses(&app, &id, &c.alice).await.is_empty());
}

#[actix_web::test]
async fn offer_location_uses_the_username_as_registered() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("Bob_The_Cleaner").await;
    let id = new_cleaning(&app, &alice).await;
    let r = offer(&app, &id, &bob).await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["username"], "Bob_The_Cleaner");
    let location = r.header("location").expect("location").to_owned();
    assert_eq!(location, offer_path(&id, "Bob_The_Cleaner"));
    assert_eq!(app.get(&location, bob.tok()).await.status, 200);
}

#[actix_web::test]
async fn offer_by_the_owner_on_own_cleaning_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    assert_problem(&offer(&app, &id, &c.alice).await, 403);
    assert!(statuses(&app, &id, &c.alice).await.is_empty());
    // Even an admin may not offer on their own cleaning.
    let admin = app.admin().await;
    let own = new_cleaning(&app, &admin).await;
    assert_problem(&offer(&app, &own, &admin).await, 403);
}

#[actix_web::test]
async fn an_admin_may_offer_on_someone_elses_cleaning() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    let r = offer(&app, &id, &admin).await;
    assert_eq!(r.status, 201, "any user but the owner: {r:#?}");
    assert_eq!(r.body["username"], ADMIN_USERNAME);
}

#[actix_web::test]
async fn second_offer_by_the_same_user_is_409_whatever_its_status() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    // Pending.
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    assert_problem(&offer(&app, &id, &c.bob).await, 409);
    let r = app.post(&offers_path(&id), c.bob.tok(), json!({})).await;
    assert_problem(&r, 409);
    // Rejected.
    act_ok(&app, &id, "bob", "reject", &c.alice).await;
    assert_problem(&offer(&app, &id, &c.bob).await, 409);
    // Accepted.
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    assert_problem(&offer(&app, &id, &c.bob).await, 409);
    // Cancelled.
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    assert_problem(&offer(&app, &id, &c.bob).await, 409);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "cancelled")]),
        "still one offer"
    );
}

#[actix_web::test]
async fn offer_on_a_cleaning_with_an_accepted_offer_is_409() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    assert_problem(&offer(&app, &id, &c.carol).await, 409);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "accepted")])
    );
    // Once the accepted offer is cancelled, offers are welcome again.
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    let r = offer(&app, &id, &c.carol).await;
    assert_eq!(r.status, 201, "{r:#?}");
}

#[actix_web::test]
async fn offer_on_a_missing_cleaning_is_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    assert_problem(&offer(&app, &missing_id(), &c.bob).await, 404);
    assert_problem(&offer(&app, "not-a-uuid", &c.bob).await, 404);
}

#[actix_web::test]
async fn offer_without_token_is_401() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let r = app.send("POST", &offers_path(&id), None, Body::Empty).await;
    assert_unauthorized(&r);
}

// ----- GET /cleanings/{id}/offers -----

#[actix_web::test]
async fn owner_lists_the_offers_newest_first() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let b = offer_ok(&app, &id, &c.bob).await;
    let cc = offer_ok(&app, &id, &c.carol).await;
    let d = offer_ok(&app, &id, &c.dave).await;
    act_ok(&app, &id, "carol", "reject", &c.alice).await;
    let r = app.get(&offers_path(&id), c.alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["has_more"], false);
    assert!(r.body["next_cursor"].is_null());
    let names: Vec<&str> = r
        .data()
        .iter()
        .map(|o| o["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dave", "carol", "bob"]);
    for o in r.data() {
        assert_offer_shape(o);
    }
    assert_eq!(r.data()[0], d);
    assert_eq!(r.data()[2], b);
    assert_eq!(r.data()[1]["status"], "rejected");
    assert_eq!(r.data()[1]["created_at"], cc["created_at"]);
}

#[actix_web::test]
async fn offer_list_paginates_with_a_cursor() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let eve = app.user("eve").await;
    let id = new_cleaning(&app, &c.alice).await;
    for u in [&c.bob, &c.carol, &c.dave, &eve] {
        offer_ok(&app, &id, u).await;
    }
    let mut seen = Vec::new();
    let mut path = format!("{}?limit=3", offers_path(&id));
    loop {
        let r = app.get(&path, c.alice.tok()).await;
        assert_eq!(r.status, 200, "{r:#?}");
        seen.extend(
            r.data()
                .iter()
                .map(|o| o["username"].as_str().unwrap().to_owned()),
        );
        if r.body["has_more"] == false {
            assert!(r.body["next_cursor"].is_null(), "{r:#?}");
            break;
        }
        path = format!(
            "{}?limit=3&cursor={}",
            offers_path(&id),
            r.str("next_cursor")
        );
    }
    assert_eq!(seen, ["eve", "dave", "carol", "bob"]);
    let r = app
        .get(&format!("{}?limit=0", offers_path(&id)), c.alice.tok())
        .await;
    assert_field_error(&r, "limit");
    let r = app
        .get(
            &format!("{}?cursor=%21bad", offers_path(&id)),
            c.alice.tok(),
        )
        .await;
    assert_problem(&r, 400);
}

#[actix_web::test]
async fn admin_may_list_the_offers() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    let r = app.get(&offers_path(&id), admin.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.data().len(), 1);
}

#[actix_web::test]
async fn offer_list_by_anyone_but_the_owner_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    // An offerer, and a stranger.
    for u in [&c.bob, &c.dave] {
        assert_problem(&app.get(&offers_path(&id), u.tok()).await, 403);
    }
}

#[actix_web::test]
async fn offer_list_of_a_missing_cleaning_is_404_and_without_token_401() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    assert_problem(
        &app.get(&offers_path(&missing_id()), c.dave.tok()).await,
        404,
    );
    assert_problem(&app.get(&offers_path("nope"), c.dave.tok()).await, 404);
    let id = new_cleaning(&app, &c.alice).await;
    assert_unauthorized(&app.get(&offers_path(&id), None).await);
}

#[actix_web::test]
async fn an_empty_offer_list_is_an_empty_page() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let r = app.get(&offers_path(&id), c.alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert!(r.data().is_empty());
    assert_eq!(r.body["has_more"], false);
}

// ----- GET /cleanings/{id}/offers/{username} -----

#[actix_web::test]
async fn the_owner_the_offerer_and_an_admin_may_read_an_offer() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    let made = offer_ok(&app, &id, &c.bob).await;
    for reader in [&c.alice, &c.bob, &admin] {
        let r = app.get(&offer_path(&id, "bob"), reader.tok()).await;
        assert_eq!(r.status, 200, "{}: {r:#?}", reader.username);
        assert_eq!(r.body, made);
    }
}

#[actix_web::test]
async fn anyone_else_reading_an_offer_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    // A stranger, and another offerer.
    assert_problem(&app.get(&offer_path(&id, "bob"), c.dave.tok()).await, 403);
    assert_problem(&app.get(&offer_path(&id, "bob"), c.carol.tok()).await, 403);
}

#[actix_web::test]
async fn reading_an_offer_that_does_not_exist_is_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    // The owner asks about a user with no offer, and about no user at all.
    assert_problem(
        &app.get(&offer_path(&id, "carol"), c.alice.tok()).await,
        404,
    );
    assert_problem(
        &app.get(&offer_path(&id, "nobody"), c.alice.tok()).await,
        404,
    );
    // A user asks about their own offer that they never made.
    assert_problem(
        &app.get(&offer_path(&id, "carol"), c.carol.tok()).await,
        404,
    );
}

#[actix_web::test]
async fn offer_paths_match_the_username_case_insensitively() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("Bob").await;
    let carol = app.user("carol").await;
    let id = new_cleaning(&app, &alice).await;
    offer_ok(&app, &id, &bob).await;
    offer_ok(&app, &id, &carol).await;
    for asked in ["Bob", "bob", "BOB", "bOb"] {
        let r = app.get(&offer_path(&id, asked), alice.tok()).await;
        assert_eq!(r.status, 200, "owner asks {asked}: {r:#?}");
        assert_eq!(r.body["username"], "Bob");
        let r = app.get(&offer_path(&id, asked), bob.tok()).await;
        assert_eq!(r.status, 200, "offerer asks {asked}: {r:#?}");
    }
    let r = act_ok(&app, &id, "BOB", "accept", &alice).await;
    assert_eq!(r["username"], "Bob");
    assert_eq!(r["status"], "accepted");
    let r = act_ok(&app, &id, "bOB", "cancel", &bob).await;
    assert_eq!(r["status"], "cancelled");
    let r = act_ok(&app, &id, "CAROL", "reject", &alice).await;
    assert_eq!(r["status"], "rejected");
    let dave = app.user("Dave").await;
    offer_ok(&app, &id, &dave).await;
    let r = app.delete(&offer_path(&id, "DAVE"), dave.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
}

#[actix_web::test]
async fn reading_an_offer_without_token_is_401() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    assert_unauthorized(&app.get(&offer_path(&id, "bob"), None).await);
}

// ----- accept -----

#[actix_web::test]
async fn accept_by_the_owner_accepts_and_rejects_every_other_pending_offer() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let made = offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    offer_ok(&app, &id, &c.dave).await;
    let r = act(&app, &id, "bob", "accept", &c.alice).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_offer_shape(&r.body);
    assert_eq!(r.body["status"], "accepted");
    assert_eq!(r.body["username"], "bob");
    assert_eq!(r.body["user_id"], c.bob.id.as_str());
    assert_eq!(r.body["cleaning_id"], id.as_str());
    assert_eq!(r.body["created_at"], made["created_at"]);
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&made["updated_at"]));
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "accepted"),
            ("carol", "rejected"),
            ("dave", "rejected")
        ])
    );
    let got = app.get(&offer_path(&id, "bob"), c.bob.tok()).await;
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn accept_leaves_offers_on_other_cleanings_alone() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let one = new_cleaning(&app, &c.alice).await;
    let two = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &one, &c.bob).await;
    offer_ok(&app, &one, &c.carol).await;
    offer_ok(&app, &two, &c.carol).await;
    act_ok(&app, &one, "bob", "accept", &c.alice).await;
    assert_eq!(
        statuses(&app, &two, &c.alice).await,
        map(&[("carol", "pending")])
    );
}

#[actix_web::test]
async fn accept_by_non_owner_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    // The offerer themself, another offerer, a stranger, and an admin.
    for u in [&c.bob, &c.carol, &c.dave, &admin] {
        assert_problem(&act(&app, &id, "bob", "accept", u).await, 403);
    }
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "pending"), ("carol", "pending")])
    );
}

#[actix_web::test]
async fn accept_of_an_offer_that_is_not_pending_is_409() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    offer_ok(&app, &id, &c.dave).await;
    act_ok(&app, &id, "dave", "reject", &c.alice).await;
    // Rejected by hand.
    assert_problem(&act(&app, &id, "dave", "accept", &c.alice).await, 409);
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    // Already accepted.
    assert_problem(&act(&app, &id, "bob", "accept", &c.alice).await, 409);
    // Rejected by that acceptance (another offer is accepted).
    assert_problem(&act(&app, &id, "carol", "accept", &c.alice).await, 409);
    // Cancelled.
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    assert_problem(&act(&app, &id, "bob", "accept", &c.alice).await, 409);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "cancelled"),
            ("carol", "pending"),
            ("dave", "rejected")
        ])
    );
}

#[actix_web::test]
async fn accept_of_a_missing_offer_is_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    assert_problem(&act(&app, &id, "carol", "accept", &c.alice).await, 404);
    assert_problem(&act(&app, &id, "nobody", "accept", &c.alice).await, 404);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "pending")])
    );
}

#[actix_web::test]
async fn accept_on_a_missing_cleaning_is_404_and_without_token_401() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    assert_problem(
        &act(&app, &missing_id(), "bob", "accept", &c.alice).await,
        404,
    );
    assert_problem(&act(&app, "x", "bob", "accept", &c.alice).await, 404);
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    let r = app
        .send(
            "POST",
            &action_path(&id, "bob", "accept"),
            None,
            Body::Empty,
        )
        .await;
    assert_unauthorized(&r);
}

// ----- reject -----

#[actix_web::test]
async fn reject_by_the_owner_rejects_only_that_offer() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let made = offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    let r = act(&app, &id, "bob", "reject", &c.alice).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_offer_shape(&r.body);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["username"], "bob");
    assert_eq!(r.body["created_at"], made["created_at"]);
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&made["updated_at"]));
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "rejected"), ("carol", "pending")])
    );
    // A rejection by hand does not stop the owner accepting another offer.
    act_ok(&app, &id, "carol", "accept", &c.alice).await;
}

#[actix_web::test]
async fn reject_by_non_owner_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    for u in [&c.bob, &c.carol, &c.dave, &admin] {
        assert_problem(&act(&app, &id, "bob", "reject", u).await, 403);
    }
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "pending"), ("carol", "pending")])
    );
}

#[actix_web::test]
async fn reject_of_an_offer_that_is_not_pending_is_409() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    act_ok(&app, &id, "carol", "reject", &c.alice).await;
    assert_problem(&act(&app, &id, "carol", "reject", &c.alice).await, 409);
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    assert_problem(&act(&app, &id, "bob", "reject", &c.alice).await, 409);
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    assert_problem(&act(&app, &id, "bob", "reject", &c.alice).await, 409);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "cancelled"), ("carol", "rejected")])
    );
}

#[actix_web::test]
async fn reject_of_a_missing_offer_or_cleaning_is_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    assert_problem(&act(&app, &id, "bob", "reject", &c.alice).await, 404);
    assert_problem(
        &act(&app, &missing_id(), "bob", "reject", &c.alice).await,
        404,
    );
    offer_ok(&app, &id, &c.bob).await;
    let r = app
        .send(
            "POST",
            &action_path(&id, "bob", "reject"),
            None,
            Body::Empty,
        )
        .await;
    assert_unauthorized(&r);
}

// ----- cancel -----

#[actix_web::test]
async fn cancel_by_the_offerer_cancels_and_reopens_the_offers_the_acceptance_rejected() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    let accepted = act_ok(&app, &id, "bob", "accept", &c.alice).await;
    let r = act(&app, &id, "bob", "cancel", &c.bob).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_offer_shape(&r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["username"], "bob");
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&accepted["updated_at"]));
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "cancelled"), ("carol", "pending")])
    );
    // The owner may now accept the reopened offer.
    act_ok(&app, &id, "carol", "accept", &c.alice).await;
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "cancelled"), ("carol", "accepted")])
    );
}

#[actix_web::test]
async fn cancel_after_accept_restores_exactly_the_auto_rejected_offers() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let eve = app.user("eve").await;
    let id = new_cleaning(&app, &c.alice).await;
    for u in [&c.bob, &c.carol, &c.dave, &eve] {
        offer_ok(&app, &id, u).await;
    }
    // dave rejected by hand; eve rescinds (gone); bob accepted -> carol auto-rejected.
    act_ok(&app, &id, "dave", "reject", &c.alice).await;
    let r = app.delete(&offer_path(&id, "eve"), eve.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "accepted"),
            ("carol", "rejected"),
            ("dave", "rejected")
        ])
    );
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "cancelled"),
            ("carol", "pending"),
            ("dave", "rejected")
        ]),
        "carol back to pending, dave (rejected by hand) stays rejected"
    );
    // A second round: accept carol (nobody pending to auto-reject), cancel it.
    act_ok(&app, &id, "carol", "accept", &c.alice).await;
    act_ok(&app, &id, "carol", "cancel", &c.carol).await;
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "cancelled"),
            ("carol", "cancelled"),
            ("dave", "rejected")
        ]),
        "neither the earlier hand rejection nor the cancelled offer comes back"
    );
}

#[actix_web::test]
async fn an_offer_reopened_by_cancel_then_rejected_by_hand_stays_rejected() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    for u in [&c.bob, &c.carol, &c.dave] {
        offer_ok(&app, &id, u).await;
    }
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    // carol and dave pending again; the owner rejects carol by hand, accepts dave.
    act_ok(&app, &id, "carol", "reject", &c.alice).await;
    act_ok(&app, &id, "dave", "accept", &c.alice).await;
    act_ok(&app, &id, "dave", "cancel", &c.dave).await;
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "cancelled"),
            ("carol", "rejected"),
            ("dave", "cancelled")
        ])
    );
}

#[actix_web::test]
async fn cancel_by_anyone_but_the_offerer_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    // The owner, another offerer, a stranger, an admin.
    for u in [&c.alice, &c.carol, &c.dave, &admin] {
        assert_problem(&act(&app, &id, "bob", "cancel", u).await, 403);
    }
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "accepted"), ("carol", "rejected")])
    );
}

#[actix_web::test]
async fn cancel_of_an_offer_that_is_not_accepted_is_409() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    offer_ok(&app, &id, &c.dave).await;
    // Pending.
    assert_problem(&act(&app, &id, "bob", "cancel", &c.bob).await, 409);
    // Rejected by hand.
    act_ok(&app, &id, "dave", "reject", &c.alice).await;
    assert_problem(&act(&app, &id, "dave", "cancel", &c.dave).await, 409);
    // Rejected by an acceptance.
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    assert_problem(&act(&app, &id, "carol", "cancel", &c.carol).await, 409);
    // Cancelled already.
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    assert_problem(&act(&app, &id, "bob", "cancel", &c.bob).await, 409);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "cancelled"),
            ("carol", "pending"),
            ("dave", "rejected")
        ])
    );
}

#[actix_web::test]
async fn cancel_of_a_missing_offer_or_cleaning_is_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    assert_problem(&act(&app, &id, "bob", "cancel", &c.bob).await, 404);
    assert_problem(
        &act(&app, &missing_id(), "bob", "cancel", &c.bob).await,
        404,
    );
    offer_ok(&app, &id, &c.bob).await;
    let r = app
        .send(
            "POST",
            &action_path(&id, "bob", "cancel"),
            None,
            Body::Empty,
        )
        .await;
    assert_unauthorized(&r);
}

// ----- DELETE …/offers/{username} (rescind) -----

#[actix_web::test]
async fn rescind_by_the_offerer_is_204_and_removes_the_offer() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    let r = app.delete(&offer_path(&id, "bob"), c.bob.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert!(r.text.is_empty(), "204 has no body: {r:#?}");
    assert_problem(&app.get(&offer_path(&id, "bob"), c.alice.tok()).await, 404);
    assert_problem(&app.get(&offer_path(&id, "bob"), c.bob.tok()).await, 404);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("carol", "pending")])
    );
    // Removed, so gone for a second rescind too.
    assert_problem(&app.delete(&offer_path(&id, "bob"), c.bob.tok()).await, 404);
}

#[actix_web::test]
async fn after_rescinding_the_user_may_offer_again() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let first = offer_ok(&app, &id, &c.bob).await;
    let r = app.delete(&offer_path(&id, "bob"), c.bob.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    let r = offer(&app, &id, &c.bob).await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["status"], "pending");
    assert!(parse_ts(&r.body["created_at"]) > parse_ts(&first["created_at"]));
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "pending")])
    );
}

#[actix_web::test]
async fn rescind_by_anyone_but_the_offerer_is_403() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    for u in [&c.alice, &c.carol, &c.dave, &admin] {
        assert_problem(&app.delete(&offer_path(&id, "bob"), u.tok()).await, 403);
    }
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[("bob", "pending"), ("carol", "pending")])
    );
}

#[actix_web::test]
async fn rescind_of_an_offer_that_is_not_pending_is_409() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    offer_ok(&app, &id, &c.dave).await;
    act_ok(&app, &id, "dave", "reject", &c.alice).await;
    assert_problem(
        &app.delete(&offer_path(&id, "dave"), c.dave.tok()).await,
        409,
    );
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    assert_problem(&app.delete(&offer_path(&id, "bob"), c.bob.tok()).await, 409);
    assert_problem(
        &app.delete(&offer_path(&id, "carol"), c.carol.tok()).await,
        409,
    );
    act_ok(&app, &id, "bob", "cancel", &c.bob).await;
    assert_problem(&app.delete(&offer_path(&id, "bob"), c.bob.tok()).await, 409);
    assert_eq!(
        statuses(&app, &id, &c.alice).await,
        map(&[
            ("bob", "cancelled"),
            ("carol", "pending"),
            ("dave", "rejected")
        ])
    );
}

#[actix_web::test]
async fn rescind_of_a_missing_offer_or_cleaning_is_404() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    assert_problem(&app.delete(&offer_path(&id, "bob"), c.bob.tok()).await, 404);
    assert_problem(
        &app.delete(&offer_path(&missing_id(), "bob"), c.bob.tok())
            .await,
        404,
    );
    assert_problem(
        &app.delete(&offer_path("bad-id", "bob"), c.bob.tok()).await,
        404,
    );
    offer_ok(&app, &id, &c.bob).await;
    assert_unauthorized(&app.delete(&offer_path(&id, "bob"), None).await);
}

// ----- the check order: cleaning 404, party 403, offer 404, transition 409 -----

#[actix_web::test]
async fn a_missing_cleaning_is_404_before_anything_else() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let gone = missing_id();
    // A stranger naming a user with no offer: every other check would fail too.
    for action in ["accept", "reject", "cancel"] {
        assert_problem(&act(&app, &gone, "nobody", action, &c.dave).await, 404);
    }
    assert_problem(
        &app.delete(&offer_path(&gone, "nobody"), c.dave.tok()).await,
        404,
    );
    assert_problem(
        &app.get(&offer_path(&gone, "nobody"), c.dave.tok()).await,
        404,
    );
    assert_problem(&app.get(&offers_path(&gone), c.dave.tok()).await, 404);
    assert_problem(&offer(&app, &gone, &c.dave).await, 404);
}

#[actix_web::test]
async fn the_party_check_comes_before_the_offer_lookup() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    // No offers at all: a non-owner moving an owner's move is 403, not 404.
    for action in ["accept", "reject"] {
        assert_problem(&act(&app, &id, "bob", action, &c.dave).await, 403);
        assert_problem(&act(&app, &id, "nobody", action, &c.bob).await, 403);
    }
    // The owner moving an offerer's move is 403, not 404.
    assert_problem(&act(&app, &id, "bob", "cancel", &c.alice).await, 403);
    assert_problem(
        &app.delete(&offer_path(&id, "bob"), c.alice.tok()).await,
        403,
    );
    // A stranger reading a missing offer is 403.
    assert_problem(&app.get(&offer_path(&id, "bob"), c.dave.tok()).await, 403);
    assert_problem(
        &app.get(&offer_path(&id, "nobody"), c.dave.tok()).await,
        403,
    );
    // The right party with no offer: 404.
    assert_problem(&act(&app, &id, "bob", "accept", &c.alice).await, 404);
    assert_problem(&act(&app, &id, "bob", "cancel", &c.bob).await, 404);
    assert_problem(&app.delete(&offer_path(&id, "bob"), c.bob.tok()).await, 404);
}

#[actix_web::test]
async fn the_party_check_comes_before_the_transition_check() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    // Not pending (409 for the owner) but the caller is not the owner: 403.
    assert_problem(&act(&app, &id, "bob", "accept", &c.bob).await, 403);
    assert_problem(&act(&app, &id, "carol", "reject", &c.dave).await, 403);
    // Not accepted (409 for carol) but the caller is not carol: 403.
    assert_problem(&act(&app, &id, "carol", "cancel", &c.alice).await, 403);
    assert_problem(
        &app.delete(&offer_path(&id, "bob"), c.carol.tok()).await,
        403,
    );
    // The owner offering on their own cleaning that has an accepted offer: 403.
    assert_problem(&offer(&app, &id, &c.alice).await, 403);
    // The right party: 409.
    assert_problem(&act(&app, &id, "bob", "accept", &c.alice).await, 409);
    assert_problem(&act(&app, &id, "carol", "cancel", &c.carol).await, 409);
    assert_problem(&app.delete(&offer_path(&id, "bob"), c.bob.tok()).await, 409);
}

// ----- a deleted cleaning takes its offers with it -----

#[actix_web::test]
async fn a_deleted_cleaning_takes_its_offers_with_it() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let id = new_cleaning(&app, &c.alice).await;
    let other = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    offer_ok(&app, &id, &c.carol).await;
    offer_ok(&app, &other, &c.bob).await;
    act_ok(&app, &id, "bob", "accept", &c.alice).await;
    let r = app.delete(&cleaning_path(&id), c.alice.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_problem(&app.get(&offers_path(&id), c.alice.tok()).await, 404);
    for reader in [&c.alice, &c.bob] {
        assert_problem(&app.get(&offer_path(&id, "bob"), reader.tok()).await, 404);
    }
    assert_problem(
        &app.get(&offer_path(&id, "carol"), c.carol.tok()).await,
        404,
    );
    assert_problem(&act(&app, &id, "bob", "cancel", &c.bob).await, 404);
    assert_problem(
        &app.delete(&offer_path(&id, "carol"), c.carol.tok()).await,
        404,
    );
    assert_problem(&offer(&app, &id, &c.dave).await, 404);
    // The other cleaning's offers are untouched.
    assert_eq!(
        statuses(&app, &other, &c.alice).await,
        map(&[("bob", "pending")])
    );
}

#[actix_web::test]
async fn a_cleaning_deleted_by_an_admin_takes_its_offers_with_it() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.admin().await;
    let id = new_cleaning(&app, &c.alice).await;
    offer_ok(&app, &id, &c.bob).await;
    let r = app.delete(&cleaning_path(&id), admin.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert_problem(&app.get(&offers_path(&id), admin.tok()).await, 404);
    assert_problem(&app.get(&offer_path(&id, "bob"), c.bob.tok()).await, 404);
}

// ----- races -----

/// Every response is `ok` or 409 (a problem), never anything else; returns
/// the indexes of the `ok` ones.
#[track_caller]
fn winners(results: &[Resp], ok: u16, what: &str) -> Vec<usize> {
    for r in results {
        assert!(
            r.status.as_u16() == ok || r.status == 409,
            "{what}: neither {ok} nor 409: {r:#?}"
        );
        if r.status == 409 {
            assert_problem(r, 409);
        }
    }
    results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status.as_u16() == ok)
        .map(|(i, _)| i)
        .collect()
}

/// The status codes, in the order the requests were built.
fn codes(results: &[Resp]) -> Vec<u16> {
    results.iter().map(|r| r.status.as_u16()).collect()
}

#[actix_web::test]
async fn concurrent_accepts_of_different_offers_leave_exactly_one_accepted() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let offerers = [&c.bob, &c.carol, &c.dave];
    for round in 0..RACE_ITERATIONS {
        let id = new_cleaning(&app, &c.alice).await;
        for u in offerers {
            offer_ok(&app, &id, u).await;
        }
        let results = join_all(
            offerers
                .iter()
                .map(|u| act(&app, &id, &u.username, "accept", &c.alice)),
        )
        .await;
        let won = winners(&results, 200, &format!("round {round}"));
        assert_eq!(won.len(), 1, "round {round}: exactly one 200: {results:#?}");
        let winner = &offerers[won[0]].username;
        assert_eq!(results[won[0]].body["status"], "accepted");
        let listed = statuses(&app, &id, &c.alice).await;
        let expected: BTreeMap<String, String> = offerers
            .iter()
            .map(|u| {
                let s = if &u.username == winner {
                    "accepted"
                } else {
                    "rejected"
                };
                (u.username.clone(), s.to_owned())
            })
            .collect();
        assert_eq!(listed, expected, "round {round}");
        eprintln!(
            "RACE accept-three round {round}: codes {:?}, {winner} accepted",
            codes(&results)
        );
    }
}

#[actix_web::test]
async fn the_same_accept_fired_at_once_succeeds_exactly_once() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    for round in 0..RACE_ITERATIONS {
        let id = new_cleaning(&app, &c.alice).await;
        offer_ok(&app, &id, &c.bob).await;
        offer_ok(&app, &id, &c.carol).await;
        let results = join_all((0..5).map(|_| act(&app, &id, "bob", "accept", &c.alice))).await;
        let won = winners(&results, 200, &format!("round {round}"));
        assert_eq!(won.len(), 1, "round {round}: exactly one 200: {results:#?}");
        assert_eq!(
            statuses(&app, &id, &c.alice).await,
            map(&[("bob", "accepted"), ("carol", "rejected")]),
            "round {round}"
        );
        eprintln!(
            "RACE accept-same round {round}: codes {:?}",
            codes(&results)
        );
    }
}

#[actix_web::test]
async fn concurrent_offers_by_the_same_user_create_exactly_one() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    for round in 0..RACE_ITERATIONS {
        let id = new_cleaning(&app, &c.alice).await;
        let results = join_all((0..5).map(|_| offer(&app, &id, &c.bob))).await;
        let won = winners(&results, 201, &format!("round {round}"));
        assert_eq!(won.len(), 1, "round {round}: exactly one 201: {results:#?}");
        assert_eq!(
            statuses(&app, &id, &c.alice).await,
            map(&[("bob", "pending")]),
            "round {round}"
        );
        eprintln!("RACE offer-same round {round}: codes {:?}", codes(&results));
    }
}

#[actix_web::test]
async fn an_offer_racing_an_accept_never_stays_pending_beside_the_accepted_one() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    for round in 0..RACE_ITERATIONS {
        let id = new_cleaning(&app, &c.alice).await;
        offer_ok(&app, &id, &c.bob).await;
        let accept = act(&app, &id, "bob", "accept", &c.alice);
        let late = offer(&app, &id, &c.carol);
        let (accept, late) = futures_util::future::join(accept, late).await;
        assert_eq!(accept.status, 200, "round {round}: {accept:#?}");
        assert!(
            late.status == 201 || late.status == 409,
            "round {round}: {late:#?}"
        );
        let listed = statuses(&app, &id, &c.alice).await;
        let expected = if late.status == 201 {
            // Made before the accept: rejected by it.
            map(&[("bob", "accepted"), ("carol", "rejected")])
        } else {
            assert_problem(&late, 409);
            map(&[("bob", "accepted")])
        };
        assert_eq!(listed, expected, "round {round}");
        eprintln!(
            "RACE offer-vs-accept round {round}: late offer {}",
            late.status.as_u16()
        );
    }
}

#[actix_web::test]
async fn concurrent_cancel_and_accept_of_others_end_consistent() {
    // bob's accepted offer is cancelled while the owner tries to accept carol's
    // (auto-rejected, so 409 unless the cancel reopened it first).
    let app = spawn_app().await;
    let c = cast(&app).await;
    for round in 0..RACE_ITERATIONS {
        let id = new_cleaning(&app, &c.alice).await;
        offer_ok(&app, &id, &c.bob).await;
        offer_ok(&app, &id, &c.carol).await;
        act_ok(&app, &id, "bob", "accept", &c.alice).await;
        let cancel = act(&app, &id, "bob", "cancel", &c.bob);
        let accept = act(&app, &id, "carol", "accept", &c.alice);
        let (cancel, accept) = futures_util::future::join(cancel, accept).await;
        assert_eq!(cancel.status, 200, "round {round}: {cancel:#?}");
        assert!(
            accept.status == 200 || accept.status == 409,
            "round {round}: {accept:#?}"
        );
        let expected = if accept.status == 200 {
            map(&[("bob", "cancelled"), ("carol", "accepted")])
        } else {
            map(&[("bob", "cancelled"), ("carol", "pending")])
        };
        assert_eq!(
            statuses(&app, &id, &c.alice).await,
            expected,
            "round {round}"
        );
        eprintln!(
            "RACE cancel-vs-accept round {round}: accept {}",
            accept.status.as_u16()
        );
    }
}
