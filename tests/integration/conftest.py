from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.harnesses import MockWebhookProcess, mock_webhook
from tests.integration.server import REPO, Server, start_server

EXAMPLES = REPO / "config" / "examples"


def make_alert(identifier: str, *, sent: str = "2026-11-25T14:05:00+01:00",
               sender: str = "meldkamer@vr-rr.example.nl") -> bytes:
    """The NL example alert with its CAP key changed."""
    text = (EXAMPLES / "nl-alert-fire.xml").read_text(encoding="utf-8")
    text = text.replace("<identifier>NL-VRR-2026-0042</identifier>",
                        f"<identifier>{identifier}</identifier>")
    text = text.replace("<sent>2026-11-25T14:05:00+01:00</sent>", f"<sent>{sent}</sent>")
    text = text.replace("<sender>meldkamer@vr-rr.example.nl</sender>", f"<sender>{sender}</sender>")
    return text.encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path / "data")
    yield running
    running.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def webhook_mock() -> Iterator[MockWebhookProcess]:
    """One mock webhook receiver process per test module."""
    with mock_webhook() as running:
        yield running


@pytest.fixture
def receiver(webhook_mock: MockWebhookProcess) -> MockWebhookProcess:
    """The module's mock webhook receiver, emptied and without faults for each test."""
    webhook_mock.call("DELETE", "/_mock/received")
    webhook_mock.call("PUT", "/_mock/faults", {"mode": "none"})
    return webhook_mock
