"""Cell broadcast under the real osmo-cbc's faults, through real processes: ``tocsin
serve`` against ``tocsin mock-channels --only cell_broadcast`` made to behave as osmo-cbc
0.5.3 did (shared/specs/cell-broadcast.md §8.x): answers lost after the operation was
carried out, or lost with nothing done, 409 / 404 never answered, no peer (15 s, 200,
empty body), one message per identifier. Each test counts, from the mock's own log, the
HTTP calls that reached the CBC for the alert."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.contract.harnesses import (
    MockCbcProcess,
    MockEwssUplinkProcess,
    mock_cbc,
    mock_ewss_uplink,
)
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import start_server
from tests.integration.test_cell_broadcast_flow import cb_final, raw_call
from tests.integration.test_dispatch_flow import FAST, post, until
from tests.integration.test_ewss_fallback import PrimaryCellBroadcast, extreme_fire
from tests.integration.test_ewss_fallback import configure as configure_with_ewss

ROUTES = ("routes:\n  - id: main\n    match: {status: [Actual]}\n    channels: [cell_broadcast]\n"
          "    fallback: [archive]\ndefault: [archive]\n")
CMAS_DEPLOYMENT = """identifiers:
  scheme: cmas
  pools: {4370: [4370], 4371: [4371], 4372: [4372], 4373: [4373], 4374: [4374],
          4375: [4375, 4376], 4376: [4376], 4377: [4377], 4378: [4378],
          4380: [4380], 4381: [4381]}
