#!/usr/bin/env python3
"""Compares a walk-through's output with the one the README shows.

    scripts/readme-statuses.py README.md "<heading text>" <output file>

The README shows each walk-through's output in the first ```text block
after the heading that contains <heading text>. Both are read as steps (a
line `$ <what>`) with the status each printed (`HTTP 201`, or a status line
`HTTP/1.1 201 Created`). The steps and their statuses must be the same, in
the same order; ids (UUIDs) may differ. Exits 1 with the differences when
they are not. Used by scripts/clients.sh.
"""

import re
import sys

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STATUS = re.compile(r"^HTTP(?:/[\d.]+)? (\d{3})\b")


def steps(lines):
    """[(step, status or None)] of a walk-through's output."""
    out = []
    for line in lines:
        line = line.rstrip("\r\n")
        if line.startswith("$ "):
            out.append([UUID.sub("{id}", line[2:].strip()), None])
        elif out and (m := STATUS.match(line)):
            if out[-1][1] is not None:
                sys.exit(f"step {out[-1][0]!r} prints two statuses")
            out[-1][1] = int(m.group(1))
    return [tuple(s) for s in out]


def readme_block(path, heading):
    lines = open(path, encoding="utf-8").read().splitlines()
    at = next(
        (i for i, line in enumerate(lines) if line.startswith("#") and heading in line),
        None,
    )
    if at is None:
        sys.exit(f"{path}: no heading with {heading!r}")
    start = next((i for i in range(at, len(lines)) if lines[i].strip() == "```text"), None)
    if start is None:
        sys.exit(f"{path}: no ```text block after {heading!r}")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].strip() == "```")
    return lines[start + 1 : end]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    readme, heading, output = sys.argv[1:]
    shown = steps(readme_block(readme, heading))
    ran = steps(open(output, encoding="utf-8"))
    if not shown:
        sys.exit(f"{readme}: the block under {heading!r} shows no step")
    width = max(len(s) for s, _ in shown + ran)
    for i in range(max(len(shown), len(ran))):
        a = shown[i] if i < len(shown) else ("(nothing)", None)
        b = ran[i] if i < len(ran) else ("(nothing)", None)
        mark = "ok  " if a == b else "DIFF"
        print(f"{mark} {a[0]:<{width}}  README {a[1] or '-'}  ran {b[1] or '-'}"
              + ("" if a[0] == b[0] else f"  (ran: {b[0]})"))
    if shown != ran:
        sys.exit(f"the walk-through's statuses differ from the README's ({heading!r}); "
                 f"its whole output is in {output}")
    print(f"{len(shown)} passed, 0 failed")


if __name__ == "__main__":
    main()
