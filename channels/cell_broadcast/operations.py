"""CBC calls wrapped in the ledger's transitions: write, reconcile, kill.

Stage: the adapter's I/O policy, between the channel (which decides what goes where)
and the transport (which speaks to the CBC). Each call is preceded by a durable
intent in the ledger and followed by its confirmation, under a per-slot lock, so
that the rule "never kill another live warning" holds for every interleaving:

- a **write** starts only on a slot the ledger shows free (``begin_write`` is a
  compare-and-set); a definite 409 for it means a message not written here holds the
  identifier: the intent is dropped and the caller tries another identifier;
- a **retry of a write whose answer never came** reconciles before anything else: it
  POSTs the same message (same serial) again. 200/201: written now. 409: present
  already -- the slot was free when the intent was recorded, so what holds it is that
  write. No answer: still unknown, retried later. It never DELETEs to find out, so it
  cannot kill a message it did not confirm;
- a **kill** is only of the caller's own chain (or, at expiry, of this channel's
  message): 200 or 404 ``Unknown message ID`` both end it (404 proves absence); no
  answer leaves the ``killing`` intent for the retry.

The ledger may be shared by several nodes (``state_ledger``): ``begin_write`` then
raises ``LedgerConflictError`` when another node took the slot first (no call is
made; the caller chooses again), and a confirmation that finds the slot changed by
another node meanwhile (its sweeper withdrawing an expired write, say) is reported
as a ``TransientError``: the retry looks at the slot as it is now.

Residual risk, written down because ECBE has no read call: the 409 that proves
presence proves it only if nothing else writes this identifier. Another CBE, or a
router with a ledger of its own, writing it in the window between our unanswered
POST and the reconciling one, would be taken for ours (and later killed by our
Cancel or expiry). The identifiers in Tocsin's pools must therefore be written by
this channel alone -- by its nodes sharing one store, never by nodes each keeping
a ``state_file`` of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from channels.cell_broadcast.durable import DurableLedger
from channels.cell_broadcast.ledger import Holding, LedgerConflictError, Slot
from channels.cell_broadcast.transport import (
    CbcMessage,
    OutcomeUnknownError,
    Transport,
    WriteOutcome,
)
from router.errors import FailureReason, PermanentError, TransientError


def message_id_of(slot: str) -> int:
    return int(slot.split("/", 1)[0])


async def _after_call(slot: str, change: Awaitable[Slot]) -> Slot:
    """A transition after a CBC call: the slot changed on another node meanwhile is
    a transient error (the retry sees the slot as it is now), not a crash."""
    try:
        return await change
    except LedgerConflictError as exc:
        raise TransientError(f"cell-broadcast slot {slot} changed on another node "
                             f"during the call: {exc}", FailureReason.CONFLICT) from exc


class CbcOperations:
    def __init__(self, ledger: DurableLedger, transport: Transport) -> None:
        self.ledger = ledger
        self.transport = transport
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, slot: str) -> asyncio.Lock:
        return self._locks.setdefault(slot, asyncio.Lock())

    def slot_name(self, message_id: int, serial: int) -> str:
        """The ledger slot of a message: its identifier, or identifier/serial on a CBC
        that keys messages by both."""
        return f"{message_id}/{serial}" if self.transport.keyed_by_serial else str(message_id)

    async def write(self, slot: str, message: CbcMessage, holding: Holding) -> WriteOutcome:
        """A fresh write on a free slot (the caller holds the slot's lock);
        ``LedgerConflictError`` before any call when the slot is not free after all."""
        await self.ledger.begin_write(slot, holding)
        try:
            outcome = await self.transport.write(message)
        except OutcomeUnknownError:
            await _after_call(slot, self.ledger.write_unanswered(slot))
            raise
        except (TransientError, PermanentError):
            # answered (or never sent): not taken
            await _after_call(slot, self.ledger.abandon_write(slot, holding.key))
            raise
        if outcome is WriteOutcome.WRITTEN:
            await _after_call(slot, self.ledger.confirm_write(slot, holding.key))
        else:
            # somebody else's message is there
            await _after_call(slot, self.ledger.abandon_write(slot, holding.key))
        return outcome

    async def reconcile_write(self, slot: str, message: CbcMessage, key: str) -> None:
        """The retry of a write whose answer never came: POST it again (same serial)."""
        try:
            await self.transport.write(message)  # 200/201: written now; 409: already there
        except OutcomeUnknownError:
            await _after_call(slot, self.ledger.write_unanswered(slot))
            raise
        except PermanentError:
            # the same request is refused: never taken
            await _after_call(slot, self.ledger.abandon_write(slot, key))
            raise
        # a 5xx (TransientError) keeps the intent: the first POST may have been applied
        await _after_call(slot, self.ledger.confirm_write(slot, key))

    async def kill(self, slot: str, chain: str | None) -> None:
        """Kill what ``chain`` has on ``slot`` (None: whatever this channel has there).
        The caller holds the slot's lock and has checked the owner;
        ``LedgerConflictError`` before any call when the slot is not ``chain``'s now."""
        state = await self.ledger.begin_kill(slot, chain)
        serial = state.owner.serial if state.owner is not None else 0  # never free here
        try:
            await self.transport.kill(message_id_of(slot), serial)
        except OutcomeUnknownError:
            await _after_call(slot, self.ledger.write_unanswered(slot))
            raise
        # 200, or 404 "Unknown message ID": gone
        await _after_call(slot, self.ledger.confirm_kill(slot))
