"""SMPP 3.4 ESME: several transceiver binds, windowed submit_sm, throttling back-off,
automatic rebind, and delivery receipts -- on the ``smpp34`` client.

Stage: channel adapter (network I/O; imports only the contract and smpp34).

``smpp34`` does the protocol: bind_transceiver, PDU codec, sequence numbers, the
submit window, ``enquire_link`` keep-alive and the response timers. This module
decides what to do with the answers:

- ``ESME_RTHROTTLED`` (0x58) and ``ESME_RMSGQFUL`` (0x14) pause that bind and resend
  the same part: the pause starts at ``backoff_initial_s`` and doubles on each
  further refusal up to ``backoff_max_s``; the first success resets it;
- ``ESME_RSYSERR`` (0x08, also what a dropped link or smpp34's response timer
  yields) and ``ESME_RX_T_APPN`` (0x64) resend the same part after the same pause, on the same bind
  once it is bound again; a part is tried at most ``max_tries`` times;
- any other status refuses that one message permanently (0x0B: bad number);
- a bind that ends is rebound at once, then with a doubling delay; a worker whose
  bind stays down hands its message to the other binds; when no bind comes up
  within ``bind_wait_s`` the fan-out stops with ``LinkDown``.

The sleeps here are SMPP flow control inside one send (rate limit, throttling
pause, rebind delay), not delivery retries: those stay with the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import smpp34

from channels.sms.encoding import Part
from channels.sms.numbers import DEST_NPI, DEST_TON, is_international_digits

BACK_OFF = {0x58, 0x14}  # ESME_RTHROTTLED, ESME_RMSGQFUL
ESME_RINVDSTADR = 0x0B  # also what Tocsin answers itself for an address not in E.164 digits
RESEND = {0x08, 0x64}  # ESME_RSYSERR (a dropped link reads the same), ESME_RX_T_APPN
_STATUS = re.compile(r"\(0x([0-9a-fA-F]+)\)")


@dataclass(frozen=True)
class SmppSettings:
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    binds: int = 1
    window: int = 10
    rate_per_bind: float = 0.0  # submit_sm per second per bind; 0 = unlimited
    connect_timeout_s: float = 5.0  # TCP connect plus bind_transceiver_resp
    bind_wait_s: float = 10.0
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 5.0
    max_tries: int = 20
    source_addr: str = "Tocsin"
    source_ton: int = 5  # alphanumeric
    source_npi: int = 0
    dest_ton: int = DEST_TON  # international: addresses are E.164 digits (numbers.py)
    dest_npi: int = DEST_NPI  # ISDN / E.164
    validity_period: str = ""
    priority_flag: int = 1


class LinkDown(Exception):  # noqa: N818  (a condition, not a bug)
    """No bind could be (re)established within ``bind_wait_s``."""


class Refused(Exception):  # noqa: N818
    """The SMSC refused one message for good (its command_status)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"command_status 0x{status:02X}")
        self.status = status


class GaveUp(Exception):  # noqa: N818
    """A part was refused transiently ``max_tries`` times."""


def status_of(error: BaseException) -> int:
    """The SMPP command_status an smpp34 error carries (0x08 when it names none)."""
    found = _STATUS.search(str(error))
    return int(found.group(1), 16) if found else 0x08


@dataclass
class Receipt:
    """A delivery receipt read from a deliver_sm (TLVs first, the text form second)."""

    message_id: str
    state: str  # DELIVRD, EXPIRED, UNDELIV, REJECTD, DELETED, ENROUTE, ACCEPTD, UNKNOWN


_TLV_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV",
               6: "ACCEPTD", 7: "UNKNOWN", 8: "REJECTD"}
_TEXT = re.compile(rb"id:(\S+).*?stat:(\w+)", re.DOTALL)


def parse_receipt(event: smpp34.DeliverSmEvent) -> Receipt | None:
    """The receipt in a deliver_sm, or None for anything else (an MO message)."""
    if not event.esm_class & 0x04:
        return None
    tlvs = {tlv.tag: tlv.value for tlv in event.tlvs}
    text = _TEXT.search(event.short_message)
    message_id = (tlvs[0x001E].rstrip(b"\0").decode("ascii", "replace") if 0x001E in tlvs
                  else text.group(1).decode("ascii", "replace") if text else None)
    if tlvs.get(0x0427):
        state = _TLV_STATES.get(tlvs[0x0427][0], "UNKNOWN")
    elif text:
        state = text.group(2).decode("ascii", "replace").upper()
    else:
        return None
    return Receipt(message_id, state) if message_id else None


