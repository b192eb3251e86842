//! Section 6: the programming-languages catalogue, every row of the table,
//! the shipped entries, the year filters and the keyset order with ties.

use chrono::Datelike;
use serde_json::{Value, json};

use crate::common::*;

const LANGUAGES: &str = "/api/v1/languages";

/// The entries a fresh database holds, in list order (year, then name).
const SHIPPED: [(&str, i64, &str); 8] = [
    ("ALGOL", 1958, "scoping and nested functions"),
    ("COBOL", 1960, "record data"),
    ("APL", 1962, "array processing"),
    ("BASIC", 1964, "runtime interpretation, office tooling"),
    ("PL/I", 1966, "constants, function overloading, pointers"),
    (
        "SIMULA67",
        1967,
        "class/object split, subclassing, protected attributes",
    ),
    (
        "Pascal",
        1970,
        "modern unary, binary, and assignment operator syntax expectations",
    ),
    ("CLU", 1975, "iterators, abstract data"),
];

fn next_year() -> i64 {
    i64::from(chrono::Utc::now().year()) + 1
}

fn lang_path(lang: &Value) -> String {
    format!("{LANGUAGES}/{}", lang["id"].as_str().expect("language id"))
}

fn missing_path() -> String {
    format!("{LANGUAGES}/{}", uuid::Uuid::now_v7())
}

fn names(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The language shape, exactly: `{id, name, publication_year, contribution,
/// created_by, created_at, updated_at}`.
#[track_caller]
fn assert_language_shape(lang: &Value) {
    let obj = lang
        .as_object()
        .unwrap_or_else(|| panic!("language is not an object: {lang}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "contribution",
            "created_at",
            "created_by",
            "id",
            "name",
            "publication_year",
            "updated_at"
        ],
        "{lang}"
    );
    assert_uuid_v7(lang["id"].as_str().expect("id"));
    assert!(lang["publication_year"].is_i64(), "{lang}");
    assert!(
        lang["created_by"].is_null() || lang["created_by"].is_string(),
        "{lang}"
    );
    assert_timestamp(&lang["created_at"]);
    assert_timestamp(&lang["updated_at"]);
}

async fn create(app: &TestApp, user: &TestUser, name: &str, year: i64) -> Value {
    let r = app
        .post(
            LANGUAGES,
            user.tok(),
            json!({"name": name, "publication_year": year, "contribution": format!("what {name} brought")}),
        )
        .await;
    assert_eq!(r.status, 201, "create {name:?}: {r:#?}");
    r.body
}

/// Every row of the list for `query` (without `limit`), following cursors with `limit`.
async fn list_all(app: &TestApp, query: &str, limit: u32) -> Vec<Value> {
    let sep = if query.is_empty() { "" } else { "&" };
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let mut path = format!("{LANGUAGES}?{query}{sep}limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, None).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        assert!(r.data().len() <= limit as usize, "{r:#?}");
        rows.extend(r.data().iter().cloned());
        if r.body["has_more"] == true {
            cursor = Some(r.str("next_cursor"));
        } else {
            assert!(r.body["next_cursor"].is_null(), "{r:#?}");
            return rows;
        }
    }
    panic!("the list never ends");
}

/// One shipped entry, by name.
async fn shipped(app: &TestApp, name: &str) -> Value {
    list_all(app, "", 100)
        .await
        .into_iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the catalogue"))
}

async fn names_for(app: &TestApp, query: &str) -> Vec<String> {
    let r = app.get(&format!("{LANGUAGES}?{query}"), None).await;
    assert_eq!(r.status, 200, "{query}: {r:#?}");
    names(r.data())
}

// ----- the shipped entries -----

#[actix_web::test]
async fn a_fresh_database_holds_the_eight_shipped_languages_in_order() {
    let app = spawn_app().await;
    let r = app.get(LANGUAGES, None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["has_more"], false, "{r:#?}");
    assert!(r.body["next_cursor"].is_null(), "{r:#?}");
    let rows = r.data();
    assert_eq!(rows.len(), SHIPPED.len(), "{r:#?}");
    for (row, (name, year, contribution)) in rows.iter().zip(SHIPPED) {
        assert_language_shape(row);
        assert_eq!(row["name"], name, "{row}");
        assert_eq!(row["publication_year"], year, "{row}");
        assert_eq!(row["contribution"], contribution, "{row}");
        assert!(row["created_by"].is_null(), "shipped with a creator: {row}");
    }
}

// ----- POST /languages -----

#[actix_web::test]
async fn create_language_returns_201_with_location_and_the_language() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "message passing"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_language_shape(&r.body);
    let id = r.str("id");
    assert_eq!(
        r.header("location"),
        Some(format!("{LANGUAGES}/{id}").as_str())
    );
    assert_eq!(r.body["name"], "Smalltalk");
    assert_eq!(r.body["publication_year"], 1972);
    assert_eq!(r.body["contribution"], "message passing");
    assert_eq!(r.body["created_by"], alice.id.as_str());
    assert_eq!(r.body["created_at"], r.body["updated_at"]);

    let got = app.get(&format!("{LANGUAGES}/{id}"), None).await;
    assert_eq!(got.status, 200, "{got:#?}");
    assert_eq!(got.body, r.body);
}

#[actix_web::test]
async fn create_language_without_or_with_a_bad_token_is_401() {
    let app = spawn_app().await;
    let body = json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "objects"});
    assert_unauthorized(&app.post(LANGUAGES, None, body.clone()).await);
    assert_unauthorized(&app.post(LANGUAGES, Some("not-a-jwt"), body).await);
}

