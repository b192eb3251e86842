#!/usr/bin/env python3
"""Several instances on one database: what docs/scaling.md promises, shown.

Starts three instances of the service at once on one fresh PostgreSQL
database with one Redis, several times over, then drives the last three:

1. starts: every instance becomes ready, every round; the migrations are
   recorded once and the first admin exists once;
2. shared limits: 15 register/login requests from one client address, spread
   over the three, with AUTH_RATE_LIMIT_PER_MINUTE=5: 5 (at most 6) allowed;
3. Redis killed: every request still answered, no 5xx; each instance counts
   alone (21 requests, 7 to each: 5 allowed by each); one warning each;
4. Redis paused (SIGSTOP): requests still answered, none slower than
   REDIS_TIMEOUT_MS by much;
5. Redis back: the instances find it by themselves; shared again (5 of 15);
6. /metrics on each instance, with per-route counters;
7. a create with an Idempotency-Key, retried on the other instances: replayed
   (`Idempotent-Replayed: true`, the same Location), created once;
8. mail with three workers: 12 registrations spread over the three each get
   their welcome mail once, and no mail of the whole run arrives twice;
9. the cache: 24 writes to a post, each on one instance; the other two serve
   the new version within 100 ms (p99), and the reads in between are cache
   hits (`cache_hits_total`);
10. the cache and Redis: Redis killed (every instance notices and reads from
   the database), a write, Redis started (every instance subscribes again):
   no stale read, and writes travel again.

The instances sit behind no balancer: requests go to each in turn, and the
client address is set with X-Forwarded-For from 127.0.0.1, a trusted proxy
(TRUSTED_PROXIES), as a balancer would send it. Redis is a private
redis-server on its own port (the shared one on 6379 is never touched), so it
can be killed and paused. Mail goes to an SMTP sink in this script (on
--smtp-port), which keeps each message's Message-ID and recipient.

Usage: scripts/multi-instance.py [--rounds N] [--binary PATH] [--keep]
Needs: PostgreSQL at $CI_POSTGRES_URL (default
postgres://postgres@127.0.0.1:5432/postgres) with psql, redis-server, and a
debug build (`cargo build -p api`; done first unless --binary is given).
Python 3 standard library only. Exits 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import email
import http.client
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("CI_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
JWT_SECRET = "multi-instance-secret-multi-instance-secret-0123"
ADMIN = ("admin", "admin@example.com", "AdminPass1")
PASSWORD = "Passw0rd!x"
AUTH_LIMIT = 5
REDIS_TIMEOUT_MS = 250
ANSI = re.compile(r"\x1b\[[0-9;]*m")

failures: list[str] = []


def check(label: str, value, ok: bool) -> None:
    print(f"  {label:<58} {value}  {'[ok]' if ok else '[FAIL]'}", flush=True)
    if not ok:
        failures.append(label)


def info(label: str, value) -> None:
    print(f"  {label:<58} {value}", flush=True)


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


# --------------------------------------------------------------------------
# PostgreSQL, Redis and the instances


def psql(sql: str, url: str = PG_URL) -> str:
    out = subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def database_url(name: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Redis:
    """A private redis-server on its own port, no persistence."""

    def __init__(self, port: int, workdir: Path):
        self.port, self.workdir, self.proc = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.workdir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        sys.exit(f"redis-server on port {self.port} did not answer; see {self.workdir}/redis.log")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)


class SmtpSink:
    """Enough of an SMTP server for the service's mailer: accepts every
    message and keeps its Message-ID and To header."""

    def __init__(self, port: int):
        self.messages: list[tuple[str, str]] = []
        lock, messages = threading.Lock(), self.messages

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: bytes) -> None:
                self.wfile.write(line + b"\r\n")

            def handle(self) -> None:
                self.reply(b"220 sink ESMTP")
                while line := self.rfile.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        self.reply(b"354 end with <CRLF>.<CRLF>")
                        lines = []
                        while (part := self.rfile.readline()) and part.rstrip(b"\r\n") != b".":
                            lines.append(part)
                        message = email.message_from_bytes(b"".join(lines))
                        with lock:
                            messages.append((str(message["Message-ID"]), str(message["To"])))
                        self.reply(b"250 queued")
                    elif verb == b"QUIT":
                        self.reply(b"221 bye")
                        return
                    else:  # EHLO (no extensions), MAIL, RCPT, RSET, NOOP
                        self.reply(b"250 OK")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Session)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Instance:
    """One owned-api process with its own port and log."""

    def __init__(self, binary: Path, port: int, env: dict[str, str], log: Path):
        self.binary, self.port, self.env, self.log_path = binary, port, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_", "REDIS_", "RUST_BACKTRACE"))}
        env.update(self.env, PORT=str(self.port))
        log = open(self.log_path, "ab")
        # cwd: a directory of our own, so no .env is read.
        self.proc = subprocess.Popen([str(self.binary)], cwd=self.log_path.parent, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if request(self.port, "GET", "/ready", timeout=1)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self) -> list[str]:
        try:
            return [ANSI.sub("", line) for line in self.log_path.read_text(errors="replace").splitlines()]
        except FileNotFoundError:
            return []


def request(port: int, method: str, path: str, body=None, headers=None, timeout: float = 10.0):
    """One request on a new connection: (status, headers, parsed JSON or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        raw = res.read().decode(errors="replace")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return res.status, {k.lower(): v for k, v in res.getheaders()}, parsed
    finally:
        conn.close()


# --------------------------------------------------------------------------
# the phases


def auth_request(port: int, client: str, n: int):
    """Register (even n) or log in with a wrong password (odd n) as `client`."""
    headers = {"X-Forwarded-For": client}
    if n % 2 == 0:
        name = f"u{uuid.uuid4().hex[:12]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return request(port, "POST", "/api/v1/auth/register", body, headers)
    return request(port, "POST", "/api/v1/auth/login", {"username": "nobody", "password": "Wrong1234"}, headers)


def burst(instances: list[Instance], client: str, per_instance: int) -> dict:
    """`per_instance` auth requests to each instance in turn, from `client`."""
    statuses, allowed_by, slowest = [], [0] * len(instances), 0.0
    for n in range(per_instance * len(instances)):
        i = n % len(instances)
        started = time.monotonic()
        try:
            status = auth_request(instances[i].port, client, n)[0]
        except OSError as e:
            status = f"error: {e}"
        slowest = max(slowest, time.monotonic() - started)
        statuses.append(status)
        if status != 429:
            allowed_by[i] += 1
    return {
        "sent": len(statuses),
        "allowed": sum(1 for s in statuses if s != 429),
        "limited": statuses.count(429),
        "5xx or no answer": sum(1 for s in statuses if not isinstance(s, int) or s >= 500),
        "allowed by instance": allowed_by,
        "slowest": slowest,
        "statuses": statuses,
    }


def redis_up_gauges(instances: list[Instance]) -> list[str]:
    values = []
    for inst in instances:
        text = request(inst.port, "GET", "/metrics")[2]
        m = re.search(r"^rate_limit_redis_up (\S+)$", text, re.M)
        values.append(m.group(1) if m else "absent")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="simultaneous starts on fresh databases (5)")
    parser.add_argument("--binary", type=Path, help="owned-api to run (default: build the debug one)")
    parser.add_argument("--ports", type=int, default=18291, help="first of three HTTP ports (18291)")
    parser.add_argument("--redis-port", type=int, default=16390, help="the private Redis's port (16390)")
    parser.add_argument("--smtp-port", type=int, default=16391, help="the SMTP sink's port (16391)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs) on success")
    args = parser.parse_args()

    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--quiet", "-p", "api"], cwd=ROOT, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
        binary = (target if target.is_absolute() else ROOT / target) / "debug" / "owned-api"
    ports = [args.ports + i for i in range(3)]
    for port in ports + [args.redis_port, args.smtp_port]:
        if not port_free(port):
            sys.exit(f"port {port} is taken; choose others with --ports / --redis-port / --smtp-port")
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (Debian package redis-server)")

    workdir = Path(tempfile.mkdtemp(prefix="multi-instance-"))
    run = uuid.uuid4().hex[:8]
    databases: list[str] = []
    instances: list[Instance] = []
    redis = Redis(args.redis_port, workdir)
    smtp = SmtpSink(args.smtp_port)
    started_at = time.monotonic()
    try:
        redis.start()
        common_env = {
            "HOST": "127.0.0.1", "JWT_SECRET": JWT_SECRET, "BCRYPT_COST": "4",
            "FIRST_ADMIN_USERNAME": ADMIN[0], "FIRST_ADMIN_EMAIL": ADMIN[1], "FIRST_ADMIN_PASSWORD": ADMIN[2],
            "AUTH_RATE_LIMIT_PER_MINUTE": str(AUTH_LIMIT), "RATE_LIMIT_PER_MINUTE": "6000",
            "TRUSTED_PROXIES": "127.0.0.1", "REDIS_URL": redis.url, "REDIS_KEY_PREFIX": f"multi-{run}:",
            "REDIS_TIMEOUT_MS": str(REDIS_TIMEOUT_MS), "SHUTDOWN_DRAIN": "0", "WORKERS": "2",
            "LOG_FORMAT": "text", "NO_COLOR": "1", "RUST_LOG": "info,sqlx=warn,sea_orm=warn",
            "SMTP_URL": smtp.url, "MAIL_POLL_INTERVAL_MS": "50",
        }

        heading(f"1. three instances started at once on a fresh database, {args.rounds} times")
        ready_rounds = 0
        for rnd in range(1, args.rounds + 1):
            name = f"multi_{run}_{rnd}"
            psql(f"CREATE DATABASE {name}")
            databases.append(name)
            env = dict(common_env, DATABASE_URL=database_url(name))
            instances = [Instance(binary, port, env, workdir / f"round{rnd}-instance{i + 1}.log")
                         for i, port in enumerate(ports)]
            t0 = time.monotonic()
            for inst in instances:
                inst.start()
            ready = [inst.wait_ready() for inst in instances]
            took = time.monotonic() - t0
            logs = [inst.log() for inst in instances]
            admins_created = sum(1 for log in logs for line in log if "created the first admin" in line)
            waited = sum(1 for log in logs for line in log if "another instance is migrating" in line)
            migrations = psql("SELECT count(*) || ' rows, ' || count(DISTINCT version) || ' versions' "
                              "FROM seaql_migrations", database_url(name))
            admins = psql("SELECT count(*) FROM users WHERE username = 'admin'", database_url(name))
            ok = all(ready) and admins_created == 1 and admins == "1" and migrations.split()[0] == migrations.split()[2]
            ready_rounds += all(ready)
            check(f"round {rnd}", f"ready {sum(ready)}/3 in {took:.1f} s; {waited} waited for the migration lock; "
                  f"admin created {admins_created}×; seaql_migrations {migrations}; admins {admins}", ok)
            for inst, is_ready in zip(instances, ready):
                if not is_ready:
                    log = inst.log()
                    at = next((n for n, line in enumerate(log) if line.startswith("Error")), max(0, len(log) - 3))
                    why = " ".join(line.strip() for line in log[at:at + 4] if line.strip())
                    print(f"    instance on {inst.port} exited {inst.proc.poll()}: {why[:300]}")
            if rnd < args.rounds:
                for inst in instances:
                    inst.stop()
        check("rounds in which all three became ready", f"{ready_rounds}/{args.rounds}", ready_rounds == args.rounds)
        if all(inst.proc.poll() is None for inst in instances):
            drive(instances, redis, smtp, database_url(databases[-1]), run)
        else:
            check("the last round's instances run, for the checks that follow", "no", False)
    finally:
        for inst in instances:
            inst.stop()
        if redis.proc and redis.proc.poll() is None:
            redis.resume()
        redis.kill()
        smtp.stop()
        for name in databases:
            try:
                psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            except subprocess.CalledProcessError as e:
                print(f"could not drop {name}: {e.stderr}", file=sys.stderr)

    print(f"\n{'PASS' if not failures else 'FAIL: ' + '; '.join(failures)} "
          f"in {time.monotonic() - started_at:.0f} s")
    if failures or args.keep:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


