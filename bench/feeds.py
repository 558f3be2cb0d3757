"""Feeds, both directions, each against a baseline measured in the same run, on
127.0.0.1 only, every server a separate process.

(a) Ingest: 1,000 real-size alerts (tests/fixtures/cap/medium.xml, 4.3 kB, two
    languages, 50-point polygons, each with its own identifier) served by the mock feed
    server (``channels.mock.feed_server``) as an Atom index; a ``tocsin serve`` process
    polls it (one feed, ``profile: nl-alert``, every 100 ms) and takes every document.
    Baseline: the same alerts ``POST``ed to another ``tocsin serve`` with the same
    settings, one request at a time -- the poller too submits one document at a time,
    in the feed's order (fetching ``fetch_concurrency``, 4, ahead) -- under
    ``?profile=nl-alert``. Both with ``dispatch_enabled: false`` (ingest only:
    delivering is the same work either way), both running throughout. In four
    alternating rounds (after a warm-up batch of each) a quarter of the alerts is
    POSTed, then listed in the feed beside the earlier batches (the served directory
    swapped in by one rename), timed until the feed's status counts them new; the
    medians are compared. Alternating keeps the load of the shared machine alike for
    both. Also printed: all 1,000 POSTed again with 16 in flight (no target).
(b) 304 polls: the same feed, now unchanged, polled every 100 ms (the shortest
    interval a feed may have); the ``tocsin serve`` process's CPU time (every thread,
    ``/proc/<pid>/task/*/schedstat``, nanoseconds) over a bounded number of polls the
    mock server answered 304, divided by that number. Gross, that includes what the
    process spends on its own background work meanwhile (backlog gauges, the audit
    trail's checks, demo mode's own feed polled every 5 s); net subtracts what the
    idle POST server -- the same settings without the feed, still running -- spent
    over the same wall time. The verdict is the net figure; the gross one is printed
    beside it.
(c) Publishing: 500 public alerts in force posted to a Tocsin app; then
    ``GET /feeds/public.atom`` with 8 in flight against a static file of the same bytes
    served by the same aiohttp application (``add_static``, with Tocsin's middlewares):
    the bench runs that app in its own process (``--serve-app``) with the one extra
    route, so no bench-only setting is needed in Tocsin itself. Three alternating
    rounds, median requests/s.

Targets (issue "Feeds"): (a) feed / POST >= 0.8; (b) <= 1 ms CPU per 304 poll;
(c) feed / static >= 0.5. Ends with JSON verdict lines (``bench/verdicts.py``).

Run: ``.venv/bin/python bench/feeds.py [--alerts N] [--polls N] [--in-force N]
[--requests N] [--quick]`` (``--quick``: 40 alerts, 10 polls, 20 in force, 60 requests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from verdicts import figure, verdict  # sibling module (bench/ is on sys.path)

REPO = Path(__file__).resolve().parent.parent
MEDIUM = (REPO / "tests" / "fixtures" / "cap" / "medium.xml").read_bytes()
KEY = "bench-key-0123456789"
INGEST_TARGET = 0.8
POLL_CPU_TARGET_MS = 1.0
PUBLISH_TARGET = 0.5
TIME_CAP_S = 120.0
ENV = {"TOCSIN_DEV_API_KEY": KEY, "TOCSIN_LOG_LEVEL": "warning",
       "TOCSIN_DISPATCH_ENABLED": "false",
       # thousands of posts with one key: the write limit is switched off
       "TOCSIN_WRITE_RATE_LIMIT": '{"per_s": 0, "burst": 1}'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(command: list[str], ready_url: str, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready_url, timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                detail = proc.stderr.read().decode() if proc.stderr else "exited"
                raise RuntimeError(detail) from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{ready_url} did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def tocsin(port: int, data: Path, *extra: str) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "router.cli", "serve", "--demo", "--host",
                  "127.0.0.1", "--port", str(port), "--data-dir", str(data), *extra],
                 f"http://127.0.0.1:{port}/readyz", ENV)


def get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def cpu_ns(pid: int) -> int:
    """On-CPU time of every thread of ``pid`` so far (the scheduler's own nanoseconds)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # thread ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


def bodies(count: int, tag: str, *, in_force: bool = False) -> list[bytes]:
    out = []
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(count):
        body = MEDIUM.replace(b"<identifier>NL-BENCH-M</identifier>",
                              f"<identifier>NL-BENCH-{tag}-{n}</identifier>".encode())
        if in_force:  # sent a little earlier each, all expiring in six hours
            sent = (now - timedelta(seconds=n + 60)).isoformat().encode()
            body = body.replace(b"2026-11-25T10:00:00+01:00", sent).replace(
                b"2026-11-25T16:00:00+01:00", (now + timedelta(hours=6)).isoformat().encode())
        out.append(body)
    return out


async def post_all(url: str, payloads: list[bytes], concurrency: int) -> float:
    """POST every payload, ``concurrency`` in flight; alerts/s (each must be a 202)."""
    position = 0
    failures: list[int] = []
    deadline = time.monotonic() + TIME_CAP_S
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def worker() -> None:
            nonlocal position
            while position < len(payloads) and time.monotonic() < deadline:
                body = payloads[position]
                position += 1
                async with session.post(url, data=body) as response:
                    await response.read()
                    if response.status != 202:
                        failures.append(response.status)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    if failures or position < len(payloads):
        raise RuntimeError(f"{len(failures)} posts failed, {position} of {len(payloads)} sent")
    return len(payloads) / elapsed


def until(check: Callable[[], bool], what: str, poll_s: float = 0.05) -> None:
    deadline = time.monotonic() + TIME_CAP_S
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll_s)