#[actix_web::test]
async fn public_reads_with_a_bad_token_are_401() {
    let app = spawn_app().await;
    let cobol = shipped(&app, "COBOL").await;
    assert_unauthorized(&app.get_with_authorization(LANGUAGES, "Bearer nope").await);
    assert_unauthorized(
        &app.get_with_authorization(&lang_path(&cobol), "Bearer nope")
            .await,
    );
}

#[actix_web::test]
async fn create_language_ignores_ids_creator_and_timestamps_in_the_body() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let forged = uuid::Uuid::now_v7().to_string();
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({
                "name": "Smalltalk", "publication_year": 1972, "contribution": "objects",
                "id": forged, "created_by": bob.id,
                "created_at": "2000-01-01T00:00:00.000000Z", "updated_at": "2000-01-01T00:00:00.000000Z",
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["created_by"], alice.id.as_str());
    assert_ne!(r.body["id"], forged.as_str());
    assert_ne!(r.body["created_at"], "2000-01-01T00:00:00.000000Z");
}

#[actix_web::test]
async fn create_language_name_must_be_1_to_100_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [String::new(), "x".repeat(101)] {
        let r = app
            .post(
                LANGUAGES,
                alice.tok(),
                json!({"name": bad, "publication_year": 1972, "contribution": "c"}),
            )
            .await;
        assert_field_error_type(&r, "name", "length");
    }
    let longest = "é".repeat(100);
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": longest, "publication_year": 1972, "contribution": "c"}),
        )
        .await;
    assert_eq!(r.status, 201, "100 characters are fine: {r:#?}");
}

#[actix_web::test]
async fn create_language_year_must_be_1800_to_next_year() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [1799, next_year() + 1, -5] {
        let r = app
            .post(
                LANGUAGES,
                alice.tok(),
                json!({"name": format!("Lang{bad}"), "publication_year": bad, "contribution": "c"}),
            )
            .await;
        assert_field_error_type(&r, "publication_year", "range");
    }
    for good in [1800, next_year()] {
        let r = app
            .post(
                LANGUAGES,
                alice.tok(),
                json!({"name": format!("Lang{good}"), "publication_year": good, "contribution": "c"}),
            )
            .await;
        assert_eq!(r.status, 201, "{good}: {r:#?}");
        assert_eq!(r.body["publication_year"], good);
    }
}

#[actix_web::test]
async fn create_language_contribution_must_be_1_to_500_characters() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for bad in [String::new(), "x".repeat(501)] {
        let r = app
            .post(
                LANGUAGES,
                alice.tok(),
                json!({"name": "Smalltalk", "publication_year": 1972, "contribution": bad}),
            )
            .await;
        assert_field_error_type(&r, "contribution", "length");
    }
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "x".repeat(500)}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
}

