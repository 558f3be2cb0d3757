from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

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
