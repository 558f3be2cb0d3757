"""Per-adapter test harnesses: how to give each registered channel type a working
network, and how to break it transiently and permanently.

A new adapter adds a harness here; ``test_every_adapter_has_a_harness`` fails
until it does, so no registered adapter escapes the contract suite.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from router.channel import Channel, ChannelState, KeepsChannelState
from router.registry import channel_types
from tests.integration.server import REPO, free_port

MOCK_SECRET = "contract-secret"


class Harness(Protocol):
    def channel(self) -> Channel: ...
    def unreachable(self) -> Channel: ...
    def times_received(self, key: str) -> int: ...
    def cancelled(self, key: str) -> bool: ...
    def break_transient(self) -> None: ...
    def break_permanent(self) -> None: ...
    def heal(self) -> None: ...


class FileHarness:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "out"
        self.dir.mkdir()
        self.path = self.dir / "alerts.jsonl"

    def channel(self) -> Channel:
        return channel_types()["file"]("file-under-test", {"path": str(self.path)})

    def unreachable(self) -> Channel:
        return channel_types()["file"]("file-unreachable",
                                       {"path": str(self.dir / "missing" / "x.jsonl")})

    def _records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def times_received(self, key: str) -> int:
        return sum(1 for r in self._records()
                   if r["event"] == "alert" and r["idempotency_key"] == key)

    def cancelled(self, key: str) -> bool:
        return any(r["event"] == "cancel" and r["cancels"] == key for r in self._records())

    def break_transient(self) -> None:  # the directory is gone (an unmounted volume)
        shutil.rmtree(self.dir)

    def break_permanent(self) -> None:  # the path names a directory: misconfiguration
        self.heal()
        if self.path.exists():
            self.path.unlink()
        self.path.mkdir()

    def heal(self) -> None:
        self.dir.mkdir(exist_ok=True)
        if self.path.is_dir():
            self.path.rmdir()


class MockElementProcess:
    """``tocsin mock-channels --only ELEMENT`` as a real process on 127.0.0.1 and a free
    port, with the control API every mock element shares (``/_mock/...``)."""

    ELEMENT = ""
    CALL_TIMEOUT_S = 5.0

    def __init__(self, data_dir: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        extra = ["--data-dir", str(data_dir)] if data_dir is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "router.cli", "mock-channels", "--port", str(self.port),
             "--only", self.ELEMENT, *extra], cwd=REPO, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.call("GET", "/_mock/health")
            except OSError:
                time.sleep(0.1)
            else:
                return
        self.stop()
        raise RuntimeError(f"mock-channels --only {self.ELEMENT} did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.CALL_TIMEOUT_S) as response:
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


class MockWebhookProcess(MockElementProcess):
    """The webhook receiver, checking signatures made with ``MOCK_SECRET``."""

    ELEMENT = "webhook"

    def __init__(self) -> None:
        super().__init__(env={"TOCSIN_MOCK_WEBHOOK_SECRET": MOCK_SECRET})


class WebhookHarness:
    def __init__(self, mock: MockWebhookProcess) -> None:
        self.mock = mock
        mock.call("DELETE", "/_mock/received")
        mock.call("PUT", "/_mock/faults", {"mode": "none"})

    def channel(self) -> Channel:
        return channel_types()["webhook"]("webhook-under-test", {
            "url": f"{self.mock.url}/hook", "secret": MOCK_SECRET, "timeout_s": 2})

    def unreachable(self) -> Channel:
        return channel_types()["webhook"]("webhook-unreachable", {
            "url": f"http://127.0.0.1:{free_port()}/hook", "secret": MOCK_SECRET,
            "timeout_s": 1})

    def _received(self) -> dict[str, dict[str, Any]]:
        return {item["idempotency_key"]: item for item in self.mock.call("GET", "/_mock/received")}

    def times_received(self, key: str) -> int:
        return 1 if key in self._received() else 0

    def cancelled(self, key: str) -> bool:
        entry = self._received().get(key + "/cancel")
        return entry is not None and entry["body"]["type"] == "cancel"

    def break_transient(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})

    def break_permanent(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 400})

    def heal(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "none"})


@contextmanager
def mock_webhook() -> Iterator[MockWebhookProcess]:
    mock = MockWebhookProcess()
    try:
        yield mock
    finally:
        mock.stop()


class SmsHarness:
    """The SMS channel with a fixed one-number list (deliveries in the contract suite
    carry no audience) against the sandbox SMSC: the smpp34 server as a process."""

    NUMBER = "31612345678"

    def __init__(self, server: Any, workdir: Path) -> None:
        self.server = server
        self.journal = workdir / "sms-journal.jsonl"
        if server.proc.poll() is not None:
            server.start()
        server.call("DELETE", "/_mock/received")
        server.faults(mode="none")

    def _config(self, port: int) -> dict[str, Any]:
        return {"port": port, "system_id": "contract", "password": "secret",
                "recipients": [f"+{self.NUMBER}"], "journal": str(self.journal), "bind_wait_s": 3,
                "backoff_initial_s": 0.01, "backoff_max_s": 0.2, "connect_timeout_s": 1,
                "cancel_text": "WITHDRAWN"}

    def channel(self) -> Channel:
        return channel_types()["sms"]("sms-under-test", self._config(self.server.smpp_port))

    def unreachable(self) -> Channel:
        return channel_types()["sms"]("sms-unreachable", {**self._config(free_port()),
                                                          "bind_wait_s": 1})

    def _texts(self) -> list[str]:
        texts = []
        for record in self.server.received():
            body = bytes.fromhex(record["short_message"])
            first = not record["esm_class"] & 0x40 or body[5] == 1
            if first:
                texts.append(body[6:] if record["esm_class"] & 0x40 else body)
        return [t.decode("latin-1") for t in texts]

    def times_received(self, key: str) -> int:  # one number: each message is one send
        return sum(1 for text in self._texts() if not text.startswith("WITHDRAWN"))

    def cancelled(self, key: str) -> bool:
        return any(text.startswith("WITHDRAWN") for text in self._texts())

    def break_transient(self) -> None:  # the SMSC is down
        self.server.stop()

    def break_permanent(self) -> None:  # the SMSC refuses the number (ESME_RINVDSTADR)
        self.heal()
        self.server.faults(mode="reject", status=0x0B)

    def heal(self) -> None:
        if self.server.proc.poll() is not None:
            self.server.start()
        self.server.faults(mode="none")
class MockEwssUplinkProcess(MockElementProcess):
    """The sandbox EWSS alert message centre."""

    ELEMENT = "galileo_ewss"


EWSS_TABLES = REPO / "config" / "galileo_ewss" / "tables.yaml"


class GalileoEwssHarness:
    """The shipped tables: a Cancel is not an All Clear, so cancel must be refused."""

    def __init__(self, mock: MockEwssUplinkProcess) -> None:
        self.mock = mock
        mock.call("DELETE", "/_mock/received")
        mock.call("PUT", "/_mock/faults", {"mode": "none"})

    def channel(self) -> Channel:
        return channel_types()["galileo_ewss"]("galileo_ewss-under-test", {
            "url": self.mock.url, "tables_file": str(EWSS_TABLES), "timeout_s": 2})

    def unreachable(self) -> Channel:
        return channel_types()["galileo_ewss"]("galileo_ewss-unreachable", {
            "url": f"http://127.0.0.1:{free_port()}", "tables_file": str(EWSS_TABLES),
            "timeout_s": 1})

    def _received(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.mock.call("GET", "/_mock/received")
        return result

    def times_received(self, key: str) -> int:
        return sum(1 for item in self._received()
                   if item["idempotency_key"].split("#")[0] == key)

    def cancelled(self, key: str) -> bool:
        return any(item["idempotency_key"].split("#")[0] == key + "/cancel"
                   and item["shown"]["message_type"] == "all_clear"
                   for item in self._received())

    def break_transient(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})

    def break_permanent(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 400})

    def heal(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "none"})


@contextmanager
def mock_ewss_uplink() -> Iterator[MockEwssUplinkProcess]:
    mock = MockEwssUplinkProcess()
    try:
        yield mock
    finally:
        mock.stop()


class MockCbcProcess(MockElementProcess):
    """The mock CBC (osmo-cbc ECBE API)."""

    ELEMENT = "cell_broadcast"


class CellBroadcastHarness:
    """Each contract test sends one alert, so the mock's log since the reset is that
    alert's: writes the CBC accepted, and kills that found a message."""

    def __init__(self, mock: MockCbcProcess, workdir: Path) -> None:
        self.mock = mock
        self.state = workdir / "cbc-ledger.json"
        mock.call("DELETE", "/_mock/received")
        mock.call("PUT", "/_mock/faults", {"mode": "none"})
        mock.call("PUT", "/_mock/cbc", {})

    def channel(self) -> Channel:
        return channel_types()["cell_broadcast"]("cell_broadcast-under-test", {
            "url": self.mock.url, "timeout_s": 5, "state_file": str(self.state)})

    def unreachable(self) -> Channel:
        return channel_types()["cell_broadcast"]("cell_broadcast-unreachable", {
            "url": f"http://127.0.0.1:{free_port()}", "timeout_s": 1})

    def _log(self, op: str, outcome: str) -> list[dict[str, Any]]:
        return [e for e in self.mock.call("GET", "/_mock/received")
                if e["op"] == op and e["outcome"] == outcome]

    def times_received(self, key: str) -> int:
        return len(self._log("write", "created"))

    def cancelled(self, key: str) -> bool:
        return bool(self._log("kill", "killed"))

    def break_transient(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 500})

    def break_permanent(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 400})

    def heal(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "none"})