ROUNDS = 4


def measure_ingest(work: Path, count: int, polls: int) -> dict[str, Any]:
    """(a) in alternating rounds -- a batch POSTed, the same batch from the feed -- after
    a warm-up batch of each, then (b). The POST server stays up, idle, during (b)."""
    post_port = free_port()
    post = tocsin(post_port, work / "post")
    mock_port = free_port()
    served = work / "served"
    served.symlink_to(_directory(work / "round-empty", []), target_is_directory=True)
    mock = start([sys.executable, "-m", "channels.mock.feed_server", "--dir", str(served),
                  "--port", str(mock_port)], f"http://127.0.0.1:{mock_port}/stats")
    feed_port = free_port()
    config = work / "feed.yaml"
    config.write_text(json.dumps({"feeds": [{
        "name": "bench", "url": f"http://127.0.0.1:{mock_port}/feed.atom",
        "interval_s": 0.1, "profile": "nl-alert", "max_bytes": 16 << 20,
        "timeout_s": 60}]}), encoding="utf-8")
    feed = tocsin(feed_port, work / "feed", "--config", str(config))
    try:
        run = _Run(work, served, f"http://127.0.0.1:{feed_port}/api/v1/feeds",
                   f"http://127.0.0.1:{post_port}/api/v1/alerts?profile=nl-alert")
        until(lambda: run.counts()["not_modified"] >= 2, "the empty feed polled")
        run.batch(bodies(min(50, count), "WARM"))
        batch = max(1, count // ROUNDS)
        rates = [run.batch(bodies(batch, f"R{r}")) for r in range(ROUNDS)]
        post_16 = asyncio.run(post_all(run.post_url, bodies(count, "C16"), 16))
        polled = measure_polls(feed.pid, post.pid, f"http://127.0.0.1:{mock_port}/stats",
                               polls)
    finally:
        for proc in (feed, mock, post):
            stop(proc)
    return polled | {"post": statistics.median(r[0] for r in rates),
                     "feed": statistics.median(r[1] for r in rates),
                     "ratios": [r[1] / r[0] for r in rates], "post_16": post_16}


def _directory(path: Path, payloads: list[bytes]) -> Path:
    path.mkdir()
    for n, body in enumerate(payloads):
        (path / f"alert-{n:04d}.xml").write_bytes(body)
    return path


class _Run:
    """One POST server and one feed, fed the same batches in turn."""

    def __init__(self, work: Path, served: Path, status_url: str, post_url: str) -> None:
        self.work, self.served = work, served
        self.status_url, self.post_url = status_url, post_url
        self.listed: list[bytes] = []

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = get_json(self.status_url)["feeds"][0]["counts"]
        return result

    def batch(self, payloads: list[bytes]) -> tuple[float, float]:
        """POST ``payloads`` one at a time, then list them in the feed as well (beside
        the earlier batches, as a feed grows); (POST alerts/s, feed alerts/s)."""
        post_rate = asyncio.run(post_all(self.post_url, payloads, 1))
        self.listed += payloads
        full = _directory(self.work / f"round-{len(self.listed)}", self.listed)
        swap = self.work / "swap"
        swap.symlink_to(full, target_is_directory=True)
        taken = self.counts()["new"]
        began = time.perf_counter()
        os.replace(swap, self.served)  # the index lists the whole batch at once
        try:
            until(lambda: self.counts()["new"] >= taken + len(payloads), "the batch taken")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {get_json(self.status_url)['feeds'][0]}") from None
        feed_rate = len(payloads) / (time.perf_counter() - began)
        final = self.counts()
        if final["rejected"] or final["duplicate"]:
            raise RuntimeError(f"the feed did not take every alert as new: {final}")
        return post_rate, feed_rate


def measure_polls(feed_pid: int, idle_pid: int, stats_url: str,
                  polls: int) -> dict[str, float]:
    """(b): CPU of the polling process over ``polls`` 304s, and of the idle one."""
    def not_modified() -> int:
        return int(get_json(stats_url).get("/feed.atom:304", 0))

    until(lambda: not_modified() >= 2, "the unchanged feed answered 304")
    first, cpu_before, idle_before = not_modified(), cpu_ns(feed_pid), cpu_ns(idle_pid)
    wall = time.perf_counter()
    until(lambda: not_modified() >= first + polls, f"{polls} polls answered 304", 0.2)
    seen = not_modified() - first
    gross = (cpu_ns(feed_pid) - cpu_before) / 1e6
    idle = (cpu_ns(idle_pid) - idle_before) / 1e6
    elapsed = time.perf_counter() - wall
    return {"poll_cpu_gross_ms": gross / seen, "poll_cpu_ms": (gross - idle) / seen,
            "idle_cpu_ms_per_s": idle / elapsed, "polls": seen, "polls_per_s": seen / elapsed}


def serve_app(port: int, data: Path, static: Path) -> None:
    """The Tocsin application as ``tocsin serve --demo`` builds it, plus one static route
    for the baseline (the same app: its middlewares, its server)."""
    from aiohttp import web  # noqa: PLC0415

    from router.app import create_app  # noqa: PLC0415
    from router.observability.logging import configure_logging  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415

    settings = load_settings(None, host="127.0.0.1", port=port, data_dir=data, demo=True)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    app.router.add_static("/bench-static/", static)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def get_load(url: str, count: int, concurrency: int) -> tuple[float, int]:
    """GET ``url`` ``count`` times, ``concurrency`` in flight; (requests/s, body bytes)."""
    position = 0
    size = 0
    failures: list[int] = []
    deadline = time.monotonic() + TIME_CAP_S
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def worker() -> None:
            nonlocal position, size
            while position < count and time.monotonic() < deadline:
                position += 1
                async with session.get(url) as response:
                    size = len(await response.read())
                    if response.status != 200:
                        failures.append(response.status)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} GETs failed, e.g. HTTP {failures[0]}")
    return position / elapsed, size


