"""perf: throughput and latency of the hot paths, with wrk.

Starts its own service (release binary, 127.0.0.1:18090) on a fresh database:
a SQLite file in a temp dir, or a database on the private PostgreSQL cluster
with ``--db pg``. Registers one user, writes ``--posts`` published posts
straight into the database (one second apart, newest first), then runs each
scenario with wrk (``--threads`` × ``--connections`` for ``--duration``
seconds after ``--warmup`` seconds of warm-up), ``--rounds`` times
interleaved:

  get_id       GET /api/v1/posts/{id}, over 1 000 ids from the whole table
  list_first   GET /api/v1/posts?limit=20
  list_deep    GET /api/v1/posts?limit=20&cursor=<the cursor of page --deep-page>
  create_post  POST /api/v1/posts as the user, a new slug each time
  me_token     GET /api/v1/users/me with the user's bearer token
  me_key       GET /api/v1/users/me with an API key of the user (scope read)

and prints ``scenario req/s p50_ms p99_ms`` per scenario and round, then
the median of the rounds per scenario, the ratio of
the deep page to the first (a keyset cursor makes them cost the same), of
the API key to the bearer token (when both ran: one indexed lookup of the
key's hash against a JWT check and a read of the user), the
time the service took to answer /health after it was started on the seeded,
migrated database, and its resident memory after the runs.

The server-side cache is off unless ``--cache-ttl`` is given (the service's
own default on SQLite is 60 s): off, every figure is the database path, and
the deep page against the first checks the index walk; on, the first page
and the ids come from memory, and the deep/first check is skipped. With
``--cache-fill N`` the service first reads N distinct posts by id, so the
memory figure is taken with that many entries cached (at most
CACHE_MAX_ENTRIES, 10 000).

With ``--otlp on`` the service exports traces (OTEL_EXPORTER_OTLP_ENDPOINT)
to a sink this script runs on loopback, which takes each OTLP/HTTP batch
and throws it away; the batches it got and the service's own counts
(``trace_spans_exported_total``, ``trace_spans_dropped_total``) are printed.
``--otlp both`` starts a second service on the same database (port + 1)
that exports while the first does not, runs every scenario against each in
turn within each round, and prints the ratio (docs/performance.md#traces):
interleaved, so a slow moment of a shared machine lands on both.

Exit status 0 when every request succeeded (no non-2xx, no socket errors),
the deep page is at least 0.95 x the first (cache off) and the key at least
0.85 x the token.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import benchlib as b

WRK_DIR = Path(__file__).resolve().parent / "wrk"
PASSWORD = "BenchPass123"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/perf", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_common_args(p, port=18090)
    p.add_argument("--posts", type=int, default=100_000, help="published posts to seed")
    p.add_argument("--scenarios", default="get_id list_first list_deep create_post",
                   help="space-separated, in order (create_post last: it adds rows)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--duration", type=int, default=10, help="seconds measured per scenario")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario")
    p.add_argument("--pg-sslmode", default="disable",
                   help="sslmode on the service's PostgreSQL URL ('' for the driver's default, prefer)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    p.add_argument("--deep-page", type=int, default=2000, help="the page list_deep reads")
    p.add_argument("--cache-ttl", type=int, default=0,
                   help="CACHE_TTL for the service (0 = the cache off, the default here)")
    p.add_argument("--cache-fill", type=int, default=0,
                   help="read this many distinct posts by id before the memory figure")
    p.add_argument("--otlp", choices=["off", "on", "both"], default="off",
                   help="export traces to an OTLP/HTTP sink on loopback (started by this script); "
                        "both: a second, exporting service beside the first, compared")
    return p.parse_args(argv)


def read_each(base: str, ids: list[str]) -> int:
    """GET every post in `ids` once over one keep-alive connection; the 200s."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    ok = 0
    try:
        for post_id in ids:
            conn.request("GET", f"/api/v1/posts/{post_id}")
            res = conn.getresponse()
            res.read()
            ok += res.status == 200
    finally:
        conn.close()
    return ok


