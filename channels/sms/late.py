"""Delivery receipts settled through Tocsin's durable message ledger.

Stage: channel adapter (bookkeeping; imports only the contract and its own package).

Decision: the SMSC message id -> recipient mapping lives in Tocsin's store, not in
this process. Every recipient the fan-out records as ``sent`` carries its message ids
(``RecipientResult.reference``), and the store files them in the channel's
``MessageLedger`` in the same transaction. A receipt is therefore matched however late
it comes -- after ``tocsin serve`` restarted, or on another node's bind -- and the
ledger alone counts a multi-part message's parts, so a restart between two parts'
receipts loses nothing.

A receipt can overtake the write of its recipient's outcome (outcomes are written in
groups, and a submit_sm_resp can come after the receipt it names), so a receipt the
ledger does not know yet waits here and is offered again on later flushes
(backing off from 0.5 s to 30 s), for at most ``patience_s`` and ``limit`` receipts;
beyond that it is counted in ``unmatched``: a receipt for a message this Tocsin never
sent, or one whose outcome a crash lost (that recipient is sent again on resume, and
the new message's receipt counts).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from channels.sms.tracking import FINAL
from router.channel import MessageLedger

PATIENCE_S: Final = 600.0
LIMIT: Final = 100_000
FIRST_RETRY_S: Final = 0.5
MAX_RETRY_S: Final = 30.0
"""A receipt the ledger did not know is offered again after 0.5 s, then 1, 2 ... 30 s:
a burst of strays after a restart must not make every flush a 100,000-row lookup."""


@dataclass
class _Waiting:
    state: str
    since: float
    due: float
    delay: float = FIRST_RETRY_S


class LateReceipts:
    """Final receipts waiting to be settled through the ledger."""

    def __init__(self, ledger: MessageLedger, *, patience_s: float = PATIENCE_S,
                 limit: int = LIMIT) -> None:
        self.ledger, self.patience_s, self.limit = ledger, patience_s, limit
        self._pending: OrderedDict[str, _Waiting] = OrderedDict()
        self.unmatched = 0

    def receipt(self, message_id: str, state: str) -> None:
        if state not in FINAL:
            return  # ENROUTE, ACCEPTD, UNKNOWN: not a final word
        now = time.monotonic()
        self._pending[message_id] = _Waiting(state, now, now)
        self._pending.move_to_end(message_id)
        if len(self._pending) > self.limit:
            self._pending.popitem(last=False)
            self.unmatched += 1

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self, elsewhere: Callable[[str, str], bool]) -> None:
        """Offer the receipts that are due: first to ``elsewhere`` (the in-memory tracker
        of deliveries the store does not hold; True when it took one), then to the
        ledger; forget those matched and those that waited ``patience_s``."""
        now = time.monotonic()
        due = [(mid, w) for mid, w in self._pending.items() if w.due <= now]
        for mid, waiting in due:
            if elsewhere(mid, waiting.state):
                del self._pending[mid]
        offered = [(mid, w) for mid, w in due if mid in self._pending]
        matched = await self.ledger.settle_messages(
            [(mid, FINAL[w.state]) for mid, w in offered])
        for mid, waiting in offered:
            if mid in matched:
                self._pending.pop(mid, None)
            else:
                waiting.due, waiting.delay = now + waiting.delay, min(waiting.delay * 2,
                                                                      MAX_RETRY_S)
        for mid, waiting in list(self._pending.items()):
            if now - waiting.since < self.patience_s:
                break  # oldest first: the rest are younger
            del self._pending[mid]
            self.unmatched += 1
