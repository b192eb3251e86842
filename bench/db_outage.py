"""db-outage: the load while PostgreSQL is stopped for 5 s and started again.

Uses a PRIVATE PostgreSQL cluster (default ``<newest version>/bench`` on port
5433, created with trust auth for local connections if missing; the shared
cluster on 5432 is never touched). A fresh ``bench`` database, the service
started against it with DB_ACQUIRE_TIMEOUT=2 and the rate limiters off.

Timeline: the mixed load starts (10 000 requests, 64 connections); once
``--outage-after`` requests have finished the cluster is stopped
(``pg_ctlcluster … stop``: fast mode, open sessions are cut), kept down
``--outage`` seconds, then started. Meanwhile ``/ready`` and ``/health`` are
polled every 250 ms and a probe (``GET /api/v1/posts?limit=1``) runs every
100 ms from the restart until it succeeds.

Prints: 5xx other than 503 (must be 0), count of 503s and how fast they came,
lost acknowledged writes (0), seconds from the restart until the first success
(recovery), and /ready and /health during and after the outage. The cluster is
left as it was found (stopped again if it was not running).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

import aiohttp

import benchlib as b


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/db-outage", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_common_args(p, port=18081, db_default="pg")
    p.add_argument("--requests", type=int, default=10_000, help="number of requests")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent connections")
    p.add_argument("--users", type=int, default=8, help="pre-registered users")
    p.add_argument("--outage", type=float, default=5.0, help="seconds PostgreSQL stays stopped")
    p.add_argument("--outage-after", type=int, default=2000, help="stop PostgreSQL after this many requests finished")
    p.add_argument("--acquire-timeout", type=int, default=2, help="DB_ACQUIRE_TIMEOUT for the service (s)")
    p.add_argument("--time-limit", type=float, default=300, help="stop issuing requests after this many seconds")
    args = p.parse_args(argv)
    if args.db != "pg":
        p.error("db-outage needs --db pg (it stops and starts the private cluster)")
    return args


class Timeline:
    t_stop_issued: float | None = None
    t_down: float | None = None      # pg_ctlcluster stop returned
    t_start_issued: float | None = None
    t_up: float | None = None        # pg_ctlcluster start returned
    probe_ok: float | None = None    # first probe success after the restart


async def poll(session, url: str, out: list, stop: asyncio.Event, every: float) -> None:
    """Records (time, status or error) for ``url`` every ``every`` s until ``stop``."""
    while not stop.is_set():
        t = time.monotonic()
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
                await r.read()
                out.append((t, time.monotonic(), r.status))
        except Exception as e:  # noqa: BLE001
            out.append((t, time.monotonic(), b.error_kind(e)))
        await asyncio.sleep(every)


async def scenario(base: str, cluster: b.BenchCluster, args) -> dict:
    async with aiohttp.ClientSession() as s:
        users = await b.register_users(s, base, args.users)
    tl = Timeline()
    finished = 0
    trigger = asyncio.Event()
    stop_polls = asyncio.Event()
    ready, health = [], []

    def progress(n: int) -> None:
        nonlocal finished
        finished = n
        if n >= args.outage_after:
            trigger.set()

    async def outage() -> None:
        loop = asyncio.get_running_loop()
        await trigger.wait()
        tl.t_stop_issued = time.monotonic()
        await loop.run_in_executor(None, cluster.stop)
        tl.t_down = time.monotonic()
        print(f"  PostgreSQL stopped after {finished} requests (stop took "
              f"{tl.t_down - tl.t_stop_issued:.2f} s)", flush=True)
        await asyncio.sleep(args.outage)
        tl.t_start_issued = time.monotonic()
        await loop.run_in_executor(None, cluster.start)
        tl.t_up = time.monotonic()
        print(f"  PostgreSQL started again (start took {tl.t_up - tl.t_start_issued:.2f} s), "
              f"{finished} requests finished", flush=True)

    async def probe(session) -> None:
        while tl.t_start_issued is None:
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{base}/api/v1/posts?limit=1", timeout=aiohttp.ClientTimeout(total=5)) as r:
                    await r.read()
                    if r.status == 200:
                        tl.probe_ok = time.monotonic()
                        return
            except Exception:  # noqa: BLE001
                pass
            await asyncio.sleep(0.1)

    async with aiohttp.ClientSession() as side:
        pollers = [asyncio.create_task(poll(side, f"{base}/ready", ready, stop_polls, 0.25)),
                   asyncio.create_task(poll(side, f"{base}/health", health, stop_polls, 0.25))]
        out_task = asyncio.create_task(outage())
        probe_task = asyncio.create_task(probe(side))
        res = await b.run_load(base, users, total=args.requests, concurrency=args.concurrency,
                               time_limit=args.time_limit, progress=progress)
        if not trigger.is_set():
            trigger.set()   # the load ended before the threshold: the outage still happens
        await out_task
        await asyncio.wait_for(probe_task, 90)
        await asyncio.sleep(1.0)   # a last second of /ready after the recovery
        stop_polls.set()
        await asyncio.gather(*pollers)

    b.heading("load (whole run)")
    figs = b.print_load_figures(res)
    answered = res.responses()
    other_5xx = [r for r in answered if r.status >= 500 and r.status != 503]
    s503 = [r for r in answered if r.status == 503]
    no_resp = [r for r in res.reqs if r.status is None]
    successes_after = sorted(r.end for r in answered if 200 <= r.status < 300 and r.end >= tl.t_start_issued)
    first_ok = successes_after[0] if successes_after else None
    load_done_before_restart = res.ended < tl.t_start_issued

    b.heading("outage")
    during = [r for r in res.reqs if tl.t_down <= r.start < tl.t_start_issued]
    b.line("PostgreSQL down for", b.secs(tl.t_start_issued - tl.t_down))
    b.line("requests started while down", f"{len(during)}: {b.counts_text(Counter(r.outcome for r in during))}")
    b.line("  of which also answered while down",
           b.counts_text(Counter(r.outcome for r in during if r.end < tl.t_start_issued)))
    lat503 = [r.latency for r in s503]
    b.line("503 latency p50 / max", f"{b.ms(b.percentile(lat503, 50))} / {b.ms(max(lat503) if lat503 else None)}"
           f"  (DB_ACQUIRE_TIMEOUT={args.acquire_timeout} s)")
    # polls sent and answered while PostgreSQL was down (a poll sent just before
    # the restart may wait for a connection and then, rightly, get 200)
    ready_during = Counter(s for (t, e, s) in ready if tl.t_down <= t and e < tl.t_start_issued)
    ready_first_ok = next((e for (t, e, s) in ready if e >= tl.t_start_issued and s == 200), None)
    health_during = Counter(s for (t, e, s) in health if tl.t_down <= t and e < tl.t_start_issued)
    health_lat = [e - t for (t, e, s) in health if tl.t_down <= t and e < tl.t_start_issued]
    final_ready = ready[-1][2] if ready else None
    b.line("/ready while down", b.counts_text(ready_during), set(ready_during) == {503})
    b.line("/ready after restart", f"first 200 {b.secs(ready_first_ok - tl.t_start_issued if ready_first_ok else None)}"
           f" after the start command, last poll {final_ready}", final_ready == 200)
    b.line("/health while down", f"{b.counts_text(health_during)}, max {b.ms(max(health_lat) if health_lat else None)}",
           set(health_during) == {200})

    # recovery is counted from the moment `pg_ctlcluster start` is run (PostgreSQL's
    # own start-up is part of what a client waits for); the command returns once
    # the server accepts connections, which is printed beside it
    recovery = (first_ok - tl.t_start_issued) if first_ok else None
    probe_rec = (tl.probe_ok - tl.t_start_issued) if tl.probe_ok else None
    lost, unverified = await b.verify_writes(base, users, res.acked)

    b.heading("checks")
    b.line("5xx other than 503", len(other_5xx), not other_5xx)
    b.line("503 responses", len(s503))
    b.line("requests without a response",
           f"{len(no_resp)} ({b.counts_text(Counter(r.error for r in no_resp))})" if no_resp else 0, not no_resp)
    b.line("acknowledged writes (201)", len(res.acked))
    b.line("lost acknowledged writes", len(lost), not lost)
    if unverified:
        b.line("unverified writes", f"{len(unverified)} {b.counts_text(Counter(unverified.values()))}", False)
    b.line("pg_ctlcluster start returned after", b.secs(tl.t_up - tl.t_start_issued))
    b.line("recovery: restart -> first 2xx (load)", b.secs(recovery) if recovery is not None
           else "load ended before the restart", recovery is not None)
    b.line("recovery: restart -> first 2xx (probe)", b.secs(probe_rec), probe_rec is not None)
    if load_done_before_restart:
        print("  note: the load finished before PostgreSQL was back; raise --requests or lower --outage-after")

    figs.update(
        other_5xx=len(other_5xx), s503=len(s503), no_response=len(no_resp), acked=len(res.acked),
        lost=len(lost), unverified=len(unverified),
        recovery_s=None if recovery is None else round(recovery, 3),
        probe_recovery_s=None if probe_rec is None else round(probe_rec, 3),
        ready_during=dict(ready_during), ready_final=final_ready, health_during=dict(health_during),
        p50_503_ms=round((b.percentile(lat503, 50) or 0) * 1000, 1),
        max_503_ms=round((max(lat503) if lat503 else 0) * 1000, 1),
        outage_s=round(tl.t_start_issued - tl.t_down, 2),
        pg_start_s=round(tl.t_up - tl.t_start_issued, 2),
    )
    figs["ok"] = (not other_5xx and not lost and not unverified and not no_resp and recovery is not None
                  and final_ready == 200 and set(ready_during) == {503} and set(health_during) == {200})
    figs["_failed"] = other_5xx + no_resp
    return figs


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = b.make_workdir("db-outage")
    url, cluster = b.database_for(args, workdir)
    env = b.base_env()
    env["DB_ACQUIRE_TIMEOUT"] = str(args.acquire_timeout)
    svc = b.Service(args.binary, args.port, url, workdir, env)
    print(f"db-outage: {args.requests} requests, {args.concurrency} connections, PostgreSQL "
          f"{cluster.version}/{cluster.name} on :{cluster.port} stopped for {args.outage:.0f} s "
          f"after {args.outage_after} requests; service on :{args.port}", flush=True)
    figs = {"ok": False}
    try:
        svc.start()
        figs = asyncio.run(scenario(svc.base, cluster, args))
    finally:
        code = svc.stop()
        if not cluster.is_online():
            cluster.start()
        cluster.restore()
    b.line("service exit code", code)
    b.print_evidence(svc, figs.pop("_failed", []), "evidence: failed requests and the service log")
    b.write_json(args.json, {"scenario": "db-outage", "db": "pg", **figs})
    b.finish_workdir(workdir, args.keep, figs["ok"])
    return 0 if figs["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
