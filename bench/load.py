"""load: 10 000 mixed requests over 64 connections; 5xx and lost writes must be 0.

Starts its own service (release binary, 127.0.0.1:18080, a fresh SQLite file in
a temp dir, or a fresh database on the private PostgreSQL cluster with
``--db pg``), with both rate limiters off (RATE_LIMIT_PER_MINUTE=0,
AUTH_RATE_LIMIT_PER_MINUTE=0) so they do not hide the service's behaviour.
Registers a handful of users, runs the mix (40 % creates, 40 % reads by id,
20 % list pages), then GETs every post acknowledged with 201: one that is
missing is a lost write. ``--url`` runs against a service you started instead.

Exit status 0 when 5xx = 0 and lost writes = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter

import aiohttp

import benchlib as b


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/load", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_common_args(p, port=18080)
    p.add_argument("--url", help="run against this already-running service (127.0.0.1 only) instead of starting one")
    p.add_argument("--requests", type=int, default=10_000, help="number of requests")
    p.add_argument("--concurrency", type=int, default=64, help="concurrent connections")
    p.add_argument("--users", type=int, default=8, help="pre-registered users")
    p.add_argument("--time-limit", type=float, default=300, help="stop issuing requests after this many seconds")
    p.add_argument("--seed", type=int, default=1, help="random seed of the mix")
    return p.parse_args(argv)


async def scenario(base: str, args) -> dict:
    async with aiohttp.ClientSession() as s:
        users = await b.register_users(s, base, args.users)
    res = await b.run_load(base, users, total=args.requests, concurrency=args.concurrency,
                           time_limit=args.time_limit, seed=args.seed)
    b.heading("load")
    figs = b.print_load_figures(res)
    lost, unverified = await b.verify_writes(base, users, res.acked)
    b.heading("checks")
    b.line("5xx responses", figs["5xx"], figs["5xx"] == 0)
    no_resp = sum(1 for r in res.reqs if r.status is None)
    b.line("requests without a response", no_resp, no_resp == 0)
    b.line("acknowledged writes (201)", len(res.acked))
    b.line("lost writes", len(lost), not lost)
    if unverified:
        b.line("unverified writes", f"{len(unverified)} {b.counts_text(Counter(unverified.values()))}", False)
    for pid in lost[:5]:
        b.line("  lost id", pid)
    figs.update(acked=len(res.acked), lost=len(lost), unverified=len(unverified), no_response=no_resp)
    figs["ok"] = figs["5xx"] == 0 and not lost and not unverified and no_resp == 0
    figs["_failed"] = [r for r in res.reqs if r.status is None or r.status >= 500]
    return figs


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.url:
        if not args.url.startswith(("http://127.0.0.1", "http://localhost")):
            sys.exit("--url must point at 127.0.0.1")
        print(f"load against {args.url} (not started by this script)")
        figs = asyncio.run(scenario(args.url.rstrip("/"), args))
        figs.pop("_failed")
        b.write_json(args.json, {"scenario": "load", "db": "external", **figs})
        return 0 if figs["ok"] else 1

    workdir = b.make_workdir("load")
    url, cluster = b.database_for(args, workdir)
    svc = b.Service(args.binary, args.port, url, workdir, b.base_env())
    print(f"load: {args.requests} requests, {args.concurrency} connections, db={args.db} ({url}), "
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
    b.print_evidence(svc, figs.pop("_failed", []), "evidence: failed requests and the service log")
    b.write_json(args.json, {"scenario": "load", "db": args.db, **figs})
    b.finish_workdir(workdir, args.keep, figs["ok"])
    return 0 if figs["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
