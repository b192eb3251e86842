#!/usr/bin/env python3
"""Instructions the service executes per request, counted by callgrind.

Runs a release binary under `valgrind --tool=callgrind` twice, on a fresh
database each time: the same set-up (a user, a login, `--posts` published
posts), then `N` sequential requests of one kind on one keep-alive
connection, N being the two values of `--requests` (100 and 600). The
difference of the two totals, divided by the difference of the counts, is
what one request costs: start-up, set-up and shutdown cancel out.
Instructions, not seconds: the figure repeats for the same binary and
inputs whatever else the machine is doing (docs/performance.md).

The cache is off (`CACHE_TTL=0`) and bcrypt is at cost 4, so the set-up is
quick under valgrind. `--keep DIR` keeps the callgrind files for
`callgrind_annotate`. Standard library only; needs valgrind.
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

MODES = {
    "get": "GET /api/v1/posts/{id} (a published post)",
    "list": "GET /api/v1/posts?limit=20",
    "list_deep": "GET /api/v1/posts?limit=20&cursor=… (the second page)",
    "create": "POST /api/v1/posts (published, 200-character body)",
}


def fresh_database(args, workdir: str) -> tuple[str, callable]:
    """A database URL for one run, and how to drop it afterwards."""
    if args.db == "sqlite":
        path = os.path.join(workdir, f"{uuid.uuid4().hex}.sqlite")
        return f"sqlite://{path}?mode=rwc", lambda: None
    name = f"bench_instructions_{uuid.uuid4().hex[:12]}"
    admin = args.pg_url
    subprocess.run(["psql", "-X", "-q", admin, "-c", f"CREATE DATABASE {name}"], check=True)
    parts = urllib.parse.urlsplit(admin)
    query = "sslmode=disable"
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{name}", query, ""))

    def drop():
        subprocess.run(["psql", "-X", "-q", admin, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                       check=False, stderr=subprocess.DEVNULL)
    return url, drop


def run_once(args, workdir: str, n: int) -> int:
    """Total instructions of one run with `n` measured requests."""
    url, drop = fresh_database(args, workdir)
    out = os.path.join(args.keep or workdir, f"callgrind.{args.db}.{args.mode}.{n}")
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(args.port), DATABASE_URL=url,
               JWT_SECRET="bench-instructions-secret-0123456789abcdef",
               AUTH_RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_PER_MINUTE="0",
               BCRYPT_COST="4", RUST_LOG="warn", CACHE_TTL="0")
    server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", args.bin],
                              env=env, stdout=subprocess.DEVNULL, stderr=open(out + ".log", "w"))
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the service did not start; see {out}.log")
            time.sleep(0.5)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)

        def call(method, path, body=None, token=None):
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            r = conn.getresponse()
            data = r.read()
            if r.status >= 300:
                sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
            return json.loads(data) if data else None

        user = {"username": "bench_user", "email": "bench@example.com", "password": "Passw0rd1"}
        call("POST", "/api/v1/auth/register", user)
        token = call("POST", "/api/v1/auth/login", {"username": user["username"],
                                                     "password": user["password"]})["access_token"]
        ids = [call("POST", "/api/v1/posts", {"title": f"Post number {i}",
                                              "body": "Some body text of a post, not long. " * 5,
                                              "published": True}, token)["id"]
               for i in range(args.posts)]
        cursor = call("GET", "/api/v1/posts?limit=20")["next_cursor"]
        for i in range(n):
            if args.mode == "get":
                call("GET", f"/api/v1/posts/{ids[i % len(ids)]}")
            elif args.mode == "list":
                call("GET", "/api/v1/posts?limit=20")
            elif args.mode == "list_deep":
                call("GET", f"/api/v1/posts?limit=20&cursor={cursor}")
            else:
                call("POST", "/api/v1/posts", {"title": f"Created {i}", "body": "x" * 200,
                                               "published": True}, token)
        conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
        drop()
    with open(out) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    sys.exit(f"no total in {out}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/release/owned-api", help="the service's binary (default: %(default)s)")
    p.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    p.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                   help="PostgreSQL to create the run's database on (default: %(default)s)")
    p.add_argument("--mode", choices=MODES, default="get", help="; ".join(f"{k}: {v}" for k, v in MODES.items()))
    p.add_argument("--requests", default="100,600", help="the two request counts (default: %(default)s)")
    p.add_argument("--posts", type=int, default=31, help="posts made before the count (default: %(default)s)")
    p.add_argument("--port", type=int, default=18301)
    p.add_argument("--keep", help="a folder to keep the callgrind files in")
    args = p.parse_args()
    low, high = (int(x) for x in args.requests.split(","))
    with tempfile.TemporaryDirectory() as workdir:
        a = run_once(args, workdir, low)
        b = run_once(args, workdir, high)
    print(f"{args.mode} on {args.db}: {round((b - a) / (high - low)):,} instructions per request "
          f"({MODES[args.mode]})".replace(",", " "))


if __name__ == "__main__":
    main()
