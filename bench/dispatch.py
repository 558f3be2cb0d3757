"""Delivery speed: from HTTP 202 to the adapters, through real processes on 127.0.0.1.

``tocsin serve --demo`` routes every alert to the 4 channels of the issue "Speed":
2 webhook (``hook-a``, ``hook-b``) and the ``eudi_wallet`` channel, both to one
``tocsin mock-channels --only webhook --only eudi_wallet`` process (the webhook
receiver on port P, the Web Push service on P+1), and 1 file channel. The push
service runs in its accept-only mode (``PUT /_mock/mode {"open": false}``, as in
``bench/wallet.py``: 201 without decrypting) with ``--subscriptions`` (100) test
phones made by ``POST /_mock/phones`` at the medium alert's area (Rotterdam, 51.88,
4.54); each phone's ``PushSubscription`` is registered with the server the way a
wallet app does, ``POST /api/v1/wallet/subscriptions`` (the public route; demo mode
takes a loopback push service, outside it ``wallet_push_hosts`` and https would be
needed). The wallet audience is every subscription (the store knows no positions),
so every alert's wallet delivery is one push per subscription. Phases, one run:

1. ingest only: the same server and routes with ``dispatch_enabled: false`` (alerts
   and their 4-channel plans stored, nothing sent); alerts/s at 32 in flight;
2. full pipeline: ``--alerts`` at 32 in flight, then until all their deliveries are
   ``delivered`` (at most ``--full-wait`` s): deliveries/s (a wallet delivery, 100
   pushes, counts as 1) and pushes/s counted at the mock, over that time;
3. paced at 100 alerts/s for ``--seconds`` (60 by default): latency from the client
   receiving the 202 to the mock receiving the first webhook call for that alert
   (p50/p99), and the store's backlog (deliveries not ended) read every 0.5 s during
   and after the load, until it is zero (at most ``--drain-wait`` s);
4. a bare aiohttp POST loop (32 in flight, signed bodies) to the same mock webhook.

Targets (issue "Speed"): p99 of (3) <= 10 ms at 100 alerts/s; the backlog zero within
10 s of the load's end; deliveries/s of (2) >= 0.5 x (4). Pushes are reported beside
deliveries: at 100 alerts/s the wallet alone is 10,000 encrypted pushes/s. Wallet
deliveries are checked end to end: pushes counted at the mock and wallet deliveries
``delivered`` in the store are printed per phase. Prints PASS/MISS and a JSON verdict
line per target (``bench/verdicts.py``); exits 0 either way.

``--profile S`` samples the server with py-spy for S seconds from the start of the
paced phase (needs ptrace rights; the shares per function are printed, top 40 or
``--top N``, as ``scripts/profile_ingest.py`` prints them; ``--svg FILE`` also writes a
flame graph, ``--raw FILE`` keeps the collapsed stacks).
Sampling costs the server little, but a profiled run's figures are not the bench's.

Run: ``.venv/bin/python bench/dispatch.py [--alerts N] [--seconds S] [--subscriptions K]
[--profile S [--svg FILE] [--raw FILE] [--top N]] [--quick]`` (``--quick``: 40 alerts,
1 s of pacing and 5 subscriptions, for the smoke test).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
MEDIUM = (REPO / "tests" / "fixtures" / "cap" / "medium.xml").read_bytes()
KEY = "bench-key-0123456789"
SECRET = "bench-webhook-secret"
P99_TARGET_MS = 10.0
RATE = 100.0
CHANNELS = ("hook-a", "hook-b", "eudi_wallet", "file-a")
PHONE_AT = (51.885, 4.54)  # inside the medium alert's polygon (Rotterdam)
ELEMENT_LINE = re.compile(r"\((?P<channel>\w+)\): http://[^/]+:(?P<port>\d+)/")
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "scripts"))
from ingest import bodies as ingest_bodies  # noqa: E402  (sibling script)
from ingest import free_port, load, percentile, start  # noqa: E402
from profile_ingest import shares  # noqa: E402  (py-spy's collapsed stacks, same shares)
from verdicts import figure, verdict  # noqa: E402

from channels.eudi_wallet.keys import (  # noqa: E402
    b64url,
    generate_demo_keys,
    load_private_key,
    raw_public,
)


def bodies(count: int, tag: str) -> list[bytes]:
    """The medium alert, expiring a day from now: the fixture's fixed ``<expires>``
    passes with the calendar, and an expired alert is never delivered."""
    expires = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    return [body.replace(b"<expires>2026-11-25T16:00:00+01:00</expires>",
                         f"<expires>{expires}</expires>".encode())
            for body in ingest_bodies(count, tag)]


def free_pair() -> int:
    """A port P with P+1 also free: ``mock-channels`` puts its second element on P+1."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            try:
                with socket.socket() as second:
                    second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        with socket.socket() as check:
            try:
                check.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free loopback ports")


