"""``cell_broadcast`` channel: EU-Alert / NL-Alert through a Cell Broadcast Centre.

Stage: a channel adapter (imports only ``router.channel`` and ``router.errors``).
It encodes the alert into 3GPP TS 23.041 pages itself and hands them to the CBC
(``transport``) with an explicit DCS, so what handsets show does not depend on
the CBC's own text coding.

- Identifier: the deployment table (``identifiers``) picks the alert's class; the
  class's **pool** (``identifiers.pools``) lists the identifiers handsets in that
  country show the same way, and a new alert takes the first one the ledger shows
  free. osmo-cbc holds one message per identifier, so the pool is what lets two
  simultaneous alerts of a class both go out. Every member busy: ``ChannelBusyError``
  (reason ``identifier_pool_exhausted``) naming which identifier holds which alert --
  busy is not an outage. A CBC keyed by identifier *and* serial
  (``keys_messages_by``) needs no pool.
- Serial number: GS | message code | update number. A new alert's message code is
  derived from its CAP key (sha256 of sender, identifier, sent, modulo 1024), moved
  on to the next free code when another alert used it on that identifier within
  ``code_reuse_hours``. An Update inherits identifier and code from the receipt of
  what it replaces (Update and Cancel stay on the identifier the original got) and
  increments the update number modulo 16.
- The receipt detail keeps, per message, identifier, serial, DCS and the alert
  chain: the store hands it back for an Update or a Cancel, so the mapping survives
  restarts.
- Update: kill the old version of its own chain, then write the new one (osmo-cbc
  has no replace). Cancel: kill what its chain has (404 means already gone).
  Neither ever kills a slot the ledger gives to another chain.
- Idempotency and unknown outcomes: ``channels.cell_broadcast.operations`` (the
  ledger's state machine around every call).
- Broadcast life: ``num_of_bcast`` is counted from the real repetition period (the
  peer type's unit, ``repetition.peer``) up to the latest ``<expires>``; past the
  CBC's 65,535 it is 0, "until further notice". Either way the ledger records the
  expiry with the holding and a sweeper kills due broadcasts, at start and every
  ``sweep_interval_s`` (so a restart kills what fell due while it was down, and the
  identifier is freed for the next alert of its class).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from channels.cell_broadcast.area import warning_area
from channels.cell_broadcast.budget import CbsBudget
from channels.cell_broadcast.compose import PlannedMessage, plan, preview
from channels.cell_broadcast.config import CellBroadcastConfig, Deployment, load_deployment
from channels.cell_broadcast.durable import DurableLedger, LocalLedger
from channels.cell_broadcast.identifiers import additional_language_id
from channels.cell_broadcast.ledger import Holding, Ledger, LedgerConflictError, Slot
from channels.cell_broadcast.operations import CbcOperations, message_id_of
from channels.cell_broadcast.serial import SerialNumber
from channels.cell_broadcast.state_ledger import ChannelStateLedger, SlotInFlightError
from channels.cell_broadcast.transport import (
    CbcMessage,
    EcbeTransport,
    Transport,
    WriteOutcome,
)
from router.channel import (
    Alert,
    AreaKind,
    Capabilities,
    ChannelState,
    Delivery,
    FailureReason,
    Health,
    MsgType,
    NotApplicableError,
    PermanentError,
    PlainVariants,
    Receipt,
)
from router.errors import ChannelBusyError, TocsinError, TransientError

log = structlog.get_logger("tocsin.channel.cell_broadcast")

SEND_MARGIN_S = 5.0
"""Beyond the CBC calls themselves: the ledger's fsync'd writes and scheduling."""


def send_timeout(http_timeout_s: float, deployment: Deployment) -> float:
    """How long one send may take: an Update kills and writes each message, two calls
    that may each wait ``http_timeout_s`` (osmo-cbc with no peers takes 15 s per
    call), for the one message of a bilingual or single-language deployment or the
    two of a ``separate`` one. The dispatcher's default (30 s) would cut such an
    Update short and send it again."""
    messages = 2 if deployment.languages.mode == "separate" else 1
    return 2 * messages * http_timeout_s + SEND_MARGIN_S


def code_for(alert: Alert) -> int:
    """The preferred message code of a new alert: stable across retries and nodes."""
    key = f"{alert.sender}\n{alert.identifier}\n{alert.sent.isoformat()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % 1024


@dataclass(frozen=True)
class Prior:
    """What a receipt says one slot of the replaced version was."""

    message_id: int
    serial: SerialNumber
    chain: str


@dataclass(frozen=True)
class Broadcast:
    """How long a message is broadcast: the count sent to the CBC and the expiry."""

    broadcasts: int
    expires_at: float | None

    @property
    def until_further_notice(self) -> bool:
        return self.broadcasts == 0


class CellBroadcastChannel:
    def __init__(self, name: str, config: Mapping[str, Any],
                 transport: Transport | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.name = name
        self.config = CellBroadcastConfig.model_validate(config)
        self.deployment: Deployment = load_deployment(self.config.deployment)
        self.capabilities = Capabilities(
            area_kinds=frozenset({AreaKind.POLYGON, AreaKind.CIRCLE, AreaKind.GEOCODE}),
            supports_update=True, supports_cancel=True, budget=self.budget, public=True,
            preview=lambda alert, variants: preview(alert, variants, self.deployment),
            send_timeout_s=send_timeout(self.config.timeout_s, self.deployment))
        self.transport: Transport = transport or EcbeTransport(
            self.config.url, self.config.timeout_s, self.config.cbe_name,
            keyed_by_serial=self.config.keys_messages_by == "identifier_and_serial")
        self._clock = clock
        state = self.config.state_file
        self.ledger: Ledger = Ledger(Path(state) if state else None, clock)
        """What the channel reads (synchronously): the ledger itself, or the view of
        the shared one, refreshed before every decision (``durable``)."""
        self._durable: DurableLedger = LocalLedger(self.ledger)
        self.operations = CbcOperations(self._durable, self.transport)
        self._sweeper: asyncio.Task[None] | None = None

    def use_channel_state(self, state: ChannelState) -> None:
        """Keep the ledger in Tocsin's shared store (``KeepsChannelState``), before
        ``start``: every node on the store then sees every other node's intents and
        holders. A ``state_file`` that exists is imported once and renamed
        (``channels.cell_broadcast.state_ledger``)."""
        existing = self.ledger if self.ledger.path is not None and (
            self.ledger.path.exists()) else None
        self._durable = ChannelStateLedger(
            state, self._clock, imported=existing,  # another node's intent is in flight
            stale_after_s=send_timeout(self.config.timeout_s, self.deployment))  # until then
        self.ledger = self._durable.view
        self.operations = CbcOperations(self._durable, self.transport)

    def budget(self, language: str) -> CbsBudget:
        """The whole message's budget in ``language`` (a bilingual message splits it;
        see ``channels.cell_broadcast.compose``)."""
        return CbsBudget(language, self.deployment.max_pages)

    async def start(self) -> None:
        await self.transport.start()
        await self.sweep()  # what fell due while the channel was down
        self._sweeper = asyncio.create_task(self._sweep_forever(),
                                            name=f"tocsin-{self.name}-sweeper")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.transport.close()
        self._durable.close()

    async def health(self) -> Health:
        """The CBC's reachability, with the message identifiers this channel has on air
        (held, or being written or killed), as the ledger records them."""
        link = await self.transport.health()
        await self._durable.refresh()  # what other nodes hold now
        on_air = [{"identifier": int(name.split("/")[0]), "slot": name, "state": slot.state,
                   "alert_id": owner.alert_id if (owner := slot.owner) else None}
                  for name, slot in self.ledger.slots() if slot.state != "free"]
        on_air.sort(key=lambda item: (item["identifier"], item["slot"]))
        return replace(link, facts={"cbc": self.config.url, **link.facts, "on_air": on_air})

    # -- send ---------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> Receipt:
        alert = delivery.alert
        if alert.msg_type not in {MsgType.ALERT, MsgType.UPDATE}:
            raise NotApplicableError(f"a {alert.msg_type.value} for a message this channel "
                                     "did not broadcast has nothing to go out")
        planned = plan(alert, delivery.variants or PlainVariants(alert), self.deployment)
        prior = _prior_messages(delivery.replaces)
        life = self._broadcast(alert)
        area = warning_area(alert, self.deployment.cell_lists)
        await self._durable.refresh()  # what other nodes hold now
        details, duplicates = [], []
        main_id: int | None = None
        for message in planned:
            key = delivery.idempotency_key + ("" if message.slot == "main"
                                              else f"#{message.slot}")
            before = prior.get(message.slot)
            chain = before.chain if before is not None else key
            holding = Holding(key, chain, delivery.alert_id, 0, life.expires_at)
            build = self._builder(message, life, area.coordinates, area.cells)
            if before is not None:
                cbc, duplicate = await self._update(before, holding, build)
            else:
                candidates = self._candidates(message, main_id)
                cbc, duplicate = await self._new(candidates, holding, build,
                                                 code_for(alert))
            if message.slot == "main":
                main_id = cbc.message_id
            duplicates.append(duplicate)
            details.append(_message_detail(message, cbc, chain))
        pages = sum(m.encoded.page_count for m in planned)
        repetition = self.deployment.repetition
        return Receipt(self.name, delivery.idempotency_key,
                       reference=",".join(f"{d['message_id']}/{d['serial']['encoded']}"
                                          for d in details),
                       detail={"messages": details, "area": area.as_detail(),
                               "repetition": {
                                   "peer": repetition.peer, "period": repetition.period,
                                   "period_s": repetition.real_period_s,
                                   "broadcasts": life.broadcasts,
                                   "until_further_notice": life.until_further_notice,
                                   "kill_at": _iso(life.expires_at)},
                               "metrics": {"cbs_pages": pages}},
                       duplicate=all(duplicates))

    def _builder(self, message: PlannedMessage, life: Broadcast,
                 coordinates: bytes | None, cells: tuple[str, ...]
                 ) -> Callable[[int, SerialNumber], CbcMessage]:
        repetition = self.deployment.repetition

        def build(message_id: int, serial: SerialNumber) -> CbcMessage:
            return CbcMessage(message_id, serial, message.encoded.coding.dcs,
                              message.encoded.pages, repetition.period, life.broadcasts,
                              repetition.category, coordinates, cells)
        return build

    def _candidates(self, message: PlannedMessage, main_id: int | None) -> tuple[int, ...]:
        """The identifiers a new message may go out on, in order of preference."""
        if message.slot != "main" and main_id is not None:
            twin = additional_language_id(main_id)
            return (twin if twin is not None else message.message_id,)
        if self.transport.keyed_by_serial:
            return (message.message_id,)  # several messages per identifier: no pool
        return self.deployment.identifiers.pools.get(message.message_id,
                                                     (message.message_id,))

    async def _code(self, message_id: int, key: str, preferred: int) -> SerialNumber:
        code = await self._durable.message_code(message_id, key, preferred,
                                                self.deployment.code_reuse_hours * 3600)
        return SerialNumber(self.deployment.scope, code, 0)

    async def _retry_of_own(self, holding: Holding,
                            build: Callable[[int, SerialNumber], CbcMessage]
                            ) -> tuple[CbcMessage, bool] | None:
        """A retry (or a restart) of a delivery that already has a slot: a duplicate when
        held, a reconciliation when its write was never answered."""
        found = self.ledger.find(holding.key)
        if found is None:
            return None
        name, _ = found
        async with self.operations.lock(name):
            await self._durable.refresh(name)
            slot = self.ledger.slot(name)
            owner = slot.owner
            if owner is None or owner.key != holding.key:
                return None  # freed meanwhile (killed at expiry, or abandoned)
            message = build(message_id_of(name), SerialNumber.decode(owner.serial))
            if slot.state == "held":
                return message, True
            if slot.state == "killing":
                raise TransientError(f"message {name} is being withdrawn (expired or "
                                     "cancelled)", FailureReason.CANCELLED)
            await self.operations.reconcile_write(name, message, holding.key)
            return message, False

    async def _new(self, candidates: tuple[int, ...], holding: Holding,
                   build: Callable[[int, SerialNumber], CbcMessage], preferred: int
                   ) -> tuple[CbcMessage, bool]:
        own = await self._retry_of_own(holding, build)
        if own is not None:
            return own
        refused: dict[int, str] = {}
        for message_id in candidates:
            serial = await self._code(message_id, holding.key, preferred)
            name = self.operations.slot_name(message_id, serial.encode())
            lock = self.operations.lock(name)
            if lock.locked() or self.ledger.slot(name).state != "free":
                continue
            async with lock:
                await self._durable.refresh(name)
                if self.ledger.slot(name).state != "free":
                    continue
                message = build(message_id, serial)
                stamped = Holding(holding.key, holding.chain, holding.alert_id,
                                  serial.encode(), holding.expires_at)
                try:
                    outcome = await self.operations.write(name, message, stamped)
                except LedgerConflictError:
                    continue  # another node took it first: no call was made
            if outcome is WriteOutcome.WRITTEN:
                return message, False
            refused[message_id] = "a message not written here (the CBC answered 409)"
        raise self._exhausted(candidates, refused)

    async def _update(self, before: Prior, holding: Holding,
                      build: Callable[[int, SerialNumber], CbcMessage]
                      ) -> tuple[CbcMessage, bool]:
        """The next version on the identifier the original got: kill its own chain's
        message there, then write. Another chain there: busy (ours is gone already)."""
        own = await self._retry_of_own(holding, build)
        if own is not None:
            return own
        mid, serial = before.message_id, before.serial.next_update()
        old_name = self.operations.slot_name(mid, before.serial.encode())
        async with self.operations.lock(old_name):
            await self._durable.refresh(old_name)
            owner = self.ledger.slot(old_name).owner
            if owner is not None and owner.chain != before.chain:
                raise self._exhausted((mid,), {})
            if owner is not None:
                try:
                    await self.operations.kill(old_name, before.chain)
                except SlotInFlightError as exc:  # another node's call: not done yet
                    raise TransientError(str(exc), FailureReason.CONFLICT) from exc
                except LedgerConflictError:  # another node changed it meanwhile
                    if self.ledger.slot(old_name).owner is not None:
                        raise self._exhausted((mid,), {}) from None
        name = self.operations.slot_name(mid, serial.encode())
        message = build(mid, serial)
        stamped = Holding(holding.key, holding.chain, holding.alert_id, serial.encode(),
                          holding.expires_at)
        async with self.operations.lock(name):
            await self._durable.refresh(name)
            if self.ledger.slot(name).state != "free":
                raise self._exhausted((mid,), {})
            try:
                outcome = await self.operations.write(name, message, stamped)
            except LedgerConflictError:  # another node took it first: no call made
                raise self._exhausted((mid,), {}) from None
        if outcome is WriteOutcome.BUSY:
            raise self._exhausted((mid,), {mid: "a message not written here (the CBC "
                                                "answered 409)"})
        return message, False

    def _exhausted(self, candidates: tuple[int, ...], refused: dict[int, str]
                   ) -> ChannelBusyError:
        holders = []
        for message_id in candidates:
            if message_id in refused:
                holders.append(f"{message_id}: {refused[message_id]}")
                continue
            held = [(name, slot) for name, slot in self.ledger.slots()
                    if message_id_of(name) == message_id]
            for _, slot in held:
                holders.append(f"{message_id}: {_describe(slot)}")
        return ChannelBusyError(
            f"every identifier for this alert's class is busy ({list(candidates)}): "
            + ("; ".join(holders) or "locked by a call in progress")
            + ". A CBC that holds one message per identifier needs a free one for each "
            "simultaneous alert; retried until one is free or the alert expires")

    def _broadcast(self, alert: Alert) -> Broadcast:
        """The broadcasts to ask for and when to kill: counted from the real period up
        to the latest ``<expires>``; over 65,535 (the CBC's ceiling), 0 = until further
        notice, killed at expiry by the sweeper."""
        repetition = self.deployment.repetition
        expiries = [info.expires for info in alert.infos if info.expires is not None]
        if not expiries:
            return Broadcast(repetition.broadcasts, None)
        expires = max(expiries)
        remaining = (expires - datetime.now(UTC)).total_seconds()
        if remaining <= 0:
            raise PermanentError("the alert has expired", FailureReason.EXPIRED)
        if repetition.period == 0:
            return Broadcast(1, expires.timestamp())
        count = max(1, math.ceil(remaining / repetition.real_period_s))
        return Broadcast(count if count <= 65535 else 0, expires.timestamp())

    # -- cancel -------------------------------------------------------------------------

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:  # noqa: ARG002  (the protocol)
        messages = _prior_messages(receipt)
        if not messages:
            raise PermanentError(f"no CBC message is recorded for {receipt.reference}",
                                 FailureReason.REJECTED)
        for before in messages.values():
            name = self.operations.slot_name(before.message_id, before.serial.encode())
            async with self.operations.lock(name):
                await self._durable.refresh(name)
                owner = self.ledger.slot(name).owner
                if owner is None or owner.chain != before.chain:
                    continue  # gone already, or another alert's now: never killed
                try:
                    await self.operations.kill(name, before.chain)
                except SlotInFlightError as exc:  # another node's call: not done yet
                    raise TransientError(str(exc), FailureReason.CONFLICT) from exc
                except LedgerConflictError:
                    continue  # freed, or another alert's, on another node meanwhile

    # -- expiry -------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Kill every broadcast past its expiry, and finish kills a crash or a lost
        answer left behind. Returns how many slots were freed."""
        freed = 0
        now = self._clock()
        await self._durable.refresh()
        for name, slot in self.ledger.slots():
            if not _due(slot, now):
                continue
            lock = self.operations.lock(name)
            if lock.locked():
                continue  # a send or cancel is on it; the next sweep looks again
            async with lock:
                await self._durable.refresh(name)
                if not _due(self.ledger.slot(name), self._clock()):
                    continue
                try:
                    await self.operations.kill(name, None)
                except LedgerConflictError:
                    continue  # freed on another node meanwhile
                except TocsinError as exc:
                    log.warning("cell_broadcast.expiry_kill_failed", slot=name,
                                reason=exc.reason.value, error=str(exc))
                    continue
                freed += 1
                log.info("cell_broadcast.expired_killed", slot=name)
        return freed

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:  # a sweep that breaks must not stop the next one
                log.exception("cell_broadcast.sweep_failed")


def _due(slot: Slot, now: float) -> bool:
    owner = slot.owner
    if owner is None:
        return False
    if slot.state == "killing":
        return True
    return owner.expires_at is not None and owner.expires_at <= now


def _describe(slot: Slot) -> str:
    owner = slot.owner
    if owner is None:
        return "free"
    state = {"held": "", "writing": ", being written", "killing": ", being withdrawn"}
    return (f"alert {owner.alert_id} (delivery {owner.key}, serial {owner.serial}"
            f"{state.get(slot.state, '')})")


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()


def _prior_messages(receipt: Receipt | None) -> dict[str, Prior]:
    """slot -> what a receipt says was written there."""
    if receipt is None:
        return {}
    found: dict[str, Prior] = {}
    for item in receipt.detail.get("messages", []) or []:
        try:
            slot = str(item["slot"])
            chain = item.get("chain") or receipt.idempotency_key + (
                "" if slot == "main" else f"#{slot}")
            found[slot] = Prior(int(item["message_id"]),
                                SerialNumber.from_detail(item["serial"]), str(chain))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return found


def _message_detail(message: PlannedMessage, cbc: CbcMessage, chain: str) -> dict[str, Any]:
    coding = message.encoded.coding
    return {"slot": message.slot, "message_id": cbc.message_id,
            "serial": cbc.serial.as_detail(), "chain": chain, "dcs": coding.dcs,
            "alphabet": coding.alphabet, "languages": list(message.languages),
            "pages": message.encoded.page_count, "text": message.text,
            "dropped": list(message.dropped)}