class OtlpSink:
    """An OTLP/HTTP receiver that answers 200 to every POST /v1/traces and
    keeps nothing but counts (batches, bytes)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading

        sink = self
        self.batches = 0
        self.bytes = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                sink.batches += 1
                sink.bytes += length
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def trace_counts(base: str) -> dict:
    """The service's trace_spans_* counters from /metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as res:
        text = res.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("trace_spans_"):
            name, value = line.rsplit(" ", 1)
            counts[name] = float(value)
    return counts


def call(base: str, method: str, path: str, body=None, token=None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as res:
        return json.loads(res.read() or b"null")


def uuid7_at(at: datetime) -> uuid.UUID:
    """A UUID v7 for `at`: 48 bits of Unix milliseconds, then random bits."""
    millis = int(at.timestamp() * 1000)
    raw = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return uuid.UUID(bytes=bytes(raw))


BODY = "A sentence of the body of a seeded post. " * 12  # no quote: it goes into SQL as is


def seed_sqlite(path: Path, author: uuid.UUID, posts: int) -> None:
    """Inserts in the service's own SQLite encoding: UUIDs as 16-byte blobs,
    timestamps as RFC 3339 text with microseconds."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = sqlite3.connect(path)
    rows = []
    for i in range(1, posts + 1):
        at = now - timedelta(seconds=i)
        stamp = at.isoformat(timespec="microseconds")
        rows.append((uuid7_at(at).bytes, f"Seed post {i}", f"seed-post-{i}", BODY, 1,
                     author.bytes, stamp, stamp))
    db.executemany(
        "INSERT INTO posts (id, title, slug, body, published, author_id, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.execute("ANALYZE")
    db.close()


def seed_pg(url: str, author: uuid.UUID, posts: int) -> None:
    sql = f"""
    INSERT INTO posts (id, title, slug, body, published, author_id, created_at, updated_at)
    SELECT (lpad(to_hex(floor(extract(epoch FROM t.at) * 1000)::bigint), 12, '0') || '7'
            || substr(md5(random()::text), 1, 3) || to_hex(8 + floor(random() * 4)::int)
            || substr(md5(random()::text), 1, 15))::uuid,
           'Seed post ' || t.i, 'seed-post-' || t.i, '{BODY}', true, '{author}', t.at, t.at
    FROM (SELECT i, date_trunc('second', now()) - i * interval '1 second' AS at
          FROM generate_series(1, {posts}) AS i) AS t
    """
    # Two -c: VACUUM cannot run in the transaction a multi-statement -c is.
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql, "-c", "VACUUM ANALYZE posts"],
                   check=True)


def wrk(args, base: str, script: str, *script_args: str, seconds: int) -> list[float]:
    # "{run}" becomes a value of its own per call, so the measured run does not
    # repeat the slugs of its warm-up (each would be a 409).
    script_args = tuple(a.replace("{run}", uuid.uuid4().hex[:8]) for a in script_args)
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", script, base, *(["--", *script_args] if script_args else [])]
    out = subprocess.run(cmd, cwd=WRK_DIR, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("RESULT "):
            return [float(x) for x in line.split()[1:]]
    sys.exit(f"wrk printed no RESULT line:\n{out}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    args = parse_args()
    workdir = b.make_workdir("perf")
    database_url, cluster = b.database_for(args, workdir)
    service_url = database_url
    if args.db == "pg" and args.pg_sslmode:
        # The cluster is on this host: TLS would only add handshakes and
        # encryption (docs/performance.md#postgresql-and-tls).
        service_url = f"{database_url}?sslmode={args.pg_sslmode}"
    env = dict(RATE_LIMIT_PER_MINUTE="0", AUTH_RATE_LIMIT_PER_MINUTE="0", RUST_LOG="warn",
               BCRYPT_COST="12", STORAGE_URL=f"file://{workdir}/uploads", MAIL_DIR=str(workdir / "mail"),
               CACHE_TTL=str(args.cache_ttl))
    sink = OtlpSink() if args.otlp != "off" else None
    if args.otlp == "on":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.endpoint
    service = b.Service(Path(args.binary), args.port, service_url, workdir, env)
    traced = None  # the exporting twin, with --otlp both
    if args.otlp == "both":
        (workdir / "otlp").mkdir(exist_ok=True)
        traced = b.Service(Path(args.binary), args.port + 1, service_url, workdir / "otlp",
                           dict(env, OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint))
    ok = True
    try:
        b.heading(f"perf on {args.db}: {args.posts} posts, wrk {args.threads}x{args.connections}, "
                  f"{args.duration} s per scenario, {args.rounds} round(s)"
                  + (f", sslmode={args.pg_sslmode or 'prefer'}" if args.db == "pg" else "")
                  + f", cache {'CACHE_TTL=' + str(args.cache_ttl) if args.cache_ttl else 'off'}"
                  + {"off": "", "on": ", traces exported to a loopback OTLP sink",
                     "both": ", each scenario without and with traces exported to a loopback OTLP sink"}[args.otlp])
        service.start()
        base = service.base
        call(base, "POST", "/api/v1/auth/register",
             {"username": "bench", "email": "bench@example.com", "password": PASSWORD})
        token = call(base, "POST", "/api/v1/auth/login",
                     {"username": "bench", "password": PASSWORD})["access_token"]
        author = uuid.UUID(call(base, "GET", "/api/v1/users/me", token=token)["id"])
        service.stop()
        started = time.monotonic()
        if args.db == "pg":
            seed_pg(database_url, author, args.posts)
        else:
            seed_sqlite(workdir / "bench.db", author, args.posts)
        print(f"  seeded {args.posts} posts in {time.monotonic() - started:.1f} s", flush=True)

        started = time.monotonic()
        service.start()
        ready_ms = (time.monotonic() - started) * 1000
        if traced:
            traced.start()

        # 1 000 ids from the whole table, and the cursor of the deep page.
        ids, cursor, page, every = [], "", 0, []
        walk = {"get_id", "list_deep"} & set(args.scenarios.split()) or args.cache_fill
        while walk and page < args.deep_page:
            path = "/api/v1/posts?limit=20" + (f"&cursor={cursor}" if cursor else "")
            data = call(base, "GET", path)
            page += 1
            if len(every) < args.cache_fill:
                every.extend(p["id"] for p in data["data"])
            if page % max(1, args.deep_page // 50) == 0 or page <= 20:
                ids.extend(p["id"] for p in data["data"][:1])
            cursor = data["next_cursor"]
            if not cursor:
                sys.exit(f"only {page} pages: seed more posts than {args.deep_page * 20}")
        (workdir / "ids.txt").write_text("\n".join(ids) + "\n")
        (workdir / "cursor.txt").write_text(cursor)
        (workdir / "token.txt").write_text(token)
        (workdir / "bearer.txt").write_text(f"Bearer {token}")
        key = call(base, "POST", "/api/v1/users/me/api-keys",
                   {"name": "bench", "scopes": ["read"]}, token=token)["key"]
        (workdir / "key.txt").write_text(key)

        scripts = {
            "get_id": ("get_id.lua", str(workdir / "ids.txt")),
            "list_first": ("list.lua",),
            "list_deep": ("list.lua", str(workdir / "cursor.txt")),
            "create_post": ("create_post.lua", str(workdir / "token.txt"), "{run}"),
            "me_token": ("me.lua", "Authorization", str(workdir / "bearer.txt")),
            "me_key": ("me.lua", "X-API-Key", str(workdir / "key.txt")),
        }
        results = {}
        # (scenario, label, base URL): with --otlp both, each scenario runs
        # against the plain service, then against the exporting one.
        targets = []
        for name in args.scenarios.split():
            targets.append((name, name, base))
            if traced:
                targets.append((name, f"{name}+otlp", traced.base))
        runs = {label: [] for _, label, _ in targets}
        # Rounds interleave the scenarios (A B C D A B C D ...), so a slow
        # moment of a shared machine lands on all of them, not on one.
        for round_no in range(1, args.rounds + 1):
            print(f"\n  round {round_no}/{args.rounds}\n  {'scenario':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}",
                  flush=True)
            for name, label, url in targets:
                script, *rest = scripts[name]
                if args.warmup:
                    wrk(args, url, script, *rest, seconds=args.warmup)
                rps, p50, p99, non2xx, sockerr = wrk(args, url, script, *rest, seconds=args.duration)
                runs[label].append(dict(rps=rps, p50_ms=p50, p99_ms=p99, non2xx=int(non2xx),
                                        socket_errors=int(sockerr)))
                print(f"  {label:<17} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f}"
                      + (f"   [{int(non2xx)} non-2xx, {int(sockerr)} socket errors]" if non2xx or sockerr else ""),
                      flush=True)
                ok &= non2xx == 0 and sockerr == 0
        print(f"\n  medians of {args.rounds} round(s)\n  {'scenario':<17} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
        for name, done in runs.items():
            results[name] = {key: statistics.median(run[key] for run in done) for key in done[0]}
            r = results[name]
            print(f"  {name:<17} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}", flush=True)
        if args.cache_fill:
            started = time.monotonic()
            read = read_each(base, every[:args.cache_fill])
            print(f"\n  read {read} distinct posts by id in {time.monotonic() - started:.1f} s", flush=True)
            ok &= read == min(args.cache_fill, len(every))
        memory = rss_mib(service.proc.pid)
        b.heading("figures")
        if "list_first" in results and "list_deep" in results and not args.cache_ttl:
            ratio = results["list_deep"]["rps"] / results["list_first"]["rps"]
            b.line(f"page {args.deep_page} / page 1 (req/s)", f"{ratio:.2f}", ratio >= 0.95)
            ok &= ratio >= 0.95
            results["deep_over_first"] = ratio
        if "me_token" in results and "me_key" in results:
            ratio = results["me_key"]["rps"] / results["me_token"]["rps"]
            b.line("API key / bearer token on /users/me (req/s)", f"{ratio:.2f}", ratio >= 0.85)
            ok &= ratio >= 0.85
            results["key_over_token"] = ratio
        if traced:
            for name in args.scenarios.split():
                ratio = results[f"{name}+otlp"]["rps"] / results[name]["rps"]
                check = ratio >= 0.9 if name == "get_id" else None
                b.line(f"{name}: traces exported / not (req/s)", f"{ratio:.2f}", check)
                ok &= check is not False
                results[f"{name}_otlp_over_off"] = ratio
        if sink:
            time.sleep(6)  # one more batch delay: what was queued goes out
            counts = trace_counts(traced.base if traced else base)
            for name, value in sorted(counts.items()):
                b.line(name, f"{value:.0f}")
            b.line("OTLP batches / MiB the sink took", f"{sink.batches} / {sink.bytes / 2**20:.1f}")
            results.update(otlp=dict(counts, sink_batches=sink.batches, sink_bytes=sink.bytes))
        b.line("start-up to /health on the seeded database", f"{ready_ms:.0f} ms")
        b.line("resident memory after the runs"
               + (f" and {args.cache_fill} distinct reads" if args.cache_fill else ""), f"{memory:.1f} MiB")
        results.update(ready_ms=ready_ms, rss_mib=memory, db=args.db, posts=args.posts, ok=ok)
        b.write_json(args.json, results)
    finally:
        service.stop()
        if traced:
            traced.stop()
        if sink:
            sink.stop()
        if cluster:
            cluster.restore()
        b.finish_workdir(workdir, args.keep, ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