@dataclass
class Bind:
    """One SMPP session, kept bound by a supervisor task."""

    settings: SmppSettings
    on_receipt: Callable[[Receipt], None]
    smsc: smpp34.Smsc | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    bound_count: int = 0
    last_error: str = ""
    _task: asyncio.Task[None] | None = None
    _client: smpp34.Client | None = None
    _reader: asyncio.Task[Any] | None = None
    _paused_until: float = 0.0
    _backoff: float = 0.0
    _next_slot: float = 0.0

    def start(self) -> None:
        self._backoff = self.settings.backoff_initial_s
        self._task = asyncio.create_task(self._supervise(), name="tocsin-smpp-bind")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.ready.clear()

    async def _supervise(self) -> None:
        delay = 0.0
        while True:
            await asyncio.sleep(delay)
            s = self.settings
            client = smpp34.Client(s.host, s.port, s.system_id, s.password, bind_type="TRX",
                                   system_type=s.system_type, window_size=s.window,
                                   connect_timeout_ms=int(s.connect_timeout_s * 1000))
            try:
                async with asyncio.timeout(s.connect_timeout_s):  # covers a bind never answered
                    self.smsc = await client.connect()
            except (smpp34.SmppError, OSError, RuntimeError, TimeoutError) as exc:
                self.last_error = str(exc) or "no bind_resp within connect_timeout_s"
                with contextlib.suppress(Exception):
                    await client.stop()
                delay = min(max(delay * 2, s.backoff_initial_s * 4), s.backoff_max_s)
                continue
            delay, self.bound_count = 0.0, self.bound_count + 1
            self._client = client
            self.ready.set()
            self._reader = asyncio.create_task(self._read(self.smsc))
            try:
                await asyncio.wait({self._reader})  # ends with the session, or by _check
            finally:
                self._reader.cancel()
                self.ready.clear()
                self.smsc = self._client = None
                with contextlib.suppress(Exception):
                    await client.stop()

    async def _read(self, smsc: smpp34.Smsc) -> None:
        """Hand receipts on until the session ends (or ``_check`` finds it dead)."""
        try:
            while True:
                event = await smsc.next()
                if isinstance(event, smpp34.Disconnected):
                    self.last_error = "the SMSC ended the session"
                    return
                receipt = parse_receipt(event)
                if receipt is not None:
                    self.on_receipt(receipt)
        except Exception as exc:
            self.last_error = str(exc) or type(exc).__name__

    async def _check(self) -> None:
        """After an error answer: if the session is dead, end it now so the supervisor
        rebinds, rather than waiting for enquire_link to notice."""
        client, reader = self._client, self._reader
        alive = False
        if client is not None:
            with contextlib.suppress(Exception):
                alive = await client.is_alive()
        if not alive and reader is not None and not reader.done() and self.ready.is_set():
            self.ready.clear()
            self.last_error = "the session died"
            reader.cancel()

    async def _pace(self) -> None:
        """Wait out a throttling pause, then for this bind's next rate slot."""
        now = time.monotonic()
        wait = max(0.0, self._paused_until - now)
        if self.settings.rate_per_bind > 0:
            slot = max(now + wait, self._next_slot)
            self._next_slot = slot + 1.0 / self.settings.rate_per_bind
            wait = slot - now
        if wait > 0:
            await asyncio.sleep(wait)

    def _pause(self) -> None:
        self._paused_until = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.settings.backoff_max_s)

    async def submit(self, address: str, part: Part) -> str:
        """Submit one part until the SMSC takes it; its message id. Raises ``Refused``,
        ``GaveUp``, or ``LinkDown`` when this bind stays down for ``bind_wait_s``."""
        s = self.settings
        if not is_international_digits(address):
            raise Refused(ESME_RINVDSTADR)  # never sent under a TON it does not match
        for _ in range(s.max_tries):
            await self.wait_bound()
            await self._pace()
            smsc = self.smsc
            if smsc is None:
                continue
            try:  # smpp34's response timer bounds the wait (no asyncio timer per submit)
                resp = await smsc.submit_sm(
                    address, part.short_message, source_addr=s.source_addr,
                    source_addr_ton=s.source_ton, source_addr_npi=s.source_npi,
                    dest_addr_ton=s.dest_ton, dest_addr_npi=s.dest_npi,
                    esm_class=part.esm_class, data_coding=part.data_coding,
                    registered_delivery=1, priority_flag=s.priority_flag,
                    validity_period=s.validity_period)
                status = resp.command_status
            except smpp34.SmppError as exc:
                status = status_of(exc)
            if status == 0:
                self._backoff = s.backoff_initial_s
                return resp.message_id or ""
            if status not in BACK_OFF | RESEND:
                raise Refused(status)
            if status in RESEND:
                await self._check()
            self._pause()
        raise GaveUp(f"{s.max_tries} tries")

    async def wait_bound(self) -> None:
        if self.ready.is_set():
            return
        try:
            async with asyncio.timeout(self.settings.bind_wait_s):
                await self.ready.wait()
        except TimeoutError as exc:
            raise LinkDown(self.last_error or "not bound") from exc