def measure_publish(work: Path, in_force: int, requests: int) -> dict[str, float]:
    static = work / "static"
    static.mkdir()
    port = free_port()
    app = start([sys.executable, __file__, "--serve-app", str(port), str(work / "app"),
                 str(static)], f"http://127.0.0.1:{port}/readyz", ENV)
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(post_all(f"{base}/api/v1/alerts?profile=nl-alert",
                             bodies(in_force, "PUB", in_force=True), 16))
        with urllib.request.urlopen(f"{base}/feeds/public.atom", timeout=30) as response:
            body = response.read()
        listed = body.count(b"<entry>")
        if listed != in_force:
            raise RuntimeError(f"the public feed lists {listed} alerts, not {in_force}")
        (static / "public.atom").write_bytes(body)
        rates: dict[str, list[float]] = {"feed": [], "static": []}
        sizes: dict[str, int] = {}
        urls = {"feed": f"{base}/feeds/public.atom", "static": f"{base}/bench-static/public.atom"}
        for url in urls.values():  # warm-up
            asyncio.run(get_load(url, max(10, requests // 10), 8))
        for _ in range(3):
            for name, url in urls.items():
                rate, sizes[name] = asyncio.run(get_load(url, max(1, requests // 3), 8))
                rates[name].append(rate)
    finally:
        stop(app)
    return {"feed": statistics.median(rates["feed"]),
            "static": statistics.median(rates["static"]), "bytes": len(body),
            "feed_bytes": sizes["feed"], "static_bytes": sizes["static"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=150)
    parser.add_argument("--in-force", type=int, default=500)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--serve-app", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    if args.serve_app:
        port, data, static = args.serve_app
        serve_app(int(port), Path(data), Path(static))
        return 0
    if args.quick:
        args.alerts, args.polls, args.in_force, args.requests = 40, 10, 20, 60

    with tempfile.TemporaryDirectory(prefix="tocsin-bench-feeds-") as tmp:
        work = Path(tmp)
        ingest = measure_ingest(work, args.alerts, args.polls)
        publish = measure_publish(work, args.in_force, args.requests)

    print(f"(a) {args.alerts} alerts of {len(MEDIUM)} bytes, ingest only "
          "(dispatch_enabled false), profile nl-alert")
    print(f"    POST, one at a time:    {ingest['post']:>8.1f} alerts/s")
    print(f"    from the feed:          {ingest['feed']:>8.1f} alerts/s")
    print(f"    (medians of {ROUNDS} alternating rounds; feed / POST by round: "
          + ", ".join(f"{r:.2f}" for r in ingest["ratios"]) + ")")
    print(f"    POST, 16 in flight:     {ingest['post_16']:>8.1f} alerts/s (no target)")
    print(f"(b) 304 polls: {int(ingest['polls'])} polls ({ingest['polls_per_s']:.1f}/s), "
          f"{ingest['poll_cpu_gross_ms']:.3f} ms CPU per poll gross; the idle POST server "
          f"used {ingest['idle_cpu_ms_per_s']:.2f} ms CPU per s meanwhile; net "
          f"{ingest['poll_cpu_ms']:.3f} ms CPU per poll")
    print(f"(c) GET /feeds/public.atom with {args.in_force} alerts in force "
          f"({int(publish['bytes'])} bytes), 8 in flight, median of 3 rounds")
    print(f"    static file, same app:  {publish['static']:>8.1f} req/s")
    print(f"    public feed:            {publish['feed']:>8.1f} req/s")
    feed_over_post = ingest["feed"] / ingest["post"]
    feed_over_static = publish["feed"] / publish["static"]
    lines = [
        ("feed_over_post", feed_over_post, f">= {INGEST_TARGET:g}",
         feed_over_post >= INGEST_TARGET),
        ("cpu_ms_per_304_poll", ingest["poll_cpu_ms"], f"<= {POLL_CPU_TARGET_MS:g}",
         ingest["poll_cpu_ms"] <= POLL_CPU_TARGET_MS),
        ("public_feed_over_static", feed_over_static, f">= {PUBLISH_TARGET:g}",
         feed_over_static >= PUBLISH_TARGET)]
    print()
    for metric, value, target, passed in lines:
        print(f"{'PASS' if passed else 'MISS'}: {metric} = {value:.3f} (target {target})")
    for metric, value, target, passed in lines:
        verdict("feeds", metric, value, target, passed)
    figure("feeds", "cpu_ms_per_304_poll_gross", ingest["poll_cpu_gross_ms"])
    figure("feeds", "feed_alerts_per_s", ingest["feed"])
    figure("feeds", "post_alerts_per_s", ingest["post"])
    figure("feeds", "post_16_in_flight_alerts_per_s", ingest["post_16"])
    figure("feeds", "public_feed_req_per_s", publish["feed"])
    figure("feeds", "static_req_per_s", publish["static"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
