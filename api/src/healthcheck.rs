//! The `health` subcommand: asks a running instance's `GET /health` and says
//! whether it answered 200, so a container's `HEALTHCHECK` needs no curl in
//! the image (docs/deployment.md).
//!
//! One HTTP/1.1 request over a plain [`TcpStream`], bounded by one deadline
//! for resolving, connecting, writing and reading: the service speaks plain
//! HTTP, and the probe only needs the status line.

use std::io::{self, Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use crate::config::Settings;

/// The host the probe asks for a service configured to listen on `host`:
/// the loopback address of the same family when it listens on every address
/// (`0.0.0.0`, `::`) or `host` is empty, else `host` itself.
pub fn local_host(host: &str) -> String {
    match host.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => Ipv6Addr::LOCALHOST.to_string(),
        _ if host.trim().is_empty() => Ipv4Addr::LOCALHOST.to_string(),
        _ => host.trim().to_owned(),
    }
}

/// Asks `/health` of the instance `settings` describe (`HOST`, `PORT`, as
/// `serve` reads them). `Ok` with a one-line summary when it answered 200
/// within `timeout`; `Err` when it answered anything else, or nothing.
pub fn check(settings: &Settings, timeout: Duration) -> Result<String, String> {
    let host = local_host(&settings.host);
    let url = format!("http://{}/health", authority(&host, settings.port));
    match probe(&host, settings.port, timeout) {
        Ok(200) => Ok(format!("{url}: 200")),
        Ok(status) => Err(format!("{url}: {status}")),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

/// Sends `GET /health` to `host:port` and returns the response's status
/// code. Resolving, connecting, sending and reading the status line
/// together take at most `timeout`; past it the error is
/// [`io::ErrorKind::TimedOut`]. Every address `host` resolves to is tried
/// in turn until one accepts the connection.
pub fn probe(host: &str, port: u16, timeout: Duration) -> io::Result<u16> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(stream) => return ask(stream, &authority(host, port), deadline),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))
    }))
}

/// `host:port`, with an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Time left before `deadline`; a timeout error when none is.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))
    } else {
        Ok(left)
    }
}

/// The request over a connected stream, then its status line.
fn ask(mut stream: TcpStream, authority: &str, deadline: Instant) -> io::Result<u16> {
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: owned-api-health\r\n\
         Accept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    // The status line is the first line; nothing after it is needed.
    let mut head = Vec::with_capacity(128);
    let mut chunk = [0_u8; 512];
    while !head.contains(&b'\n') && head.len() < 1024 {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    status_code(&head).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the answer is not an HTTP/1.x response",
        )
    })
}

/// The status code of a response that begins `HTTP/1.x NNN`.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_ascii_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then(|| code.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_address_means_loopback_of_its_family() {
        assert_eq!(local_host("0.0.0.0"), "127.0.0.1");
        assert_eq!(local_host("::"), "::1");
        assert_eq!(local_host(""), "127.0.0.1");
        assert_eq!(local_host("127.0.0.1"), "127.0.0.1");
        assert_eq!(local_host("10.1.2.3"), "10.1.2.3");
        assert_eq!(local_host("localhost"), "localhost");
    }

    #[test]
    fn authority_brackets_ipv6() {
        assert_eq!(authority("::1", 8080), "[::1]:8080");
        assert_eq!(authority("127.0.0.1", 8080), "127.0.0.1:8080");
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            status_code(b"HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code(b"HTTP/1.1 200"), Some(200));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_code(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(status_code(b""), None);
    }
}