def call(port: int, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def wallet_config(keys_dir: Path, push_port: int) -> dict[str, Any]:
    keys = generate_demo_keys(keys_dir)
    return {"type": "eudi_wallet", "signing_key_file": str(keys.signing_key_file),
            "vapid_key_file": str(keys.vapid_key_file),
            "vapid_subject": "mailto:bench@tocsin.example", "issuer": "tocsin-bench",
            "health_url": f"http://127.0.0.1:{push_port}/_mock/health"}


def serve(data: Path, routes: str, mock_url: str, wallet: dict[str, Any], *,
          dispatch: bool = True) -> tuple[subprocess.Popen[bytes], int]:
    (data / "routes.yaml").write_text(routes, encoding="utf-8")
    config = {"routes_file": str(data / "routes.yaml"), "channels": {
        "hook-a": {"type": "webhook", "url": mock_url, "secret": SECRET},
        "hook-b": {"type": "webhook", "url": mock_url, "secret": SECRET},
        "eudi_wallet": wallet,
        "file-a": {"type": "file", "path": str(data / "a.jsonl")},
    }}
    (data / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    port = free_port()
    proc = start([sys.executable, "-m", "router.cli", "serve", "--demo", "--host", "127.0.0.1",
                  "--port", str(port), "--data-dir", str(data / "db")], port,
                 env={"TOCSIN_DEV_API_KEY": KEY, "TOCSIN_LOG_LEVEL": "warning",
                      # thousands of posts with one key: the write limit is switched off,
                      # and so is the per-address limit of the subscription route
                      "TOCSIN_WRITE_RATE_LIMIT": '{"per_s": 0, "burst": 1}',
                      "TOCSIN_SUBSCRIPTION_RATE_LIMIT": '{"per_s": 0, "burst": 1}',
                      "TOCSIN_CONFIG": str(data / "tocsin.yaml"),
                      "TOCSIN_DISPATCH_POLL_INTERVAL_S": "0.05",
                      "TOCSIN_DISPATCH_ENABLED": "true" if dispatch else "false"})
    return proc, port


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def element_ports(proc: subprocess.Popen[bytes], out: Path, wanted: int,
                  timeout: float = 30) -> dict[str, int]:
    """Channel -> port of each element ``mock-channels`` started, from the lines it prints
    (``mock NAME (CHANNEL): http://HOST:PORT/PATH``, in the registry's order), once each
    answers ``/_mock/health``; it exits on a bad command line."""
    deadline = time.monotonic() + timeout
    found: dict[str, int] = {}
    while time.monotonic() < deadline and proc.poll() is None and len(found) < wanted:
        found = {m["channel"]: int(m["port"]) for m in ELEMENT_LINE.finditer(
            out.read_text(encoding="utf-8") if out.exists() else "")}
        time.sleep(0.1)
    for port in found.values():
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_mock/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
    if len(found) < wanted or proc.poll() is not None or time.monotonic() >= deadline:
        raise RuntimeError(f"mock-channels did not start its elements (found {found}, "
                           f"exit {proc.poll()})")
    return found


def subscribe(port: int, subscriptions: list[dict[str, Any]]) -> int:
    """Register each phone's PushSubscription through the server's public route."""
    made = 0
    for subscription in subscriptions:
        answer = call(port, "POST", "/api/v1/wallet/subscriptions", subscription)
        made += bool(answer.get("id"))
    return made


def mock_received(mock_port: int) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{mock_port}/_mock/received?brief=1",
                                timeout=60) as response:
        result: list[dict[str, Any]] = json.loads(response.read())
        return result


def pushes(push_port: int) -> int:
    """Pushes the mock push service accepted since it last forgot them."""
    return int(call(push_port, "GET", "/_mock/summary")["pushes"])


def forget(*ports: int) -> None:
    for port in ports:
        call(port, "DELETE", "/_mock/received")


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def attempt_outcomes(db: Path) -> dict[str, int]:
    """Stored attempts by outcome: retries and breaker waits show here, not in the rate."""
    return dict(query(db, "SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome"))


def delivered_by_channel(db: Path) -> Counter[str]:
    return Counter(dict(query(db, "SELECT channel, COUNT(*) FROM deliveries "
                                  "WHERE state = 'delivered' GROUP BY channel")))


def pushes_recorded(db: Path) -> int:
    """Wallet pushes the store recorded as sent (``wallet_push_results``)."""
    return int(query(db, "SELECT COUNT(*) FROM wallet_push_results "
                         "WHERE outcome = 'sent'")[0][0])


def backlog(db: Path) -> int:
    """Deliveries in the store that have not ended (pending, waiting, sending; the states
    of ``tocsin_store_deliveries``), read directly: the gauge refreshes only every few s."""
    return int(query(db, "SELECT COUNT(*) FROM deliveries WHERE state IN "
                         "('pending', 'waiting_for_channel', 'sending')")[0][0])


def backlog_by_channel(db: Path) -> dict[str, int]:
    return dict(query(db, "SELECT channel, COUNT(*) FROM deliveries WHERE state IN "
                          "('pending', 'waiting_for_channel', 'sending') GROUP BY channel"))


async def sustained(url: str, db: Path, payloads: list[bytes], rate: float, drain_wait: float
                    ) -> tuple[dict[str, float], dict[str, int], int, float]:
    """Paced load with the backlog read every 0.5 s; returns the 202 times, the backlog
    by channel when the load stopped, its peak, and seconds from the load's end until it
    is zero (``inf`` when it is not zero within ``drain_wait`` s)."""
    peak = 0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, await asyncio.to_thread(backlog, db))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    acknowledged = await paced(url, payloads, rate)
    done.set()
    await sampler
    stopped = time.perf_counter()
    by_channel = await asyncio.to_thread(backlog_by_channel, db)
    at_stop = sum(by_channel.values())
    peak = max(peak, at_stop)
    remaining = at_stop
    while remaining and time.perf_counter() - stopped < drain_wait:
        await asyncio.sleep(0.5)
        remaining = await asyncio.to_thread(backlog, db)
    drain = time.perf_counter() - stopped if not remaining else float("inf")
    return acknowledged, by_channel, peak, 0.0 if not at_stop else drain