#[actix_web::test]
async fn create_language_reports_missing_fields_wrong_types_and_all_broken_rules() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app.post(LANGUAGES, alice.tok(), json!({})).await;
    assert_field_error_type(&r, "name", "required");
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": "1972", "contribution": "c"}),
        )
        .await;
    assert_field_error_type(&r, "publication_year", "type");
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": null, "publication_year": 1972, "contribution": "c"}),
        )
        .await;
    assert_field_error(&r, "name");
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": "", "publication_year": 1500, "contribution": ""}),
        )
        .await;
    assert_field_error_type(&r, "name", "length");
    assert_field_error_type(&r, "publication_year", "range");
    assert_field_error_type(&r, "contribution", "length");
}

#[actix_web::test]
async fn create_language_with_a_taken_name_in_any_case_is_409() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": "cobol", "publication_year": 1959, "contribution": "again"}),
        )
        .await;
    assert_problem(&r, 409);
    assert!(r.str("detail").contains("name"), "{r:#?}");
    create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .post(
            LANGUAGES,
            alice.tok(),
            json!({"name": "SMALLTALK", "publication_year": 1980, "contribution": "x"}),
        )
        .await;
    assert_problem(&r, 409);
}

#[actix_web::test]
async fn concurrent_creates_of_the_same_name_give_one_201_and_409s_never_5xx() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let requests = (0..8).map(|i| {
        let token = if i % 2 == 0 { alice.tok() } else { bob.tok() };
        let name = if i % 3 == 0 { "Racket" } else { "RACKET" };
        app.post(
            LANGUAGES,
            token,
            json!({"name": name, "publication_year": 1995, "contribution": "races"}),
        )
    });
    let results = futures_util::future::join_all(requests).await;
    for r in &results {
        assert!(r.status == 201 || r.status == 409, "{r:#?}");
        if r.status == 409 {
            assert_problem(r, 409);
        }
    }
    assert_eq!(
        results.iter().filter(|r| r.status == 201).count(),
        1,
        "{results:#?}"
    );
    assert_eq!(names_for(&app, "after_year=1990").await.len(), 1);
}

// ----- GET /languages/{id} -----

#[actix_web::test]
async fn get_language_is_public_and_missing_or_malformed_ids_are_404() {
    let app = spawn_app().await;
    let cobol = shipped(&app, "COBOL").await;
    let r = app.get(&lang_path(&cobol), None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, cobol);
    assert_problem(&app.get(&missing_path(), None).await, 404);
    assert_problem(
        &app.get(&format!("{LANGUAGES}/not-a-uuid"), None).await,
        404,
    );
}

// ----- GET /languages: filters -----

#[actix_web::test]
async fn after_year_alone_keeps_later_years_strictly() {
    let app = spawn_app().await;
    assert_eq!(
        names_for(&app, "after_year=1960").await,
        ["APL", "BASIC", "PL/I", "SIMULA67", "Pascal", "CLU"]
    );
}

#[actix_web::test]
async fn before_year_alone_keeps_earlier_years_strictly() {
    let app = spawn_app().await;
    assert_eq!(
        names_for(&app, "before_year=1964").await,
        ["ALGOL", "COBOL", "APL"]
    );
}

#[actix_web::test]
async fn both_year_bounds_keep_the_open_interval() {
    let app = spawn_app().await;
    assert_eq!(
        names_for(&app, "after_year=1960&before_year=1970").await,
        ["APL", "BASIC", "PL/I", "SIMULA67"]
    );
    assert_eq!(
        names_for(&app, "before_year=1970&after_year=1960").await,
        ["APL", "BASIC", "PL/I", "SIMULA67"]
    );
}

#[actix_web::test]
async fn filters_that_match_nothing_give_an_empty_page() {
    let app = spawn_app().await;
    for query in [
        "after_year=1975",
        "before_year=1958",
        "after_year=1960&before_year=1961",
    ] {
        let r = app.get(&format!("{LANGUAGES}?{query}"), None).await;
        assert_eq!(r.status, 200, "{query}: {r:#?}");
        assert!(r.data().is_empty(), "{query}: {r:#?}");
        assert_eq!(r.body["has_more"], false);
        assert!(r.body["next_cursor"].is_null());
    }
}

#[actix_web::test]
async fn year_filters_of_the_wrong_type_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("before_year=x", "before_year"),
        ("after_year=1960.5", "after_year"),
        ("after_year=", "after_year"),
        ("before_year=99999999999", "before_year"),
    ] {
        let r = app.get(&format!("{LANGUAGES}?{query}"), None).await;
        assert_field_error(&r, field);
    }
}

