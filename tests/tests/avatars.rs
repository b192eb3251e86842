//! Avatars: upload (multipart), the type read from the bytes, limits, a
//! decompression bomb, EXIF removed and orientation applied, replace and
//! delete, and serving with an ETag. Every test runs on local disk, and
//! also on an S3-compatible server when `TEST_S3_BUCKET` names a bucket
//! there (`.ci/run` starts one and exports the `AWS_*` settings).

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};
use serde_json::json;

use crate::common::*;

const MINE: &str = "/api/v1/profiles/me/avatar";

/// Where uploads go in a test: a fresh local folder, or a fresh prefix in
/// the S3 test bucket.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Local,
    S3,
}

/// The backends to run on: local always, S3 when a test bucket is set.
fn backends() -> Vec<Backend> {
    match std::env::var("TEST_S3_BUCKET") {
        Ok(bucket) if !bucket.trim().is_empty() => vec![Backend::Local, Backend::S3],
        _ => vec![Backend::Local],
    }
}

async fn app_on(backend: Backend) -> TestApp {
    spawn_app_with(move |s| {
        if let Backend::S3 = backend {
            let bucket = std::env::var("TEST_S3_BUCKET").expect("bucket");
            s.storage_url = format!("s3://{bucket}/test-{}", uuid::Uuid::new_v4().simple());
        }
    })
    .await
}

/// The local upload folder of `app` (`None` on S3).
fn folder(app: &TestApp) -> Option<std::path::PathBuf> {
    let url = &app.state.as_ref().expect("state").settings.storage_url;
    url.strip_prefix("file://").map(std::path::PathBuf::from)
}

fn stored_files(app: &TestApp) -> Option<Vec<String>> {
    let dir = folder(app)?;
    let mut names: Vec<String> = walk(&dir)
        .into_iter()
        .map(|p| p.strip_prefix(&dir).expect("inside").display().to_string())
        .collect();
    names.sort();
    Some(names)
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encode a test picture");
    out
}

/// A multipart body with one part; returns (content type, body).
fn multipart(name: &str, filename: &str, part_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----test-boundary-7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
         Content-Type: {part_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, token: &str, data: &[u8], filename: &str, claimed: &str) -> Resp {
    let (content_type, body) = multipart("file", filename, claimed, data);
    let req = app
        .request("PUT", MINE)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", content_type));
    app.send_req(req, Body::Raw("", body)).await
}

async fn download(app: &TestApp, username: &str) -> Resp {
    app.get(&format!("/api/v1/profiles/{username}/avatar"), None)
        .await
}

/// The raw bytes of a download (the harness keeps the body as text).
async fn download_bytes(app: &TestApp, username: &str) -> (Resp, Vec<u8>) {
    let req = app.request("GET", &format!("/api/v1/profiles/{username}/avatar"));
    let mut res = req.send().await.expect("GET avatar");
    let bytes = res
        .body()
        .limit(8 << 20)
        .await
        .expect("avatar body")
        .to_vec();
    let r = Resp {
        status: res.status(),
        headers: res.headers().clone(),
        body: serde_json::Value::Null,
        text: String::new(),
    };
    (r, bytes)
}

#[actix_web::test]
async fn each_accepted_format_is_stored_and_served() {
    for backend in backends() {
        let app = app_on(backend).await;
        let alice = app.user("alice").await;
        for (format, name, served) in [
            (ImageFormat::Png, "a.png", "image/png"),
            (ImageFormat::Jpeg, "a.jpg", "image/jpeg"),
            (ImageFormat::Gif, "a.gif", "image/png"),
            (ImageFormat::WebP, "a.webp", "image/png"),
        ] {
            let r = upload(
                &app,
                &alice.token,
                &picture(32, 16, format),
                name,
                "image/x-whatever",
            )
            .await;
            assert_eq!(r.status, 200, "{backend:?} {format:?}: {r:#?}");
            assert_eq!(r.str("image"), "/api/v1/profiles/alice/avatar");
            assert!(r.header("etag").is_some(), "the profile's ETag: {r:#?}");
            let (got, bytes) = download_bytes(&app, "ALICE").await;
            assert_eq!(got.status, 200, "{backend:?} {format:?}: {got:#?}");
            assert_eq!(got.header("content-type"), Some(served));
            assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(
                got.header("content-security-policy"),
                Some("default-src 'none'")
            );
            let decoded = image::load_from_memory(&bytes).expect("a picture");
            assert_eq!((decoded.width(), decoded.height()), (32, 16));
        }
    }
}

#[actix_web::test]
async fn the_type_comes_from_the_bytes_not_the_claims() {
    for backend in backends() {
        let app = app_on(backend).await;
        let alice = app.user("alice").await;
        // A GIF that calls itself a PNG is taken for the GIF it is.
        let r = upload(
            &app,
            &alice.token,
            &picture(8, 8, ImageFormat::Gif),
            "x.png",
            "image/png",
        )
        .await;
        assert_eq!(r.status, 200, "{r:#?}");
        // A JPEG that calls itself a PNG is served as the JPEG it is.
        let r = upload(
            &app,
            &alice.token,
            &picture(8, 8, ImageFormat::Jpeg),
            "x.png",
            "image/png",
        )
        .await;
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(
            download(&app, "alice").await.header("content-type"),
            Some("image/jpeg")
        );
        // Text that calls itself a PNG is refused.
        let r = upload(
            &app,
            &alice.token,
            b"just some text, not a picture",
            "x.png",
            "image/png",
        )
        .await;
        assert_problem(&r, 415);
        // So is a format the service does not take (a BMP).
        let mut bmp = b"BM".to_vec();
        bmp.resize(64, 0);
        let r = upload(&app, &alice.token, &bmp, "x.bmp", "image/bmp").await;
        assert_problem(&r, 415);
    }
}

#[actix_web::test]
async fn exactly_2_mib_is_accepted_and_one_byte_more_is_413() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let mut padded = picture(16, 16, ImageFormat::Png);
    padded.resize(2 * 1024 * 1024, 0);
    let r = upload(&app, &alice.token, &padded, "big.png", "image/png").await;
    assert_eq!(r.status, 200, "exactly 2 MiB: {}", r.text);
    padded.push(0);
    let r = upload(&app, &alice.token, &padded, "big.png", "image/png").await;
    assert_problem(&r, 413);
}