async def bare_posts(url: str, count: int, size: int, in_flight: int = 32) -> float:
    """A bare aiohttp POST loop to the same mock webhook: signed JSON bodies of the
    webhook channel's size, a fresh idempotency key each, ``in_flight`` at a time."""
    slots = asyncio.Semaphore(in_flight)
    data = json.dumps({"padding": "x" * max(size - 20, 0)}).encode()
    async with aiohttp.ClientSession() as session:

        async def one(number: int) -> None:
            timestamp = str(int(time.time()))
            signature = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + data,
                                             hashlib.sha256).hexdigest()
            headers = {"Content-Type": "application/json", "Idempotency-Key": f"bare/{number}",
                       "X-Tocsin-Timestamp": timestamp, "X-Tocsin-Signature": signature}
            async with slots, session.post(url, data=data, headers=headers) as response:
                await response.read()
                assert response.status == 201, response.status

        began = time.perf_counter()
        await asyncio.gather(*map(one, range(count)))
        return count / (time.perf_counter() - began)


async def paced(url: str, payloads: list[bytes], rate: float) -> dict[str, float]:
    """POST at a fixed rate; returns alert id -> time the 202 arrived."""
    acknowledged: dict[str, float] = {}
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(body: bytes) -> None:
            async with session.post(url, data=body) as response:
                answer = await response.json()
                acknowledged[answer["id"]] = time.time()

        began = time.perf_counter()
        tasks = []
        for number, body in enumerate(payloads):
            delay = began + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)
    return acknowledged