#[actix_web::test]
async fn an_inverted_or_empty_by_construction_year_range_is_422() {
    let app = spawn_app().await;
    for query in [
        "after_year=1970&before_year=1960",
        "after_year=1965&before_year=1965",
    ] {
        let r = app.get(&format!("{LANGUAGES}?{query}"), None).await;
        assert_field_error_type(&r, "after_year", "range");
    }
}

#[actix_web::test]
async fn year_filters_below_1800_are_422() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("{LANGUAGES}?before_year=1799"), None)
        .await;
    assert_field_error_type(&r, "before_year", "range");
    let r = app.get(&format!("{LANGUAGES}?after_year=0"), None).await;
    assert_field_error_type(&r, "after_year", "range");
}

#[actix_web::test]
async fn limit_outside_1_to_100_is_422_and_a_bad_cursor_is_400() {
    let app = spawn_app().await;
    for query in ["limit=0", "limit=101", "limit=abc"] {
        let r = app.get(&format!("{LANGUAGES}?{query}"), None).await;
        assert_field_error(&r, "limit");
    }
    for cursor in ["garbage!", "eyJ5IjoxfQ", "MTk2MDpub3BlOkNPQk9M"] {
        let r = app.get(&format!("{LANGUAGES}?cursor={cursor}"), None).await;
        assert_problem(&r, 400);
    }
}

// ----- GET /languages: keyset order across pages -----

#[actix_web::test]
async fn pages_follow_year_then_case_insensitive_name_then_id_without_repeats_or_skips() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for (name, year) in [
        ("Zeta", 1970),
        ("alpha", 1970),
        ("Beta", 1970),
        ("beta2", 1970),
        ("ALPHA2", 1958),
    ] {
        create(&app, &alice, name, year).await;
    }
    let whole = app.get(&format!("{LANGUAGES}?limit=100"), None).await;
    assert_eq!(whole.status, 200, "{whole:#?}");
    let expected = names(whole.data());
    assert_eq!(
        expected,
        [
            "ALGOL", "ALPHA2", "COBOL", "APL", "BASIC", "PL/I", "SIMULA67", "alpha", "Beta",
            "beta2", "Pascal", "Zeta", "CLU"
        ]
    );
    for limit in [1, 2, 3, 5] {
        let paged = list_all(&app, "", limit).await;
        assert_eq!(names(&paged), expected, "limit={limit}");
        assert_eq!(ids(&paged), ids(whole.data()), "limit={limit}");
    }
    // The filters apply to every page.
    let paged = list_all(&app, "after_year=1960&before_year=1975", 1).await;
    assert_eq!(
        names(&paged),
        [
            "APL", "BASIC", "PL/I", "SIMULA67", "alpha", "Beta", "beta2", "Pascal", "Zeta"
        ]
    );
}

#[actix_web::test]
async fn default_page_size_is_20() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for i in 0..15 {
        create(&app, &alice, &format!("Lang{i:02}"), 2000).await;
    }
    let r = app.get(LANGUAGES, None).await;
    assert_eq!(r.data().len(), 20, "{r:#?}");
    assert_eq!(r.body["has_more"], true);
    let rest = app
        .get(
            &format!("{LANGUAGES}?cursor={}", r.str("next_cursor")),
            None,
        )
        .await;
    assert_eq!(rest.data().len(), 3, "{rest:#?}");
    assert_eq!(rest.body["has_more"], false);
}

#[actix_web::test]
async fn a_row_inserted_between_pages_neither_repeats_nor_shifts_the_next_page() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let first = app.get(&format!("{LANGUAGES}?limit=3"), None).await;
    assert_eq!(names(first.data()), ["ALGOL", "COBOL", "APL"]);
    // Sorts before the cursor: it must not appear on the next page.
    create(&app, &alice, "Aardvark", 1959).await;
    let next = app
        .get(
            &format!("{LANGUAGES}?limit=3&cursor={}", first.str("next_cursor")),
            None,
        )
        .await;
    assert_eq!(names(next.data()), ["BASIC", "PL/I", "SIMULA67"]);
}

// ----- PUT /languages/{id} -----

