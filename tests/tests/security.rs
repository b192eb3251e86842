//! Security tests: forged and stale tokens on protected and public
//! routes, bcrypt's 72-byte limit, login that does not tell unknown users from
//! wrong passwords, SQL metacharacters everywhere, no password hash in any
//! response, and server-owned fields that no body can change.
//!
//! `conventions.rs` already checks the basic forged-token cases on
//! `GET /api/v1/users/me`; the token tests here add the public route, the
//! edges just beyond the 30 s leeway, header/signature mix-ups and disabled
//! users, each with a control that the same claims correctly signed are let in.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value, json};

use crate::common::*;

const SECRET: &[u8] = api::config::TEST_JWT_SECRET.as_bytes();
const ME: &str = "/api/v1/users/me";
const POSTS: &str = "/api/v1/posts";

// ----- helpers -----

/// Fresh, valid claims for `user_id`.
fn claims_for(user_id: &str) -> Map<String, Value> {
    let now = now_secs();
    let mut c = Map::new();
    c.insert("sub".into(), json!(user_id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + 3600));
    c
}

fn hs256(claims: &Map<String, Value>) -> String {
    sign(claims, Algorithm::HS256, SECRET)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `header.payload.signature` from raw JSON header and claims and a signature part.
fn assemble(header: &str, claims: &Map<String, Value>, signature: &str) -> String {
    let payload = b64(&serde_json::to_vec(claims).expect("claims"));
    format!("{}.{payload}.{signature}", b64(header.as_bytes()))
}

/// `token` is refused with 401 + `WWW-Authenticate: Bearer…` on a protected
/// route and on a public one.
async fn assert_refused_everywhere(app: &TestApp, token: &str, what: &str) {
    for path in [ME, POSTS] {
        let r = app.get(path, Some(token)).await;
        assert_eq!(r.status, 401, "{what} on {path}: {r:#?}");
        assert_unauthorized(&r);
    }
}

/// `token` is let in on both routes (the control for a forged variant).
async fn assert_accepted_everywhere(app: &TestApp, token: &str, what: &str) {
    for path in [ME, POSTS] {
        let r = app.get(path, Some(token)).await;
        assert_eq!(r.status, 200, "control {what} on {path}: {r:#?}");
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for path segments
/// and query values.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// SQL metacharacters and LIKE wildcards, none with a NUL.
const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "\"; DROP TABLE users; --",
    "'); DELETE FROM posts; --",
    "%",
    "_",
    "\\",
    "\\'; SELECT 1; --",
    "a%b_c\\d",
    "$1",
    "?",
    "' UNION SELECT password_hash FROM users --",
    "/* */",
];

#[track_caller]
fn assert_not_5xx(r: &Resp, what: &str) {
    assert!(
        r.status.as_u16() < 500,
        "{what}: a 5xx for SQL metacharacters: {r:#?}"
    );
}

/// Number of users, as an admin sees them (every page).
async fn user_count(app: &TestApp, admin: &TestUser) -> usize {
    let mut n = 0;
    let mut path = "/api/v1/users?limit=100".to_owned();
    for _ in 0..100 {
        let r = app.get(&path, admin.tok()).await;
        assert_eq!(r.status, 200, "{path}: {r:#?}");
        n += r.data().len();
        if r.body["has_more"] == true {
            path = format!("/api/v1/users?limit=100&cursor={}", r.str("next_cursor"));
        } else {
            return n;
        }
    }
    panic!("too many pages of users");
}

/// The tables still answer after the attempts: posts, users, languages, and the count.
async fn assert_tables_intact(app: &TestApp, admin: &TestUser, users_before: usize) {
    let r = app.get(POSTS, None).await;
    assert_eq!(r.status, 200, "posts after the attempts: {r:#?}");
    let r = app.get("/api/v1/languages", None).await;
    assert_eq!(r.status, 200, "languages after the attempts: {r:#?}");
    assert_eq!(user_count(app, admin).await, users_before, "user count");
}

// ----- tokens -----

#[actix_web::test]
async fn alg_none_variants_are_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let claims = claims_for(&alice.id);
    assert_accepted_everywhere(&app, &hs256(&claims), "HS256").await;
    let real_sig = hs256(&claims).rsplit('.').next().unwrap().to_owned();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        for sig in ["", real_sig.as_str(), "AAAA"] {
            let token = assemble(&header, &claims, sig);
            assert_refused_everywhere(&app, &token, &format!("alg {alg}, sig {sig:?}")).await;
        }
    }
    // No header algorithm at all.
    let token = assemble(r#"{"typ":"JWT"}"#, &claims, &real_sig);
    assert_refused_everywhere(&app, &token, "header without alg").await;
}

#[actix_web::test]
async fn token_signed_with_hs512_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let claims = claims_for(&alice.id);
    assert_accepted_everywhere(&app, &hs256(&claims), "HS256").await;
    for alg in [Algorithm::HS512, Algorithm::HS384] {
        let token = sign(&claims, alg, SECRET);
        assert_refused_everywhere(&app, &token, &format!("{alg:?} with the right secret")).await;
    }
    // A valid HS256 signature under a header that claims HS512, and the reverse.
    let real = hs256(&claims);
    let sig = real.rsplit('.').next().unwrap();
    let token = assemble(r#"{"alg":"HS512","typ":"JWT"}"#, &claims, sig);
    assert_refused_everywhere(&app, &token, "HS512 header, HS256 signature").await;
    let hs512 = sign(&claims, Algorithm::HS512, SECRET);
    let sig512 = hs512.rsplit('.').next().unwrap();
    let token = assemble(r#"{"alg":"HS256","typ":"JWT"}"#, &claims, sig512);
    assert_refused_everywhere(&app, &token, "HS256 header, HS512 signature").await;
}

#[actix_web::test]
async fn token_signed_with_a_wrong_secret_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let claims = claims_for(&alice.id);
    assert_accepted_everywhere(&app, &hs256(&claims), "HS256").await;
    let mut one_byte_off = SECRET.to_vec();
    *one_byte_off.last_mut().unwrap() ^= 1;
    let mut longer = SECRET.to_vec();
    longer.push(b'x');
    let wrong: [&[u8]; 5] = [
        b"another-secret-that-is-long-enough-32+",
        &one_byte_off,
        &SECRET[..SECRET.len() - 1],
        &longer,
        b"",
    ];
    for secret in wrong {
        let token = sign(&claims, Algorithm::HS256, secret);
        assert_refused_everywhere(
            &app,
            &token,
            &format!("secret {:?}", String::from_utf8_lossy(secret)),
        )
        .await;
    }
}

#[actix_web::test]
async fn token_with_a_tampered_payload_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let claims = claims_for(&alice.id);
    let real = hs256(&claims);
    assert_accepted_everywhere(&app, &real, "HS256").await;
    let parts: Vec<&str> = real.split('.').collect();
    let resign = |c: &Map<String, Value>| {
        let payload = b64(&serde_json::to_vec(c).unwrap());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    // sub changed to the admin's id, signature kept.
    let mut c = claims.clone();
    c.insert("sub".into(), json!(admin.id));
    assert_refused_everywhere(&app, &resign(&c), "sub swapped to the admin").await;
    // exp pushed a year ahead, signature kept.
    let mut c = claims.clone();
    c.insert("exp".into(), json!(now_secs() + 365 * 86400));
    assert_refused_everywhere(&app, &resign(&c), "exp extended").await;
    // An extra claim, signature kept.
    let mut c = claims.clone();
    c.insert("role".into(), json!("admin"));
    assert_refused_everywhere(&app, &resign(&c), "extra role claim").await;
    // The signature itself truncated or flipped.
    let truncated = &real[..real.len() - 2];
    assert_refused_everywhere(&app, truncated, "truncated signature").await;
    let mut flipped = real.clone().into_bytes();
    let last = flipped.len() - 3;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_refused_everywhere(&app, &flipped, "flipped signature").await;
}

#[actix_web::test]
async fn token_expired_beyond_the_30_s_leeway_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for ago in [60, 3600, 86400 * 365] {
        let mut c = claims_for(&alice.id);
        c.insert("iat".into(), json!(now_secs() - ago - 3600));
        c.insert("exp".into(), json!(now_secs() - ago));
        assert_refused_everywhere(&app, &hs256(&c), &format!("expired {ago} s ago")).await;
    }
    // exp as a string or zero is not a valid expiry either.
    for exp in [json!("9999999999"), json!(0)] {
        let mut c = claims_for(&alice.id);
        c.insert("exp".into(), exp.clone());
        assert_refused_everywhere(&app, &hs256(&c), &format!("exp {exp}")).await;
    }
}

