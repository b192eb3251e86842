"""login-storm: 200 parallel logins against the auth rate limit; /health must stay quick.

Starts its own service (127.0.0.1:18083, fresh SQLite file, or ``--db pg``)
with the DEFAULT auth limit (AUTH_RATE_LIMIT_PER_MINUTE unset: 30) and the
DEFAULT bcrypt cost (BCRYPT_COST unset: 12); the general limit is left at its
default too. Registers one user, measures /health for a second as a baseline,
then fires 200 logins at once, each on its own connection (half with the
right password, half with a wrong one), while a second task polls
``GET /health`` every 10 ms until the last login has answered.

Prints the logins per status (429 must be > 0; 200 and 401 for the ones let
through) and /health p50/p99/max during the storm, beside the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter

import aiohttp

import benchlib as b


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/login-storm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_common_args(p, port=18083)
    p.add_argument("--attempts", type=int, default=200, help="parallel login attempts")
    p.add_argument("--poll-every", type=float, default=0.01, help="seconds between two /health polls")
    p.add_argument("--auth-limit", type=int, help="AUTH_RATE_LIMIT_PER_MINUTE (default: unset, the service's 30)")
    p.add_argument("--bcrypt-cost", type=int, help="BCRYPT_COST (default: unset, the service's 12)")
    p.add_argument("--time-limit", type=float, default=120, help="give up on the storm after this many seconds")
    return p.parse_args(argv)


async def poll_health(session, base: str, out: list, stop: asyncio.Event, every: float, deadline: float) -> None:
    while not stop.is_set() and time.monotonic() < deadline:
        t = time.monotonic()
        try:
            async with session.get(f"{base}/health") as r:
                await r.read()
                out.append((time.monotonic() - t, r.status))
        except Exception as e:  # noqa: BLE001
            out.append((time.monotonic() - t, b.error_kind(e)))
        await asyncio.sleep(every)


async def scenario(base: str, args) -> dict:
    timeout = aiohttp.ClientTimeout(total=args.time_limit)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        users = await b.register_users(s, base, 1, prefix="storm")
    user = users[0].username

    # baseline: one second of /health before the storm
    baseline: list = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession(connector=b.connector(1), timeout=timeout) as hs:
        task = asyncio.create_task(poll_health(hs, base, baseline, stop, args.poll_every, time.monotonic() + 1))
        await asyncio.sleep(1.0)
        stop.set()
        await task

    during: list = []
    stop = asyncio.Event()
    results: list = []
    go = asyncio.Event()

    right = random.Random(7).sample(range(args.attempts), args.attempts // 2)   # which half is right, mixed
    right = set(right)

    async def attempt(session, i: int) -> None:
        pw = b.PASSWORD if i in right else "WrongPass999"
        await go.wait()
        t = time.monotonic()
        try:
            async with session.post(f"{base}/api/v1/auth/login", json={"username": user, "password": pw}) as r:
                await r.read()
                results.append((r.status, time.monotonic() - t, r.headers.get("Retry-After"), i in right))
        except Exception as e:  # noqa: BLE001
            results.append((b.error_kind(e), time.monotonic() - t, None, i in right))

    async with aiohttp.ClientSession(connector=b.connector(1), timeout=timeout) as hs, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True), timeout=timeout) as ls:
        poller = asyncio.create_task(poll_health(hs, base, during, stop, args.poll_every,
                                                 time.monotonic() + args.time_limit))
        tasks = [asyncio.create_task(attempt(ls, i)) for i in range(args.attempts)]
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        go.set()
        await asyncio.gather(*tasks)
        storm = time.monotonic() - t0
        stop.set()
        await poller

    st = Counter(r[0] for r in results)
    n429 = st.get(429, 0)
    retry_after = sorted({r[2] for r in results if r[0] == 429 and r[2] is not None})
    passed = [r for r in results if r[0] in (200, 401)]
    hl = [x[0] for x in during]
    bl = [x[0] for x in baseline]
    hst = Counter(x[1] for x in during)

    b.heading("login storm")
    b.line("login attempts", f"{len(results)} in parallel (half right password, half wrong, mixed)")
    b.line("per status", b.counts_text(st))
    b.line("  right password", b.counts_text(Counter(r[0] for r in results if r[3])))
    b.line("  wrong password", b.counts_text(Counter(r[0] for r in results if not r[3])))
    b.line("storm took (first sent -> last answer)", b.secs(storm))
    b.line("Retry-After on 429s", ", ".join(retry_after) or "-")
    lp = [r[1] for r in passed]
    b.line("200/401 latency p50 / max", f"{b.ms(b.percentile(lp, 50))} / {b.ms(max(lp) if lp else None)}")
    b.heading("/health")
    b.line("baseline p50 / p99 / max", f"{b.ms(b.percentile(bl, 50))} / {b.ms(b.percentile(bl, 99))} / "
           f"{b.ms(max(bl) if bl else None)}  ({len(bl)} polls)")
    b.line("during storm p50 / p99 / max", f"{b.ms(b.percentile(hl, 50))} / {b.ms(b.percentile(hl, 99))} / "
           f"{b.ms(max(hl) if hl else None)}  ({len(hl)} polls)")
    b.line("during storm statuses", b.counts_text(hst), set(hst) == {200})
    b.heading("checks")
    b.line("429 responses", n429, n429 > 0)
    b.line("200 (right password)", st.get(200, 0))
    b.line("401 (wrong password)", st.get(401, 0))
    mismatched = sum(1 for r in results if (r[0] == 200 and not r[3]) or (r[0] == 401 and r[3]))
    b.line("200 for a wrong / 401 for a right password", mismatched, mismatched == 0)
    fivexx = sum(v for k, v in st.items() if isinstance(k, int) and k >= 500)
    errors = sum(v for k, v in st.items() if not isinstance(k, int))
    b.line("5xx or no response", fivexx + errors, fivexx + errors == 0)
    figs = {
        "attempts": len(results), "statuses": {str(k): v for k, v in st.items()}, "429": n429,
        "200": st.get(200, 0), "401": st.get(401, 0), "storm_s": round(storm, 3),
        "health_p50_ms": round((b.percentile(hl, 50) or 0) * 1000, 2),
        "health_p99_ms": round((b.percentile(hl, 99) or 0) * 1000, 2),
        "health_max_ms": round((max(hl) if hl else 0) * 1000, 2),
        "baseline_p50_ms": round((b.percentile(bl, 50) or 0) * 1000, 2),
        "baseline_p99_ms": round((b.percentile(bl, 99) or 0) * 1000, 2),
        "health_polls": len(hl), "health_statuses": {str(k): v for k, v in hst.items()},
    }
    figs["ok"] = n429 > 0 and fivexx + errors == 0 and set(hst) == {200} and mismatched == 0
    return figs


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = b.make_workdir("login-storm")
    url, cluster = b.database_for(args, workdir)
    env = {}
    if args.auth_limit is not None:
        env["AUTH_RATE_LIMIT_PER_MINUTE"] = str(args.auth_limit)
    if args.bcrypt_cost is not None:
        env["BCRYPT_COST"] = str(args.bcrypt_cost)
    svc = b.Service(args.binary, args.port, url, workdir, env)
    print(f"login-storm: {args.attempts} parallel logins, AUTH_RATE_LIMIT_PER_MINUTE="
          f"{args.auth_limit if args.auth_limit is not None else 'default (30)'}, BCRYPT_COST="
          f"{args.bcrypt_cost if args.bcrypt_cost is not None else 'default (12)'}; db={args.db}; "
          f"service on :{args.port}", flush=True)
    figs = {"ok": False}
    try:
        svc.start()
        figs = asyncio.run(scenario(svc.base, args))
    finally:
        code = svc.stop()
        if cluster:
            cluster.restore()
    b.line("service exit code", code)
    b.write_json(args.json, {"scenario": "login-storm", "db": args.db, **figs})
    b.finish_workdir(workdir, args.keep, figs["ok"])
    return 0 if figs["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
