"""Cell broadcast end to end through the real HTTP API: ``tocsin serve --demo`` with
its mock CBC, and a configured server against ``tocsin mock-channels`` driven into
409s, 500s and timeouts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.contract.harnesses import MockCbcProcess, mock_cbc
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import Server, start_server
from tests.integration.test_dispatch_flow import FAST, all_final, post, until

FINAL_CB = {"delivered", "failed", "expired", "cancelled", "skipped", "superseded"}


def cb_final(deliveries: dict[str, Any]) -> bool:
    return deliveries.get("cell_broadcast", {}).get("state") in FINAL_CB


def demo_cbc_url(server: Server) -> str:
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    elements = started["mock_elements"]
    assert isinstance(elements, dict)
    return str(elements["cell_broadcast"])


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


async def test_demo_delivers_nl_alert_then_update_then_cancel(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env=FAST)
    try:
        cbc = demo_cbc_url(server)
        first = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        assert (await until(server, first, cb_final))["cell_broadcast"]["state"] == "delivered"
        [shown] = get(f"{cbc}/_mock/display")
        update = await post(server, (EXAMPLES / "nl-alert-fire-update.xml").read_bytes())
        assert (await until(server, update, cb_final))["cell_broadcast"]["state"] == "delivered"
        [updated] = get(f"{cbc}/_mock/display")
        cancel = await post(server, (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes())
        await until(server, cancel, cb_final)
        after_cancel = get(f"{cbc}/_mock/display")
        log = get(f"{cbc}/_mock/received")
    finally:
        server.stop()
    assert (shown["message_id"], shown["dcs"], shown["language"]) == (4371, 0x05, "nl")
    assert shown["serial"]["geo_scope"] == "plmn_wide"
    assert shown["serial"]["update_nr"] == 0
    dutch, english = shown["text"].split("\n\n")
    # the rendered accessible summary: source, hazard, impact, where, what to do, when
    assert dutch.startswith("Veiligheidsregio Rotterdam-Rijnmond: Grote brand in "
                            "Rotterdam-Zuid.\nEr is een grote brand")
    assert "Ga naar binnen." in dutch
    assert english.startswith("Safety Region Rotterdam-Rijnmond: Major fire in Rotterdam-Zuid")
    assert "Go inside." in english
    assert updated["message_id"] == 4371
    assert updated["serial"]["msg_code"] == shown["serial"]["msg_code"]
    assert updated["serial"]["update_nr"] == 1
    assert "noordoosten" in updated["text"]
    assert after_cancel == []
    assert [(e["op"], e["outcome"]) for e in log] == [
        ("write", "created"), ("kill", "killed"), ("write", "created"), ("kill", "killed")]


@pytest.fixture(scope="module")
def cbc() -> Iterator[MockCbcProcess]:
    with mock_cbc() as running:
        yield running


@pytest.fixture
def healthy(cbc: MockCbcProcess) -> MockCbcProcess:
    cbc.call("DELETE", "/_mock/received")
    cbc.call("PUT", "/_mock/faults", {"mode": "none"})
    cbc.call("PUT", "/_mock/cbc", {})
    return cbc


ROUTES = ("routes:\n  - id: main\n    match: {status: [Actual]}\n    channels: [cell_broadcast]\n"
          "    fallback: [archive]\ndefault: [archive]\n")


def configure(tmp_path: Path, cbc: MockCbcProcess, timeout_s: float = 2) -> dict[str, str]:
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {
        "cell_broadcast": {"type": "cell_broadcast", "url": cbc.url, "timeout_s": timeout_s,
                           "state_file": str(tmp_path / "ledger.json")},
        "archive": {"type": "file", "path": str(tmp_path / "archive.jsonl")}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


def expiring(identifier: str, seconds: int) -> bytes:
    now = datetime.now(UTC).replace(microsecond=0)
    body = make_alert(identifier, sent=(now - timedelta(minutes=1)).isoformat())
    expires = (now + timedelta(seconds=seconds)).isoformat()
    return body.replace(b"<senderName>", f"<expires>{expires}</expires><senderName>".encode())


async def test_cbc_500s_are_retried_until_it_takes_the_message(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "fail", "status": 500, "count": 2})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, make_alert("CB-500"))
        deliveries = await until(server, alert_id, all_final)
    finally:
        server.stop()
    cb = deliveries["cell_broadcast"]
    assert cb["state"] == "delivered"
    assert [a["outcome"] for a in cb["history"]] == ["transient", "transient", "delivered"]
    assert deliveries["archive"]["state"] == "skipped"
    assert len(healthy.call("GET", "/_mock/display")) == 1


async def test_identifier_held_by_a_message_not_written_here_is_busy_never_killed(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    foreign = {"cbe_name": "other-cbe", "repetition_period": 60, "scope": {"scope_plmn": {}},
               "smscb_message": {"message_id": 4371, "serial_nr": {"serial_nr_encoded": 16400},
                                 "payload": {"payload_encoded": {"dcs": 15,
                                                                 "pages": ["C834"]}}}}
    assert raw_call(healthy, "POST", "/api/ecbe/v1/message", json.dumps(foreign).encode())[
        0] == 201
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, expiring("CB-409", 4))
        deliveries = await until(server, alert_id, cb_final)
    finally:
        server.stop()
    cb = deliveries["cell_broadcast"]
    assert cb["state"] == "failed"  # at the deadline, with the busy reason (not an outage)
    assert cb["reason"] == "identifier_pool_exhausted"
    tried = [a for a in cb["history"] if a["outcome"] == "transient"]
    assert tried[0]["reason"] == "identifier_pool_exhausted"
    assert "4371: a message not written here" in tried[0]["error"]
    [still] = healthy.call("GET", "/_mock/display")
    assert still["serial"]["encoded"] == 16400  # the other message was not killed
    assert [e["op"] for e in healthy.call("GET", "/_mock/received")] == ["write"] * (
        1 + sum(1 for a in tried if a["reason"] == "identifier_pool_exhausted"))


async def test_timeout_with_unknown_outcome_ends_with_one_message(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    """The first write is answered after the client gave up (it may or may not have
    landed); the retry kills and writes again with the same serial."""
    healthy.call("PUT", "/_mock/faults", {"mode": "slow", "delay_s": 1.5, "count": 1})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy, timeout_s=0.5))
    try:
        alert_id = await post(server, make_alert("CB-TIMEOUT"))
        deliveries = await until(server, alert_id, all_final)
    finally:
        server.stop()
    cb = deliveries["cell_broadcast"]
    assert cb["state"] == "delivered"
    assert cb["history"][0]["reason"] == "timeout"
    shown = healthy.call("GET", "/_mock/display")
    assert len(shown) == 1
    written = {e["serial"]["encoded"] for e in healthy.call("GET", "/_mock/received")
               if e["op"] == "write"}
    assert written == {shown[0]["serial"]["encoded"]}


async def test_cbc_that_stays_down_opens_the_breaker_and_the_fallback_delivers(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    healthy.call("PUT", "/_mock/faults", {"mode": "fail", "status": 500})
    server = start_server(tmp_path / "data", env=configure(tmp_path, healthy))
    try:
        alert_id = await post(server, expiring("CB-DOWN", 4))
        deliveries = await until(server, alert_id, all_final)
    finally:
        server.stop()
    assert deliveries["archive"]["state"] == "delivered"
    assert deliveries["archive"]["replaced"] == "cell_broadcast"
    assert deliveries["cell_broadcast"]["state"] == "expired"
    assert healthy.call("GET", "/_mock/display") == []


def raw_call(cbc: MockCbcProcess, method: str, path: str, body: bytes | None = None
             ) -> tuple[int, str, str | None]:
    request = urllib.request.Request(cbc.url + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode(), response.headers.get(
                "Content-Type")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers.get("Content-Type")


def test_mock_cbc_answers_like_osmo_cbc(healthy: MockCbcProcess) -> None:
    body = {"cbe_name": "t", "repetition_period": 10, "scope": {"scope_plmn": {}},
            "smscb_message": {"message_id": 4380, "serial_nr": {"serial_nr_decoded": {
                "geo_scope": "plmn_wide", "msg_code": 7, "update_nr": 0}},
                "payload": {"payload_encoded": {"dcs": 1, "pages": ["D4F29C0E"]}}}}
    data = json.dumps(body).encode()
    assert raw_call(healthy, "POST", "/api/ecbe/v1/message", data)[:2] == (201, "Created")
    assert raw_call(healthy, "POST", "/api/ecbe/v1/message", data)[:2] == (
        409, "Could not allocate")
    assert raw_call(healthy, "POST", "/api/ecbe/v1/message", b"{}")[0] == 400
    assert raw_call(healthy, "GET", "/api/ecbe/v1/status")[:2] == (404, "Resource not found")
    assert raw_call(healthy, "DELETE", "/api/ecbe/v1/message/abc")[:2] == (
        404, "Unknown message ID")  # read as id 0, as osmo-cbc does
    status, text, _ = raw_call(healthy, "DELETE", "/api/ecbe/v1/message/4380")
    assert (status, text) == (200, "OK")
    [write] = [e for e in healthy.call("GET", "/_mock/received") if e["outcome"] == "created"]
    assert write["display"] == "Test"
    assert write["serial"] == {"geo_scope": "plmn_wide", "msg_code": 7, "update_nr": 0,
                               "encoded": 16496}
    healthy.call("PUT", "/_mock/cbc", {"answer": "ok_empty"})
    assert raw_call(healthy, "POST", "/api/ecbe/v1/message", data)[:2] == (200, "")


async def test_real_servers_missing_answer_is_an_unknown_outcome(
        tmp_path: Path, healthy: MockCbcProcess) -> None:
    """osmo-cbc sometimes carries out a DELETE and never answers it; the channel gives up
    after its timeout with a retryable, outcome-unknown error, never hangs, and the retry
    takes the 404 as proof that the message is gone."""
    from channels.cell_broadcast import CellBroadcastChannel  # noqa: PLC0415
    from channels.cell_broadcast.transport import OutcomeUnknownError  # noqa: PLC0415
    from router.cap import parse_cap  # noqa: PLC0415
    from router.channel import Delivery  # noqa: PLC0415

    channel = CellBroadcastChannel("cb", {"url": healthy.url, "timeout_s": 0.5})
    raw = make_alert("CB-HANG")
    document = parse_cap(raw).document
    assert document is not None
    delivery = Delivery("x", "cb", "x/cb", document.alert, raw)
    await channel.start()
    try:
        receipt = await channel.send(delivery)
        healthy.call("PUT", "/_mock/cbc", {"no_answer": [{"op": "kill"}], "hang_s": 2})
        with pytest.raises(OutcomeUnknownError):
            await channel.cancel(delivery, receipt)  # done, but never answered
        assert healthy.call("GET", "/_mock/display") == []
        await channel.cancel(delivery, receipt)  # 404: gone
        await channel.cancel(delivery, receipt)  # the ledger knows: no call
    finally:
        await channel.close()
    assert [(e["op"], e["outcome"], e["answered"]) for e in
            healthy.call("GET", "/_mock/received")] == [
        ("write", "created", True), ("kill", "killed", False), ("kill", "unknown", True)]
