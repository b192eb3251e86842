#!/usr/bin/env python3
"""HTTP checks scripts/container.sh runs against the service in a container.
Python 3's standard library only.

    container-check.py avatar BASE
        registers a user, uploads a small PNG as its avatar (PUT
        /api/v1/profiles/me/avatar) and reads it back: the uploads folder
        (or bucket) is writable.

    container-check.py load BASE STATE -- COMMAND...
        registers a user and creates posts over 4 kept-alive connections;
        after --stop-after seconds runs COMMAND (`docker stop …`) and keeps
        going until the service refuses connections. Writes the acknowledged
        posts (201) and a token to STATE (JSON). Fails when a request whose
        bytes were all sent before COMMAND started got no answer or a 5xx
        (an in-flight request lost), when COMMAND fails, or when no post was
        acknowledged.

    container-check.py verify BASE STATE
        after a restart on the same data: every acknowledged post must be
        there (GET /api/v1/posts/{id} is 200).
"""

from __future__ import annotations

import argparse
import http.client
import json
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zlib


def connect(base: str) -> http.client.HTTPConnection:
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)


def call(conn, method, path, body=None, token=None, headers=None):
    """One request; (status, parsed JSON body or raw bytes)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    try:
        return r.status, json.loads(data) if data else None
    except ValueError:
        return r.status, data


def new_user(base: str, prefix: str) -> tuple[str, str]:
    """A fresh user and its access token."""
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    conn = connect(base)
    status, body = call(conn, "POST", "/api/v1/auth/register",
                        {"username": name, "email": f"{name}@example.com", "password": "Secret123"})
    if status != 201:
        sys.exit(f"register {name}: {status} {body}")
    status, body = call(conn, "POST", "/api/v1/auth/login", {"username": name, "password": "Secret123"})
    if status != 200:
        sys.exit(f"login {name}: {status} {body}")
    conn.close()
    return name, body["access_token"]


def png(width: int = 8, height: int = 8) -> bytes:
    """A small RGB PNG, made by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([200, 40, 40]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def avatar(args) -> None:
    name, token = new_user(args.base, "avatar")
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png() + f"\r\n--{boundary}--\r\n".encode()
    conn = connect(args.base)
    status, profile = call(conn, "PUT", "/api/v1/profiles/me/avatar", body, token,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    print(f"PUT /profiles/me/avatar: {status}")
    if status != 200:
        sys.exit(f"avatar upload failed: {status} {profile}")
    status, data = call(conn, "GET", f"/api/v1/profiles/{name}/avatar")
    print(f"GET /profiles/{name}/avatar: {status}, {len(data) if isinstance(data, bytes) else '?'} bytes")
    if status != 200 or not isinstance(data, bytes) or not data.startswith(b"\x89PNG"):
        sys.exit("the avatar did not come back as a PNG")


class Load:
    """Writers creating posts until the service refuses them."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token
        self.lock = threading.Lock()
        self.acked: list[str] = []
        self.stop_started: float | None = None
        self.stop_done = threading.Event()
        self.lost: list[str] = []  # sent before the stop began, no answer or a 5xx
        self.late_errors = 0  # sent after the stop began and not answered: expected
        self.statuses: dict[int, int] = {}
        self.sent = 0

    def writer(self, n: int) -> None:
        conn = connect(self.base)
        i = 0
        refused_since = None
        while True:
            i += 1
            sent_at = None
            try:
                body = json.dumps({"title": f"load {n}-{i}", "body": "written under load",
                                   "published": True}).encode()
                conn.request("POST", "/api/v1/posts", body=body, headers={
                    "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
                sent_at = time.monotonic()
                r = conn.getresponse()
                data = r.read()
                with self.lock:
                    self.sent += 1
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                    if r.status == 201:
                        self.acked.append(json.loads(data)["id"])
                    elif r.status >= 500 and (self.stop_started is None or sent_at < self.stop_started):
                        self.lost.append(f"writer {n} request {i}: {r.status} {data[:200]!r}")
                refused_since = None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                with self.lock:
                    before_stop = sent_at is not None and (self.stop_started is None or sent_at < self.stop_started)
                    if before_stop:
                        self.lost.append(f"writer {n} request {i}: no answer ({e!r})")
                    else:
                        self.late_errors += 1
                # Done once the stop has finished and the service refuses us.
                if self.stop_done.is_set():
                    return
                refused_since = refused_since or time.monotonic()
                if time.monotonic() - refused_since > 60:
                    return
                time.sleep(0.01)


def load(args) -> None:
    if not args.command:
        sys.exit("load needs a stop command after --")
    _, token = new_user(args.base, "loader")
    run = Load(args.base, token)
    writers = [threading.Thread(target=run.writer, args=(n,), daemon=True) for n in range(args.writers)]
    for w in writers:
        w.start()
    time.sleep(args.stop_after)
    with run.lock:
        run.stop_started = time.monotonic()
        acked_before = len(run.acked)
    stop = subprocess.run(args.command, capture_output=True, text=True)
    took = time.monotonic() - run.stop_started
    run.stop_done.set()
    for w in writers:
        w.join(timeout=90)
    json.dump({"token": token, "acked": run.acked}, open(args.state, "w"))
    print(f"{' '.join(args.command)}: exit {stop.returncode} after {took:.1f} s")
    print(f"requests answered: {run.sent} ({', '.join(f'{k}: {v}' for k, v in sorted(run.statuses.items()))}); "
          f"posts acknowledged: {len(run.acked)} ({acked_before} before the stop began)")
    print(f"requests sent after the stop began and not answered (expected): {run.late_errors}")
    print(f"in-flight requests lost: {len(run.lost)}")
    for line in run.lost[:20]:
        print(f"  {line}")
    if stop.returncode != 0:
        sys.exit(f"the stop command failed: {stop.stderr.strip()}")
    if run.lost:
        sys.exit("requests sent before the stop got no answer or a 5xx")
    if not run.acked or not acked_before:
        sys.exit("no post was acknowledged before the stop: the load did not run")


def verify(args) -> None:
    state = json.load(open(args.state))
    conn = connect(args.base)
    missing = []
    for post_id in state["acked"]:
        status, _ = call(conn, "GET", f"/api/v1/posts/{post_id}", token=state["token"])
        if status != 200:
            missing.append((post_id, status))
    print(f"acknowledged posts found after the restart: {len(state['acked']) - len(missing)} of {len(state['acked'])}")
    for post_id, status in missing[:20]:
        print(f"  missing {post_id}: {status}")
    if missing:
        sys.exit("acknowledged writes were lost")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("avatar")
    a.add_argument("base")
    a.set_defaults(run=avatar)
    lo = sub.add_parser("load")
    lo.add_argument("base")
    lo.add_argument("state")
    lo.add_argument("--writers", type=int, default=4)
    lo.add_argument("--stop-after", type=float, default=1.5, help="seconds of load before the stop command")
    lo.add_argument("command", nargs=argparse.REMAINDER)
    lo.set_defaults(run=load)
    v = sub.add_parser("verify")
    v.add_argument("base")
    v.add_argument("state")
    v.set_defaults(run=verify)
    args = p.parse_args()
    if getattr(args, "command", None) and args.command[0] == "--":
        args.command = args.command[1:]
    args.run(args)


if __name__ == "__main__":
    main()
