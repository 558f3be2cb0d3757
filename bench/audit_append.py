"""What the audit append costs the store's writer: ``SqliteStore.accept`` of the medium
alert with its ``alert.submitted`` entry (the service as it is) against the same store
accepting without any entry, measured in the same run, alternating, on one disk.

Both run the real writer (WAL, ``synchronous=FULL``, group commit of up to 256 jobs)
with ``--concurrency`` accepts in flight, so the figure includes the extra rows, the
head update, the canonical JSON and the SHA-256 in the writer thread, and the same
fsyncs. HTTP, parsing and routing are left out: ``bench/ingest.py`` measures the
whole request; this isolates the writer, where the append runs, from the noise of a
shared machine. Prints accepts/s for each and audited / bare (higher is better).

Run: ``.venv/bin/python bench/audit_append.py [--alerts N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from verdicts import figure

from router.cap import parse_cap
from router.store import NewAlert, PlannedDelivery, SqliteStore, sqlite

REPO = Path(__file__).resolve().parent.parent
MEDIUM = (REPO / "tests" / "fixtures" / "cap" / "medium.xml").read_bytes()
PLAN = [PlannedDelivery("cell_broadcast", "r"), PlannedDelivery("sms", "r"),
        PlannedDelivery("galileo_ewss", "r", fallback_for="cell_broadcast")]


def alerts(count: int, tag: str) -> list[NewAlert]:
    document = parse_cap(MEDIUM).document
    assert document is not None
    base = document.alert
    return [NewAlert(id=f"{tag}-{n}", alert=base.model_copy(update={"identifier": f"{tag}-{n}"}),
                     raw=MEDIUM, content_hash=f"h{n}", profile="nl-alert", authority="bench",
                     received_at=datetime.now(UTC), findings=[], plan=PLAN)
            for n in range(count)]


async def accept_all(path: Path, batch: list[NewAlert], concurrency: int) -> float:
    store = SqliteStore(path)
    await store.open()
    try:
        queue = iter(batch)

        async def worker() -> None:
            for new in queue:
                await store.accept(new)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(batch) / (time.perf_counter() - began)
    finally:
        await store.close()


def measure(audited: bool, directory: Path, count: int, concurrency: int, tag: str) -> float:
    """One timed run; ``audited=False`` swaps in the writer job without the audit append."""
    original = sqlite._accept_audited
    if not audited:
        sqlite._accept_audited = sqlite._accept  # type: ignore[assignment]
    try:
        return asyncio.run(accept_all(directory / f"{tag}.sqlite3", alerts(count, tag),
                                      concurrency))
    finally:
        sqlite._accept_audited = original  # type: ignore[assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="40 accepts, 2 rounds (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.alerts, args.rounds = 40, 2
    rates: dict[str, list[float]] = {"bare": [], "audited": []}
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-audit-") as tmp:
        for round_ in range(args.rounds):
            for name in ("bare", "audited") if round_ % 2 == 0 else ("audited", "bare"):
                rates[name].append(measure(name == "audited", Path(tmp), args.alerts,
                                           args.concurrency, f"{name}-{round_}"))
    print(f"medium alert ({len(MEDIUM)} bytes), {args.alerts} accepts per run, "
          f"{args.concurrency} in flight, {args.rounds} alternating rounds")
    for name, values in rates.items():
        print(f"{name:<8} accepts/s median {statistics.median(values):8.0f}   runs "
              + " ".join(f"{v:.0f}" for v in values))
    ratio = statistics.median(rates["audited"]) / statistics.median(rates["bare"])
    print(f"audited / bare = {ratio:.2f}")
    figure("audit_append", "audited_over_bare", ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