def drive(instances: list[Instance], redis: Redis, smtp: SmtpSink, db_url: str, run: str) -> None:
    """Phases 2 to 8 on three running instances; `db_url` is their database."""
    ports = [inst.port for inst in instances]

    heading(f"2. shared limits: 15 register/login from one address over 3 instances, limit {AUTH_LIMIT}/min")
    r = burst(instances, "203.0.113.10", 5)
    info("statuses", r["statuses"])
    check("allowed in all (limit 5, at most 6)", f"{r['allowed']} of {r['sent']}", AUTH_LIMIT <= r["allowed"] <= AUTH_LIMIT + 1)
    check("5xx or no answer", r["5xx or no answer"], r["5xx or no answer"] == 0)

    heading("3. Redis killed: 21 requests from a new address, 7 to each instance")
    redis.kill()
    r = burst(instances, "203.0.113.20", 7)
    info("statuses", r["statuses"])
    check("allowed by each instance (each counts alone: 5)", r["allowed by instance"], r["allowed by instance"] == [AUTH_LIMIT] * 3)
    check("5xx or no answer", r["5xx or no answer"], r["5xx or no answer"] == 0)
    info("slowest answer", f"{r['slowest'] * 1000:.0f} ms")
    reads = [request(inst.port, "GET", "/api/v1/posts")[0] for inst in instances]
    check("GET /api/v1/posts on each", reads, reads == [200] * 3)
    warnings = [sum(1 for line in inst.log() if "Redis is unavailable" in line) for inst in instances]
    check("warnings logged by each instance", warnings, warnings == [1] * 3)
    gauges = redis_up_gauges(instances)
    check("rate_limit_redis_up on each", gauges, gauges == ["0"] * 3)

    heading("4. Redis back: the instances find it again by themselves")
    redis.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15 and redis_up_gauges(instances) != ["1"] * 3:
        time.sleep(0.1)
    gauges = redis_up_gauges(instances)
    check("rate_limit_redis_up on each", f"{gauges} after {time.monotonic() - t0:.1f} s", gauges == ["1"] * 3)
    r = burst(instances, "203.0.113.30", 5)
    info("statuses", r["statuses"])
    check("allowed in all, shared again (limit 5, at most 6)", f"{r['allowed']} of {r['sent']}", AUTH_LIMIT <= r["allowed"] <= AUTH_LIMIT + 1)
    check("5xx or no answer", r["5xx or no answer"], r["5xx or no answer"] == 0)
    back = [sum(1 for line in inst.log() if "Redis answers again" in line) for inst in instances]
    info("'Redis answers again' logged by each instance", back)

    heading(f"5. Redis paused (SIGSTOP): answers within REDIS_TIMEOUT_MS ({REDIS_TIMEOUT_MS} ms) and a little")
    redis.pause()
    try:
        r = burst(instances, "203.0.113.40", 3)
    finally:
        redis.resume()
    info("statuses", r["statuses"])
    check("5xx or no answer", r["5xx or no answer"], r["5xx or no answer"] == 0)
    check("slowest answer", f"{r['slowest'] * 1000:.0f} ms", r["slowest"] < REDIS_TIMEOUT_MS / 1000 + 1.0)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 15 and redis_up_gauges(instances) != ["1"] * 3:
        time.sleep(0.1)
    gauges = redis_up_gauges(instances)
    check("rate_limit_redis_up on each after SIGCONT", f"{gauges} after {time.monotonic() - t0:.1f} s", gauges == ["1"] * 3)

    heading("6. /metrics on each instance")
    for i, inst in enumerate(instances, 1):
        status, headers, text = request(inst.port, "GET", "/metrics")
        logins = sum(float(m.group(1)) for m in re.finditer(
            r'^http_requests_total\{[^}]*route="/api/v1/auth/login"[^}]*\} (\S+)$', text, re.M))
        registers = sum(float(m.group(1)) for m in re.finditer(
            r'^http_requests_total\{[^}]*route="/api/v1/auth/register"[^}]*\} (\S+)$', text, re.M))
        series = len(re.findall(r"^http_requests_total\{", text, re.M))
        pool = re.search(r"^db_pool_connections (\S+)$", text, re.M)
        check(f"instance {i}: {status} {headers.get('content-type', '').split(';')[0]}; "
              f"db_pool_connections {pool.group(1) if pool else '-'}",
              f"login {logins:.0f}, register {registers:.0f}, {series} series", status == 200 and logins > 0 and registers > 0)

    heading("7. a create with an Idempotency-Key, retried on the other instances")
    client = {"X-Forwarded-For": "203.0.113.50"}
    name = f"idem{run}"
    status = request(ports[0], "POST", "/api/v1/auth/register",
                     {"username": name, "email": f"{name}@example.com", "password": PASSWORD}, client)[0]
    status_login, _, body = request(ports[0], "POST", "/api/v1/auth/login", {"username": name, "password": PASSWORD}, client)
    check("register and log in on instance 1", [status, status_login], [status, status_login] == [201, 200])
    auth = dict(client, Authorization=f"Bearer {body.get('access_token', '') if isinstance(body, dict) else ''}",
                **{"Idempotency-Key": f"multi-{run}"})
    post = {"title": f"Posted once {run}", "body": "Through three instances", "published": True}
    answers = [request(port, "POST", "/api/v1/posts", post, auth) for port in ports]
    first = answers[0]
    check("instance 1: created", f"{first[0]} Location {first[1].get('location')}", first[0] == 201)
    for i, (status, headers, _) in enumerate(answers[1:], 2):
        check(f"instance {i}: replayed, same Location",
              f"{status} Idempotent-Replayed: {headers.get('idempotent-replayed')}",
              status == 201 and headers.get("idempotent-replayed") == "true"
              and headers.get("location") == first[1].get("location"))
    listed = request(ports[2], "GET", f"/api/v1/posts?author={name}")[2]
    count = len(listed.get("data", [])) if isinstance(listed, dict) else -1
    check("posts by that user", count, count == 1)

    heading("8. mail with three workers: 12 registrations over the three instances")
    names = [f"mail{run}{i}" for i in range(12)]
    statuses = [request(ports[i % 3], "POST", "/api/v1/auth/register",
                        {"username": name, "email": f"{name}@example.com", "password": PASSWORD},
                        {"X-Forwarded-For": f"203.0.113.{60 + i}"})[0]
                for i, name in enumerate(names)]
    check("registered", statuses, statuses == [201] * len(names))
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30 and psql("SELECT count(*) FROM outbox WHERE state = 'pending'", db_url) != "0":
        time.sleep(0.1)
    states = psql("SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM "
                  "(SELECT state, count(*) AS n FROM outbox GROUP BY state) AS s", db_url)
    check("outbox after the workers", f"{states} after {time.monotonic() - t0:.1f} s", "pending" not in states)
    delivered = list(smtp.messages)
    welcomes = [sum(1 for _, to in delivered if f"{name}@example.com" in to) for name in names]
    check("welcome mails delivered per new user", welcomes, welcomes == [1] * len(names))
    # A Message-ID is <outbox id@domain>: each sent row of this database must
    # have arrived exactly once (the sink also holds the earlier rounds' mail).
    arrived: dict[str, int] = {}
    for message_id, _ in delivered:
        key = message_id.strip("<>").split("@")[0]
        arrived[key] = arrived.get(key, 0) + 1
    sent = psql("SELECT string_agg(id::text, ' ') FROM outbox WHERE state = 'sent'", db_url).split()
    times = [arrived.get(row, 0) for row in sent]
    check("outbox rows sent; of them arrived once, twice or more, never",
          f"{len(sent)}; {times.count(1)}, {sum(1 for t in times if t > 1)}, {times.count(0)}",
          len(sent) > 0 and times == [1] * len(sent))
    check("any mail arrived twice (all rounds)", max(arrived.values(), default=0) > 1,
          max(arrived.values(), default=0) <= 1)
    senders = [sum(1 for line in inst.log() if "mail sent" in line) for inst in instances]
    info("mail sent by each instance", senders)

    heading(f"9. the cache: a write on one instance, read on the other two ({CACHE_WRITES} writes)")
    cache_phase(instances, redis, run)

    heading("stopping")
    codes = [inst.stop() for inst in instances]
    check("exit codes after SIGTERM", codes, codes == [0] * 3)


