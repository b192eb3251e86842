"""Shared pieces of the load and fault scripts in bench/.

- ``Service``: starts the release binary (``owned-api``) on 127.0.0.1 with its
  own port and database, waits for ``/health``, stops it with SIGTERM.
- ``BenchCluster``: a PRIVATE PostgreSQL cluster (default ``15/bench`` on port
  5433), created on first use with trust auth for local connections. The
  shared cluster on 5432 is never touched.
- ``run_load``: the mixed workload (creates, reads by id, list pages) over N
  concurrent connections, bounded in request count and in time.
- ``verify_writes``: GETs every id acknowledged with 201 (lost writes).
- small statistics and printing helpers.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Callable

import aiohttp

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DEFAULT_BINARY = REPO_DIR / "target" / "release" / "owned-api"
JWT_SECRET = "bench-secret-bench-secret-bench-secret-0123456789"
PASSWORD = "BenchPass123"
API = "/api/v1"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SERVICE_SETTINGS = {
    "HOST", "PORT", "DATABASE_URL", "JWT_SECRET", "ACCESS_TOKEN_TTL", "BCRYPT_COST", "FIRST_ADMIN_USERNAME",
    "FIRST_ADMIN_EMAIL", "FIRST_ADMIN_PASSWORD", "DB_MAX_CONNECTIONS", "DB_ACQUIRE_TIMEOUT", "WORKERS",
    "AUTH_RATE_LIMIT_PER_MINUTE", "RATE_LIMIT_PER_MINUTE", "CORS_ALLOWED_ORIGINS", "LOG_FORMAT",
    "SHUTDOWN_TIMEOUT", "SLOW_QUERY_MS", "RUST_LOG", "REDIS_URL", "REDIS_KEY_PREFIX", "REDIS_TIMEOUT_MS",
    "REFRESH_TOKEN_TTL", "PASSWORD_RESET_TTL", "SMTP_URL", "MAIL_FROM", "MAIL_DIR", "PUBLIC_URL",
    "MAIL_RETRY_MAX_DELAY", "MAIL_MAX_ATTEMPTS", "MAIL_POLL_INTERVAL_MS", "STORAGE_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
}


# --------------------------------------------------------------------------
# statistics and printing


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def ms(v: float | None) -> str:
    """Seconds as milliseconds text, or '-'."""
    return "-" if v is None else f"{v * 1000:.1f} ms"


def secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def line(label: str, value, verdict: bool | None = None) -> None:
    """Prints one aligned figure; verdict True/False adds [ok]/[FAIL]."""
    mark = "" if verdict is None else ("  [ok]" if verdict else "  [FAIL]")
    print(f"  {label:<38} {value}{mark}", flush=True)


def counts_text(c: Counter) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(c.items(), key=lambda kv: str(kv[0]))) or "-"


def write_json(path: str | None, data: dict) -> None:
    """Writes the machine-readable result (used by run-all)."""
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))


def free_port(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as the service does: TIME_WAIT is fine
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# --------------------------------------------------------------------------
# the service process


class Service:
    """One ``owned-api`` process with its own port, database and log file."""

    def __init__(self, binary: Path, port: int, database_url: str, workdir: Path, env: dict[str, str]):
        self.binary = Path(binary)
        self.port = port
        self.database_url = database_url
        self.workdir = workdir
        self.log_path = workdir / "service.log"
        self.extra_env = env
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        if not self.binary.exists():
            sys.exit(f"no binary at {self.binary}: run `cargo build --release -p api` in {REPO_DIR}")
        if not free_port(self.port):
            sys.exit(f"port {self.port} is taken; pick another with --port")
        # the service's own settings come from this script only, never from the caller's shell
        env = {k: v for k, v in os.environ.items() if k not in SERVICE_SETTINGS}
        env.update(
            HOST="127.0.0.1",
            PORT=str(self.port),
            DATABASE_URL=self.database_url,
            JWT_SECRET=JWT_SECRET,
            LOG_FORMAT="text",
            NO_COLOR="1",
        )
        env.update(self.extra_env)
        self._log = open(self.log_path, "ab")
        # cwd = workdir, so a stray .env in the repo is not read.
        self.proc = subprocess.Popen(
            [str(self.binary)], cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"service exited with {self.proc.returncode} at start; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    if b" 200 " in s.recv(64):
                        return
            except OSError:
                pass
            time.sleep(0.01)  # fine enough to time start-up to 10 ms
        self.kill()
        sys.exit(f"service did not answer /health within {timeout:.0f} s; see {self.log_path}")

    def terminate(self) -> float:
        """Sends SIGTERM; returns the monotonic time it was sent."""
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        return t

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.terminate()
            if self.wait(timeout) is None:
                self.kill()
        if self._log:
            self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_text(self) -> list[str]:
        """The service log's lines, without terminal colour codes."""
        try:
            return [ANSI.sub("", ln) for ln in self.log_path.read_text(errors="replace").splitlines()]
        except FileNotFoundError:
            return []