#[actix_web::test]
async fn token_issued_beyond_30_s_in_the_future_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    for ahead in [90, 3600, 86400 * 365] {
        let mut c = claims_for(&alice.id);
        c.insert("iat".into(), json!(now_secs() + ahead));
        c.insert("exp".into(), json!(now_secs() + ahead + 3600));
        assert_refused_everywhere(&app, &hs256(&c), &format!("iat {ahead} s ahead")).await;
    }
}

#[actix_web::test]
async fn token_without_sub_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut c = claims_for(&alice.id);
    assert_accepted_everywhere(&app, &hs256(&c), "HS256").await;
    c.remove("sub");
    assert_refused_everywhere(&app, &hs256(&c), "no sub").await;
    c.insert("sub".into(), Value::Null);
    assert_refused_everywhere(&app, &hs256(&c), "sub null").await;
    c.insert("sub".into(), json!(""));
    assert_refused_everywhere(&app, &hs256(&c), "sub empty").await;
    // A user id under another name is not a subject.
    c.remove("sub");
    c.insert("user_id".into(), json!(alice.id));
    assert_refused_everywhere(&app, &hs256(&c), "user_id instead of sub").await;
}

#[actix_web::test]
async fn token_whose_sub_is_not_a_uuid_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let subs = [
        json!("not-a-uuid"),
        json!("alice"),
        json!("1"),
        json!(1),
        json!("' OR '1'='1"),
        json!(format!("{}x", alice.id)),
        json!([alice.id]),
        json!({"id": alice.id}),
    ];
    for sub in subs {
        let mut c = claims_for(&alice.id);
        c.insert("sub".into(), sub.clone());
        assert_refused_everywhere(&app, &hs256(&c), &format!("sub {sub}")).await;
    }
}

#[actix_web::test]
async fn token_of_a_user_that_no_longer_exists_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    app.user("alice").await;
    for sub in [
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::nil().to_string(),
    ] {
        let c = claims_for(&sub);
        assert_refused_everywhere(&app, &hs256(&c), &format!("sub {sub}")).await;
    }
}

#[actix_web::test]
async fn token_of_a_disabled_user_is_401_on_protected_and_public_routes() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let fresh = hs256(&claims_for(&alice.id));
    assert_accepted_everywhere(&app, &alice.token, "login token").await;
    assert_accepted_everywhere(&app, &fresh, "forged-but-valid token").await;
    let path = format!("/api/v1/users/{}", alice.id);
    let r = app
        .patch(&path, admin.tok(), json!({"is_active": false}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["is_active"], false, "{r:#?}");
    assert_refused_everywhere(&app, &alice.token, "disabled user's login token").await;
    assert_refused_everywhere(&app, &fresh, "disabled user's fresh token").await;
    // Re-enabled: the same tokens work again (the refusal was about the user).
    let r = app
        .patch(&path, admin.tok(), json!({"is_active": true}))
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_accepted_everywhere(&app, &alice.token, "re-enabled user's token").await;
}

// ----- passwords and bcrypt's 72 bytes -----

/// Registers `username` with `password`; returns the response.
async fn register_pw(app: &TestApp, username: &str, password: &str) -> Resp {
    app.register_with(json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "password": password,
    }))
    .await
}