CACHE_WRITES = 24
READS_BETWEEN = 5


def metric_sum(port: int, name: str, label: str = "") -> float:
    """The sum of the series of counter `name` whose labels contain `label`
    (without a label, of every series of it)."""
    text = request(port, "GET", "/metrics")[2]
    labels = rf'\{{[^}}]*{re.escape(label)}[^}}]*\}}' if label else r'(?:\{[^}]*\})?'
    return sum(float(m.group(1)) for m in re.finditer(
        rf'^{name}{labels} (\S+)$', text if isinstance(text, str) else "", re.M))


def wait_for_drops(port: int, at_least: float, timeout: float = 5.0) -> bool:
    """Waits until `port` has applied `at_least` drops from the others."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if metric_sum(port, "cache_drops_received_total") >= at_least:
            return True
        time.sleep(0.005)
    return False


_reads = iter(range(10**9))


def title_on(port: int, path: str) -> str | None:
    # Reads come from many client addresses, so the general rate limit
    # (RATE_LIMIT_PER_MINUTE per address) never answers one of them.
    client = {"X-Forwarded-For": f"198.51.100.{next(_reads) % 250 + 1}"}
    status, _, body = request(port, "GET", path, headers=client)
    return body.get("title") if status == 200 and isinstance(body, dict) else None


def wait_for_title(port: int, path: str, title: str, timeout: float = 5.0) -> float | None:
    """Seconds until `port` serves `title` at `path`, polling as fast as it answers."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if title_on(port, path) == title:
            return time.monotonic() - t0
    return None