#[actix_web::test]
async fn put_by_the_creator_replaces_the_language() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .put(
            &lang_path(&lang),
            alice.tok(),
            json!({"name": "Smalltalk-80", "publication_year": 1980, "contribution": "the image",
                   "created_by": null, "id": uuid::Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_language_shape(&r.body);
    assert_eq!(r.body["id"], lang["id"]);
    assert_eq!(r.body["name"], "Smalltalk-80");
    assert_eq!(r.body["publication_year"], 1980);
    assert_eq!(r.body["contribution"], "the image");
    assert_eq!(r.body["created_by"], alice.id.as_str(), "creator kept");
    assert_eq!(r.body["created_at"], lang["created_at"]);
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&lang["updated_at"]));
    assert_eq!(app.get(&lang_path(&lang), None).await.body, r.body);
}

#[actix_web::test]
async fn put_with_the_same_values_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .put(
            &lang_path(&lang),
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "what Smalltalk brought"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, lang);
}

#[actix_web::test]
async fn put_may_change_only_the_case_of_its_own_name() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .put(
            &lang_path(&lang),
            alice.tok(),
            json!({"name": "SMALLTALK", "publication_year": 1972, "contribution": "c"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["name"], "SMALLTALK");
}

#[actix_web::test]
async fn put_with_the_name_of_another_language_is_409() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .put(
            &lang_path(&lang),
            alice.tok(),
            json!({"name": "pascal", "publication_year": 1972, "contribution": "c"}),
        )
        .await;
    assert_problem(&r, 409);
    assert!(r.str("detail").contains("name"), "{r:#?}");
}

#[actix_web::test]
async fn put_that_breaks_a_rule_is_422() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let path = lang_path(&lang);
    let r = app
        .put(
            &path,
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": 1799, "contribution": "c"}),
        )
        .await;
    assert_field_error_type(&r, "publication_year", "range");
    let r = app
        .put(
            &path,
            alice.tok(),
            json!({"name": "Smalltalk", "publication_year": next_year() + 1, "contribution": "c"}),
        )
        .await;
    assert_field_error_type(&r, "publication_year", "range");
    let r = app
        .put(&path, alice.tok(), json!({"name": "Smalltalk"}))
        .await;
    assert_field_error_type(&r, "publication_year", "required");
    let r = app
        .put(
            &path,
            alice.tok(),
            json!({"name": "", "publication_year": 1972, "contribution": "x".repeat(501)}),
        )
        .await;
    assert_field_error_type(&r, "name", "length");
    assert_field_error_type(&r, "contribution", "length");
    assert_eq!(app.get(&path, None).await.body, lang, "nothing changed");
}

#[actix_web::test]
async fn put_without_token_is_401_by_another_user_403_and_on_a_missing_id_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let body = json!({"name": "Mine now", "publication_year": 1972, "contribution": "c"});
    assert_unauthorized(&app.put(&lang_path(&lang), None, body.clone()).await);
    assert_problem(
        &app.put(&lang_path(&lang), bob.tok(), body.clone()).await,
        403,
    );
    assert_problem(
        &app.put(&missing_path(), bob.tok(), body.clone()).await,
        404,
    );
    assert_problem(
        &app.put(&format!("{LANGUAGES}/nope"), bob.tok(), body).await,
        404,
    );
    assert_eq!(app.get(&lang_path(&lang), None).await.body, lang);
}