#[actix_web::test]
async fn password_of_exactly_72_bytes_registers_and_logs_in() {
    let app = spawn_app().await;
    let ascii = format!("Aa1{}", "z".repeat(69));
    // 70 ASCII + "é" (2 bytes) = 72 bytes.
    let accented = format!("Aa1{}é", "z".repeat(67));
    // 68 ASCII + "€" (3 bytes) + 1 = 72 bytes.
    let euro = format!("Aa1{}€z", "z".repeat(65));
    for (name, pw) in [("ascii", &ascii), ("accented", &accented), ("euro", &euro)] {
        assert_eq!(pw.len(), 72, "{name}");
        let r = register_pw(&app, name, pw).await;
        assert_eq!(r.status, 201, "{name}: {r:#?}");
        assert_user_shape(&r.body);
        let r = app.login_json(name, pw).await;
        assert_eq!(r.status, 200, "{name} logs in with all 72 bytes: {r:#?}");
        // Every byte counts: a different last character does not log in.
        let mut other: String = pw
            .chars()
            .rev()
            .skip(1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        other.push('q');
        let r = app.login_json(name, &other).await;
        assert_problem(&r, 401);
    }
}

#[actix_web::test]
async fn password_of_73_bytes_is_422_on_password_never_truncated() {
    let app = spawn_app().await;
    let ascii = format!("Aa1{}", "z".repeat(70));
    // 70 ASCII + "é" + one more byte.
    let accented = format!("Aa1{}éz", "z".repeat(67));
    // 71 ASCII and a 2-byte character straddling the limit.
    let straddling = format!("Aa1{}é", "z".repeat(68));
    let emoji = format!("Aa1{}😀", "z".repeat(66));
    for (name, pw) in [
        ("ascii", &ascii),
        ("accented", &accented),
        ("straddle", &straddling),
        ("emoji", &emoji),
    ] {
        assert_eq!(pw.len(), 73, "{name}");
        let r = register_pw(&app, name, pw).await;
        assert_field_error(&r, "password");
        // Nothing was created: neither the 73 bytes nor its 72-byte prefix log in.
        assert_problem(&app.login_json(name, pw).await, 401);
        let prefix = String::from_utf8_lossy(&pw.as_bytes()[..72]).into_owned();
        assert_problem(&app.login_json(name, &prefix).await, 401);
    }
    // Far longer is 422 too.
    let r = register_pw(&app, "huge", &format!("Aa1{}", "z".repeat(5000))).await;
    assert_field_error(&r, "password");
}

#[actix_web::test]
async fn new_password_of_73_bytes_in_patch_me_is_422_and_the_old_one_still_works() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let long = format!("Aa1{}éz", "z".repeat(67));
    assert_eq!(long.len(), 73);
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({"password": long, "current_password": PASSWORD}),
        )
        .await;
    assert_field_error(&r, "password");
    app.login("alice", PASSWORD).await;
    let max = format!("Aa1{}é", "z".repeat(67));
    assert_eq!(max.len(), 72);
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({"password": max, "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    app.login("alice", &max).await;
}

// ----- login does not tell unknown users from wrong passwords -----

#[actix_web::test]
async fn unknown_user_and_wrong_password_get_the_same_status_and_body() {
    let app = spawn_app().await;
    app.register("alice").await;
    let members = [
        "status",
        "title",
        "detail",
        "error",
        "error_description",
        "type",
    ];
    // JSON and form, by username and by e-mail.
    let pairs = [
        (
            app.login_json("alice", "Wr0ngPassword").await,
            app.login_json("nobody", "Wr0ngPassword").await,
        ),
        (
            app.login_json("alice@example.com", "Wr0ngPassword").await,
            app.login_json("nobody@example.com", "Wr0ngPassword").await,
        ),
        (
            app.send(
                "POST",
                "/api/v1/auth/login",
                None,
                Body::Form("grant_type=password&username=alice&password=Wr0ngPassword".into()),
            )
            .await,
            app.send(
                "POST",
                "/api/v1/auth/login",
                None,
                Body::Form("grant_type=password&username=nobody&password=Wr0ngPassword".into()),
            )
            .await,
        ),
    ];
    for (wrong, unknown) in &pairs {
        assert_problem(wrong, 401);
        assert_problem(unknown, 401);
        assert_eq!(wrong.body["error"], "invalid_grant", "{wrong:#?}");
        for m in members {
            assert_eq!(
                wrong.body[m], unknown.body[m],
                "`{m}` tells the cases apart: {wrong:#?} vs {unknown:#?}"
            );
        }
        assert_eq!(
            wrong.header("www-authenticate"),
            unknown.header("www-authenticate"),
            "WWW-Authenticate tells the cases apart"
        );
        assert_eq!(wrong.content_type(), unknown.content_type());
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_take_about_the_same_time() {
    let app = spawn_app().await;
    app.register("alice").await;
    // Warm up both paths (connection, caches, the blocking pool).
    for _ in 0..3 {
        app.login_json("alice", "Wr0ngPassword").await;
        app.login_json("nobody", "Wr0ngPassword").await;
    }
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    // Interleaved, so a slow patch of the machine hits both series alike.
    for i in 0..20 {
        let unknown_name = format!("nobody{i}");
        let t = Instant::now();
        let r = app.login_json("alice", "Wr0ngPassword").await;
        wrong.push(t.elapsed());
        assert_eq!(r.status, 401, "{r:#?}");
        let t = Instant::now();
        let r = app.login_json(&unknown_name, "Wr0ngPassword").await;
        unknown.push(t.elapsed());
        assert_eq!(r.status, 401, "{r:#?}");
    }
    let (w, u) = (median(wrong), median(unknown));
    // Medians, not means, so one scheduling hiccup does not decide the test.
    // The test app hashes at bcrypt cost 4 (about 1 ms), so both medians are
    // small numbers dominated by HTTP and database noise: "within 2x" gets a
    // 5 ms absolute slack on top. A service that skipped bcrypt for unknown
    // users would still fail at production cost; at cost 4 this bounds gross
    // differences (an extra query, a sleep, a second hash) only.
    let slack = Duration::from_millis(5);
    assert!(
        w <= u * 2 + slack && u <= w * 2 + slack,
        "login timings tell the cases apart: wrong password median {w:?}, unknown user median {u:?}"
    );
}

// ----- SQL metacharacters -----

#[actix_web::test]
async fn sql_metacharacters_in_register_fields_are_stored_literally_or_422() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.user("alice").await;
    app.user("bob").await;
    let before = user_count(&app, &admin).await;
    let mut created = 0;
    for (i, p) in PAYLOADS.iter().enumerate() {
        // username: only letters, digits and `_` are allowed, so 422 (or literal).
        let r = app
            .register_with(
                json!({"username": p, "email": format!("u{i}@example.com"), "password": PASSWORD}),
            )
            .await;
        assert_not_5xx(&r, &format!("username {p:?}"));
        if r.status == 201 {
            assert_eq!(r.body["username"], *p, "{r:#?}");
            created += 1;
        } else {
            assert_field_error(&r, "username");
        }
        // email: a valid address is stored (lowercased) as sent; an invalid one is 422.
        let email = format!("{p}@example.com");
        let r = app
            .register_with(
                json!({"username": format!("mail{i}"), "email": email, "password": PASSWORD}),
            )
            .await;
        assert_not_5xx(&r, &format!("email {email:?}"));
        if r.status == 201 {
            assert_eq!(r.body["email"], email.to_lowercase(), "{r:#?}");
            created += 1;
            let me = app
                .get(ME, Some(&app.login(&format!("mail{i}"), PASSWORD).await))
                .await;
            assert_eq!(me.body["email"], email.to_lowercase(), "{me:#?}");
        } else {
            assert_field_error(&r, "email");
        }
        // password: any bytes are fine; it logs in exactly, and only exactly.
        let pw = format!("Secret1{p}");
        let name = format!("pw{i}");
        let r = register_pw(&app, &name, &pw).await;
        assert_eq!(r.status, 201, "password {pw:?}: {r:#?}");
        created += 1;
        let r = app.login_json(&name, &pw).await;
        assert_eq!(r.status, 200, "login with password {pw:?}: {r:#?}");
        for other in ["' OR '1'='1", "Secret1", "Secret1%", "Secret1_"] {
            if other != pw {
                let r = app.login_json(&name, other).await;
                assert_eq!(r.status, 401, "{name} with {other:?}: {r:#?}");
            }
        }
        // Login with the payload as username: never 5xx, never a token.
        for pass in [*p, PASSWORD] {
            let r = app.login_json(p, pass).await;
            assert_not_5xx(&r, &format!("login as {p:?}"));
            assert!(
                r.status.is_client_error(),
                "login as {p:?} must fail: {r:#?}"
            );
        }
    }
    // LIKE wildcards must not match other users.
    for (login, pw) in [
        ("alic_", PASSWORD),
        ("%", PASSWORD),
        ("a%", PASSWORD),
        ("%lice@example.com", PASSWORD),
        ("alic_@example.com", PASSWORD),
    ] {
        let r = app.login_json(login, pw).await;
        assert_eq!(r.status, 401, "login {login:?} matched someone: {r:#?}");
    }
    // ... nor make a legal new username clash with an existing one.
    let r = register_pw(&app, "bo_", PASSWORD).await;
    assert_eq!(r.status, 201, "`bo_` is not `bob`: {r:#?}");
    assert_eq!(r.body["username"], "bo_");
    created += 1;
    let r = app
        .register_with(
            json!({"username": "carol", "email": "b_b@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "`b_b@` is not `bob@`: {r:#?}");
    created += 1;
    assert_tables_intact(&app, &admin, before + created).await;
}

#[actix_web::test]
async fn sql_metacharacters_in_post_fields_are_stored_literally_or_422() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let before = user_count(&app, &admin).await;
    for (i, p) in PAYLOADS.iter().enumerate() {
        let r = app
            .create_post(
                &alice.token,
                json!({"title": p, "body": p, "slug": format!("post-{i}"), "published": true}),
            )
            .await;
        assert_eq!(r.status, 201, "title/body {p:?}: {r:#?}");
        let id = r.str("id");
        let got = app.get(&format!("{POSTS}/{id}"), None).await;
        assert_eq!(got.status, 200, "{got:#?}");
        assert_eq!(got.body["title"], *p, "{got:#?}");
        assert_eq!(got.body["body"], *p, "{got:#?}");
        // The slug rules (lowercase letters, digits, single hyphens) refuse them all.
        let r = app
            .create_post(&alice.token, json!({"title": "T", "body": "", "slug": p}))
            .await;
        assert_not_5xx(&r, &format!("slug {p:?}"));
        assert_field_error(&r, "slug");
        // PUT and PATCH store them literally too.
        let path = format!("{POSTS}/{id}");
        let r = app
            .patch(&path, alice.tok(), json!({"body": format!("{p}{p}")}))
            .await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.body["body"], format!("{p}{p}"));
        let r = app
            .put(
                &path,
                alice.tok(),
                json!({"title": format!("x{p}"), "body": p, "slug": format!("post-{i}"), "published": true}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.body["title"], format!("x{p}"));
    }
    let r = app.get(&format!("{POSTS}?limit=100"), None).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.data().len(), PAYLOADS.len(), "{r:#?}");
    assert_tables_intact(&app, &admin, before).await;
}

#[actix_web::test]
async fn sql_metacharacters_in_cleaning_fields_are_stored_literally() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let before = user_count(&app, &admin).await;
    for p in PAYLOADS {
        let r = app
            .post(
                "/api/v1/cleanings",
                alice.tok(),
                json!({"name": p, "description": p, "price": 10}),
            )
            .await;
        assert_eq!(r.status, 201, "name/description {p:?}: {r:#?}");
        let path = format!("/api/v1/cleanings/{}", r.str("id"));
        let got = app.get(&path, alice.tok()).await;
        assert_eq!(got.status, 200, "{got:#?}");
        assert_eq!(got.body["name"], *p, "{got:#?}");
        assert_eq!(got.body["description"], *p, "{got:#?}");
        let r = app
            .patch(&path, alice.tok(), json!({"description": format!("{p}!")}))
            .await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.body["description"], format!("{p}!"));
        // An unknown cleaning_type spelled as SQL is a 422, not a query.
        let r = app
            .post(
                "/api/v1/cleanings",
                alice.tok(),
                json!({"name": "n", "price": 1, "cleaning_type": p}),
            )
            .await;
        assert_not_5xx(&r, &format!("cleaning_type {p:?}"));
        assert_field_error(&r, "cleaning_type");
    }
    let r = app.get("/api/v1/cleanings?limit=100", alice.tok()).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.data().len(), PAYLOADS.len(), "{r:#?}");
    assert_tables_intact(&app, &admin, before).await;
}

#[actix_web::test]
async fn sql_metacharacters_in_language_fields_are_stored_literally() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let before = user_count(&app, &admin).await;
    for p in PAYLOADS {
        // `%` and `_` are not LIKE patterns here: no false 409 with another name.
        let r = app
            .post(
                "/api/v1/languages",
                alice.tok(),
                json!({"name": p, "publication_year": 2000, "contribution": p}),
            )
            .await;
        assert_eq!(r.status, 201, "name/contribution {p:?}: {r:#?}");
        let got = app
            .get(&format!("/api/v1/languages/{}", r.str("id")), None)
            .await;
        assert_eq!(got.status, 200, "{got:#?}");
        assert_eq!(got.body["name"], *p, "{got:#?}");
        assert_eq!(got.body["contribution"], *p, "{got:#?}");
    }
    // A real duplicate still clashes.
    let r = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "%", "publication_year": 2001, "contribution": "again"}),
        )
        .await;
    assert_problem(&r, 409);
    let r = app
        .get("/api/v1/languages?after_year=1999&limit=100", None)
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.data().len(), PAYLOADS.len(), "{r:#?}");
    // The shipped eight are still there.
    let r = app
        .get("/api/v1/languages?before_year=1999&limit=100", None)
        .await;
    assert_eq!(r.data().len(), 8, "{r:#?}");
    assert_tables_intact(&app, &admin, before).await;
}

