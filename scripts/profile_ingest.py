"""Sample ``tocsin serve --demo`` with py-spy while ``bench/ingest.py``'s load runs.

Why a script and not a bench: a profile says where the time goes, not how fast it
is; ``docs/performance.md`` keeps the shares it printed, and the flame graph
(``--svg``) is regenerated on demand rather than stored (it is py-spy's output, with
py-spy's own page script in it).

Run: ``.venv/bin/python scripts/profile_ingest.py [--seconds 12] [--svg out.svg]``
(needs ``py-spy``, in the ``bench`` extra, and the right to ptrace the server: root,
or ``kernel.yama.ptrace_scope`` 0). Prints the load's req/s and the inclusive share
of the samples per function (top 40, `--top N` for more).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from ingest import KEY, bodies, free_port, load, start  # noqa: E402  (the bench's load)

ENV = {"TOCSIN_DEV_API_KEY": KEY, "TOCSIN_LOG_LEVEL": "warning",
       "TOCSIN_WRITE_RATE_LIMIT": '{"per_s": 0, "burst": 1}'}
FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:]*):\d+\)$")


def shares(raw: Path) -> tuple[int, collections.Counter[str]]:
    """Inclusive samples per ``function file`` from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        seen = set()
        for frame in stack.split(";")[1:]:
            match = FRAME.match(frame)
            key = f"{match['name']} {Path(match['file']).name}" if match else frame
            if key not in seen:
                seen.add(key)
                inclusive[key] += int(count)
    return total, inclusive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--svg", type=Path, help="also write a flame graph here")
    parser.add_argument("--top", type=int, default=40, help="functions to list")
    parser.add_argument("--gil", action="store_true",
                        help="only samples of the thread holding the GIL: CPU work, not the "
                             "time a thread waits for the GIL or for I/O")
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    port, data = free_port(), tempfile.mkdtemp()
    server = start([sys.executable, "-m", "router.cli", "serve", "--demo", "--port", str(port),
                    "--data-dir", data], port, ENV)
    url = f"http://127.0.0.1:{port}/api/v1/alerts?profile=nl-alert"
    raw = Path(data) / "profile.raw"
    try:
        asyncio.run(load(url, bodies(200, "warm"), 64))
        samplers = [subprocess.Popen([spy, "record", "-p", str(server.pid), "-d",
                                      str(args.seconds), "-r", "100", "-f", fmt, "-o",
                                      str(out), "--nonblocking", *(["--gil"] if args.gil else [])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for fmt, out in (("raw", raw), ("flamegraph", args.svg)) if out]
        rate, _latencies = asyncio.run(load(url, bodies(400 * args.seconds, "profile"), 64))
        for sampler in samplers:
            sampler.wait()
    finally:
        server.terminate()
        server.wait()
    total, inclusive = shares(raw)
    print(f"load: {rate:.0f} req/s; {total} samples")
    for key, count in inclusive.most_common(args.top):
        print(f"{count / total:6.1%}  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
