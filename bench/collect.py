"""``make bench``: run every benchmark in ``bench/`` and print one table of all verdicts.

Each bench prints its own human-readable figures and then one JSON line per target
(``bench/verdicts.py``). This runs them one after another (never in parallel: they
share the machine's two cores), passes their output through, collects the JSON
lines and ends with one table: bench, metric, value, target, PASS / MISS (or
``info`` for a figure without a target). It exits non-zero when a bench fails to
run or prints no verdict line — a bench that no longer runs is a defect — and zero
on a MISS, which is a measured result to be reported, not a crash.

Run: ``.venv/bin/python bench/collect.py [--quick] [NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# Not benchmarks: shared modules, the fixture generator and the parser safety probe
# (which prints what each parser does with hostile input, with no figure to collect).
NOT_BENCHES = frozenset({"collect.py", "verdicts.py", "make_fixtures.py", "parser_probe.py"})


def benches() -> list[Path]:
    """Every benchmark script, by name."""
    return sorted(p for p in BENCH.glob("*.py") if p.name not in NOT_BENCHES)


def verdict_lines(output: str) -> list[dict[str, Any]]:
    """The JSON verdict lines of one bench's output, in order."""
    found = []
    for line in output.splitlines():
        if line.startswith("{") and '"bench"' in line:
            item = json.loads(line)
            if {"bench", "metric", "value", "target", "pass"} <= set(item):
                found.append(item)
    return found


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'bench':<18}{'metric':<44}{'value':>14}  {'target':<10}result"]
    for row in rows:
        result = "info" if row["pass"] is None else ("PASS" if row["pass"] else "MISS")
        lines.append(f"{row['bench']:<18}{row['metric']:<44}{row['value']:>14.3f}  "
                     f"{row['target'] or '-':<10}{result}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="each bench's smoke run")
    parser.add_argument("names", nargs="*", help="only these benches (file stem)")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    broken: list[str] = []
    for path in benches():
        if args.names and path.stem not in args.names:
            continue
        print(f"\n=== {path.name}", flush=True)
        command = [sys.executable, str(path)] + (["--quick"] if args.quick else [])
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                cwd=BENCH.parent)
        sys.stdout.write(result.stdout)
        found = verdict_lines(result.stdout)
        if result.returncode != 0 or not found:
            sys.stdout.write(result.stderr[-3000:])
            broken.append(f"{path.name} (exit {result.returncode}, {len(found)} verdicts)")
        rows.extend(found)
    print("\n" + table(rows))
    if broken:
        print("\nbenches that did not run to their verdicts: " + ", ".join(broken))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