/// A PNG of a few dozen bytes that declares a 100 000 × 100 000 picture.
fn png_bomb() -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        c.extend_from_slice(&crc_input);
        c.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        c
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[actix_web::test]
async fn a_decompression_bomb_is_refused_without_decoding_it() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bomb = png_bomb();
    assert!(bomb.len() < 100);
    let r = upload(&app, &alice.token, &bomb, "bomb.png", "image/png").await;
    assert!(r.status == 413 || r.status == 415, "{r:#?}");
    assert_problem(&r, r.status.as_u16());
    // Nothing was stored, and the service still answers.
    assert_eq!(download(&app, "alice").await.status, 404);
    assert_eq!(stored_files(&app), Some(Vec::new()));
}

/// A JPEG whose EXIF says "rotate 90° clockwise" and holds a GPS position.
fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let plain = picture(width, height, ImageFormat::Jpeg);
    // TIFF, little-endian: IFD0 with Orientation = 6 and a GPS IFD pointer;
    // the GPS IFD with GPSLatitudeRef = "N".
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        let mut e = tag.to_le_bytes().to_vec();
        e.extend_from_slice(&kind.to_le_bytes());
        e.extend_from_slice(&count.to_le_bytes());
        e.extend_from_slice(&value.to_le_bytes());
        e
    };
    let gps_at = 8 + 2 + 2 * 12 + 4;
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend(entry(0x0112, 3, 1, 6));
    tiff.extend(entry(0x8825, 4, 1, gps_at));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend(entry(0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&plain[2..]);
    out
}

#[actix_web::test]
async fn exif_is_removed_and_the_orientation_applied() {
    for backend in backends() {
        let app = app_on(backend).await;
        let alice = app.user("alice").await;
        let upload_bytes = jpeg_with_exif(40, 20);
        assert!(upload_bytes.windows(6).any(|w| w == b"Exif\0\0"));
        let r = upload(&app, &alice.token, &upload_bytes, "me.jpg", "image/jpeg").await;
        assert_eq!(r.status, 200, "{r:#?}");
        let (got, bytes) = download_bytes(&app, "alice").await;
        assert_eq!(got.status, 200);
        assert!(
            !bytes.windows(4).any(|w| w == b"Exif"),
            "{backend:?}: EXIF survived"
        );
        let decoded = image::load_from_memory(&bytes).expect("a JPEG");
        assert_eq!(
            (decoded.width(), decoded.height()),
            (20, 40),
            "turned upright"
        );
    }
}

#[actix_web::test]
async fn a_path_traversal_file_name_is_harmless() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let data = picture(8, 8, ImageFormat::Png);
    let r = upload(
        &app,
        &alice.token,
        &data,
        "../../../../tmp/evil.png",
        "image/png",
    )
    .await;
    assert_eq!(r.status, 200, "{r:#?}");
    let files = stored_files(&app).expect("local storage");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].len() == 64 && files[0].bytes().all(|b| b.is_ascii_hexdigit()),
        "stored under its hash only: {files:?}"
    );
}

