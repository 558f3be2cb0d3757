"""Ingest throughput and latency: Tocsin's real POST /api/v1/alerts against a bare
aiohttp handler, measured in the same run, on 127.0.0.1 only.

(a) ``bare``:   an aiohttp server whose handler reads the body and returns 202.
(b) ``tocsin``: ``tocsin serve --demo`` as shipped (speech, variants, dispatcher on)
                with its SQLite store (WAL, synchronous=FULL, group commit), posting
                the medium alert (tests/fixtures/cap/medium.xml, two languages,
                50-point polygons) under ``?profile=nl-alert``, each request with its
                own identifier so every one is a new durable alert.
(c) ``ingest``: the same with ``dispatch_enabled: false`` (an ingest-only node).

Both servers run as separate processes; the load generator is one aiohttp client
with a fixed number of requests in flight (default 64), a bounded request count
and a time cap. Prints requests/s and p50/p99 latency, b/a and c/a, and one JSON
verdict line per target (``bench/verdicts.py``).
Targets (issue "Speed"): b/a >= 0.20 with tocsin p99 <= 50 ms at 64 in flight;
c/a >= 0.30.

Speech (issue "Speed": synthesis never starves ingest): during and after (b) the
store is read every 0.5 s for how many accepted alerts have no speech yet; printed:
the most behind, how far behind when the load stopped, and how it caught up after
(alerts spoken per second, and the time to none behind, followed for at most
``--speech-follow`` seconds).

Run: ``.venv/bin/python bench/ingest.py [--requests N] [--concurrency C] [--quick]``
(``--quick``: 100 requests per target, for the smoke test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
from verdicts import figure, verdict  # sibling module (bench/ is on sys.path)

REPO = Path(__file__).resolve().parent.parent
MEDIUM = (REPO / "tests" / "fixtures" / "cap" / "medium.xml").read_bytes()
KEY = "bench-key-0123456789"
RATIO_TARGET = 0.20
P99_TARGET_MS = 50.0
INGEST_ONLY_TARGET = 0.30
TIME_CAP_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bare_server(port: int) -> None:
    from aiohttp import web  # noqa: PLC0415

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": "x", "status_url": "/x", "warnings": []}, status=202)

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/api/v1/alerts", handle)
    app.router.add_get("/readyz", ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def start(command: list[str], port: int, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                detail = proc.stderr.read().decode() if proc.stderr else "exited"
                raise RuntimeError(detail) from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not become ready")


def bodies(count: int, tag: str) -> list[bytes]:
    return [MEDIUM.replace(b"<identifier>NL-BENCH-M</identifier>",
                           f"<identifier>NL-BENCH-{tag}-{n}</identifier>".encode())
            for n in range(count)]


async def load(url: str, payloads: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    """POST every payload with ``concurrency`` in flight; (requests/s, latencies in s)."""
    latencies: list[float] = []
    failures: list[int] = []
    position = 0
    deadline = time.monotonic() + TIME_CAP_S
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal position
            while position < len(payloads) and time.monotonic() < deadline:
                body = payloads[position]
                position += 1
                started = time.perf_counter()
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status != 202:
                        failures.append(response.status)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(name: str, url: str, count: int, concurrency: int) -> dict[str, float]:
    await load(url, bodies(min(200, count), f"{name}-warm"), concurrency)
    rate, latencies = await load(url, bodies(count, name), concurrency)
    return {"rate": rate, "p50": statistics.median(latencies) * 1e3,
            "p99": percentile(latencies, 0.99) * 1e3, "n": len(latencies)}


def speech_behind(db: Path) -> tuple[int, int]:
    """(accepted alerts, alerts with no speech asset yet), read from the store itself."""
    if not db.exists():
        return 0, 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        alerts = int(conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
        spoken = int(conn.execute("SELECT COUNT(DISTINCT alert_id) FROM alert_assets "
                                  "WHERE kind = 'speech'").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0, 0
    finally:
        conn.close()
    return alerts, alerts - spoken


class SpeechWatch:
    """Samples how far speech is behind every 0.5 s while the load runs, then follows
    the catch-up for a bounded time after it stops."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> SpeechWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, speech_behind(self.db)[1])

    def follow(self, seconds: float) -> dict[str, float]:
        """After the load: behind at the stop, then alerts spoken per second until none
        is behind or ``seconds`` pass (``caught_up_s`` is inf when not within them)."""
        _alerts, at_stop = speech_behind(self.db)
        self.peak = max(self.peak, at_stop)
        began = time.perf_counter()
        behind = at_stop
        while behind and time.perf_counter() - began < seconds:
            time.sleep(0.5)
            behind = speech_behind(self.db)[1]
        elapsed = time.perf_counter() - began
        return {"peak": self.peak, "at_stop": at_stop, "left": behind,
                "rate": (at_stop - behind) / elapsed if elapsed else 0.0,
                "caught_up_s": elapsed if not behind else float("inf")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--speech-follow", type=float, default=120.0,
                        help="seconds to follow speech catching up after the load")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="100 requests (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.speech_follow = 100, 2.0
    if args.bare_server:
        bare_server(args.bare_server)
        return 0

    results: dict[str, dict[str, float]] = {}
    speech: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as data:
        bare_port = free_port()
        bare = start([sys.executable, __file__, "--bare-server", str(bare_port)], bare_port)
        try:
            results["bare"] = asyncio.run(measure(
                "bare", f"http://127.0.0.1:{bare_port}/api/v1/alerts", args.requests,
                args.concurrency))
            for name, dispatch in (("tocsin", "true"), ("ingest", "false")):
                port = free_port()
                tocsin = start([sys.executable, "-m", "router.cli", "serve", "--demo",
                                "--host", "127.0.0.1", "--port", str(port),
                                "--data-dir", str(Path(data) / name)], port, env={
                    "TOCSIN_DEV_API_KEY": KEY, "TOCSIN_LOG_LEVEL": "warning",
                    "TOCSIN_DISPATCH_ENABLED": dispatch,
                    # thousands of posts with one key: the write limit is switched off
                    "TOCSIN_WRITE_RATE_LIMIT": '{"per_s": 0, "burst": 1}'})
                url = f"http://127.0.0.1:{port}/api/v1/alerts?profile=nl-alert"
                try:
                    if name == "tocsin":
                        with SpeechWatch(Path(data) / name / "tocsin.sqlite3") as watch:
                            results[name] = asyncio.run(measure(
                                name, url, args.requests, args.concurrency))
                        speech = watch.follow(args.speech_follow)
                    else:
                        results[name] = asyncio.run(measure(
                            name, url, args.requests, args.concurrency))
                finally:
                    tocsin.send_signal(signal.SIGTERM)
                    tocsin.wait(timeout=30)
        finally:
            bare.send_signal(signal.SIGTERM)
            bare.wait(timeout=30)

    print(f"medium alert ({len(MEDIUM)} bytes), concurrency {args.concurrency}, "
          f"{args.requests} requests per target (after a warm-up); tocsin = serve --demo "
          "as shipped, ingest = the same with dispatch_enabled false")
    print(f"{'target':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'n':>7}")
    for name, row in results.items():
        print(f"{name:<8}{row['rate']:>10.0f}{row['p50']:>10.1f}{row['p99']:>10.1f}"
              f"{int(row['n']):>7}")
    caught = (f"none behind {speech['caught_up_s']:.1f} s after the load" if
              speech["caught_up_s"] != float("inf") else
              f"{int(speech['left'])} still behind after {args.speech_follow:g} s")
    print(f"speech (tocsin): at most {int(speech['peak'])} alerts behind, "
          f"{int(speech['at_stop'])} when the load stopped; then {speech['rate']:.1f} "
          f"alerts/s spoken, {caught}")
    ratio = results["tocsin"]["rate"] / results["bare"]["rate"]
    only = results["ingest"]["rate"] / results["bare"]["rate"]
    p99 = results["tocsin"]["p99"]
    lines = [("tocsin_over_bare", ratio, f">= {RATIO_TARGET:g}", ratio >= RATIO_TARGET),
             ("tocsin_p99_ms", p99, f"<= {P99_TARGET_MS:g}", p99 <= P99_TARGET_MS),
             ("ingest_only_over_bare", only, f">= {INGEST_ONLY_TARGET:g}",
              only >= INGEST_ONLY_TARGET)]
    print()
    for metric, value, target, passed in lines:
        print(f"{'PASS' if passed else 'MISS'}: {metric} = {value:.2f} (target {target})")
    for metric, value, target, passed in lines:
        verdict("ingest", metric, value, target, passed)
    figure("ingest", "tocsin_req_per_s", results["tocsin"]["rate"])
    figure("ingest", "bare_req_per_s", results["bare"]["rate"])
    figure("ingest", "speech_behind_at_stop", speech["at_stop"])
    figure("ingest", "speech_alerts_per_s_after", speech["rate"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
