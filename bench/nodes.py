"""Many nodes on PostgreSQL: ingest, 202 -> first adapter call and claim rate, one run.

Every server is a real ``tocsin serve`` process on 127.0.0.1; PostgreSQL is a
throwaway server from Debian's package (``tests/postgres.py``: initdb into a temporary
directory, ``fsync=on``, ``synchronous_commit=on`` -- durability is never weakened
here, a 202 means committed and flushed, as on SQLite).

1. Ingest (the load shape of ``bench/ingest.py``: the medium alert, each request with
   its own identifier, ``serve --demo`` as shipped, C requests in flight, a bounded
   count after a warm-up) against (a) SQLite, 1 node; (b) PostgreSQL, 1 node;
   (c) PostgreSQL, 3 nodes on one database, the requests round-robin across them.
2. 202 -> first adapter call on PostgreSQL (1 node): alerts paced at 20/s routed to a
   webhook of a ``tocsin mock-channels`` process that stamps each arrival (as
   ``bench/dispatch.py`` does on SQLite); p50/p99 from the 202 reaching the client to
   the first call reaching the mock.
3. Claim rate: deliveries claimed per second by ``PostgresStore.claim_due`` (lease,
   fencing token, the alert's raw bytes, references, last attempt) against a bare
   ``UPDATE ... WHERE rowid IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING`` loop with
   psycopg over the same deliveries table (reset between the two), batches of 64 (the
   dispatcher's default in-flight window).

Targets (issue "Many nodes on PostgreSQL", "Measured"): PostgreSQL 1 node >= 0.7 x
SQLite ingest; 3 nodes >= 1.8 x 1 node where the machine's cores allow (the core count
is printed: three nodes, PostgreSQL and the load generator share them, so on a small
machine the cores, not the store, set the ceiling); 202 -> first adapter call p99 <= 25
ms on PostgreSQL. The claim rate is a figure (no target). Prints PASS/MISS and a JSON
line per target (``bench/verdicts.py``); exits 0 either way.

Run: ``.venv/bin/python bench/nodes.py [--requests N] [--concurrency C] [--quick]``
(``--quick``: 60 requests per target, 1 s of pacing, a small claim table; smoke test).
The latency phase paces alerts at ``--rate`` (default 20/s, see ``PACED_RATE``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))
from dispatch import SECRET, mock_received, paced  # noqa: E402  (sibling)
from dispatch import bodies as fresh_bodies  # noqa: E402
from ingest import KEY, TIME_CAP_S, free_port, percentile  # noqa: E402
from verdicts import figure, verdict  # noqa: E402


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Until the mock answers ``/_mock/health`` (it exits on a bad command line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_mock/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"mock-channels did not start on port {port} (exit {proc.poll()})")

from router.store.postgres import PostgresStore  # noqa: E402
from tests.postgres import PostgresServer, start_postgres  # noqa: E402

PG_OVER_SQLITE_TARGET = 0.7
THREE_OVER_ONE_TARGET = 1.8
P99_TARGET_MS = 25.0
CLAIM_BATCH = 64
MAX_TRIES = 10
PACED_RATE = 20.0
"""Alerts/s of the latency phase: below what one node ingests on a small machine, so the
figure is the path from commit to adapter, not a queue of posts the node cannot keep
up with (saturation is what the ingest phase measures)."""
ENV = {"TOCSIN_DEV_API_KEY": KEY, "TOCSIN_LOG_LEVEL": "warning",
       # thousands of posts with one key: the write limit is switched off
       "TOCSIN_WRITE_RATE_LIMIT": '{"per_s": 0, "burst": 1}'}


def spawn(data: Path, store: str | None, env: dict[str, str] | None = None
          ) -> tuple[subprocess.Popen[bytes], int]:
    """``tocsin serve --demo`` on a free port, with its own data directory (the lock on
    it stays, one per node) and ``store`` (None: SQLite in the data directory); not
    waited for (``ready``), so that several nodes start together."""
    port = free_port()
    extra = {**ENV, **(env or {})}
    if store:
        extra["TOCSIN_STORE"] = store
    proc = subprocess.Popen([sys.executable, "-m", "router.cli", "serve", "--demo",
                             "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], cwd=REPO, env={**os.environ, **extra},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc, port


def ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                detail = proc.stderr.read().decode() if proc.stderr else "exited"
                raise RuntimeError(detail) from None
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not become ready")


def serve(data: Path, store: str | None, env: dict[str, str] | None = None
          ) -> tuple[subprocess.Popen[bytes], int]:
    proc, port = spawn(data, store, env)
    try:
        ready(proc, port)
    except BaseException:
        stop([proc])
        raise
    return proc, port


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@dataclass
class Load:
    rate: float  # alerts accepted (202) per second
    latencies: list[float]  # per alert, from its first POST to its 202 (retries included)
    retries: int  # 503 answers (not accepted, Retry-After) that the client posted again


async def load(urls: list[str], payloads: list[bytes], concurrency: int) -> Load:
    """``bench/ingest.py``'s load with the requests round-robin over ``urls``. A 503
    (the store could not take the alert now; it was NOT accepted) is posted again after
    its ``Retry-After``, as a client must: counted, and its wait is in the latency."""
    latencies: list[float] = []
    failures: list[int] = []
    retries = 0
    position = 0
    deadline = time.monotonic() + TIME_CAP_S
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal position, retries
            while position < len(payloads) and time.monotonic() < deadline:
                number = position
                position += 1
                started = time.perf_counter()
                for _attempt in range(MAX_TRIES):
                    async with session.post(urls[number % len(urls)],
                                            data=payloads[number]) as response:
                        await response.read()
                        status = response.status
                        wait = float(response.headers.get("Retry-After", "1"))
                    if status != 503:
                        break
                    retries += 1
                    await asyncio.sleep(wait)
                if status != 202:
                    failures.append(status)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return Load(len(latencies) / elapsed, latencies, retries)


def ingest(root: Path, name: str, store: str | None, nodes: int, *, count: int,
           concurrency: int) -> dict[str, float]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for number in range(nodes):  # started together: they migrate once (advisory lock)
            proc, port = spawn(root / f"{name}-{number}", store)
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}/api/v1/alerts?profile=nl-alert")
        for proc, url in zip(procs, urls, strict=True):
            ready(proc, int(url.split(":")[2].split("/")[0]))
        asyncio.run(load(urls, fresh_bodies(min(200, count), f"{name}-warm"), concurrency))
        run = asyncio.run(load(urls, fresh_bodies(count, name), concurrency))
    finally:
        stop(procs)
    return {"rate": run.rate, "p50": statistics.median(run.latencies) * 1e3,
            "p99": percentile(run.latencies, 0.99) * 1e3, "n": len(run.latencies),
            "retries": run.retries}


def routed_config(data: Path, channels: dict[str, dict[str, str]]) -> dict[str, str]:
    """Settings (env) that route every Actual alert to ``channels``."""
    data.mkdir(parents=True, exist_ok=True)
    names = ", ".join(channels)
    (data / "routes.yaml").write_text(
        f"routes:\n  - id: all\n    match: {{status: [Actual]}}\n    channels: [{names}]\n"
        f"default: [{next(iter(channels))}]\n", encoding="utf-8")
    (data / "tocsin.yaml").write_text(json.dumps(
        {"routes_file": str(data / "routes.yaml"), "channels": channels}), encoding="utf-8")
    return {"TOCSIN_CONFIG": str(data / "tocsin.yaml")}


def first_call(root: Path, store: str, count: int, rate: float) -> list[float]:
    """202 -> first webhook call (ms) for ``count`` alerts paced at ``rate``/s on one
    node."""
    mock_port = free_port()
    mock = subprocess.Popen([sys.executable, "-m", "router.cli", "mock-channels",
                             "--port", str(mock_port), "--only", "webhook",
                             "--data-dir", str(root / "mock")], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TOCSIN_MOCK_WEBHOOK_SECRET": SECRET})
    procs = [mock]
    try:
        wait_healthy(mock_port, mock)
        env = routed_config(root / "latency", {"hook": {
            "type": "webhook", "url": f"http://127.0.0.1:{mock_port}/hook",
            "secret": SECRET}})
        proc, port = serve(root / "latency", store, env)
        procs.insert(0, proc)
        acknowledged = asyncio.run(paced(f"http://127.0.0.1:{port}/api/v1/alerts",
                                         fresh_bodies(count, "lat"), rate))
        time.sleep(2.0)
        first: dict[str, float] = {}
        for item in mock_received(mock_port):
            alert_id = item["idempotency_key"].split("/", 1)[0]
            if alert_id in acknowledged:
                first[alert_id] = min(first.get(alert_id, 1e18), item["received_at"])
    finally:
        stop(procs)
    return [max(0.0, first[a] - acknowledged[a]) * 1e3 for a in first]


def fill_deliveries(root: Path, store: str, alerts: int) -> int:
    """``alerts`` alerts routed to 4 file channels on an ingest-only node: 4 x alerts
    pending deliveries in the database. Returns how many there are."""
    env = routed_config(root / "claims", {
        f"file-{n}": {"type": "file", "path": str(root / "claims" / f"{n}.jsonl")}
        for n in range(4)})
    proc, port = serve(root / "claims", store, {**env, "TOCSIN_DISPATCH_ENABLED": "false"})
    try:
        asyncio.run(load([f"http://127.0.0.1:{port}/api/v1/alerts"],
                         fresh_bodies(alerts, "claim"), 32))
    finally:
        stop([proc])
    with psycopg.connect(store) as conn:
        row = conn.execute("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'").fetchone()
    return int(row[0]) if row else 0


def reset_deliveries(store: str) -> None:
    with psycopg.connect(store) as conn:
        conn.execute("UPDATE deliveries SET state = 'pending', fence = 0, lease_node = NULL,"
                     " lease_expires = NULL")


async def claim_store(store: str) -> tuple[int, float]:
    """Claim every pending delivery through ``PostgresStore.claim_due``."""
    pg = PostgresStore(store)
    await pg.open()
    try:
        claimed = 0
        began = time.perf_counter()
        while batch := await pg.claim_due(datetime.now(UTC), CLAIM_BATCH):
            claimed += len(batch)
        return claimed, time.perf_counter() - began
    finally:
        await pg.close()


def claim_bare(store: str) -> tuple[int, float]:
    """Claim every pending delivery with a bare SKIP LOCKED statement, a commit each."""
    claimed = 0
    with psycopg.connect(store) as conn:
        began = time.perf_counter()
        while True:
            rows = conn.execute(
                "UPDATE deliveries SET state = 'sending' WHERE rowid IN ("
                " SELECT rowid FROM deliveries WHERE state = 'pending' ORDER BY rowid"
                " LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING alert_id, channel",
                (CLAIM_BATCH,)).fetchall()
            conn.commit()
            if not rows:
                break
            claimed += len(rows)
        return claimed, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--claim-alerts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=PACED_RATE,
                        help="alerts/s for the 202 -> first call phase")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    paced_count = int(args.rate * 20)
    if args.quick:
        args.requests, args.claim_alerts, paced_count = 60, 40, int(args.rate)
    cores = os.cpu_count() or 1
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tocsin-nodes-") as tmp:
        root = Path(tmp)
        server: PostgresServer = start_postgres()
        try:
            size = {"count": args.requests, "concurrency": args.concurrency}
            results["sqlite-1"] = ingest(root, "sqlite", None, 1, **size)
            results["pg-1"] = ingest(root, "pg1", server.create_database("nodes"), 1, **size)
            results["pg-3"] = ingest(root, "pg3", server.create_database("nodes"), 3, **size)
            latencies = first_call(root, server.create_database("latency"), paced_count,
                                   args.rate)
            claims = server.create_database("claims")
            pending = fill_deliveries(root, claims, args.claim_alerts)
            store_claimed, store_s = asyncio.run(claim_store(claims))
            reset_deliveries(claims)
            bare_claimed, bare_s = claim_bare(claims)
        finally:
            server.remove()

    print(f"os.cpu_count() = {cores}; a throwaway PostgreSQL server (fsync on, "
          "synchronous_commit on) on the same machine")
    print(f"ingest: medium alert, serve --demo as shipped, {args.concurrency} in flight, "
          f"{args.requests} requests per target after a warm-up")
    print(f"{'target':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'n':>7}{'503s':>7}")
    for name, row in results.items():
        print(f"{name:<10}{row['rate']:>10.0f}{row['p50']:>10.1f}{row['p99']:>10.1f}"
              f"{int(row['n']):>7}{int(row['retries']):>7}")
    p50 = statistics.median(latencies)
    p99 = percentile(latencies, 0.99)
    print(f"PostgreSQL, paced {args.rate:g} alerts/s for {paced_count / args.rate:.0f} s: "
          "202 -> first "
          f"webhook call p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} of "
          f"{paced_count} alerts seen at the mock)")
    store_rate = store_claimed / store_s
    bare_rate = bare_claimed / bare_s
    print(f"claims ({pending} pending deliveries, batches of {CLAIM_BATCH}): claim_due "
          f"{store_rate:.0f}/s ({store_claimed}), bare SKIP LOCKED {bare_rate:.0f}/s "
          f"({bare_claimed}); claim_due / bare = {store_rate / bare_rate:.2f}")
    pg_over_sqlite = results["pg-1"]["rate"] / results["sqlite-1"]["rate"]
    three_over_one = results["pg-3"]["rate"] / results["pg-1"]["rate"]
    limit = ("" if cores >= 8 else
             f" ({cores} cores: 3 nodes, PostgreSQL and the load generator share them)")
    if results["pg-3"]["retries"]:
        limit += (f"; {int(results['pg-3']['retries'])} posts answered 503 and were retried:"
                  " the nodes' accepts collided in the store (one audit chain for all nodes)")
    lines = [("pg_1_over_sqlite_1", pg_over_sqlite, f">= {PG_OVER_SQLITE_TARGET:g}",
              pg_over_sqlite >= PG_OVER_SQLITE_TARGET, ""),
             ("pg_3_over_pg_1", three_over_one, f">= {THREE_OVER_ONE_TARGET:g}",
              three_over_one >= THREE_OVER_ONE_TARGET, limit),
             ("pg_p99_202_to_first_call_ms", p99, f"<= {P99_TARGET_MS:g}",
              p99 <= P99_TARGET_MS, "")]
    print()
    for metric, value, target, passed, note in lines:
        print(f"{'PASS' if passed else 'MISS'}: {metric} = {value:.2f} (target {target}){note}")
    for metric, value, target, passed, _note in lines:
        verdict("nodes", metric, value, target, passed)
    figure("nodes", "cpu_count", cores)
    for name, row in results.items():
        figure("nodes", f"{name.replace('-', '_')}_req_per_s", row["rate"])
        figure("nodes", f"{name.replace('-', '_')}_p99_ms", row["p99"])
        figure("nodes", f"{name.replace('-', '_')}_503_retried", row["retries"])
    figure("nodes", "pg_p50_202_to_first_call_ms", p50)
    figure("nodes", "claim_due_per_s", store_rate)
    figure("nodes", "bare_skip_locked_per_s", bare_rate)
    figure("nodes", "claim_due_over_bare", store_rate / bare_rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