#[actix_web::test]
async fn admin_can_put_and_patch_anyones_language_and_the_creator_stays() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .put(
            &lang_path(&lang),
            admin.tok(),
            json!({"name": "Self", "publication_year": 1987, "contribution": "prototypes"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["created_by"], alice.id.as_str());
    let r = app
        .patch(&lang_path(&lang), admin.tok(), json!({"name": "Self 4"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["name"], "Self 4");
    assert_eq!(r.body["created_by"], alice.id.as_str());
}

// ----- PATCH /languages/{id} -----

#[actix_web::test]
async fn patch_changes_given_fields_and_keeps_absent_ones() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app
        .patch(
            &lang_path(&lang),
            alice.tok(),
            json!({"publication_year": 1980}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["publication_year"], 1980);
    assert_eq!(r.body["name"], "Smalltalk");
    assert_eq!(r.body["contribution"], lang["contribution"]);
    assert!(parse_ts(&r.body["updated_at"]) > parse_ts(&lang["updated_at"]));
    let r = app
        .patch(
            &lang_path(&lang),
            alice.tok(),
            json!({"contribution": "the image", "name": "Smalltalk-80"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["publication_year"], 1980);
    assert_eq!(r.body["name"], "Smalltalk-80");
    assert_eq!(r.body["contribution"], "the image");
    assert_eq!(app.get(&lang_path(&lang), None).await.body, r.body);
}

#[actix_web::test]
async fn patch_with_empty_object_or_only_unknown_fields_leaves_the_language_and_updated_at() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let r = app.patch(&lang_path(&lang), alice.tok(), json!({})).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, lang, "same fields, same updated_at");
    let r = app
        .patch(
            &lang_path(&lang),
            alice.tok(),
            json!({"created_by": bob.id, "id": uuid::Uuid::now_v7().to_string(),
                   "created_at": "2000-01-01T00:00:00.000000Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body, lang);
    let r = app
        .patch(&lang_path(&lang), alice.tok(), json!({"name": "Smalltalk"}))
        .await;
    assert_eq!(r.body, lang, "an identical value changes nothing");
    assert_eq!(app.get(&lang_path(&lang), None).await.body, lang);
}

#[actix_web::test]
async fn patch_with_null_for_any_field_is_422_null() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    for field in ["name", "publication_year", "contribution"] {
        let r = app
            .patch(&lang_path(&lang), alice.tok(), json!({ field: null }))
            .await;
        assert_field_error_type(&r, field, "null");
    }
    assert_eq!(app.get(&lang_path(&lang), None).await.body, lang);
}

#[actix_web::test]
async fn patch_that_breaks_a_rule_is_422_and_a_taken_name_409() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let path = lang_path(&lang);
    let r = app
        .patch(&path, alice.tok(), json!({"publication_year": 1799}))
        .await;
    assert_field_error_type(&r, "publication_year", "range");
    let r = app
        .patch(
            &path,
            alice.tok(),
            json!({"publication_year": next_year() + 1}),
        )
        .await;
    assert_field_error_type(&r, "publication_year", "range");
    let r = app.patch(&path, alice.tok(), json!({"name": ""})).await;
    assert_field_error_type(&r, "name", "length");
    let r = app
        .patch(&path, alice.tok(), json!({"contribution": ""}))
        .await;
    assert_field_error_type(&r, "contribution", "length");
    let r = app
        .patch(&path, alice.tok(), json!({"publication_year": "1972"}))
        .await;
    assert_field_error_type(&r, "publication_year", "type");
    let r = app
        .patch(&path, alice.tok(), json!({"name": "COBOL"}))
        .await;
    assert_problem(&r, 409);
    assert_eq!(app.get(&path, None).await.body, lang);
}

#[actix_web::test]
async fn patch_without_token_is_401_by_another_user_403_and_on_a_missing_id_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let body = json!({"name": "Mine now"});
    assert_unauthorized(&app.patch(&lang_path(&lang), None, body.clone()).await);
    assert_problem(
        &app.patch(&lang_path(&lang), bob.tok(), body.clone()).await,
        403,
    );
    assert_problem(&app.patch(&missing_path(), bob.tok(), body).await, 404);
    assert_eq!(app.get(&lang_path(&lang), None).await.body, lang);
}

// ----- DELETE /languages/{id} -----

#[actix_web::test]
async fn delete_is_204_and_then_the_id_is_404_on_every_route() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    let path = lang_path(&lang);
    let r = app.delete(&path, alice.tok()).await;
    assert_eq!(r.status, 204, "{r:#?}");
    assert!(r.text.is_empty(), "{r:#?}");
    assert_problem(&app.get(&path, None).await, 404);
    for who in [&alice, &admin] {
        assert_problem(
            &app.put(
                &path,
                who.tok(),
                json!({"name": "Smalltalk", "publication_year": 1972, "contribution": "c"}),
            )
            .await,
            404,
        );
        assert_problem(&app.patch(&path, who.tok(), json!({})).await, 404);
        assert_problem(&app.delete(&path, who.tok()).await, 404);
    }
    assert!(
        !names(&list_all(&app, "", 100).await).contains(&"Smalltalk".to_owned()),
        "still listed"
    );
    // The name is free again, under a new id.
    let again = create(&app, &alice, "smalltalk", 1972).await;
    assert_ne!(again["id"], lang["id"]);
    assert_problem(&app.get(&path, None).await, 404);
}

#[actix_web::test]
async fn delete_without_token_is_401_by_another_user_403_and_missing_404() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    assert_unauthorized(&app.delete(&lang_path(&lang), None).await);
    assert_problem(&app.delete(&lang_path(&lang), bob.tok()).await, 403);
    assert_problem(&app.delete(&missing_path(), bob.tok()).await, 404);
    assert_eq!(app.get(&lang_path(&lang), None).await.status, 200);
}

#[actix_web::test]
async fn admin_can_delete_anyones_language() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    assert_eq!(app.delete(&lang_path(&lang), admin.tok()).await.status, 204);
    assert_problem(&app.get(&lang_path(&lang), None).await, 404);
}

