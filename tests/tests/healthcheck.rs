//! The `health` subcommand's probe (`api::healthcheck`), which a container's
//! HEALTHCHECK runs: 200 from a running service is healthy; a closed port,
//! another status, a silent peer or a peer that does not speak HTTP is not.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::*;

/// Settings as `serve` would read them with `HOST=host` and `PORT=port`.
fn settings(host: &str, port: u16) -> api::config::Settings {
    let mut s = api::config::Settings::for_tests("sqlite::memory:");
    s.host = host.to_owned();
    s.port = port;
    s
}

/// The port a test app listens on (its URL is `http://127.0.0.1:PORT/`).
fn port_of(app: &TestApp) -> u16 {
    let url = app.url("/");
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    let (_, port) = authority.rsplit_once(':').expect("a port in the URL");
    port.parse().expect("a numeric port")
}

/// Runs the blocking probe off the test's runtime (whose server it may ask).
async fn check(host: &str, port: u16, timeout: Duration) -> Result<String, String> {
    let s = settings(host, port);
    tokio::task::spawn_blocking(move || api::healthcheck::check(&s, timeout))
        .await
        .expect("the probe does not panic")
}

/// A one-shot TCP peer on a free port: each connection it accepts gets
/// `answer` (after reading the request), or nothing at all when `None`.
fn fake_peer(answer: Option<&'static str>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0_u8; 1024];
            let _ = stream.read(&mut buf);
            match answer {
                Some(text) => {
                    let _ = stream.write_all(text.as_bytes());
                }
                // Hold the connection open, say nothing.
                None => std::thread::sleep(Duration::from_secs(10)),
            }
        }
    });
    port
}

#[actix_web::test]
async fn a_running_service_is_healthy_on_loopback_and_on_every_address() {
    let app = spawn_app().await;
    let port = port_of(&app);
    let ok = check("127.0.0.1", port, Duration::from_secs(3)).await;
    assert_eq!(ok, Ok(format!("http://127.0.0.1:{port}/health: 200")));
    // HOST=0.0.0.0 (as in the container) means: ask loopback.
    let ok = check("0.0.0.0", port, Duration::from_secs(3)).await;
    assert_eq!(ok, Ok(format!("http://127.0.0.1:{port}/health: 200")));
}

#[actix_web::test]
async fn a_closed_port_is_unhealthy() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let err = check("0.0.0.0", port, Duration::from_secs(3))
        .await
        .expect_err("nothing listens");
    assert!(
        err.starts_with(&format!("http://127.0.0.1:{port}/health: ")),
        "{err}"
    );
}

#[actix_web::test]
async fn a_status_other_than_200_is_unhealthy() {
    let port = fake_peer(Some(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    ));
    let err = check("127.0.0.1", port, Duration::from_secs(3))
        .await
        .expect_err("503 is not healthy");
    assert_eq!(err, format!("http://127.0.0.1:{port}/health: 503"));
}

#[actix_web::test]
async fn a_peer_that_does_not_speak_http_is_unhealthy() {
    let port = fake_peer(Some("SSH-2.0-OpenSSH_9.2\r\n"));
    let err = check("127.0.0.1", port, Duration::from_secs(3))
        .await
        .expect_err("not HTTP");
    assert!(err.contains("not an HTTP/1.x response"), "{err}");
}

#[actix_web::test]
async fn a_silent_peer_is_unhealthy_once_the_timeout_passes() {
    let port = fake_peer(None);
    let started = Instant::now();
    let err = check("127.0.0.1", port, Duration::from_secs(1))
        .await
        .expect_err("no answer");
    let took = started.elapsed();
    assert!(err.contains("no answer in time"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "gave up after {took:?}"
    );
}