class SharedCellBroadcastHarness(CellBroadcastHarness):
    """The cell-broadcast channel as ``tocsin serve`` runs it: its ledger in the
    channel state of the store (``KeepsChannelState``), no file. Every channel this
    harness builds is another instance on the same area, as after a restart or on
    another node."""

    def __init__(self, mock: MockCbcProcess, workdir: Path, area: ChannelState) -> None:
        super().__init__(mock, workdir)
        self.area = area

    def channel(self) -> Channel:
        built = channel_types()["cell_broadcast"]("cell_broadcast-under-test", {
            "url": self.mock.url, "timeout_s": 5})
        assert isinstance(built, KeepsChannelState)
        built.use_channel_state(self.area)
        return built


@contextmanager
def mock_cbc() -> Iterator[MockCbcProcess]:
    mock = MockCbcProcess()
    try:
        yield mock
    finally:
        mock.stop()


class MockPushProcess(MockElementProcess):
    """The mock Web Push service with its test phones (state under ``data_dir``)."""

    ELEMENT = "eudi_wallet"
    CALL_TIMEOUT_S = 30.0

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir=data_dir)


class WalletHarness:
    """One test phone (inside the example alert's area) as the channel's only device."""

    def __init__(self, mock: MockPushProcess, workdir: Path) -> None:
        from channels.eudi_wallet.keys import generate_demo_keys  # noqa: PLC0415

        self.mock = mock
        self.keys = generate_demo_keys(workdir / "wallet-keys")
        self.journal = workdir / "wallet-journal.jsonl"
        mock.call("DELETE", "/_mock/received")
        mock.call("PUT", "/_mock/faults", {"mode": "none"})
        mock.call("PUT", "/_mock/trust", {"jwks": json.loads(self.keys.jwks_file.read_text())})
        phone = mock.call("POST", "/_mock/phones", {"positions": [[51.88, 4.46]]})[0]
        self.phone, self.subscription = phone["id"], phone["subscription"]

    def _config(self, **extra: Any) -> dict[str, Any]:
        return {"signing_key_file": str(self.keys.signing_key_file),
                "vapid_key_file": str(self.keys.vapid_key_file),
                "vapid_subject": "mailto:contract@tocsin.example", "timeout_s": 2,
                "devices": [self.subscription], "journal": str(self.journal),
                "health_url": f"{self.mock.url}/_mock/health", **extra}

    def channel(self) -> Channel:
        return channel_types()["eudi_wallet"]("eudi_wallet-under-test", self._config())

    def unreachable(self) -> Channel:
        return channel_types()["eudi_wallet"]("eudi_wallet-unreachable", self._config(
            health_url=f"http://127.0.0.1:{free_port()}/", timeout_s=1))

    def _received(self) -> list[dict[str, Any]]:
        return [r for r in self.mock.call("GET", "/_mock/received?brief=1")
                if r["phone"] == self.phone]

    def times_received(self, key: str) -> int:  # one device: every push is this delivery's
        return sum(1 for r in self._received() if r.get("msg_type") == "Alert")

    def cancelled(self, key: str) -> bool:
        return any(r.get("outcome") == "withdrawn" for r in self._received())

    def break_transient(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503})

    def break_permanent(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "fail", "status": 400})

    def heal(self) -> None:
        self.mock.call("PUT", "/_mock/faults", {"mode": "none"})


@contextmanager
def mock_push_service(data_dir: Path) -> Iterator[MockPushProcess]:
    mock = MockPushProcess(data_dir)
    try:
        yield mock
    finally:
        mock.stop()
