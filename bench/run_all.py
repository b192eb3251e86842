"""run-all: runs the load and fault scripts one after the other and prints a summary.

Runs, each with its own service process and port:
  load (SQLite), load (PostgreSQL), db-outage (PostgreSQL),
  sigterm (SQLite), login-storm (SQLite).
The PostgreSQL runs use the private cluster (port 5433, created if missing);
``--no-pg`` skips them. Each script's own output is shown as it runs; the
summary at the end has one line per run with its key figures and a verdict.
Exit status 0 when every run passed its checks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib as b

RUNS = [
    ("load", "load.py", ["--db", "sqlite"]),
    ("load-pg", "load.py", ["--db", "pg"]),
    ("db-outage", "db_outage.py", ["--db", "pg"]),
    ("sigterm", "sigterm.py", ["--db", "sqlite"]),
    ("login-storm", "login_storm.py", ["--db", "sqlite"]),
]


def summary_line(name: str, d: dict) -> str:
    if not d:
        return "no figures (the script failed before the end; see its output)"
    if d["scenario"] == "load":
        return (f"{d['requests']} req, 5xx {d['5xx']}, lost {d['lost']}/{d['acked']} acked, "
                f"{d['throughput_rps']:.0f} req/s, p50 {d['p50_ms']:.1f} ms, p99 {d['p99_ms']:.1f} ms")
    if d["scenario"] == "db-outage":
        return (f"5xx≠503 {d['other_5xx']}, 503s {d['s503']}, lost {d['lost']}/{d['acked']} acked, "
                f"recovery {d['recovery_s']} s (probe {d['probe_recovery_s']} s), "
                f"/ready down {d['ready_during']} then {d['ready_final']}")
    if d["scenario"] == "sigterm":
        return (f"failed in-flight {d['failed_in_flight']} (of {d['in_flight_at_signal']} in flight), "
                f"exit {d['exit_code']}, shutdown {d['shutdown_s']} s, refused after {d['refused_after']}")
    if d["scenario"] == "login-storm":
        return (f"429s {d['429']}, 200s {d['200']}, 401s {d['401']}, /health p50 {d['health_p50_ms']:.1f} ms "
                f"p99 {d['health_p99_ms']:.1f} ms max {d['health_max_ms']:.1f} ms")
    return json.dumps(d)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench/run-all", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL runs")
    p.add_argument("--only", nargs="+", choices=[r[0] for r in RUNS], help="run only these")
    p.add_argument("--binary", default=str(b.DEFAULT_BINARY), help="the owned-api binary (release build)")
    args = p.parse_args(argv)

    runs = [r for r in RUNS if (not args.only or r[0] in args.only) and not (args.no_pg and "--db" in r[2]
                                                                                 and r[2][r[2].index("--db") + 1] == "pg")]
    out = Path(tempfile.mkdtemp(prefix="owned-bench-all-"))
    results = []
    for name, script, extra in runs:
        print(f"\n{'=' * 72}\n# {name}\n{'=' * 72}", flush=True)
        jpath = out / f"{name}.json"
        t = time.monotonic()
        rc = subprocess.call([sys.executable, "-u", str(b.BENCH_DIR / script), "--binary", args.binary,
                              "--json", str(jpath), *extra])
        data = json.loads(jpath.read_text()) if jpath.exists() else {}
        results.append((name, rc, data, time.monotonic() - t))

    print(f"\n{'=' * 72}\n# summary ({time.strftime('%Y-%m-%d %H:%M %Z')})\n{'=' * 72}")
    for name, rc, data, took in results:
        verdict = "PASS" if rc == 0 and data.get("ok") else "FAIL"
        db = data.get("db", "?")
        print(f"  {verdict}  {name:<12} [{db:<6}] {summary_line(name, data)}  ({took:.0f} s)")
    return 0 if all(rc == 0 and d.get("ok") for _, rc, d, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