#[actix_web::test]
async fn a_deleted_language_of_someone_else_is_404_not_403() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let lang = create(&app, &alice, "Smalltalk", 1972).await;
    assert_eq!(app.delete(&lang_path(&lang), alice.tok()).await.status, 204);
    assert_problem(&app.delete(&lang_path(&lang), bob.tok()).await, 404);
    assert_problem(
        &app.patch(&lang_path(&lang), bob.tok(), json!({"name": "x"}))
            .await,
        404,
    );
}

// ----- shipped entries: admin only -----

#[actix_web::test]
async fn shipped_entries_may_be_changed_by_admins_only() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let cobol = shipped(&app, "COBOL").await;
    let path = lang_path(&cobol);
    let body = json!({"name": "COBOL-60", "publication_year": 1960, "contribution": "records"});

    assert_problem(&app.put(&path, alice.tok(), body.clone()).await, 403);
    assert_problem(
        &app.patch(&path, alice.tok(), json!({"name": "Mine"})).await,
        403,
    );
    assert_problem(&app.delete(&path, alice.tok()).await, 403);
    assert_eq!(app.get(&path, None).await.body, cobol, "unchanged");

    let r = app.put(&path, admin.tok(), body).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["name"], "COBOL-60");
    assert!(r.body["created_by"].is_null(), "still shipped: {r:#?}");
    let r = app
        .patch(&path, admin.tok(), json!({"contribution": "record data"}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["contribution"], "record data");
    assert!(r.body["created_by"].is_null());
    assert_eq!(app.delete(&path, admin.tok()).await.status, 204);
    assert_problem(&app.get(&path, None).await, 404);
}

// ----- the OpenAPI document -----

#[actix_web::test]
async fn the_document_describes_the_languages_operations_and_filters() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json", None).await.body;
    let ops = [
        ("get", "/api/v1/languages", false),
        ("post", "/api/v1/languages", true),
        ("get", "/api/v1/languages/{id}", false),
        ("put", "/api/v1/languages/{id}", true),
        ("patch", "/api/v1/languages/{id}", true),
        ("delete", "/api/v1/languages/{id}", true),
    ];
    for (method, path, protected) in ops {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert_eq!(op["tags"], json!(["languages"]), "{method} {path}");
        assert!(op["operationId"].is_string(), "{method} {path}");
        assert!(op["responses"]["401"].is_object(), "{method} {path}");
        let security = op["security"].as_array().expect("security");
        let lists_oauth2 = security.iter().any(|s| s.get("oauth2").is_some());
        assert_eq!(lists_oauth2, protected, "{method} {path}: {security:?}");
    }
    let params = doc["paths"]["/api/v1/languages"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    for name in ["before_year", "after_year", "limit", "cursor"] {
        let p = params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} parameter: {params:?}"));
        assert_eq!(p["in"], "query");
        if name.ends_with("_year") {
            assert_eq!(p["schema"]["minimum"], 1800, "{p}");
            assert!(p["example"].is_i64(), "{p}");
            assert!(p["description"].is_string(), "{p}");
        }
    }
    let schema = &doc["components"]["schemas"]["LanguageResponse"];
    let required = schema["required"].as_array().expect("required");
    assert!(required.contains(&json!("created_by")), "{schema}");
    assert!(
        doc["components"]["schemas"]["LanguagePage"].is_object(),
        "no LanguagePage schema"
    );
    assert!(
        doc["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "languages")),
        "no languages tag"
    );
}