def log_count(inst: Instance, text: str) -> int:
    return sum(1 for line in inst.log() if text in line)


def wait_for_log(instances: list[Instance], text: str, before: list[int], timeout: float) -> tuple[bool, float]:
    """Waits until each instance has logged `text` more times than `before`;
    (whether all did, seconds waited)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if all(log_count(inst, text) > n for inst, n in zip(instances, before)):
            return True, time.monotonic() - t0
        time.sleep(0.05)
    return all(log_count(inst, text) > n for inst, n in zip(instances, before)), time.monotonic() - t0


def cache_phase(instances: list[Instance], redis: Redis, run: str) -> None:
    """Freshness across instances within 100 ms (p99) while the reads in
    between are cache hits; then Redis stopped and started: no stale read."""
    ports = [inst.port for inst in instances]
    client = {"X-Forwarded-For": "203.0.113.90"}
    name = f"cache{run}"
    request(ports[0], "POST", "/api/v1/auth/register",
            {"username": name, "email": f"{name}@example.com", "password": PASSWORD}, client)
    body = request(ports[0], "POST", "/api/v1/auth/login", {"username": name, "password": PASSWORD}, client)[2]
    auth = dict(client, Authorization=f"Bearer {body.get('access_token', '') if isinstance(body, dict) else ''}")
    status, _, post = request(ports[0], "POST", "/api/v1/posts",
                              {"title": "v0", "body": "Cached", "published": True}, auth)
    check("a post to change", status, status == 201)
    path = f"/api/v1/posts/{post.get('id') if isinstance(post, dict) else ''}"
    for port in ports:
        title_on(port, path)

    delays: list[float] = []
    missed = 0
    # A reader may fetch the new row after the write committed but before
    # the write's drop reaches it: it stores the new row and the drop then
    # takes it out (one extra miss, never a stale answer). So the reads in
    # between start once the reader has applied every drop sent to it, and
    # after one read that fills the cache again.
    received = {port: metric_sum(port, "cache_drops_received_total") for port in ports}
    reads_between = fresh_reads = hits = 0
    for i in range(1, CACHE_WRITES + 1):
        writer = ports[i % 3]
        title = f"v{i}"
        status = request(writer, "PATCH", path, {"title": title}, auth)[0]
        if status != 200:
            missed += 1
            continue
        for port in ports:
            if port == writer:
                continue
            received[port] += 1  # a PATCH of one post sends one drop
            took = wait_for_title(port, path, title)
            if took is None or not wait_for_drops(port, received[port]):
                missed += 1
                continue
            delays.append(took)
            title_on(port, path)
            hits_before = metric_sum(port, "cache_hits_total", 'kind="post"')
            for _ in range(READS_BETWEEN):
                reads_between += 1
                fresh_reads += title_on(port, path) == title
            hits += metric_sum(port, "cache_hits_total", 'kind="post"') - hits_before
    delays.sort()
    p99 = delays[max(0, int(len(delays) * 0.99 + 0.5) - 1)] if delays else float("inf")
    check("writes seen, and their drops applied, on the other two (or not within 5 s)",
          f"{len(delays)} seen, {missed} not", missed == 0 and len(delays) == 2 * CACHE_WRITES)
    check("time to the new version on another instance, p50 / p99 (at most 100 ms)",
          f"{delays[len(delays) // 2] * 1000:.1f} / {p99 * 1000:.1f} ms" if delays else "-", p99 <= 0.1)
    check("the reads in between served the new version, and were cache hits",
          f"{fresh_reads} of {reads_between}; {hits:.0f} hits",
          reads_between == 2 * CACHE_WRITES * READS_BETWEEN
          and fresh_reads == reads_between and hits == reads_between)

    heading("10. the cache with Redis stopped, written to, and started again")
    lost = "lost the cache's Redis subscription"
    before = [log_count(inst, lost) for inst in instances]
    redis.kill()
    seen, took = wait_for_log(instances, lost, before, 10)
    check("each instance saw its subscription go", f"after {took:.2f} s", seen)
    status = request(ports[0], "PATCH", path, {"title": "during the outage"}, auth)[0]
    seen = [title_on(port, path) for port in ports]
    check("a write while Redis is down is read on every instance", seen,
          status == 200 and seen == ["during the outage"] * 3)
    subscribed = "cache drops travel through Redis"
    before = [log_count(inst, subscribed) for inst in instances]
    redis.start()
    seen, took = wait_for_log(instances, subscribed, before, 15)
    check("each instance subscribed again", f"after {took:.2f} s", seen)
    seen = [title_on(port, path) for port in ports]
    check("no stale read after the restart", seen, seen == ["during the outage"] * 3)
    status = request(ports[1], "PATCH", path, {"title": "after the restart"}, auth)[0]
    took = [wait_for_title(port, path, "after the restart") for port in (ports[0], ports[2])]
    check("a write after the restart reaches the others (ms)",
          [round(t * 1000, 1) if t is not None else None for t in took],
          status == 200 and all(t is not None and t <= 0.1 for t in took))


if __name__ == "__main__":
    sys.exit(main())
