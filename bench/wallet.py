"""Wallet push fan-out speed: pushes/s to 10,000 subscriptions, against a bare POST loop.

One ``tocsin mock-channels --only eudi_wallet`` process on 127.0.0.1 stands in for
the push service, in its accept-only mode (``PUT /_mock/mode {"open": false}``: it
answers 201 without decrypting, so both phases pay the same receiving cost). Three
phases, one run, the same subscriptions:

1. bare aiohttp POST loop: one pre-built body of the same size, the same headers,
   64 requests in flight -- HTTP alone;
2. the ``eudi_wallet`` channel sending one alert through the SQLite store's durable
   audience (the path the dispatcher uses): per message a fresh ECDH key, HKDF and
   AES-GCM (RFC 8291), the cached VAPID header, and the per-batch outcome writes;
3. the RFC 8291 encryption alone, in this process, per message (no I/O).

Prints pushes/s of (1) and (2), the ratio (2)/(1), and the encryption cost; exits 0.

Run: ``.venv/bin/python bench/wallet.py [--subscriptions N] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from verdicts import figure  # noqa: E402  (sibling module, bench/ on sys.path)

from channels.eudi_wallet import WalletChannel  # noqa: E402
from channels.eudi_wallet.keys import b64url_decode, generate_demo_keys  # noqa: E402
from channels.eudi_wallet.webpush import Subscription, encrypt  # noqa: E402
from router.audience import NewWalletSubscription  # noqa: E402
from router.cap import parse_cap  # noqa: E402
from router.channel import Delivery  # noqa: E402
from router.storage import open_stores  # noqa: E402
from router.store import NewAlert, PlannedDelivery  # noqa: E402

IN_FLIGHT = 64
ALERT = REPO / "config" / "examples" / "nl-alert-fire.xml"
sys.path.insert(0, str(REPO / "bench"))
from ingest import free_port  # noqa: E402  (sibling script)


def call(port: int, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"null")


def start_mock(data: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "router.cli", "mock-channels", "--port",
                             str(port), "--only", "eudi_wallet", "--data-dir", str(data)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            call(port, "GET", "/_mock/health")
        except OSError:
            time.sleep(0.1)
        else:
            return proc, port
    proc.kill()
    raise RuntimeError("mock push service did not start")


async def bare_loop(subscriptions: list[dict[str, Any]], body: bytes) -> float:
    headers = {"TTL": "86400", "Urgency": "high", "Topic": "x" * 32,
               "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
               "Authorization": "vapid t=x,k=y"}
    slots = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:

        async def one(subscription: dict[str, Any]) -> None:
            async with slots, session.post(subscription["endpoint"], data=body,
                                           headers=headers) as response:
                await response.read()
                assert response.status == 201, response.status

        started = time.perf_counter()
        await asyncio.gather(*map(one, subscriptions))
        return len(subscriptions) / (time.perf_counter() - started)


async def channel_run(data: Path, subscriptions: list[dict[str, Any]]) -> tuple[float, int]:
    stores = open_stores(f"sqlite:///{data / 'bench.sqlite3'}", data)
    await stores.open()
    store = stores.alerts
    for start in range(0, len(subscriptions), 500):  # concurrent saves share commits
        await asyncio.gather(*(stores.audience.save_wallet_subscription(NewWalletSubscription(
            sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"]))
            for sub in subscriptions[start:start + 500]))
    raw = ALERT.read_bytes()
    alert = parse_cap(raw).document.alert  # type: ignore[union-attr]
    await store.accept(NewAlert(id="bench", alert=alert, raw=raw, content_hash="h",
                                profile="cap12", authority="bench",
                                received_at=datetime.now(UTC), findings=[],
                                plan=[PlannedDelivery("eudi_wallet", "bench")]))
    claimed = (await store.claim_due(datetime.now(UTC), 1))[0]
    keys = generate_demo_keys(data / "keys")
    channel = WalletChannel("eudi_wallet", {
        "signing_key_file": str(keys.signing_key_file),
        "vapid_key_file": str(keys.vapid_key_file),
        "vapid_subject": "mailto:bench@tocsin.example", "concurrency": IN_FLIGHT,
        "timeout_s": 60})
    await channel.start()
    delivery = Delivery(alert_id="bench", channel="eudi_wallet",
                        idempotency_key=claimed.idempotency_key, alert=alert, raw=raw,
                        audience=stores.audience.audience("wallet", claimed, alert))
    try:
        started = time.perf_counter()
        receipt = await channel.send(delivery)
        elapsed = time.perf_counter() - started
    finally:
        await channel.close()
        await stores.close()
    sent = int(receipt.detail["metrics"]["wallet_pushes"])
    assert sent == len(subscriptions), receipt.detail
    return sent / elapsed, int(receipt.detail["bytes"])


def encrypt_cost_us(subscription: dict[str, Any], size: int, rounds: int) -> float:
    target = Subscription(subscription["endpoint"], b64url_decode(subscription["keys"]["p256dh"]),
                          b64url_decode(subscription["keys"]["auth"]))
    payload = b"x" * size
    started = time.perf_counter()
    for _ in range(rounds):
        encrypt(payload, target)
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 subscriptions (smoke test)")
    args = parser.parse_args()
    count = 300 if args.quick else args.subscriptions
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        proc, port = start_mock(data / "mock")
        try:
            call(port, "PUT", "/_mock/mode", {"open": False})
            phones = call(port, "POST", "/_mock/phones",
                          {"positions": [[51.88, 4.46]] * count})
            subscriptions = [p["subscription"] for p in phones]
            wallet_rate, size = asyncio.run(channel_run(data, subscriptions))
            body = encrypt(b"x" * size, Subscription.from_json(subscriptions[0]))
            bare_rate = asyncio.run(bare_loop(subscriptions, body))
            cost = encrypt_cost_us(subscriptions[0], size, 200 if args.quick else 2000)
        finally:
            proc.kill()
            proc.wait(timeout=10)
    print(f"subscriptions: {count}, signed payload {size} bytes, {IN_FLIGHT} in flight, "
          "mock push service in accept-only mode")
    print(f"bare aiohttp POST loop          {bare_rate:10.0f} pushes/s")
    print(f"eudi_wallet channel (+ store)   {wallet_rate:10.0f} pushes/s")
    print(f"channel / bare                  {wallet_rate / bare_rate:10.2f}")
    print(f"RFC 8291 encryption alone       {cost:10.0f} us/message "
          f"({1e6 / cost:.0f} messages/s on one core)")
    figure("wallet", "channel_over_bare_post_loop", wallet_rate / bare_rate)
    figure("wallet", "encryption_us_per_message", cost)
    return 0


if __name__ == "__main__":
    sys.exit(main())