def sampler(pid: int, seconds: float, raw: Path, svg: Path | None
            ) -> list[subprocess.Popen[bytes]]:
    """py-spy on the server for ``seconds``, as ``scripts/profile_ingest.py`` runs it."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("--profile needs py-spy (pip install -e '.[bench]')")
    return [subprocess.Popen([spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100",
                              "-f", fmt, "-o", str(out), "--nonblocking"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for fmt, out in (("raw", raw), ("flamegraph", svg)) if out]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=300,
                        help="alerts of the unpaced phases (1) and (2)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="length of the paced load at 100 alerts/s")
    parser.add_argument("--subscriptions", type=int, default=100,
                        help="wallet subscriptions: pushes per wallet delivery (0: the wallet "
                        "delivery signs its document and reaches nobody)")
    parser.add_argument("--full-wait", type=float, default=120.0,
                        help="at most this long for phase (2)'s deliveries")
    parser.add_argument("--drain-wait", type=float, default=60.0,
                        help="at most this long for the backlog after the paced load")
    parser.add_argument("--profile", type=float, default=0.0, metavar="S",
                        help="sample the server with py-spy for S s of the paced phase")
    parser.add_argument("--svg", type=Path, help="with --profile: also a flame graph")
    parser.add_argument("--raw", type=Path, help="with --profile: keep py-spy's collapsed "
                        "stacks here")
    parser.add_argument("--top", type=int, default=40, help="with --profile: functions to list")
    parser.add_argument("--quick", action="store_true",
                        help="40 alerts, 1 s paced, 5 subscriptions (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.seconds, args.subscriptions = 40, 1.0, 5
        args.full_wait, args.drain_wait = 60.0, 30.0
    paced_count = int(RATE * args.seconds)
    routes = ("routes:\n  - id: all\n    match: {status: [Actual]}\n"
              f"    channels: [{', '.join(CHANNELS)}]\ndefault: [file-a]\n")
    expected = len(CHANNELS) * args.alerts
    with tempfile.TemporaryDirectory(prefix="tocsin-dispatch-") as tmp:
        root = Path(tmp)
        printed = root / "mock.out"
        with printed.open("wb") as out:
            mock = subprocess.Popen([sys.executable, "-m", "router.cli", "mock-channels",
                                     "--port", str(free_pair()), "--only", "webhook",
                                     "--only", "eudi_wallet", "--data-dir", str(root / "mock")],
                                    cwd=REPO, stdout=out, stderr=subprocess.DEVNULL,
                                    env={**os.environ, "TOCSIN_MOCK_WEBHOOK_SECRET": SECRET})
        try:
            ports = element_ports(mock, printed, 2)
            mock_port, push_port = ports["webhook"], ports["eudi_wallet"]
            mock_url = f"http://127.0.0.1:{mock_port}/hook"
            call(push_port, "PUT", "/_mock/mode", {"open": False})
            wallet = wallet_config(root / "keys", push_port)
            vapid = b64url(raw_public(load_private_key(Path(wallet["vapid_key_file"]))))
            phones = call(push_port, "POST", "/_mock/phones",
                          {"positions": [list(PHONE_AT)] * args.subscriptions,
                           "application_server_key": vapid}) if args.subscriptions else []
            subscriptions = [phone["subscription"] for phone in phones]

            (root / "ingest").mkdir()
            proc, port = serve(root / "ingest", routes, mock_url, wallet, dispatch=False)
            url = f"http://127.0.0.1:{port}/api/v1/alerts"
            try:
                ingest_rate, _ = asyncio.run(load(url, bodies(args.alerts, "i"), 32))
            finally:
                stop(proc)

            (root / "full").mkdir()
            proc, port = serve(root / "full", routes, mock_url, wallet)
            url = f"http://127.0.0.1:{port}/api/v1/alerts"
            db = root / "full" / "db" / "tocsin.sqlite3"
            try:
                registered = subscribe(port, subscriptions)
                began = time.perf_counter()
                asyncio.run(load(url, bodies(args.alerts, "f"), 32))
                deadline = time.monotonic() + args.full_wait
                while (sum(delivered_by_channel(db).values()) < expected
                       and time.monotonic() < deadline):
                    time.sleep(0.1)
                full_s = time.perf_counter() - began
                full_done = delivered_by_channel(db)
                full_pushes, full_recorded = pushes(push_port), pushes_recorded(db)
                outcomes = attempt_outcomes(db)
                forget(mock_port, push_port)

                raw = args.raw or root / "profile.raw"
                samplers = (sampler(proc.pid, args.profile, raw, args.svg)
                            if args.profile else [])
                paced_began = time.perf_counter()
                acknowledged, stop_by_channel, peak, drain_s = asyncio.run(
                    sustained(url, db, bodies(paced_count, "p"), RATE, args.drain_wait))
                paced_s = time.perf_counter() - paced_began
                for one in samplers:
                    one.wait()
                left = backlog_by_channel(db)
                paced_outcomes = attempt_outcomes(db)
                paced_pushes = pushes(push_port)
                paced_done = delivered_by_channel(db) - full_done
                first: dict[str, float] = {}
                for item in mock_received(mock_port):
                    alert_id = item["idempotency_key"].split("/", 1)[0]
                    if alert_id in acknowledged:
                        first[alert_id] = min(first.get(alert_id, 1e18), item["received_at"])
                latencies = [max(0.0, first[a] - acknowledged[a]) * 1e3 for a in first]
            finally:
                stop(proc)
            bare_rate = asyncio.run(bare_posts(mock_url, 4 * args.alerts, 1500))
            profile = shares(raw) if args.profile else None
        finally:
            mock.send_signal(signal.SIGTERM)
            mock.wait(timeout=30)

    # the wallet path really ran: every subscription registered and, once phase (2)
    # completed, each wallet delivery pushed to every one of them, as the store recorded
    wallet_done = full_done["eudi_wallet"]
    complete = sum(full_done.values()) == expected
    if registered != args.subscriptions or (complete and not (
            full_pushes == wallet_done * args.subscriptions == full_recorded)):
        raise RuntimeError(f"wallet path broken: {registered} of {args.subscriptions} "
                           f"subscriptions registered, {wallet_done} wallet deliveries, "
                           f"{full_pushes} pushes at the mock, {full_recorded} recorded")
    done = sum(full_done.values())
    deliveries_rate = done / full_s
    wallet_pushes_rate = full_pushes / full_s
    requests_rate = (full_done["hook-a"] + full_done["hook-b"] + full_pushes) / full_s
    print(f"{args.alerts} alerts (medium, 4.3 KB), 32 in flight; 4 channels (2 webhook to the "
          f"mock process, eudi_wallet to {args.subscriptions} subscriptions on its push "
          f"service, accept-only, 1 file); {registered} subscriptions registered")
    print(f"ingest only:      {ingest_rate:8.0f} alerts/s")
    print(f"202 -> delivered: {done} of {expected} deliveries in {full_s:.1f} s "
          f"({dict(full_done)}); wallet pushes: {full_pushes} at the mock, {full_recorded} "
          f"recorded sent in the store")
    print(f"stored attempts by outcome: {outcomes}")
    print(f"deliveries/s:     {deliveries_rate:8.1f}  (a wallet delivery counts 1) against a "
          f"bare aiohttp POST loop to the same mock {bare_rate:.0f}/s: ratio "
          f"{deliveries_rate / bare_rate:.3f}")
    print(f"pushes/s:         {wallet_pushes_rate:8.1f}  HTTP calls/s (webhook + pushes) "
          f"{requests_rate:.1f}: {requests_rate / bare_rate:.3f} of the bare loop")
    print(f"sustained 100 alerts/s for {args.seconds:g} s ({len(acknowledged)} of {paced_count} "
          f"acknowledged, load and drain {paced_s:.1f} s): backlog at the end "
          f"{sum(stop_by_channel.values())} {stop_by_channel}, "
          f"peak {peak}, zero {drain_s:.1f} s after the load stopped; left {left} "
          f"(attempts by outcome then: {paced_outcomes})")
    print(f"  delivered meanwhile: {dict(paced_done)}; wallet pushes at the mock "
          f"{paced_pushes} ({paced_pushes / paced_s:.0f}/s)")
    p50 = statistics.median(latencies) if latencies else float("inf")
    p99 = percentile(latencies, 0.99) if latencies else float("inf")
    print(f"paced 100 alerts/s for {args.seconds:g} s: 202 -> first webhook call "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({len(latencies)} of {paced_count} alerts "
          "seen at the mock)")
    print(f"{'PASS' if p99 <= P99_TARGET_MS else 'MISS'}: p99 202 -> first adapter call "
          f"{p99:.1f} ms (target <= {P99_TARGET_MS:.0f} ms)")
    if profile is not None:
        total, inclusive = profile
        print(f"profile: {total} samples of the server over {args.profile:g} s of the paced "
              "phase (inclusive shares)")
        for key, count in inclusive.most_common(args.top):
            print(f"{count / max(total, 1):6.1%}  {key}")
    figure("dispatch", "ingest_only_alerts_per_s", ingest_rate)
    figure("dispatch", "delivered_over_ingest_only", deliveries_rate / 4 / ingest_rate)
    figure("dispatch", "wallet_pushes_per_s", wallet_pushes_rate)
    figure("dispatch", "http_calls_over_bare_post_loop", requests_rate / bare_rate)
    verdict("dispatch", "deliveries_over_bare_post_loop", deliveries_rate / bare_rate,
            ">= 0.5", deliveries_rate / bare_rate >= 0.5)
    verdict("dispatch", "backlog_zero_after_load_s", min(drain_s, 1e9), "<= 10",
            drain_s <= 10)
    verdict("dispatch", "p99_202_to_first_call_ms", min(p99, 1e9), f"<= {P99_TARGET_MS:g}",
            p99 <= P99_TARGET_MS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
