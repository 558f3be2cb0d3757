"""Preview equals broadcast, end to end: ``GET /variants`` of an alert a real
``tocsin serve --demo`` delivered shows exactly the text and pages the mock CBC
received and the text and parts the mock SMSC received, per language."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from channels.sms.encoding import Part, decode_part
from tests.integration.conftest import make_alert
from tests.integration.server import start_server
from tests.integration.test_cell_broadcast_flow import cb_final, get
from tests.integration.test_dispatch_flow import FAST, post, until
from tests.integration.test_variants_api import get_json


def _mock_url(server: Any, channel: str) -> str:
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    return str(started["mock_elements"][channel])


def _sms_texts(received: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """destination -> (the text as the handset joins its parts, the part count)."""
    parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for item in received:
        header, text = decode_part(Part(bytes.fromhex(item["short_message"]),
                                        item["esm_class"], item["data_coding"]))
        parts[item["destination_addr"]].append((header[2] if header else 1, text))
    return {dest: ("".join(t for _, t in sorted(p)), len(p)) for dest, p in parts.items()}


async def test_variants_show_what_the_cbc_and_the_smsc_received(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env=FAST)
    try:
        alert_id = await post(server, make_alert("PREVIEW-E2E"))
        await until(server, alert_id, lambda d: cb_final(d) and d.get("sms", {}).get(
            "state") in {"delivered", "failed", "expired"})
        status, body = await get_json(server, f"/api/v1/alerts/{alert_id}/variants")
        [shown] = get(f"{_mock_url(server, 'cell_broadcast')}/_mock/display")
        received = get(f"{_mock_url(server, 'sms')}/_mock/received")
    finally:
        server.stop()
    assert status == 200, body
    [cb] = [f for f in body["forms"] if f["target"] == "cell_broadcast"]
    assert cb["languages"] == ["nl-NL", "en-GB"]  # one bilingual message
    assert cb["text"] == shown["text"]
    assert cb["segments"] == shown["pages"]
    sms = {f["language"]: f for f in body["forms"] if f["target"] == "sms"}
    texts = set(_sms_texts(received).values())
    assert texts, received
    assert texts <= {(f["text"], f["segments"]) for f in sms.values()}
    assert (sms["nl-NL"]["text"], sms["nl-NL"]["segments"]) in texts  # Dutch subscribers
