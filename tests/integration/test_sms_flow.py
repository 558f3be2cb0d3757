"""The whole path for SMS: subscribers imported with the CLI, ``tocsin serve`` as a real
process with an ``sms`` channel bound to the sandbox SMSC (the smpp34 server), then an
alert, its Update and its Cancel posted over HTTP; per-recipient counts in the status,
and no phone number in the service's logs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import REPO, start_server
from tests.integration.sms_smsc import SmscProcess, smsc
from tests.integration.test_dispatch_flow import FAST, post, until

EXAMPLES = REPO / "config" / "examples"
ROUTES = ("routes:\n  - id: all\n    match: {status: [Actual]}\n    channels: [sms]\n"
          "default: [file]\n")
INSIDE = [f"3165000{i:04d}" for i in range(20)]   # in the first alert's polygon
LATER = [f"3166000{i:04d}" for i in range(5)]     # only in the Update's larger polygon
OUTSIDE = [f"3162000{i:04d}" for i in range(5)]   # Amsterdam


@pytest.fixture
def server_smsc() -> Iterator[SmscProcess]:
    with smsc() as process:
        yield process


def setup(tmp_path: Path, server_smsc: SmscProcess) -> dict[str, str]:
    rows = ([f"+{n},nl,51.88 4.46" for n in INSIDE]
            + [f"0{n[2:]},en,51.90 4.50" for n in LATER]  # national: read in --region NL
            + [f"+{n},,52.37 4.90" for n in OUTSIDE])
    (tmp_path / "subs.csv").write_text("address,language,areas\n" + "\n".join(rows) + "\n",
                                       encoding="utf-8")
    imported = subprocess.run(
        [sys.executable, "-m", "router.cli", "subscribers", "import", str(tmp_path / "subs.csv"),
         "--data-dir", str(tmp_path / "data"), "--region", "NL"], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=False)
    assert imported.returncode == 0, imported.stderr
    assert "30 subscriber(s) imported" in imported.stdout
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {
        "sms": {"type": "sms", "port": server_smsc.smpp_port, "system_id": "tocsin",
                "password": "secret", "binds": 2, "window": 4, "cancel_text": "INGETROKKEN"},
        "file": {"type": "file", "path": str(tmp_path / "file.jsonl")}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


def first_parts(server_smsc: SmscProcess, since: int = 0) -> list[dict[str, Any]]:
    """One record per message (the first part of concatenated ones)."""
    return [r for r in server_smsc.received()[since:]
            if not r["esm_class"] & 0x40 or bytes.fromhex(r["short_message"])[5] == 1]


def sms_done(deliveries: dict[str, Any]) -> bool:
    return deliveries["sms"]["state"] in {"delivered", "failed", "expired"}


def all_receipts(expected: int) -> Any:
    return lambda d: sms_done(d) and (d["sms"]["recipients"] or {}).get("delivered") == expected


async def test_alert_update_and_cancel_reach_the_right_subscribers(
        tmp_path: Path, server_smsc: SmscProcess) -> None:
    server = start_server(tmp_path / "data", env=setup(tmp_path, server_smsc))
    try:
        first = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        deliveries = await until(server, first, all_receipts(len(INSIDE)), timeout=60)
        sent_first = first_parts(server_smsc)
        count = len(server_smsc.received())
        update = await post(server, (EXAMPLES / "nl-alert-fire-update.xml").read_bytes())
        await until(server, update, all_receipts(len(INSIDE) + len(LATER)), timeout=60)
        sent_update = first_parts(server_smsc, count)
        count = len(server_smsc.received())
        cancel = await post(server, (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes())
        cancelled = await until(server, cancel, sms_done, timeout=60)
        sent_cancel = first_parts(server_smsc, count)
    finally:
        server.stop()
    sms = deliveries["sms"]
    assert sms["state"] == "delivered"
    assert sms["recipients"]["accepted"] == len(INSIDE)
    assert sorted(r["destination_addr"] for r in sent_first) == sorted(INSIDE)
    assert sorted(r["destination_addr"] for r in sent_update) == sorted(INSIDE + LATER)
    assert sorted(r["destination_addr"] for r in sent_cancel) == sorted(INSIDE + LATER)
    assert cancelled["sms"]["state"] == "delivered"
    assert {(r["dest_addr_ton"], r["dest_addr_npi"]) for r in server_smsc.received()} == {(1, 1)}
    log = server.log_path.read_text(encoding="utf-8")
    assert not any(number in log for number in INSIDE + LATER + OUTSIDE)
