"""SMS fan-out to subscribers: Tocsin's submit_sm/s against the SMSC's own ceiling.

One run, one sandbox SMSC process (the smpp34 server, ``channels.mock.smsc``, receipts
off so both phases load it equally), on this machine:

1. ceiling: a bare smpp34 client loop -- the same binds and window, no store, no
   encoding, one single-part message after another -- submit_sm/s;
2. Tocsin: N subscribers imported into a SQLite store, an alert whose area covers
   them all, ``SmsChannel.send`` with the store's Audience (selection, durable
   claims and outcomes, GSM-7 splitting, windowed submits) -- submit_sm/s and
   recipients/s, and the peak RSS growth of this process during the send.

Targets (issue "SMS adapter over SMPP 3.4"): Tocsin >= 0.7 of the ceiling; peak RSS
growth <= 100 MB for 100,000 recipients. Prints PASS/MISS and the projected time for
1,000,000 recipients at the measured rate; exits 0 either way.

Run: ``.venv/bin/python bench/sms_fanout.py [--subscribers N] [--binds B] [--window W]``
(``--quick``: 300 subscribers, for the smoke test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import smpp34
import structlog

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verdicts import figure, verdict  # noqa: E402  (sibling module, bench/ on sys.path)

from channels.sms import SmsChannel  # noqa: E402
from router.audience import Subscriber  # noqa: E402
from router.cap import parse_cap  # noqa: E402
from router.channel import Delivery  # noqa: E402
from router.storage import open_stores  # noqa: E402
from router.store import ClaimedDelivery, NewAlert, PlannedDelivery  # noqa: E402

ALERT = REPO / "config" / "examples" / "nl-alert-fire.xml"
RATIO_TARGET = 0.7
RSS_TARGET_MB = 100.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Smsc:
    def __init__(self) -> None:
        self.smpp, self.control = free_port(), free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "channels.mock.smsc", "--smpp-port", str(self.smpp),
             "--control-port", str(self.control)], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                self.call("GET", "/_mock/health")
                break
            except OSError:
                time.sleep(0.1)
        self.call("PUT", "/_mock/faults", {"receipt": "none"})

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", data=data,
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


async def ceiling(smsc: Smsc, count: int, binds: int, window: int) -> float:
    """submit_sm/s of a bare client loop: the SMSC's ceiling as seen from this machine."""
    sessions = []
    for _ in range(binds):
        client = smpp34.Client("127.0.0.1", smsc.smpp, "bench", "bench", bind_type="TRX",
                               window_size=window)
        sessions.append((client, await client.connect()))
    per_worker = count // (binds * window)

    async def worker(session: smpp34.Smsc, offset: int) -> None:
        for i in range(per_worker):
            await session.submit_sm(f"3160{offset + i:07d}", b"Brand in Rotterdam-Zuid",
                                    source_addr="Tocsin", registered_delivery=1)

    started = time.perf_counter()
    await asyncio.gather(*(worker(s, (b * window + w) * per_worker)
                           for b, (_, s) in enumerate(sessions) for w in range(window)))
    elapsed = time.perf_counter() - started
    for client, _ in sessions:
        await client.stop()
    return per_worker * binds * window / elapsed


async def tocsin(smsc: Smsc, count: int, binds: int, window: int, workdir: Path
                 ) -> tuple[float, float, float, dict[str, Any]]:
    stores = open_stores(f"sqlite:///{workdir / 'bench.sqlite3'}", workdir)
    await stores.open()
    store, audience = stores.alerts, stores.audience
    try:
        batch: list[Subscriber] = []
        for i in range(count):  # inside the example alert's polygon
            batch.append(Subscriber("msisdn", f"3161{i:07d}", None,
                                    points=((51.871 + (i % 200) * 0.0001,
                                             4.431 + (i // 200 % 250) * 0.0002),)))
            if len(batch) == 1000:
                await audience.import_subscribers(batch)
                batch = []
        if batch:
            await audience.import_subscribers(batch)
        raw = ALERT.read_bytes()
        document = parse_cap(raw).document
        assert document is not None
        await store.accept(NewAlert(id="BENCH", alert=document.alert, raw=raw,
                                    content_hash="b", profile="cap12", authority="bench",
                                    received_at=document.alert.sent, findings=[],
                                    plan=[PlannedDelivery("sms", "bench")]))
        claimed = ClaimedDelivery("BENCH", "sms", "BENCH/sms", 0, None, raw)
        channel = SmsChannel("sms", {"port": smsc.smpp, "system_id": "tocsin",
                                     "password": "bench", "binds": binds, "window": window})
        channel.use_message_ledger(audience.message_ledger("sms"))  # as tocsin serve does
        await channel.start()
        delivery = Delivery("BENCH", "sms", "BENCH/sms", document.alert, raw,
                            audience=audience.audience("msisdn", claimed, document.alert))
        base, peak = rss_mb(), rss_mb()
        sampling = True

        async def sample() -> None:
            nonlocal peak
            while sampling:
                peak = max(peak, rss_mb())
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        before = smsc.call("GET", "/_mock/stats").get("accepted", 0)
        started = time.perf_counter()
        receipt = await channel.send(delivery)
        elapsed = time.perf_counter() - started
        sampling = False
        await sampler
        await channel.close()
        accepted = smsc.call("GET", "/_mock/stats")["accepted"] - before
        return accepted / elapsed, count / elapsed, peak - base, dict(receipt.detail)
    finally:
        await stores.close()


async def run(args: argparse.Namespace) -> None:
    smsc = Smsc()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base_rate = await ceiling(smsc, args.subscribers * 2, args.binds, args.window)
            smsc.call("DELETE", "/_mock/received")
            submits, people, growth, detail = await tocsin(smsc, args.subscribers, args.binds,
                                                           args.window, Path(tmp))
    finally:
        smsc.stop()
    ratio = submits / base_rate
    parts = sum(detail["parts"].values()) // max(1, len(detail["parts"]))
    print(f"{args.subscribers} subscribers, {args.binds} binds x window {args.window}, "
          f"sandbox SMSC (smpp34 server) as a separate process, receipts off")
    print(f"bare smpp34 client loop (ceiling): {base_rate:9.0f} submit_sm/s")
    print(f"Tocsin SmsChannel.send:            {submits:9.0f} submit_sm/s "
          f"({people:.0f} recipients/s, {parts} parts each)")
    print(f"recipients sent: {detail['metrics']['sms_recipients_sent']}")
    print(f"{'PASS' if ratio >= RATIO_TARGET else 'MISS'}: Tocsin / ceiling = {ratio:.2f} "
          f"(target >= {RATIO_TARGET})")
    print(f"{'PASS' if growth <= RSS_TARGET_MB else 'MISS'}: peak RSS growth during the send "
          f"{growth:.1f} MB (target <= {RSS_TARGET_MB:.0f} MB for 100,000)")
    print(f"projected for 1,000,000 recipients at {people:.0f}/s: "
          f"{1_000_000 / people / 60:.1f} min")
    verdict("sms_fanout", "tocsin_over_smpp_ceiling", ratio, f">= {RATIO_TARGET:g}",
            ratio >= RATIO_TARGET)
    verdict("sms_fanout", "peak_rss_growth_mb", growth, f"<= {RSS_TARGET_MB:g}",
            growth <= RSS_TARGET_MB)
    figure("sms_fanout", "recipients_per_s", people)


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings+
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--binds", type=int, default=2)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="300 subscribers (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.subscribers = 300
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
