"""How CBS messages reach a Cell Broadcast Centre: a one-method-per-operation
interface, and its implementation for osmo-cbc's ECBE REST API.

Stage: the adapter's I/O. ``Transport`` is what the channel needs from any CBC
(write a message, kill an identifier, say whether it is reachable), so a CBSP
or SBc-AP transport can replace ``EcbeTransport`` without touching the channel.
``keyed_by_serial`` is the one capability the channel asks about: a CBC that tells
messages apart by identifier *and* serial number holds several per identifier (the
channel then needs no identifier pool, and a kill names the serial); osmo-cbc keys
by identifier alone.

ECBE as a real osmo-cbc 0.5.3 answers it (shared/specs/cell-broadcast.md §5.3,
§8): ``POST /api/ecbe/v1/message`` -> 201 "Created", or 200 with an empty body
after 15 s when it has no peers (both success; neither proves a broadcast);
409 "Could not allocate" when the identifier is busy; 400 with a sentence for a
malformed request; ``DELETE /api/ecbe/v1/message/{id}`` -> 200, or 404
"Unknown message ID"; unknown routes -> 404 "Resource not found"; 500 internal
errors; bodies are plain text. A request may block 15 s while the CBC waits
for its peers, and sometimes is never answered: a timeout or a connection
dropped after the request went out is ``OutcomeUnknownError`` (the message may
or may not be on the CBC), a refused connection is a plain ``TransientError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import aiohttp

from channels.cell_broadcast.serial import SerialNumber
from channels.http_client import HttpClient
from router.channel import FailureReason, Health, PermanentError, TransientError

API = "/api/ecbe/v1/message"


class OutcomeUnknownError(TransientError):
    """The request may have reached the CBC: treat the message as possibly written."""


class WriteOutcome(Enum):
    WRITTEN = "written"
    BUSY = "busy"  # the identifier already has an active message


class KillOutcome(Enum):
    KILLED = "killed"
    UNKNOWN = "unknown"  # nothing active under that identifier


@dataclass(frozen=True)
class CbcMessage:
    """One CBS message as a CBC takes it: pages already encoded."""

    message_id: int
    serial: SerialNumber
    dcs: int
    pages: tuple[bytes, ...]
    repetition_period: int
    broadcasts: int
    category: str
    warning_area: bytes | None = None
    cells: tuple[str, ...] = ()


class Transport(Protocol):
    keyed_by_serial: bool

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def write(self, message: CbcMessage) -> WriteOutcome: ...
    async def kill(self, message_id: int, serial: int) -> KillOutcome:
        """Kill ``message_id`` (and only ``serial`` on a CBC keyed by both)."""
        ...
    async def health(self) -> Health: ...


def ecbe_body(message: CbcMessage, cbe_name: str) -> dict[str, Any]:
    """The JSON osmo-cbc's ``rest_api.c`` accepts (wrapper objects included).

    osmo-cbc broadcasts PLMN-wide only, so the scope is always ``scope_plmn``;
    warning area coordinates and cell lists have no field in this API."""
    return {
        "cbe_name": cbe_name,
        "category": message.category,
        "repetition_period": message.repetition_period,
        "num_of_bcast": message.broadcasts,
        "scope": {"scope_plmn": {}},
        "smscb_message": {
            "message_id": message.message_id,
            "serial_nr": message.serial.as_ecbe(),
            "payload": {"payload_encoded": {
                "dcs": message.dcs, "pages": [page.hex().upper() for page in message.pages]}},
        },
    }


class EcbeTransport:
    def __init__(self, base_url: str, timeout_s: float, cbe_name: str,
                 keyed_by_serial: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.keyed_by_serial = keyed_by_serial
        self.timeout_s = timeout_s
        self.cbe_name = cbe_name
        self._http = HttpClient("the cell broadcast channel", timeout_s)

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        session = self._http.session
        url = self.base_url + path
        try:
            async with session.request(method, url, json=body) as response:
                return response.status, (await response.text()).strip()
        except TimeoutError as exc:
            raise OutcomeUnknownError(f"{method} {url}: no answer within {self.timeout_s} s",
                                      FailureReason.TIMEOUT) from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"{method} {url}: {exc}", FailureReason.UNAVAILABLE) from exc
        except aiohttp.ClientError as exc:  # sent, then the connection broke
            raise OutcomeUnknownError(f"{method} {url}: {exc or type(exc).__name__}",
                                      FailureReason.UNAVAILABLE) from exc

    @staticmethod
    def _fail(what: str, status: int, text: str) -> Exception:
        message = f"{what}: the CBC answered {status} {text[:200]!r}"
        if status >= 500 and status != 501:
            return TransientError(message, FailureReason.UNAVAILABLE)
        if status in {404, 501}:
            return PermanentError(message + " (is the URL an ECBE API?)",
                                  FailureReason.CONFIGURATION)
        return PermanentError(message, FailureReason.REJECTED)

    async def write(self, message: CbcMessage) -> WriteOutcome:
        status, text = await self._call("POST", API, ecbe_body(message, self.cbe_name))
        if status in {200, 201}:
            return WriteOutcome.WRITTEN
        if status == 409:
            return WriteOutcome.BUSY
        raise self._fail(f"writing message {message.message_id}", status, text)

    async def kill(self, message_id: int, serial: int) -> KillOutcome:
        query = f"?serial_nr={serial}" if self.keyed_by_serial else ""
        status, text = await self._call("DELETE", f"{API}/{message_id}{query}")
        if status == 200:
            return KillOutcome.KILLED
        if status == 404 and "resource not found" not in text.lower():
            return KillOutcome.UNKNOWN
        raise self._fail(f"killing message {message_id}", status, text)

    async def health(self) -> Health:
        """ECBE has no status call: any HTTP answer on the API path means reachable."""
        try:
            status, _ = await self._call("GET", API)
        except TransientError as exc:
            return Health(False, str(exc))
        return Health(True, f"{self.base_url} answers ({status})")
