"""``cell_broadcast`` channel: EU-Alert / NL-Alert through a Cell Broadcast Centre.

Stage: a channel adapter (imports only ``router.channel`` and ``router.errors``).
It encodes the alert into 3GPP TS 23.041 pages itself and hands them to the CBC
(``transport``) with an explicit DCS, so what handsets show does not depend on
the CBC's own text coding.

- Identifier: from the deployment table (``identifiers``); the serial number is
  GS | message code | update number. A new alert's message code is derived
  from its CAP key (sha256 of sender, identifier, sent, modulo 1024), moved on
  to the next free code when another alert used it on that identifier within
  ``code_reuse_hours``. An Update inherits identifier and code from the
  receipt of what it replaces and increments the update number modulo 16.
- The receipt detail keeps, per message, identifier, serial and DCS: the store
  hands it back for an Update or a Cancel, so the mapping survives restarts.
- Update: kill the old version, then write the new one (osmo-cbc has no
  replace, and its 409 answers are unreliable); a 409 all the same -> kill and
  write once more. Cancel: kill (a 404 means already gone: done).
- Idempotency: the ledger (``channels.cell_broadcast.ledger``) recognises a
  retry of a write that succeeded (a duplicate: nothing is sent) and one whose
  outcome is unknown (kill and write again with the same serial, which
  handsets that saw the first drop as a repeat).
- A 409 for a new alert means another message holds the identifier: a
  permanent ``conflict`` (the route's fallback takes over); it is never killed
  to make room.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.cell_broadcast.area import warning_area
from channels.cell_broadcast.budget import CbsBudget
from channels.cell_broadcast.compose import PlannedMessage, plan
from channels.cell_broadcast.config import CellBroadcastConfig, Deployment, load_deployment
from channels.cell_broadcast.ledger import Holding, Ledger
from channels.cell_broadcast.serial import SerialNumber
from channels.cell_broadcast.transport import (
    CbcMessage,
    EcbeTransport,
    KillOutcome,
    OutcomeUnknownError,
    Transport,
    WriteOutcome,
)
from router.channel import (
    Alert,
    AreaKind,
    Capabilities,
    Delivery,
    FailureReason,
    Health,
    MsgType,
    NotApplicableError,
    PermanentError,
    PlainVariants,
    Receipt,
)

SEND_MARGIN_S = 5.0
"""Beyond the CBC calls themselves: the ledger's fsync'd writes and scheduling."""


def send_timeout(http_timeout_s: float, deployment: Deployment) -> float:
    """How long one send may take: an Update kills and writes each message, two calls
    that may each wait ``http_timeout_s`` (osmo-cbc with no peers takes 15 s per
    call), for the one message of a bilingual or single-language deployment or the
    two of a ``separate`` one. The dispatcher's default (30 s) would cut such an
    Update short and send it again. The rare busy identifier (kill, write, kill,
    write) can still take longer: that attempt ends as a timeout and is retried."""
    messages = 2 if deployment.languages.mode == "separate" else 1
    return 2 * messages * http_timeout_s + SEND_MARGIN_S


def code_for(alert: Alert) -> int:
    """The preferred message code of a new alert: stable across retries and nodes."""
    key = f"{alert.sender}\n{alert.identifier}\n{alert.sent.isoformat()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % 1024


class CellBroadcastChannel:
    def __init__(self, name: str, config: Mapping[str, Any],
                 transport: Transport | None = None) -> None:
        self.name = name
        self.config = CellBroadcastConfig.model_validate(config)
        self.deployment: Deployment = load_deployment(self.config.deployment)
        self.capabilities = Capabilities(
            area_kinds=frozenset({AreaKind.POLYGON, AreaKind.CIRCLE, AreaKind.GEOCODE}),
            supports_update=True, supports_cancel=True, budget=self.budget, public=True,
            send_timeout_s=send_timeout(self.config.timeout_s, self.deployment))
        self.transport: Transport = transport or EcbeTransport(
            self.config.url, self.config.timeout_s, self.config.cbe_name)
        state = self.config.state_file
        self.ledger = Ledger(Path(state) if state else None)
        self._locks: dict[int, asyncio.Lock] = {}

    def budget(self, language: str) -> CbsBudget:
        """The whole message's budget in ``language`` (a bilingual message splits it;
        see ``channels.cell_broadcast.compose``)."""
        return CbsBudget(language, self.deployment.max_pages)

    async def start(self) -> None:
        await self.transport.start()

    async def close(self) -> None:
        await self.transport.close()

    async def health(self) -> Health:
        return await self.transport.health()

    # -- send ---------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> Receipt:
        alert = delivery.alert
        if alert.msg_type not in {MsgType.ALERT, MsgType.UPDATE}:
            raise NotApplicableError(f"a {alert.msg_type.value} for a message this channel "
                                     "did not broadcast has nothing to go out")
        planned = plan(alert, delivery.variants or PlainVariants(alert), self.deployment)
        prior = _prior_messages(delivery.replaces)
        broadcasts = self._broadcasts(alert)
        area = warning_area(alert, self.deployment.cell_lists)
        details, duplicates = [], []
        for message in planned:
            key = delivery.idempotency_key + ("" if message.slot == "main"
                                              else f"#{message.slot}")
            cbc = self._cbc_message(alert, message, key, prior.get(message.slot), broadcasts,
                                    area.coordinates, area.cells)
            duplicates.append(await self._write(cbc, key, message.slot in prior))
            details.append(_message_detail(message, cbc))
        pages = sum(m.encoded.page_count for m in planned)
        return Receipt(self.name, delivery.idempotency_key,
                       reference=",".join(f"{d['message_id']}/{d['serial']['encoded']}"
                                          for d in details),
                       detail={"messages": details, "area": area.as_detail(),
                               "repetition": {"period": self.deployment.repetition.period,
                                              "broadcasts": broadcasts},
                               "metrics": {"cbs_pages": pages}},
                       duplicate=all(duplicates))

    def _cbc_message(self, alert: Alert, message: PlannedMessage, key: str,  # noqa: PLR0917
                     prior: tuple[int, SerialNumber] | None, broadcasts: int,
                     coordinates: bytes | None, cells: tuple[str, ...]) -> CbcMessage:
        if prior is not None:
            message_id, serial = prior[0], prior[1].next_update()
        else:
            message_id = message.message_id
            code = self.ledger.message_code(message_id, key, code_for(alert),
                                            self.deployment.code_reuse_hours * 3600)
            serial = SerialNumber(self.deployment.scope, code, 0)
        repetition = self.deployment.repetition
        return CbcMessage(message_id, serial, message.encoded.coding.dcs, message.encoded.pages,
                          repetition.period, broadcasts, repetition.category, coordinates,
                          cells)

    def _broadcasts(self, alert: Alert) -> int:
        """Broadcasts until the latest ``<expires>`` (the configured number without one)."""
        repetition = self.deployment.repetition
        expiries = [info.expires for info in alert.infos if info.expires is not None]
        if not expiries:
            return repetition.broadcasts
        remaining = (max(expiries) - datetime.now(UTC)).total_seconds()
        if remaining <= 0:
            raise PermanentError("the alert has expired", FailureReason.EXPIRED)
        if repetition.period == 0:
            return 1
        return min(65535, max(1, math.ceil(remaining / (repetition.period
                                                       * repetition.period_unit_s))))

    def _lock(self, message_id: int) -> asyncio.Lock:
        return self._locks.setdefault(message_id, asyncio.Lock())

    async def _write(self, message: CbcMessage, key: str, replacing: bool) -> bool:
        """Put ``message`` on the CBC; True when it was already there (a duplicate)."""
        mid, serial = message.message_id, message.serial.encode()
        async with self._lock(mid):
            held = self.ledger.holder(mid)
            if held is not None and held.key == key and held.serial == serial:
                if held.state == "active":
                    return True
                await self._kill(mid)  # the last write's outcome is unknown
                held = None
            elif replacing and (held is None or _same_chain(held, message.serial)):
                await self._kill(mid)
                held = None
            outcome = await self._try_write(message, key, held)
            if outcome is WriteOutcome.BUSY and replacing and held is None:
                await self._kill(mid)  # a version written since (or unknown to the ledger)
                outcome = await self._try_write(message, key, None)
            if outcome is WriteOutcome.BUSY:
                self.ledger.restore(mid, held)
                owner = f"alert delivery {held.key}" if held else "a message not written here"
                raise PermanentError(
                    f"message identifier {mid} is busy on the CBC ({owner}); a second "
                    "simultaneous alert needs another identifier or a Cancel of the first",
                    FailureReason.CONFLICT)
            self.ledger.hold(mid, key, serial, "active")
            return False

    async def _try_write(self, message: CbcMessage, key: str,
                         held: Holding | None) -> WriteOutcome:
        mid = message.message_id
        self.ledger.hold(mid, key, message.serial.encode(), "pending")
        try:
            return await self.transport.write(message)
        except OutcomeUnknownError:
            raise  # stays pending: the next attempt kills and writes again
        except Exception:
            self.ledger.restore(mid, held)
            raise

    async def _kill(self, message_id: int) -> KillOutcome:
        outcome = await self.transport.kill(message_id)
        self.ledger.release(message_id)
        return outcome

    # -- cancel -------------------------------------------------------------------------

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:  # noqa: ARG002  (the protocol)
        messages = _prior_messages(receipt)
        if not messages:
            raise PermanentError(f"no CBC message is recorded for {receipt.reference}",
                                 FailureReason.REJECTED)
        for message_id, serial in messages.values():
            async with self._lock(message_id):
                held = self.ledger.holder(message_id)
                if held is not None and not _same_chain(held, serial):
                    continue  # another alert holds the identifier now: ours is gone
                await self._kill(message_id)


def _same_chain(held: Holding, serial: SerialNumber) -> bool:
    """Whether the ledger's message on an identifier is a version of ``serial``'s alert."""
    return SerialNumber.decode(held.serial).message_code == serial.message_code


def _prior_messages(receipt: Receipt | None) -> dict[str, tuple[int, SerialNumber]]:
    """slot -> (identifier, serial) of what a receipt says was written."""
    if receipt is None:
        return {}
    found: dict[str, tuple[int, SerialNumber]] = {}
    for item in receipt.detail.get("messages", []) or []:
        try:
            found[str(item["slot"])] = (int(item["message_id"]),
                                        SerialNumber.from_detail(item["serial"]))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def _message_detail(message: PlannedMessage, cbc: CbcMessage) -> dict[str, Any]:
    coding = message.encoded.coding
    return {"slot": message.slot, "message_id": cbc.message_id,
            "serial": cbc.serial.as_detail(), "dcs": coding.dcs, "alphabet": coding.alphabet,
            "languages": list(message.languages), "pages": message.encoded.page_count,
            "text": message.text, "dropped": list(message.dropped)}
