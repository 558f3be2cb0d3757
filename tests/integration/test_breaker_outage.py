"""No spinning while a breaker is open, through real processes: ``tocsin serve`` with the
real cell-broadcast adapter and default dispatch settings (breaker opens after 5
failures, lets a trial through after 30 s) against the mock CBC process, which answers
503 to everything for two minutes (``PUT /_mock/faults``) and then recovers.

A delivery blocked by the open breaker waits (``waiting_for_channel``) and is tried
once per half-open; nothing is recorded as an attempt unless something was sent.
This is the suite's one long test: the outage is the two minutes of the finding."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.harnesses import MockCbcProcess, mock_cbc
from tests.integration.server import start_server
from tests.integration.test_dispatch_flow import post, status, with_expiry

OUTAGE_S = 120.0
ROUTES = ("routes:\n  - id: all\n    match: {status: [Actual]}\n"
          "    channels: [cell_broadcast]\ndefault: [cell_broadcast]\n")


@pytest.fixture
def cbc() -> Iterator[MockCbcProcess]:
    with mock_cbc() as running:
        yield running


def configure(tmp_path: Path, cbc: MockCbcProcess) -> dict[str, str]:
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {
        "cell_broadcast": {"type": "cell_broadcast", "url": cbc.url, "timeout_s": 2,
                           "state_file": str(tmp_path / "cbc-ledger.json")}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {"TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


async def deliveries_of(server: Any, alert_id: str) -> dict[str, Any]:
    return {d["channel"]: d for d in (await status(server, alert_id))["deliveries"]}


@pytest.mark.timeout(300)
async def test_two_minute_cbc_outage_costs_few_attempts_and_delivers_after_recovery(
        tmp_path: Path, cbc: MockCbcProcess) -> None:
    cbc.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})
    server = start_server(tmp_path / "data", env=configure(tmp_path, cbc))
    try:
        severe = with_expiry("OUTAGE-SEVERE", 900)  # message 4371
        extreme = severe.replace(b"<identifier>OUTAGE-SEVERE</identifier>",
                                 b"<identifier>OUTAGE-EXTREME</identifier>").replace(
            b"<severity>Severe</severity>", b"<severity>Extreme</severity>")  # 4372
        began = time.monotonic()
        ids = [await post(server, severe), await post(server, extreme)]
        seen: set[str] = set()
        while time.monotonic() - began < OUTAGE_S:  # bounded: the outage's length
            for alert_id in ids:
                seen |= {d["state"] for d in (await deliveries_of(server, alert_id)).values()}
            await asyncio.sleep(1.0)
        calls_in_outage = cbc.call("GET", "/_mock/faults")["hits"]
        cbc.call("PUT", "/_mock/faults", {"mode": "none"})
        final: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + 60  # one breaker cool-down after recovery, and some
        while len(final) < len(ids):
            assert time.monotonic() < deadline, final
            for alert_id in ids:
                delivery = (await deliveries_of(server, alert_id))["cell_broadcast"]
                if delivery["state"] == "delivered":
                    final[alert_id] = delivery
            await asyncio.sleep(0.5)
    finally:
        server.stop()
    writes = [r for r in cbc.call("GET", "/_mock/received")
              if r["op"] == "write" and r["outcome"] == "created"]
    print(f"CBC calls during the {OUTAGE_S:.0f} s outage: {calls_in_outage} for "
          f"{len(ids)} alerts; writes after recovery: {len(writes)}; attempt rows: "
          f"{[len(d['history']) for d in final.values()]}")
    assert "waiting_for_channel" in seen
    for delivery in final.values():
        outcomes = [a["outcome"] for a in delivery["history"]]
        assert len(outcomes) <= 10, outcomes
        assert outcomes[-1] == "delivered"
        assert set(outcomes[:-1]) == {"transient"}  # every row is something that was sent
    assert calls_in_outage <= 10 * len(ids)
    assert sorted(w["message_id"] for w in writes) == [4371, 4372]