#[actix_web::test]
async fn sql_metacharacters_in_profile_fields_are_stored_literally() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let before = user_count(&app, &admin).await;
    for p in PAYLOADS {
        let r = app
            .patch(
                "/api/v1/profiles/me",
                alice.tok(),
                json!({"full_name": p, "bio": p}),
            )
            .await;
        assert_eq!(r.status, 200, "full_name/bio {p:?}: {r:#?}");
        let got = app.get("/api/v1/profiles/alice", None).await;
        assert_eq!(got.status, 200, "{got:#?}");
        assert_eq!(got.body["full_name"], *p, "{got:#?}");
        assert_eq!(got.body["bio"], *p, "{got:#?}");
        let image = format!("https://example.com/{}", enc(p));
        let r = app
            .patch("/api/v1/profiles/me", alice.tok(), json!({"image": image}))
            .await;
        assert_not_5xx(&r, &format!("image {image:?}"));
        if r.status == 200 {
            assert_eq!(r.body["image"], image, "{r:#?}");
        } else {
            assert_field_error(&r, "image");
        }
    }
    assert_tables_intact(&app, &admin, before).await;
}

#[actix_web::test]
async fn sql_metacharacters_in_query_parameters_are_4xx_or_an_empty_match_never_5xx() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.new_post(&alice, "Alice's post", true).await;
    app.new_post(&bob, "Bob's post", true).await;
    let before = user_count(&app, &admin).await;
    let extra = ["alic_", "a%", "%alice%", "ALIC_", "bo\\b"];
    for p in PAYLOADS.iter().chain(extra.iter()) {
        let q = enc(p);
        // No user has this name: an empty page (or a 4xx), never someone's posts.
        let r = app.get(&format!("{POSTS}?author={q}"), None).await;
        assert_not_5xx(&r, &format!("?author={p:?}"));
        if r.status == 200 {
            assert!(r.data().is_empty(), "?author={p:?} matched: {r:#?}");
        } else {
            assert!(r.status.is_client_error(), "{r:#?}");
        }
        for path in [
            POSTS,
            "/api/v1/users/me/posts",
            "/api/v1/users",
            "/api/v1/languages",
            "/api/v1/cleanings",
            "/api/v1/cleanings/feed",
        ] {
            let r = app.get(&format!("{path}?cursor={q}"), admin.tok()).await;
            assert_not_5xx(&r, &format!("{path}?cursor={p:?}"));
            assert!(
                r.status.is_client_error(),
                "{path}?cursor={p:?} must be refused: {r:#?}"
            );
            let r = app.get(&format!("{path}?limit={q}"), admin.tok()).await;
            assert_not_5xx(&r, &format!("{path}?limit={p:?}"));
            assert_field_error(&r, "limit");
            let r = app
                .get(&format!("{path}?limit=1%20OR%201%3D1"), admin.tok())
                .await;
            assert_field_error(&r, "limit");
        }
        for param in ["before_year", "after_year"] {
            for v in [
                q.clone(),
                format!("1970{q}"),
                "1970%20OR%201%3D1".to_owned(),
            ] {
                let r = app
                    .get(&format!("/api/v1/languages?{param}={v}"), None)
                    .await;
                assert_not_5xx(&r, &format!("?{param}={v}"));
                assert_field_error(&r, param);
            }
        }
    }
    assert_tables_intact(&app, &admin, before).await;
    let r = app.get(POSTS, None).await;
    assert_eq!(r.data().len(), 2, "{r:#?}");
}

