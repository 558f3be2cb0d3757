"""How CAMF messages leave Tocsin: the ``Uplink`` interface and its HTTP client.

Stage: channel adapter transport. The submission interface of the real EWSS
ground segment is not public (research note §1.1, UNVERIFIED), so the adapter
talks to one small interface -- ``submit`` a message, ``health`` -- and the HTTP
client below speaks the protocol of Tocsin's sandbox "alert message centre"
(``channels/mock/ewss_uplink.py``). A real uplink replaces the client, not the
adapter.

HTTP protocol: ``POST {url}/camf`` with JSON ``{"idempotency_key", "camf_hex" |
"camf_base64", "metadata"}`` and an ``Idempotency-Key`` header; the CAMF value is
the 16 wire bytes (122 bits MSB first, 6 zero bits). Answers: 2xx
``{"id", "duplicate"}``; 408, 425, 429, 5xx, timeouts and connection errors are
transient; other 4xx are permanent (the centre refused the message).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import aiohttp

from channels.http_client import HttpClient
from router.channel import FailureReason, Health, PermanentError, TransientError

_TRANSIENT_STATUSES = {408, 425, 429}


@dataclass(frozen=True)
class UplinkMessage:
    idempotency_key: str
    camf: bytes  # the 16 wire bytes
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UplinkAnswer:
    reference: str
    duplicate: bool


class Uplink(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def submit(self, message: UplinkMessage) -> UplinkAnswer:
        """Hand one message over; TransientError / PermanentError as the contract says."""

    async def health(self) -> Health: ...


def wire_text(data: bytes, encoding: Literal["hex", "base64"]) -> dict[str, str]:
    if encoding == "hex":
        return {"camf_hex": data.hex()}
    return {"camf_base64": base64.b64encode(data).decode("ascii")}


class HttpUplink:
    def __init__(self, url: str, *, encoding: Literal["hex", "base64"] = "hex",
                 timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.encoding = encoding
        self.timeout_s = timeout_s
        self._http = HttpClient("the EWSS uplink", timeout_s)

    async def start(self) -> None:
        await self._http.start()

    async def close(self) -> None:
        await self._http.close()

    async def submit(self, message: UplinkMessage) -> UplinkAnswer:
        session = self._http.session
        body = {"idempotency_key": message.idempotency_key,
                **wire_text(message.camf, self.encoding), "metadata": dict(message.metadata)}
        endpoint = f"{self.url}/camf"
        try:
            async with session.post(
                    endpoint, json=body,
                    headers={"Idempotency-Key": message.idempotency_key}) as response:
                text, status = await response.text(), response.status
        except TimeoutError as exc:
            raise TransientError(f"{endpoint}: no answer within {self.timeout_s} s",
                                 FailureReason.TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise TransientError(f"{endpoint}: {exc}", FailureReason.UNAVAILABLE) from exc
        if 200 <= status < 300:
            return _answer(text, message.idempotency_key)
        problem = f"{endpoint} answered {status}: {text[:200]}"
        if status in _TRANSIENT_STATUSES or status >= 500:
            raise TransientError(problem, FailureReason.OVERLOADED if status == 429
                                 else FailureReason.UNAVAILABLE)
        raise PermanentError(problem, FailureReason.REJECTED)

    async def health(self) -> Health:
        if not self._http.started:
            return Health(False, "not started")
        try:
            async with self._http.session.head(f"{self.url}/camf") as response:
                return Health(response.status < 500,
                              f"{self.url}/camf answers ({response.status})")
        except (aiohttp.ClientError, TimeoutError) as exc:
            return Health(False, f"{self.url}/camf: {exc or type(exc).__name__}")


def _answer(text: str, key: str) -> UplinkAnswer:
    try:
        answer = json.loads(text) if text else {}
    except json.JSONDecodeError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    return UplinkAnswer(str(answer.get("id", key)), bool(answer.get("duplicate", False)))
