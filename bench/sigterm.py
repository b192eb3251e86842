"""sigterm: SIGTERM in the middle of the load; in-flight requests must not fail.

Starts its own service (127.0.0.1:18082, fresh SQLite file, or ``--db pg``;
rate limiters off; SHUTDOWN_TIMEOUT=10), runs the mixed load over 64
connections and sends SIGTERM once ``--signal-after`` requests have finished.
The load goes on until its count is reached (requests after the listener
closed fail fast with connection refused).

Each request is classed by when it was sent relative to the signal:
- sent before the signal: it must get a complete, non-5xx response; one
  without (an error, a cut connection, a 5xx) is a failed in-flight request;
- sent after the signal: connection refused is expected and counted apart;
  other errors after the signal (e.g. a kept-alive connection closed by the
  server before the request was read) are listed too.

Prints the failed in-flight requests (must be 0), the exit code (must be 0)
and how long the shutdown took (signal to process exit).
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
    p = argparse.ArgumentParser(prog="bench/sigterm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_common_args(p, port=18082)
    p.add_argument("--requests", type=int, default=10_000, help="number of requests")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent connections")
    p.add_argument("--users", type=int, default=8, help="pre-registered users")
    p.add_argument("--signal-after", type=int, default=3000, help="send SIGTERM after this many requests finished")
    p.add_argument("--shutdown-timeout", type=int, default=10, help="SHUTDOWN_TIMEOUT for the service (s)")
    p.add_argument("--time-limit", type=float, default=120, help="stop issuing requests after this many seconds")
    return p.parse_args(argv)


async def scenario(svc: b.Service, args) -> dict:
    base = svc.base
    async with aiohttp.ClientSession() as s:
        users = await b.register_users(s, base, args.users)
    t_sig = None
    t_exit = None
    code = None
    trigger = asyncio.Event()

    def progress(n: int) -> None:
        if n >= args.signal_after:
            trigger.set()

    async def killer() -> None:
        nonlocal t_sig, t_exit, code
        await trigger.wait()
        t_sig = svc.terminate()
        print(f"  SIGTERM sent to pid {svc.proc.pid}", flush=True)
        loop = asyncio.get_running_loop()
        code = await loop.run_in_executor(None, svc.wait, args.shutdown_timeout + 20)
        t_exit = time.monotonic()

    k = asyncio.create_task(killer())
    res = await b.run_load(base, users, total=args.requests, concurrency=args.concurrency,
                           time_limit=args.time_limit, progress=progress, raw_port=svc.port)
    trigger.set()
    await k

    # "sent" = the whole request was handed to the kernel (RawConn) before kill() was called
    before = [r for r in res.reqs if r.sent is not None and r.sent < t_sig]
    after = [r for r in res.reqs if not (r.sent is not None and r.sent < t_sig)]
    in_flight_at_signal = sum(1 for r in before if r.end > t_sig)
    failed = [r for r in before if r.status is None or r.status >= 500]
    log = "\n".join(svc.log_text())
    failed_unread = [r for r in failed if r.status is None and r.rid not in log]
    after_counts = Counter(r.outcome for r in after)
    refused = after_counts.get("refused", 0)
    after_other = [r for r in after if r.status is None and r.error != "refused"]

    b.heading("load")
    figs = b.print_load_figures(res)
    b.heading("around the signal")
    b.line("sent before SIGTERM", f"{len(before)}: {b.counts_text(Counter(r.outcome for r in before))}")
    b.line("  of which in flight at the signal", in_flight_at_signal)
    b.line("not sent before SIGTERM", f"{len(after)}: {b.counts_text(after_counts)}")
    answered_after = [r for r in after if r.status is not None]
    b.line("  answered", len(answered_after))
    shutdown = (t_exit - t_sig) if code is not None else None
    b.heading("checks")
    b.line("failed in-flight requests", len(failed), not failed)
    if failed:
        b.line("  of which the service never logged", f"{len(failed_unread)} (dropped unread on a kept-alive connection)")
    b.line("refused after the listener closed", f"{refused} (expected)")
    b.line("other errors, not sent before SIGTERM",
           f"{len(after_other)} ({b.counts_text(Counter(r.error for r in after_other))})" if after_other else 0)
    for detail, n in Counter(f"{r.error}: {r.detail}" for r in after_other).most_common(3):
        b.line("", f"{n} × {detail[:90]}")
    b.line("exit code", code if code is not None else "did not exit (killed)", code == 0)
    b.line("shutdown took (SIGTERM -> exit)", b.secs(shutdown),
           shutdown is not None and shutdown <= args.shutdown_timeout + 1)
    figs.update(failed_in_flight=len(failed), failed_unread=len(failed_unread),
                in_flight_at_signal=in_flight_at_signal, sent_before=len(before),
                not_sent_before=len(after), refused_after=refused, other_errors_after=len(after_other),
                exit_code=code, shutdown_s=None if shutdown is None else round(shutdown, 3))
    figs["ok"] = not failed and code == 0 and shutdown is not None and shutdown <= args.shutdown_timeout + 1
    # a failed create that is nevertheless in the database was processed and its answer lost;
    # one that is not was dropped before the service handled it
    failed_creates = [r for r in failed if r.kind == "create" and r.title]
    if failed_creates and args.db == "sqlite":
        import sqlite3
        con = sqlite3.connect(svc.workdir / "bench.db")
        stored = sum(con.execute("select count(*) from posts where title = ?", (r.title,)).fetchone()[0]
                     for r in failed_creates)
        con.close()
        b.line("  failed creates found in the database", f"{stored} of {len(failed_creates)}")
        figs["failed_creates_stored"] = stored
    figs["_failed"] = failed + after_other
    figs["_t_sig"] = t_sig
    return figs


def main(argv=None) -> int:
    args = parse_args(argv)
    workdir = b.make_workdir("sigterm")
    url, cluster = b.database_for(args, workdir)
    env = b.base_env()
    env["SHUTDOWN_TIMEOUT"] = str(args.shutdown_timeout)
    svc = b.Service(args.binary, args.port, url, workdir, env)
    print(f"sigterm: {args.requests} requests, {args.concurrency} connections, SIGTERM after "
          f"{args.signal_after}; db={args.db}; service on :{args.port}", flush=True)
    figs = {"ok": False}
    try:
        svc.start()
        figs = asyncio.run(scenario(svc, args))
    finally:
        svc.stop(timeout=5)   # no-op when it already exited
        if cluster:
            cluster.restore()
    b.print_evidence(svc, figs.pop("_failed", []), "evidence: failed requests and the service log",
                     t_ref=figs.pop("_t_sig", None), ref_name="SIGTERM")
    tail = svc.log_text()[-3:]
    if tail:
        b.heading("last service log lines")
        for ln in tail:
            print("  " + ln[:300])
    b.write_json(args.json, {"scenario": "sigterm", "db": args.db, **figs})
    b.finish_workdir(workdir, args.keep, figs["ok"])
    return 0 if figs["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
