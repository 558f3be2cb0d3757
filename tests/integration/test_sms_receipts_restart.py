"""Delivery receipts that arrive after ``tocsin serve`` restarted still reach their
recipients: the SMSC message id -> recipient mapping is durable.

Real processes throughout: subscribers imported with the CLI, ``tocsin serve`` with an
``sms`` channel, the sandbox SMSC (the smpp34 server) told to hold its receipts. The
alert goes out, Tocsin is killed (SIGKILL: nothing is flushed on the way out) and
started again on the same data directory, and only then does the SMSC send the
receipts -- to the new process's binds.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import REPO, Server, start_server
from tests.integration.sms_smsc import SmscProcess, smsc
from tests.integration.test_dispatch_flow import FAST, post, until

EXAMPLE = REPO / "config" / "examples" / "nl-alert-fire.xml"
INSIDE = [f"3165100{i:04d}" for i in range(12)]  # in the example's polygon
ROUTES = "routes:\n  - id: all\n    match: {status: [Actual]}\n    channels: [sms]\ndefault: [sms]\n"
BINDS = 2


@pytest.fixture
def server_smsc() -> Iterator[SmscProcess]:
    with smsc() as process:
        yield process


def configure(tmp_path: Path, server_smsc: SmscProcess) -> dict[str, str]:
    rows = [f"+{n},nl,51.88 4.46" for n in INSIDE]
    (tmp_path / "subs.csv").write_text("address,language,areas\n" + "\n".join(rows) + "\n",
                                       encoding="utf-8")
    imported = subprocess.run(
        [sys.executable, "-m", "router.cli", "subscribers", "import", str(tmp_path / "subs.csv"),
         "--data-dir", str(tmp_path / "data")], cwd=REPO, capture_output=True, text=True,
        timeout=60, check=False)
    assert imported.returncode == 0, imported.stderr
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {
        "sms": {"type": "sms", "port": server_smsc.smpp_port, "system_id": "tocsin",
                "password": "secret", "binds": BINDS, "window": 4}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml")}


def sent_to_all(deliveries: dict[str, Any]) -> bool:
    sms = deliveries["sms"]
    return sms["state"] == "delivered" and (sms["recipients"] or {}).get("sent") == len(INSIDE)


def all_delivered(deliveries: dict[str, Any]) -> bool:
    return (deliveries["sms"]["recipients"] or {}).get("delivered") == len(INSIDE)


async def bound(server_smsc: SmscProcess, sessions: int, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.1)):
        if server_smsc.stats()["sessions"] >= sessions:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {server_smsc.stats()['sessions']} SMPP sessions bound")


async def test_receipts_after_a_restart_update_the_recipients(
        tmp_path: Path, server_smsc: SmscProcess) -> None:
    env = configure(tmp_path, server_smsc)
    server_smsc.faults(hold_receipts=True)
    first: Server | None = start_server(tmp_path / "data", env=env)
    second: Server | None = None
    try:
        assert first is not None
        alert = await post(first, EXAMPLE.read_bytes())
        before = await until(first, alert, sent_to_all, timeout=60)
        parts = len(server_smsc.received())
        assert parts > len(INSIDE)  # the example is a concatenated SMS: several ids each
        first.stop(signal.SIGKILL)
        first = None
        await bound(server_smsc, 0)  # the old sessions are gone
        second = start_server(tmp_path / "data", env=env)
        await bound(server_smsc, BINDS)
        released = server_smsc.call("POST", "/_mock/receipts/release")
        assert released == {"released": parts}
        after = await until(second, alert, all_delivered, timeout=30)
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
    assert before["sms"]["recipients"].get("delivered", 0) == 0
    assert after["sms"]["recipients"]["delivered"] == len(INSIDE)
    assert after["sms"]["recipients"].get("sent", 0) == 0