#[actix_web::test]
async fn replace_then_delete() {
    for backend in backends() {
        let app = app_on(backend).await;
        let alice = app.user("alice").await;
        let first = upload(
            &app,
            &alice.token,
            &picture(8, 8, ImageFormat::Png),
            "1.png",
            "image/png",
        )
        .await;
        assert_eq!(first.status, 200);
        let first_tag = download(&app, "alice")
            .await
            .header("etag")
            .map(str::to_owned);
        let second = upload(
            &app,
            &alice.token,
            &picture(9, 9, ImageFormat::Png),
            "2.png",
            "image/png",
        )
        .await;
        assert_eq!(second.status, 200);
        let second_tag = download(&app, "alice")
            .await
            .header("etag")
            .map(str::to_owned);
        assert_ne!(first_tag, second_tag);
        if let Some(files) = stored_files(&app) {
            assert_eq!(files.len(), 1, "the replaced avatar is gone: {files:?}");
        }
        let gone = app.delete(MINE, alice.tok()).await;
        assert_eq!(gone.status, 204, "{gone:#?}");
        let profile = app.get("/api/v1/profiles/alice", None).await;
        assert!(profile.body["image"].is_null(), "{profile:#?}");
        assert_problem(&download(&app, "alice").await, 404);
        if let Some(files) = stored_files(&app) {
            assert!(files.is_empty(), "{files:?}");
        }
        assert_eq!(
            app.delete(MINE, alice.tok()).await.status,
            204,
            "again is fine"
        );
    }
}

#[actix_web::test]
async fn an_avatar_two_users_share_stays_while_one_still_uses_it() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let same = picture(8, 8, ImageFormat::Png);
    upload(&app, &alice.token, &same, "a.png", "image/png").await;
    upload(&app, &bob.token, &same, "b.png", "image/png").await;
    assert_eq!(app.delete(MINE, alice.tok()).await.status, 204);
    assert_eq!(
        download(&app, "bob").await.status,
        200,
        "bob's is the same object"
    );
}

#[actix_web::test]
async fn uploads_and_deletes_need_a_token() {
    let app = spawn_app().await;
    let (content_type, body) = multipart(
        "file",
        "a.png",
        "image/png",
        &picture(8, 8, ImageFormat::Png),
    );
    let req = app
        .request("PUT", MINE)
        .insert_header(("Content-Type", content_type));
    assert_unauthorized(&app.send_req(req, Body::Raw("", body)).await);
    assert_unauthorized(&app.delete(MINE, None).await);
}

#[actix_web::test]
async fn a_body_that_is_not_multipart_is_415_and_a_missing_file_part_422() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let r = app.put(MINE, alice.tok(), json!({"file": "x"})).await;
    assert_problem(&r, 415);
    let r = app
        .send(
            "PUT",
            MINE,
            alice.tok(),
            Body::Raw("", b"raw bytes".to_vec()),
        )
        .await;
    assert_problem(&r, 415);
    let (content_type, body) = multipart(
        "picture",
        "a.png",
        "image/png",
        &picture(8, 8, ImageFormat::Png),
    );
    let req = app
        .request("PUT", MINE)
        .insert_header(("Authorization", format!("Bearer {}", alice.token)))
        .insert_header(("Content-Type", content_type));
    let r = app.send_req(req, Body::Raw("", body)).await;
    assert_field_error(&r, "file");
    // A part with an empty name (found by the conformance fuzzing: it
    // panicked a debug build inside actix-multipart) is no `file` either.
    let (content_type, body) =
        multipart("", "a.png", "image/png", &picture(8, 8, ImageFormat::Png));
    let req = app
        .request("PUT", MINE)
        .insert_header(("Authorization", format!("Bearer {}", alice.token)))
        .insert_header(("Content-Type", content_type));
    let r = app.send_req(req, Body::Raw("", body)).await;
    assert_field_error(&r, "file");
}

#[actix_web::test]
async fn a_download_with_the_current_etag_is_304() {
    for backend in backends() {
        let app = app_on(backend).await;
        let alice = app.user("alice").await;
        upload(
            &app,
            &alice.token,
            &picture(8, 8, ImageFormat::Png),
            "a.png",
            "image/png",
        )
        .await;
        let first = download(&app, "alice").await;
        let tag = first.header("etag").expect("ETag").to_owned();
        assert!(
            tag.starts_with('"') && tag.len() == 66,
            "the hash, quoted: {tag}"
        );
        let again = app
            .send_with(
                "GET",
                "/api/v1/profiles/alice/avatar",
                None,
                &[("If-None-Match", &tag)],
                Body::Empty,
            )
            .await;
        assert_eq!(again.status, 304, "{again:#?}");
        assert_eq!(again.header("etag"), Some(tag.as_str()));
        assert!(again.text.is_empty());
    }
}

#[actix_web::test]
async fn a_user_without_an_avatar_has_none() {
    let app = spawn_app().await;
    app.user("alice").await;
    assert_problem(&download(&app, "alice").await, 404);
    assert_problem(&download(&app, "nobody").await, 404);
}

#[actix_web::test]
async fn the_document_describes_the_upload_as_a_file_part() {
    let app = spawn_app().await;
    let doc = app.get("/api-docs/openapi.json", None).await.body;
    let body = &doc["paths"]["/api/v1/profiles/me/avatar"]["put"]["requestBody"]["content"]["multipart/form-data"];
    let schema = &doc["components"]["schemas"]["AvatarUpload"]["properties"]["file"];
    assert!(body.is_object(), "{body}");
    assert_eq!(schema["format"], "binary", "{schema}");
}