#[actix_web::test]
async fn sql_metacharacters_in_path_segments_are_404_never_5xx_nor_a_match() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "Hello", true).await;
    assert_eq!(post["slug"], "hello");
    let r = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Flat", "price": 10}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let cleaning = r.str("id");
    let r = app
        .post(
            &format!("/api/v1/cleanings/{cleaning}/offers"),
            bob.tok(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    let before = user_count(&app, &admin).await;
    let extra = ["alic_", "bo_", "%", "b%", "hell_", "h%"];
    for p in PAYLOADS.iter().chain(extra.iter()) {
        let s = enc(p);
        for path in [
            format!("/api/v1/profiles/{s}"),
            format!("/api/v1/posts/by-slug/{s}"),
            format!("/api/v1/posts/{s}"),
            format!("/api/v1/users/{s}"),
            format!("/api/v1/languages/{s}"),
            format!("/api/v1/cleanings/{s}"),
            format!("/api/v1/cleanings/{cleaning}/offers/{s}"),
        ] {
            let r = app.get(&path, admin.tok()).await;
            assert_not_5xx(&r, &path);
            assert_eq!(
                r.status, 404,
                "{path} ({p:?}) must not match anything: {r:#?}"
            );
        }
        // The owner acting on an offer by a wildcard name touches nothing.
        for action in ["accept", "reject"] {
            let path = format!("/api/v1/cleanings/{cleaning}/offers/{s}/{action}");
            let r = app.post(&path, alice.tok(), json!({})).await;
            assert_not_5xx(&r, &path);
            assert!(r.status.is_client_error(), "{path}: {r:#?}");
        }
        let path = format!("/api/v1/cleanings/{cleaning}/offers/{s}");
        let r = app.delete(&path, bob.tok()).await;
        assert_not_5xx(&r, &path);
        assert!(r.status.is_client_error(), "{path}: {r:#?}");
    }
    let r = app
        .get(
            &format!("/api/v1/cleanings/{cleaning}/offers/bob"),
            alice.tok(),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(
        r.body["status"], "pending",
        "a wildcard path changed bob's offer: {r:#?}"
    );
    assert_eq!(
        app.get("/api/v1/posts/by-slug/hello", None).await.status,
        200
    );
    assert_eq!(app.get("/api/v1/profiles/alice", None).await.status, 200);
    assert_tables_intact(&app, &admin, before).await;
}

// ----- no password hash anywhere -----

/// Every object key anywhere in `v`.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[track_caller]
fn assert_no_hash(what: &str, r: &Resp) {
    assert!(
        r.status.is_success(),
        "{what}: expected a success to inspect: {r:#?}"
    );
    for marker in ["$2b$", "$2a$", "$2y$", "$2x$"] {
        assert!(
            !r.text.contains(marker),
            "{what}: response holds a bcrypt hash ({marker}): {}",
            r.text
        );
    }
    let mut ks = Vec::new();
    keys(&r.body, &mut ks);
    for k in ks {
        let k = k.to_ascii_lowercase();
        assert!(
            !(k.contains("password") || k == "hash" || k.ends_with("_hash")),
            "{what}: response has a key {k:?}: {}",
            r.text
        );
    }
}

#[actix_web::test]
async fn no_response_contains_a_password_hash() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut seen: Vec<(String, Resp)> = Vec::new();

    let r = app
        .register_with(
            json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD}),
        )
        .await;
    seen.push(("register".into(), r));
    let r = app.login_json("alice", PASSWORD).await;
    let alice_token = r.str("access_token");
    seen.push(("login".into(), r));
    let alice = TestUser {
        id: seen[0].1.str("id"),
        username: "alice".into(),
        email: "alice@example.com".into(),
        password: PASSWORD.into(),
        token: alice_token,
    };
    let bob = app.user("bob").await;

    seen.push(("GET /users/me".into(), app.get(ME, alice.tok()).await));
    seen.push((
        "GET /users".into(),
        app.get("/api/v1/users?limit=100", admin.tok()).await,
    ));
    let alice_path = format!("/api/v1/users/{}", alice.id);
    seen.push((
        "GET /users/{id} admin".into(),
        app.get(&alice_path, admin.tok()).await,
    ));
    seen.push((
        "GET /users/{id} self".into(),
        app.get(&alice_path, alice.tok()).await,
    ));
    seen.push((
        "PATCH /users/me email".into(),
        app.patch(
            ME,
            alice.tok(),
            json!({"email": "alice2@example.com", "current_password": PASSWORD}),
        )
        .await,
    ));
    let new_pw = "N3wPassword!";
    seen.push((
        "PATCH /users/me password".into(),
        app.patch(
            ME,
            alice.tok(),
            json!({"password": new_pw, "current_password": PASSWORD}),
        )
        .await,
    ));
    seen.push((
        "admin PATCH /users/{id}".into(),
        app.patch(
            &format!("/api/v1/users/{}", bob.id),
            admin.tok(),
            json!({"role": "admin"}),
        )
        .await,
    ));
    seen.push((
        "admin PATCH /users/{id} back".into(),
        app.patch(
            &format!("/api/v1/users/{}", bob.id),
            admin.tok(),
            json!({"role": "user", "is_active": true}),
        )
        .await,
    ));
    seen.push((
        "PATCH /profiles/me".into(),
        app.patch(
            "/api/v1/profiles/me",
            alice.tok(),
            json!({"full_name": "Alice"}),
        )
        .await,
    ));
    seen.push((
        "GET /profiles/alice".into(),
        app.get("/api/v1/profiles/alice", None).await,
    ));
    seen.push((
        "GET /profiles/bob".into(),
        app.get("/api/v1/profiles/bob", bob.tok()).await,
    ));

    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Hello", "body": "b", "published": true}),
        )
        .await;
    let post_id = r.str("id");
    seen.push(("POST /posts".into(), r));
    seen.push(("GET /posts".into(), app.get(POSTS, None).await));
    seen.push((
        "GET /posts?author=alice".into(),
        app.get(&format!("{POSTS}?author=alice"), bob.tok()).await,
    ));
    seen.push((
        "GET /posts/{id}".into(),
        app.get(&format!("{POSTS}/{post_id}"), None).await,
    ));
    seen.push((
        "GET /posts/by-slug".into(),
        app.get("/api/v1/posts/by-slug/hello", None).await,
    ));
    seen.push((
        "PATCH /posts/{id}".into(),
        app.patch(
            &format!("{POSTS}/{post_id}"),
            alice.tok(),
            json!({"body": "c"}),
        )
        .await,
    ));
    seen.push((
        "GET /users/me/posts".into(),
        app.get("/api/v1/users/me/posts", alice.tok()).await,
    ));

    let r = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Flat", "price": 10}),
        )
        .await;
    let cleaning = r.str("id");
    seen.push(("POST /cleanings".into(), r));
    seen.push((
        "GET /cleanings/feed".into(),
        app.get("/api/v1/cleanings/feed", bob.tok()).await,
    ));
    let offers = format!("/api/v1/cleanings/{cleaning}/offers");
    seen.push((
        "POST offer".into(),
        app.post(&offers, bob.tok(), json!({})).await,
    ));
    seen.push(("GET offers".into(), app.get(&offers, alice.tok()).await));
    seen.push((
        "GET offer".into(),
        app.get(&format!("{offers}/bob"), bob.tok()).await,
    ));
    seen.push((
        "accept offer".into(),
        app.post(&format!("{offers}/bob/accept"), alice.tok(), json!({}))
            .await,
    ));
    seen.push((
        "GET offer as admin".into(),
        app.get(&format!("{offers}/bob"), admin.tok()).await,
    ));
    let r = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "Rust", "publication_year": 2015, "contribution": "ownership"}),
        )
        .await;
    seen.push(("POST /languages".into(), r));
    seen.push((
        "GET /languages".into(),
        app.get("/api/v1/languages", None).await,
    ));
    seen.push((
        "login with new password".into(),
        app.login_json("alice", new_pw).await,
    ));

    for (what, r) in &seen {
        assert_no_hash(what, r);
    }
}