def make_workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"owned-bench-{name}-"))


def finish_workdir(workdir: Path, keep: bool, ok: bool) -> None:
    """Removes the temp dir unless asked to keep it or a check failed."""
    if keep or not ok:
        print(f"\n  files (service log, database) kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------
# the private PostgreSQL cluster


class BenchCluster:
    """A private cluster managed with pg_createcluster / pg_ctlcluster.

    Refuses to act on port 5432 or on the cluster called ``main``.
    """

    def __init__(self, name: str = "bench", port: int = 5433, version: str | None = None):
        if port == 5432 or name == "main":
            sys.exit("refusing to use the shared PostgreSQL cluster (main, port 5432)")
        self.name = name
        self.port = port
        self.version = version or self._newest_version()
        self.was_online: bool | None = None

    @staticmethod
    def _newest_version() -> str:
        try:
            versions = [v for v in os.listdir("/etc/postgresql") if v.replace(".", "").isdigit()]
        except FileNotFoundError:
            sys.exit("no /etc/postgresql: install PostgreSQL (apt-get install postgresql)")
        return max(versions, key=lambda v: float(v))

    def url(self, db: str = "bench") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def _status(self) -> str | None:
        """'online', 'down' or None when the cluster does not exist."""
        out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
        for row in out.splitlines():
            f = row.split()
            if len(f) >= 4 and f[0] == self.version and f[1] == self.name:
                if f[2] != str(self.port):
                    sys.exit(f"cluster {self.version}/{self.name} exists on port {f[2]}, not {self.port}")
                return f[3]
        return None

    def ensure(self) -> None:
        """Creates the cluster if missing (trust auth for local connections) and starts it."""
        status = self._status()
        if status is None:
            print(f"  creating PostgreSQL cluster {self.version}/{self.name} on port {self.port}", flush=True)
            subprocess.run(
                ["pg_createcluster", self.version, self.name, "--port", str(self.port)],
                check=True, stdout=subprocess.DEVNULL,
            )
            hba = Path(f"/etc/postgresql/{self.version}/{self.name}/pg_hba.conf")
            hba.write_text(
                "# bench cluster (bench/benchlib.py): trust on local connections only\n"
                "local all all trust\n"
                "host all all 127.0.0.1/32 trust\n"
                "host all all ::1/128 trust\n"
            )
            status = "down"
        self.was_online = status.startswith("online")
        if not self.was_online:
            self.start()

    def _ctl(self, action: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        """Fast shutdown (the default): open sessions are disconnected."""
        self._ctl("stop")

    def is_online(self) -> bool:
        return (self._status() or "").startswith("online")

    def fresh_database(self, db: str = "bench") -> str:
        """Drops and creates ``db``; returns its URL."""
        psql = ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-qtA"]
        subprocess.run(psql + ["-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'], check=True)
        subprocess.run(psql + ["-c", f'CREATE DATABASE "{db}"'], check=True)
        return self.url(db)

    def restore(self) -> None:
        """Leaves the cluster as it was found: stops it unless it was already running."""
        if self.was_online is False and self.is_online():
            self.stop()
        elif self.was_online and not self.is_online():
            self.start()


def add_common_args(p, port: int, db_default: str = "sqlite") -> None:
    """Arguments every script takes."""
    p.add_argument("--binary", default=str(DEFAULT_BINARY), help="the owned-api binary (release build)")
    p.add_argument("--port", type=int, default=port, help="port for the service this script starts")
    p.add_argument("--db", choices=["sqlite", "pg"], default=db_default,
                   help="SQLite file in a temp dir, or the private PostgreSQL cluster")
    p.add_argument("--pg-port", type=int, default=5433, help="port of the private PostgreSQL cluster")
    p.add_argument("--pg-cluster", default="bench", help="name of the private PostgreSQL cluster")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (service log, SQLite file)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")


def database_for(args, workdir: Path) -> tuple[str, BenchCluster | None]:
    """The DATABASE_URL for this run (a fresh database) and the cluster, if any."""
    if args.db == "sqlite":
        return f"sqlite://{workdir}/bench.db", None
    cluster = BenchCluster(args.pg_cluster, args.pg_port)
    cluster.ensure()
    return cluster.fresh_database("bench"), cluster


# --------------------------------------------------------------------------
# HTTP


def connector(limit: int) -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ttl_dns_cache=None)


def error_kind(exc: BaseException) -> str:
    """A short name for a failed request: refused, disconnected, timeout, …"""
    if isinstance(exc, aiohttp.ClientConnectorError):
        if getattr(exc, "os_error", None) is not None and exc.os_error.errno == errno.ECONNREFUSED:
            return "refused"
        return "connect-error"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "disconnected"
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return "timeout"
    if isinstance(exc, aiohttp.ClientOSError):
        if exc.errno == errno.ECONNRESET:
            return "reset"
        if exc.errno == errno.EPIPE or "Cannot write" in str(exc):
            return "write-failed"
        return "os-error"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "incomplete-body"
    return type(exc).__name__


@dataclasses.dataclass
class User:
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def register_users(session: aiohttp.ClientSession, base: str, n: int, prefix: str = "bench") -> list[User]:
    """Registers ``n`` users and logs each in (tokens for the load)."""
    users = []
    tag = uuid.uuid4().hex[:6]
    for i in range(n):
        name = f"{prefix}{tag}{i}"
        async with session.post(f"{base}{API}/auth/register",
                                json={"username": name, "email": f"{name}@example.com", "password": PASSWORD}) as r:
            if r.status != 201:
                sys.exit(f"register {name}: HTTP {r.status} {await r.text()}")
        async with session.post(f"{base}{API}/auth/login", json={"username": name, "password": PASSWORD}) as r:
            if r.status != 200:
                sys.exit(f"login {name}: HTTP {r.status} {await r.text()}")
            users.append(User(name, (await r.json())["access_token"]))
    return users


@dataclasses.dataclass
class Req:
    """One request of the load: what, when (monotonic), and how it ended."""
    kind: str               # create | read | list
    start: float
    end: float = 0.0
    status: int | None = None   # None: no complete response
    error: str | None = None    # error_kind() when status is None
    rid: str = ""               # the X-Request-Id sent (the service logs it)
    sent: float | None = None   # when its headers were written to the socket
    detail: str = ""            # the client error's message
    title: str = ""             # a create's title (to look for it in the database)
    path: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start

    @property
    def outcome(self) -> str:
        return str(self.status) if self.status is not None else self.error


@dataclasses.dataclass
class LoadResult:
    reqs: list[Req]
    acked: dict[str, int]   # post id acknowledged with 201 -> index of its author
    started: float
    ended: float

    @property
    def wall(self) -> float:
        return self.ended - self.started

    def statuses(self, reqs: list[Req] | None = None) -> Counter:
        return Counter(r.outcome for r in (self.reqs if reqs is None else reqs))

    def responses(self) -> list[Req]:
        return [r for r in self.reqs if r.status is not None]


class RawConn:
    """A minimal HTTP/1.1 keep-alive client connection for the sigterm scenario.

    aiohttp buffers a request's headers and writes them later, so it cannot
    tell when a request is really on the wire. Here a request is written with
    one ``transport.write`` (which hands the bytes to the kernel at once when
    the buffer is empty) and ``Req.sent`` is set right after, only once the
    transport's buffer is empty. No retries: a request on a connection the
    server closes fails as it is.
    """

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None,
                      req: "Req") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        try:
            self.writer.write(data)
            if self.writer.transport.get_write_buffer_size():
                await self.writer.drain()
            req.sent = time.monotonic()
            status_line = await self.reader.readuntil(b"\r\n")
            status = int(status_line.split()[1])
            length, close = 0, False
            while True:
                ln = await self.reader.readuntil(b"\r\n")
                if ln == b"\r\n":
                    break
                k, _, v = ln.decode("latin-1").partition(":")
                k, v = k.strip().lower(), v.strip().lower()
                if k == "content-length":
                    length = int(v)
                elif k == "connection" and v == "close":
                    close = True
                elif k == "transfer-encoding":
                    raise RuntimeError("chunked responses are not supported by RawConn")
            payload = await self.reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, payload


def raw_error_kind(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "disconnected"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "write-failed"
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    return type(exc).__name__


async def _create(session, base, users, uidx, kind_rng, req: "Req | None" = None) -> tuple[int, str | None]:
    title = f"Bench {uuid.uuid4().hex}"
    body = {"title": title, "body": "load " * kind_rng.randint(1, 40), "published": kind_rng.random() < 0.8}
    headers = {**users[uidx].auth, "X-Request-Id": req.rid if req else uuid.uuid4().hex}
    if req:
        req.title = title
    async with session.post(f"{base}{API}/posts", json=body, headers=headers, trace_request_ctx=req) as r:
        data = await r.read()
        pid = None
        if r.status == 201:
            pid = json.loads(data)["id"]
        return r.status, pid


async def run_load(
    base: str,
    users: list[User],
    total: int = 10_000,
    concurrency: int = 64,
    mix: tuple[float, float, float] = (0.4, 0.4, 0.2),
    seed_posts: int = 20,
    time_limit: float = 300.0,
    request_timeout: float = 30.0,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
    raw_port: int | None = None,
) -> LoadResult:
    """Runs ``total`` mixed requests over ``concurrency`` connections.

    ``mix`` is the share of creates, reads by id (of posts acknowledged so far,
    read with the author's token) and list pages (``GET /posts?limit=20``).
    Stops issuing requests after ``time_limit`` seconds. ``progress`` is called
    with the number of finished requests after each one. With ``raw_port`` each
    worker uses its own ``RawConn`` (exact "sent" times, no retries) instead of
    aiohttp.
    """
    rng = random.Random(seed)
    run_tag = uuid.uuid4().hex[:6]
    acked: dict[str, int] = {}
    acked_ids: list[str] = []
    reqs: list[Req] = []
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    tracing = aiohttp.TraceConfig()

    async def on_headers_sent(_session, ctx, _params) -> None:
        if isinstance(ctx.trace_request_ctx, Req):
            ctx.trace_request_ctx.sent = time.monotonic()

    tracing.on_request_headers_sent.append(on_headers_sent)
    async with aiohttp.ClientSession(connector=connector(concurrency), timeout=timeout,
                                     trace_configs=[tracing]) as session:
        for _ in range(seed_posts):   # something to read from the first request on
            u = rng.randrange(len(users))
            st, pid = await _create(session, base, users, u, rng)
            if pid:
                acked[pid] = u
                acked_ids.append(pid)
        issued = 0
        done = 0
        started = time.monotonic()
        deadline = started + time_limit

        async def raw_one(conn: RawConn, req: Req, wrng: random.Random) -> None:
            if req.kind == "create":
                u = wrng.randrange(len(users))
                req.title = f"Bench {uuid.uuid4().hex}"
                body = json.dumps({"title": req.title, "body": "load " * wrng.randint(1, 40),
                                   "published": wrng.random() < 0.8}).encode()
                req.path = "POST /api/v1/posts"
                req.status, data = await asyncio.wait_for(conn.request(
                    "POST", f"{API}/posts", {**users[u].auth, "X-Request-Id": req.rid}, body, req), request_timeout)
                if req.status == 201:
                    pid = json.loads(data)["id"]
                    acked[pid] = u
                    acked_ids.append(pid)
            elif req.kind == "read":
                pid = wrng.choice(acked_ids)
                req.path = f"GET /api/v1/posts/{pid}"
                req.status, _ = await asyncio.wait_for(conn.request(
                    "GET", f"{API}/posts/{pid}", {**users[acked[pid]].auth, "X-Request-Id": req.rid}, None, req),
                    request_timeout)
            else:
                req.path = "GET /api/v1/posts?limit=20"
                req.status, _ = await asyncio.wait_for(conn.request(
                    "GET", f"{API}/posts?limit=20", {"X-Request-Id": req.rid}, None, req), request_timeout)

        async def worker(wid: int) -> None:
            nonlocal issued, done
            wrng = random.Random(seed * 1000 + wid)
            conn = RawConn(raw_port) if raw_port else None
            while issued < total and time.monotonic() < deadline:
                issued += 1
                x = wrng.random()
                kind = "create" if x < mix[0] else "read" if x < mix[0] + mix[1] else "list"
                if kind == "read" and not acked_ids:
                    kind = "list"
                req = Req(kind, time.monotonic(), rid=f"bench-{run_tag}-{issued}")
                reqs.append(req)
                rid = {"X-Request-Id": req.rid}
                try:
                    if conn is not None:
                        await raw_one(conn, req, wrng)
                    elif kind == "create":
                        u = wrng.randrange(len(users))
                        req.path = "POST /api/v1/posts"
                        req.status, pid = await _create(session, base, users, u, wrng, req)
                        if pid:
                            acked[pid] = u
                            acked_ids.append(pid)
                    elif kind == "read":
                        pid = wrng.choice(acked_ids)
                        req.path = f"GET /api/v1/posts/{pid}"
                        async with session.get(f"{base}{API}/posts/{pid}", trace_request_ctx=req,
                                               headers={**users[acked[pid]].auth, **rid}) as r:
                            await r.read()
                            req.status = r.status
                    else:
                        req.path = "GET /api/v1/posts?limit=20"
                        async with session.get(f"{base}{API}/posts?limit=20", headers=rid,
                                               trace_request_ctx=req) as r:
                            await r.read()
                            req.status = r.status
                except Exception as e:  # noqa: BLE001 - every failure is a figure
                    req.error = raw_error_kind(e) if conn is not None else error_kind(e)
                    req.detail = str(e)[:160]
                    req.status = None
                req.end = time.monotonic()
                done += 1
                if progress:
                    progress(done)
            if conn is not None:
                conn.close()

        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        ended = time.monotonic()
    return LoadResult(reqs, acked, started, ended)


async def verify_writes(base: str, users: list[User], acked: dict[str, int], concurrency: int = 32,
                        attempts: int = 5) -> tuple[list[str], dict[str, str]]:
    """GETs every acknowledged post id with its author's token.

    Returns (lost ids: answered 404 or another id, unverified ids -> last
    outcome, for ids that never gave a definite answer after ``attempts``).
    """
    lost: list[str] = []
    unverified: dict[str, str] = {}
    ids = list(acked)
    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=connector(concurrency),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def check(pid: str) -> None:
            last = ""
            async with sem:
                for i in range(attempts):
                    try:
                        async with session.get(f"{base}{API}/posts/{pid}", headers=users[acked[pid]].auth) as r:
                            data = await r.read()
                            if r.status == 200:
                                if json.loads(data).get("id") != pid:
                                    lost.append(pid)
                                return
                            if r.status == 404:
                                lost.append(pid)
                                return
                            last = str(r.status)
                    except Exception as e:  # noqa: BLE001
                        last = error_kind(e)
                    await asyncio.sleep(0.5 * (i + 1))
            unverified[pid] = last

        await asyncio.gather(*(check(p) for p in ids))
    return lost, unverified


def print_load_figures(res: LoadResult, reqs: list[Req] | None = None) -> dict:
    """Prints total, statuses, throughput and latency of a load; returns them."""
    reqs = res.reqs if reqs is None else reqs
    answered = [r for r in reqs if r.status is not None]
    lat = [r.latency for r in answered]
    st = Counter(r.outcome for r in reqs)
    fivexx = sum(1 for r in answered if r.status >= 500)
    thr = len(answered) / res.wall if res.wall > 0 else 0.0
    line("requests", f"{len(reqs)} (creates {sum(r.kind == 'create' for r in reqs)}, "
         f"reads {sum(r.kind == 'read' for r in reqs)}, lists {sum(r.kind == 'list' for r in reqs)})")
    line("per status", counts_text(st))
    line("wall time", secs(res.wall))
    line("throughput", f"{thr:.0f} req/s")
    line("latency p50 / p99 / max", f"{ms(percentile(lat, 50))} / {ms(percentile(lat, 99))} / "
         f"{ms(max(lat) if lat else None)}")
    for kind in ("create", "read", "list"):
        kl = [r.latency for r in answered if r.kind == kind]
        line(f"  {kind} p50 / p99", f"{ms(percentile(kl, 50))} / {ms(percentile(kl, 99))}")
    return {
        "requests": len(reqs),
        "statuses": dict(st),
        "5xx": fivexx,
        "throughput_rps": round(thr, 1),
        "wall_s": round(res.wall, 3),
        "p50_ms": round((percentile(lat, 50) or 0) * 1000, 2),
        "p99_ms": round((percentile(lat, 99) or 0) * 1000, 2),
        "max_ms": round((max(lat) if lat else 0) * 1000, 2),
    }


def print_evidence(svc: "Service", reqs: list[Req], title: str, limit: int = 5,
                   t_ref: float | None = None, ref_name: str = "") -> None:
    """For failed requests: the request, its outcome and the service's log lines
    carrying its X-Request-Id (plus WARN/ERROR/panic lines of the log)."""
    if not reqs:
        return
    heading(title)
    text = svc.log_text()
    for r in reqs[:limit]:
        when = ""
        if t_ref is not None:
            sent = "never sent" if r.sent is None else f"sent {(t_ref - r.sent) * 1000:+.2f} ms before {ref_name}"
            when = f", started {(t_ref - r.start) * 1000:+.2f} ms before {ref_name}, {sent}"
        print(f"  {r.path}  ->  {r.outcome}  ({r.latency * 1000:.0f} ms{when}, X-Request-Id {r.rid})")
        if r.detail:
            print(f"      client: {r.detail}")
        hits = [ln for ln in text if r.rid and r.rid in ln]
        for ln in hits[:4]:
            print(f"      log: {ln[:400]}")
        if not hits:
            print("      log: (no line carries this request id)")
    if len(reqs) > limit:
        print(f"  … and {len(reqs) - limit} more")
    bad = [ln for ln in text if (" ERROR " in ln or " WARN " in ln or "panicked" in ln)]
    if bad:
        print(f"  service log WARN/ERROR/panic lines: {len(bad)}; first {min(limit, len(bad))}:")
        for ln in bad[:limit]:
            print(f"      {ln[:400]}")


def base_env(limits_off: bool = True, bcrypt_cost: int = 4) -> dict[str, str]:
    """Service settings for the load runs: limiters off, cheap bcrypt for set-up."""
    env = {"BCRYPT_COST": str(bcrypt_cost)}
    if limits_off:
        env.update(RATE_LIMIT_PER_MINUTE="0", AUTH_RATE_LIMIT_PER_MINUTE="0")
    return env