repetition: {peer: cbsp, period_s: 60}
"""


@pytest.fixture(scope="module")
def cbc() -> Iterator[MockCbcProcess]:
    with mock_cbc() as running:
        yield running


@pytest.fixture(scope="module")
def ewss_uplink() -> Iterator[MockEwssUplinkProcess]:
    with mock_ewss_uplink() as running:
        yield running


@pytest.fixture
def healthy(cbc: MockCbcProcess) -> MockCbcProcess:
    cbc.call("DELETE", "/_mock/received")
    cbc.call("PUT", "/_mock/faults", {"mode": "none"})
    cbc.call("PUT", "/_mock/cbc", {})
    return cbc


def configure(tmp_path: Path, cbc: MockCbcProcess, *, timeout_s: float = 1,
              deployment: str | None = None, **channel: Any) -> dict[str, str]:
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config: dict[str, Any] = {
        "type": "cell_broadcast", "url": cbc.url, "timeout_s": timeout_s,
        "state_file": str(tmp_path / "ledger.jsonl"), **channel}
    if deployment is not None:
        (tmp_path / "deployment.yaml").write_text(deployment, encoding="utf-8")
        config["deployment"] = str(tmp_path / "deployment.yaml")
    settings = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {
        "cell_broadcast": config,
        "archive": {"type": "file", "path": str(tmp_path / "archive.jsonl")}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(settings), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


def expiring(identifier: str, seconds: float) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    body = make_alert(identifier, sent=(now - timedelta(minutes=1)).isoformat())
    expires = (now + timedelta(seconds=seconds)).isoformat()
    return body.replace(b"<senderName>", f"<expires>{expires}</expires><senderName>".encode())


def calls(cbc: MockCbcProcess) -> list[dict[str, Any]]:
    """Every ECBE request that reached the mock, answered or not."""
    return list(cbc.call("GET", "/_mock/received"))


def delivered(deliveries: dict[str, Any]) -> bool:
    return bool(deliveries.get("cell_broadcast", {}).get("state") == "delivered")


async def test_a_retry_never_kills_another_alerts_live_message(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    """Issue 14 item 1, as observed: A live on 4371; osmo-cbc does not answer B's POST for
    4371 (its 409 is lost). B must never be written over A, let alone kill it."""
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        first = await post(server, make_alert("CB-LIVE-A"))
        await until(server, first, delivered)
        [live] = healthy.call("GET", "/_mock/display")
        healthy.call("PUT", "/_mock/cbc", {"hang_on_conflict": True})
        second = await post(server, expiring("CB-LIVE-B", 6))
        deliveries = await until(server, second, cb_final, timeout=30)
        shown = healthy.call("GET", "/_mock/display")
        log = calls(healthy)
    finally:
        server.stop()
    assert shown == [live]  # A is still on the air
    assert [e["op"] for e in log] == ["write"]  # B reached the CBC zero times
    reasons = {a["reason"] for a in deliveries["cell_broadcast"]["history"]
               if a["outcome"] == "transient"}
    assert "identifier_pool_exhausted" in reasons


@pytest.mark.parametrize(("faults", "expected"), [
    ([{"op": "write", "outcome": "created", "applied": True}],
     ["write/created/lost", "write/conflict"]),
    ([{"op": "write", "outcome": "created", "applied": False}],
     ["write/not_applied/lost", "write/created"]),
    ([{"op": "write", "outcome": "created", "applied": True},
      {"op": "write", "outcome": "conflict"}],
     ["write/created/lost", "write/conflict/lost", "write/conflict"]),
], ids=["applied-no-answer", "not-applied-no-answer", "applied-then-409-lost"])
async def test_a_write_whose_answer_never_came_converges_on_one_message(
        tmp_path: Path, healthy: MockCbcProcess, faults: list[dict[str, Any]],
        expected: list[str]) -> None:
    healthy.call("PUT", "/_mock/cbc", {"no_answer": faults, "hang_s": 3})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, make_alert("CB-LOST"))
        deliveries = await until(server, alert_id, cb_final, timeout=30)
    finally:
        server.stop()
    assert deliveries["cell_broadcast"]["state"] == "delivered"
    [shown] = healthy.call("GET", "/_mock/display")
    log = calls(healthy)
    assert [_call(e) for e in log] == expected  # <= 3 calls for the alert
    assert {e["serial"]["encoded"] for e in log} == {shown["serial"]["encoded"]}


@pytest.mark.parametrize(("faults", "expected"), [
    ([{"op": "kill", "outcome": "killed", "applied": True}],
     ["kill/killed/lost", "kill/unknown"]),
    ([{"op": "kill", "outcome": "killed", "applied": False}],
     ["kill/not_applied/lost", "kill/killed"]),
    ([{"op": "kill", "outcome": "killed", "applied": True},
      {"op": "kill", "outcome": "unknown"}],
     ["kill/killed/lost", "kill/unknown/lost", "kill/unknown"]),
], ids=["applied-no-answer", "not-applied-no-answer", "applied-then-404-lost"])
async def test_a_cancel_whose_answer_never_came_converges(
        tmp_path: Path, healthy: MockCbcProcess, faults: list[dict[str, Any]],
        expected: list[str]) -> None:
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, make_alert("CB-CANCEL"))
        await until(server, alert_id, delivered)
        before = len(calls(healthy))
        healthy.call("PUT", "/_mock/cbc", {"no_answer": faults, "hang_s": 3})
        cancel_id = await post(server, _cancel_of("CB-CANCEL"))
        deliveries = await until(server, cancel_id, cb_final, timeout=30)
    finally:
        server.stop()
    assert deliveries["cell_broadcast"]["state"] == "delivered"
    assert healthy.call("GET", "/_mock/display") == []
    assert [_call(e) for e in calls(healthy)[before:]] == expected


def _call(entry: dict[str, Any]) -> str:
    return f"{entry['op']}/{entry['outcome']}" + ("" if entry["answered"] else "/lost")


def _cancel_of(identifier: str) -> bytes:
    """A Cancel of ``make_alert(identifier)`` (the example Cancel, its reference changed)."""
    text = (EXAMPLES / "nl-alert-fire-cancel.xml").read_text(encoding="utf-8")
    text = text.replace("NL-VRR-2026-0043,2026-11-25T14:40:00+01:00",
                        f"{identifier},2026-11-25T14:05:00+01:00")
    return text.replace("<identifier>NL-VRR-2026-0044</identifier>",
                        f"<identifier>{identifier}-CANCEL</identifier>").encode()


def test_mock_cbc_without_peers_waits_then_answers_200_with_no_body(
        healthy: MockCbcProcess) -> None:
    healthy.call("PUT", "/_mock/cbc", {"peers": "none", "no_peer_wait_s": 0.5})
    body = {"cbe_name": "t", "repetition_period": 10, "scope": {"scope_plmn": {}},
            "smscb_message": {"message_id": 4380, "serial_nr": {"serial_nr_encoded": 16400},
                              "payload": {"payload_encoded": {"dcs": 1, "pages": ["D4"]}}}}
    started = time.monotonic()
    assert raw_call(healthy, "POST", "/api/ecbe/v1/message", json.dumps(body).encode()
                    )[:2] == (200, "")
    assert raw_call(healthy, "DELETE", "/api/ecbe/v1/message/4380")[:2] == (200, "")
    assert time.monotonic() - started >= 1.0  # both waited out the acknowledgement timer
    assert raw_call(healthy, "DELETE", "/api/ecbe/v1/message/4380")[:2] == (
        404, "Unknown message ID")


async def test_an_alert_converges_against_a_cbc_without_peers(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    healthy.call("PUT", "/_mock/cbc", {"peers": "none", "no_peer_wait_s": 0.3})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, make_alert("CB-NOPEER"))
        deliveries = await until(server, alert_id, cb_final)
    finally:
        server.stop()
    assert deliveries["cell_broadcast"]["state"] == "delivered"
    assert [_call(e) for e in calls(healthy)] == ["write/created"]


def severe(identifier: str) -> bytes:
    return make_alert(identifier)  # Severe / Immediate / Observed: CMAS 4375


async def test_simultaneous_severe_alerts_share_the_pool_and_the_third_waits(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    """Two regions on fire: both on the air at once (4375, 4376); the third is told the
    pool is exhausted and which alerts hold it; Update and Cancel stay put."""
    server = start_server(tmp_path / "data", env=configure(
        tmp_path, healthy, deployment=CMAS_DEPLOYMENT))
    try:
        first = await post(server, severe("CB-POOL-1"))
        second = await post(server, severe("CB-POOL-2"))
        await until(server, first, delivered)
        await until(server, second, delivered)
        third = await post(server, expiring("CB-POOL-3", 5))
        busy = await until(server, third, lambda d: any(
            a["reason"] == "identifier_pool_exhausted"
            for a in d["cell_broadcast"]["history"]))
        shown = healthy.call("GET", "/_mock/display")
        log = calls(healthy)
    finally:
        server.stop()
    assert sorted(m["message_id"] for m in shown) == [4375, 4376]
    error = next(a["error"] for a in busy["cell_broadcast"]["history"]
                 if a["reason"] == "identifier_pool_exhausted")
    assert f"4375: alert {first}" in error or f"4375: alert {second}" in error
    assert f"4376: alert {first}" in error or f"4376: alert {second}" in error
    assert [e["op"] for e in log] == ["write", "write"]  # the third reached the CBC 0 times
    assert {e["repetition_period"] for e in log} == {32}  # 60 s in CBSP units of 1.883 s


async def test_update_and_cancel_stay_on_the_identifier_the_original_got(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    server = start_server(tmp_path / "data", env=configure(
        tmp_path, healthy, deployment=CMAS_DEPLOYMENT))
    try:
        other = await post(server, severe("CB-STAY-0"))
        await until(server, other, delivered)
        first = await post(server, make_alert("NL-VRR-2026-0042"))  # the example's key
        await until(server, first, delivered)
        update = await post(server, (EXAMPLES / "nl-alert-fire-update.xml").read_bytes())
        await until(server, update, delivered)
        on_update = healthy.call("GET", "/_mock/display")
        cancel = await post(server, (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes())
        await until(server, cancel, delivered)
        on_cancel = healthy.call("GET", "/_mock/display")
    finally:
        server.stop()
    assert [(m["message_id"], m["serial"]["update_nr"]) for m in on_update] == [
        (4375, 0), (4376, 1)]
    assert [m["message_id"] for m in on_cancel] == [4375]  # the other alert lives on


async def test_a_cbc_keyed_by_identifier_and_serial_carries_both_without_a_pool(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    healthy.call("PUT", "/_mock/cbc", {"keys_messages_by": "identifier_and_serial"})
    server = start_server(tmp_path / "data", env=configure(
        tmp_path, healthy, keys_messages_by="identifier_and_serial"))
    try:
        first = await post(server, make_alert("CB-KEYED-1"))
        second = await post(server, make_alert("CB-KEYED-2"))
        await until(server, first, delivered)
        await until(server, second, delivered)
        shown = healthy.call("GET", "/_mock/display")
    finally:
        server.stop()
    assert [m["message_id"] for m in shown] == [4371, 4371]
    assert len({m["serial"]["encoded"] for m in shown}) == 2


async def test_expired_broadcasts_are_killed_while_running_and_after_a_restart(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    """Issue 14 item 5: the kill at expiry is durably scheduled: one alert expires while
    the server runs, the other while it is down; both are killed."""
    env = configure(tmp_path, healthy)
    server = start_server(tmp_path / "data", env=env)
    try:
        running = await post(server, expiring("CB-EXPIRE-RUNNING", 4))
        down = await post(server, expiring("CB-EXPIRE-DOWN", 4).replace(
            b"<severity>Severe</severity>", b"<severity>Extreme</severity>"))
        await until(server, running, delivered)
        await until(server, down, delivered)
    finally:
        server.stop()
    assert sorted(m["message_id"] for m in healthy.call("GET", "/_mock/display")) == [
        4371, 4372]
    await asyncio.sleep(5)  # both expire while no server runs
    assert len(healthy.call("GET", "/_mock/display")) == 2  # nobody killed them yet
    server = start_server(tmp_path / "data", env=env)
    try:
        for _ in range(50):
            if healthy.call("GET", "/_mock/display") == []:
                break
            await asyncio.sleep(0.1)
        shown = healthy.call("GET", "/_mock/display")
    finally:
        server.stop()
    assert shown == []
    kills = [e for e in calls(healthy) if e["op"] == "kill"]
    assert sorted(e["message_id"] for e in kills) == [4371, 4372]


async def test_an_expiry_while_running_is_killed(tmp_path: Path,
                                                 healthy: MockCbcProcess) -> None:
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, expiring("CB-EXPIRE-LIVE", 3))
        await until(server, alert_id, delivered)
        for _ in range(150):  # expiry in 3 s, the sweeper every 5 s (the default)
            if healthy.call("GET", "/_mock/display") == []:
                break
            await asyncio.sleep(0.1)
        shown = healthy.call("GET", "/_mock/display")
    finally:
        server.stop()
    assert shown == []


async def test_a_busy_pool_does_not_wake_the_satellite_fallback(
        tmp_path: Path, healthy: MockCbcProcess, ewss_uplink: MockEwssUplinkProcess) -> None:
    """Two simultaneous Extreme alerts on Dutch handsets (a one-member pool, 4372): the
    second waits with ``identifier_pool_exhausted`` and is not sent to the satellite."""
    uplink = ewss_uplink
    uplink.call("DELETE", "/_mock/received")
    uplink.call("PUT", "/_mock/faults", {"mode": "none"})
    env = configure_with_ewss(tmp_path, PrimaryCellBroadcast(healthy, tmp_path), uplink)
    server = start_server(tmp_path / "data", env=env)
    try:
        first = await post(server, extreme_fire("CB-BUSY-1"))
        await until(server, first, delivered)
        second = await post(server, extreme_fire("CB-BUSY-2").replace(
            b"<senderName>", f"<expires>{_in(8)}</expires><senderName>".encode()))
        deliveries = await until(server, second, cb_final, timeout=30)
        received = uplink.call("GET", "/_mock/received")
    finally:
        server.stop()
    cb = deliveries["cell_broadcast"]
    assert cb["history"][-1]["reason"] == "identifier_pool_exhausted"
    assert deliveries["galileo_ewss"]["state"] not in {"delivered", "sending"}
    assert [r["idempotency_key"] for r in received] == [f"{first}/galileo_ewss"] or \
        received == []
    assert all(r["metadata"]["alert_id"] != second for r in received)


def _in(seconds: float) -> str:
    return (datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)).isoformat()