// ----- server-owned fields in bodies change nothing -----

fn long_ago() -> &'static str {
    "2000-01-01T00:00:00.000000Z"
}

#[actix_web::test]
async fn post_author_id_id_and_created_at_in_bodies_change_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let forged_id = uuid::Uuid::now_v7().to_string();
    let r = app
        .create_post(
            &alice.token,
            json!({"title": "Mine", "body": "b", "published": true,
                   "author_id": bob.id, "author_username": "bob", "id": forged_id,
                   "created_at": long_ago(), "updated_at": long_ago(), "deleted_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["author_id"], alice.id.as_str(), "{r:#?}");
    assert_eq!(r.body["author_username"], "alice", "{r:#?}");
    assert_ne!(r.body["id"], forged_id.as_str(), "{r:#?}");
    assert_ne!(r.body["created_at"], long_ago(), "{r:#?}");
    let id = r.str("id");
    let path = format!("{POSTS}/{id}");
    assert_eq!(app.get(&path, None).await.status, 200, "deleted_at ignored");

    let r = app
        .put(
            &path,
            alice.tok(),
            json!({"title": "Mine", "body": "b2", "published": true, "author_id": bob.id,
                   "id": forged_id, "created_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let after_put = app.get(&path, None).await;
    // A body of server-owned fields only is a no-op.
    let r = app
        .patch(
            &path,
            alice.tok(),
            json!({"author_id": bob.id, "id": forged_id, "created_at": long_ago(), "author_username": "bob"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let got = app.get(&path, None).await;
    assert_eq!(
        got.body, after_put.body,
        "a PATCH of server-owned fields changed the post"
    );
    assert_eq!(got.body["author_id"], alice.id.as_str());
    assert_eq!(got.body["id"], id.as_str());
    assert_ne!(got.body["created_at"], long_ago());
    assert_eq!(
        app.get(&format!("{POSTS}/{forged_id}"), None).await.status,
        404
    );

    // Bob did not become its author: not in his list, and he may not edit it.
    let r = app.get("/api/v1/users/me/posts", bob.tok()).await;
    assert!(r.data().is_empty(), "{r:#?}");
    let r = app.patch(&path, bob.tok(), json!({"title": "Bob's"})).await;
    assert_problem(&r, 403);
    // Nor can Bob claim it by sending alice's id.
    let r = app
        .patch(&path, bob.tok(), json!({"author_id": bob.id, "title": "x"}))
        .await;
    assert_problem(&r, 403);
    let r = app.get(&format!("{POSTS}?author=bob"), None).await;
    assert!(r.data().is_empty(), "{r:#?}");
}

#[actix_web::test]
async fn cleaning_owner_id_in_bodies_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Flat", "price": 10, "owner_id": bob.id, "id": uuid::Uuid::now_v7().to_string(),
                   "created_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["owner_id"], alice.id.as_str(), "{r:#?}");
    assert_ne!(r.body["created_at"], long_ago());
    let path = format!("/api/v1/cleanings/{}", r.str("id"));

    let r = app
        .put(
            &path,
            alice.tok(),
            json!({"name": "Flat", "price": 10, "owner_id": bob.id}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["owner_id"], alice.id.as_str(), "{r:#?}");
    let before = app.get(&path, alice.tok()).await;
    let r = app
        .patch(
            &path,
            alice.tok(),
            json!({"owner_id": bob.id, "created_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let after = app.get(&path, alice.tok()).await;
    assert_eq!(
        after.body, before.body,
        "a PATCH of owner_id changed the cleaning"
    );

    // Bob is not its owner: 403 on writes, and it is in his feed, not his list.
    assert_problem(
        &app.patch(&path, bob.tok(), json!({"name": "Bob's"})).await,
        403,
    );
    assert_problem(
        &app.patch(
            &path,
            bob.tok(),
            json!({"name": "Bob's", "owner_id": bob.id}),
        )
        .await,
        403,
    );
    assert_problem(&app.delete(&path, bob.tok()).await, 403);
    let r = app.get("/api/v1/cleanings", bob.tok()).await;
    assert!(r.data().is_empty(), "{r:#?}");
    let r = app.get("/api/v1/cleanings/feed", bob.tok()).await;
    assert_eq!(r.data().len(), 1, "{r:#?}");
}

#[actix_web::test]
async fn offer_user_id_and_status_in_the_create_body_change_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let r = app
        .post(
            "/api/v1/cleanings",
            alice.tok(),
            json!({"name": "Flat", "price": 10}),
        )
        .await;
    let offers = format!("/api/v1/cleanings/{}/offers", r.str("id"));
    let r = app
        .post(
            &offers,
            bob.tok(),
            json!({"user_id": carol.id, "username": "carol", "status": "accepted",
                   "cleaning_id": uuid::Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["user_id"], bob.id.as_str(), "{r:#?}");
    assert_eq!(r.body["username"], "bob", "{r:#?}");
    assert_eq!(r.body["status"], "pending", "{r:#?}");
    assert_eq!(
        app.get(&format!("{offers}/carol"), alice.tok())
            .await
            .status,
        404
    );
    // Carol can still make her own offer.
    let r = app.post(&offers, carol.tok(), json!({})).await;
    assert_eq!(r.status, 201, "{r:#?}");
}

#[actix_web::test]
async fn language_created_by_in_bodies_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let r = app
        .post(
            "/api/v1/languages",
            alice.tok(),
            json!({"name": "Rust", "publication_year": 2015, "contribution": "ownership",
                   "created_by": bob.id, "id": uuid::Uuid::now_v7().to_string(), "created_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["created_by"], alice.id.as_str(), "{r:#?}");
    assert_ne!(r.body["created_at"], long_ago());
    let path = format!("/api/v1/languages/{}", r.str("id"));
    // created_by null would make it look like a shipped entry: ignored too.
    let r = app
        .put(
            &path,
            alice.tok(),
            json!({"name": "Rust", "publication_year": 2015, "contribution": "ownership", "created_by": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["created_by"], alice.id.as_str(), "{r:#?}");
    let before = app.get(&path, None).await;
    let r = app
        .patch(
            &path,
            alice.tok(),
            json!({"created_by": bob.id, "created_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let after = app.get(&path, None).await;
    assert_eq!(
        after.body, before.body,
        "a PATCH of created_by changed the language"
    );
    assert_problem(
        &app.patch(
            &path,
            bob.tok(),
            json!({"contribution": "mine", "created_by": bob.id}),
        )
        .await,
        403,
    );
    assert_problem(&app.delete(&path, bob.tok()).await, 403);
}

#[actix_web::test]
async fn patch_me_with_role_admin_and_is_active_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let before = app.get(ME, alice.tok()).await;
    let bodies = [
        json!({"role": "admin"}),
        json!({"role": "admin", "is_active": true, "current_password": PASSWORD}),
        json!({"is_active": false, "current_password": PASSWORD}),
        json!({"id": bob.id, "created_at": long_ago(), "updated_at": long_ago(),
               "username": "bob", "current_password": PASSWORD}),
    ];
    for body in bodies {
        let r = app.patch(ME, alice.tok(), body.clone()).await;
        assert_not_5xx(&r, &format!("PATCH /users/me {body}"));
        let after = app.get(ME, alice.tok()).await;
        assert_eq!(
            after.status, 200,
            "{body}: the token stopped working: {after:#?}"
        );
        assert_eq!(after.body, before.body, "{body} changed the user");
        assert_problem(&app.get("/api/v1/users", alice.tok()).await, 403);
    }
    // Together with a real change: the change happens, the role does not.
    let r = app
        .patch(
            ME,
            alice.tok(),
            json!({"email": "alice2@example.com", "role": "admin", "is_active": false,
                   "user_id": bob.id, "current_password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["email"], "alice2@example.com");
    assert_eq!(r.body["role"], "user", "{r:#?}");
    assert_eq!(r.body["is_active"], true, "{r:#?}");
    assert_eq!(r.body["id"], alice.id.as_str(), "{r:#?}");
    assert_problem(&app.get("/api/v1/users", alice.tok()).await, 403);
    // Bob is untouched.
    let r = app.get(ME, bob.tok()).await;
    assert_eq!(r.body["email"], "bob@example.com", "{r:#?}");
    // Registering with a role is no way in either.
    let r = app
        .register_with(
            json!({"username": "mallory", "email": "m@example.com", "password": PASSWORD,
                              "role": "admin", "is_active": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:#?}");
    assert_eq!(r.body["role"], "user", "{r:#?}");
    let token = app.login("mallory", PASSWORD).await;
    assert_problem(&app.get("/api/v1/users", Some(&token)).await, 403);
}

#[actix_web::test]
async fn patch_profile_with_username_or_user_id_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let bob_before = app.get("/api/v1/profiles/bob", None).await;
    let before = app.get("/api/v1/profiles/alice", None).await;
    let r = app
        .patch(
            "/api/v1/profiles/me",
            alice.tok(),
            json!({"username": "mallory", "user_id": bob.id, "id": uuid::Uuid::now_v7().to_string(),
                   "created_at": long_ago()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["username"], "alice", "{r:#?}");
    let after = app.get("/api/v1/profiles/alice", None).await;
    assert_eq!(after.body, before.body, "the profile changed");
    assert_problem(&app.get("/api/v1/profiles/mallory", None).await, 404);

    // Naming bob while setting a field writes alice's profile only.
    let r = app
        .patch(
            "/api/v1/profiles/me",
            alice.tok(),
            json!({"username": "bob", "user_id": bob.id, "full_name": "Alice A."}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(r.body["username"], "alice", "{r:#?}");
    assert_eq!(
        app.get("/api/v1/profiles/alice", None).await.body["full_name"],
        "Alice A."
    );
    assert_eq!(
        app.get("/api/v1/profiles/bob", None).await.body,
        bob_before.body
    );
    // The user's own username did not change either.
    assert_eq!(app.get(ME, alice.tok()).await.body["username"], "alice");
}
