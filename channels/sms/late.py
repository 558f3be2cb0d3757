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
ledger does not know yet waits here and is offered again on the next flush, for at
most ``patience_s`` and ``limit`` receipts; beyond that it is counted in ``unmatched``
(a receipt for a message this Tocsin never sent, or one whose outcome a crash lost,
in which case the recipient is sent again on resume and that message's receipt counts).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from channels.sms.tracking import FINAL
from router.channel import MessageLedger

PATIENCE_S: Final = 600.0
LIMIT: Final = 100_000


class LateReceipts:
    """Final receipts waiting to be settled through the ledger."""

    def __init__(self, ledger: MessageLedger, *, patience_s: float = PATIENCE_S,
                 limit: int = LIMIT) -> None:
        self.ledger, self.patience_s, self.limit = ledger, patience_s, limit
        self._pending: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.unmatched = 0

    def receipt(self, message_id: str, state: str) -> None:
        if state not in FINAL:
            return  # ENROUTE, ACCEPTD, UNKNOWN: not a final word
        self._pending[message_id] = (state, time.monotonic())
        self._pending.move_to_end(message_id)
        if len(self._pending) > self.limit:
            self._pending.popitem(last=False)
            self.unmatched += 1

    def __len__(self) -> int:
        return len(self._pending)

    async def flush(self, elsewhere: Callable[[str, str], bool]) -> None:
        """Offer every waiting receipt: first to ``elsewhere`` (the in-memory tracker of
        deliveries the store does not hold, True when it took it), then to the ledger;
        forget those matched and those that waited ``patience_s``."""
        waiting = [(mid, state) for mid, (state, _at) in self._pending.items()
                   if not elsewhere(mid, state)]
        taken = {mid for mid, _ in self._pending.items()} - {mid for mid, _ in waiting}
        matched = await self.ledger.settle_messages([(mid, FINAL[s]) for mid, s in waiting])
        now = time.monotonic()
        for mid in taken | matched:
            self._pending.pop(mid, None)
        for mid, (_state, at) in list(self._pending.items()):
            if now - at < self.patience_s:
                break  # oldest first: the rest are younger
            del self._pending[mid]
            self.unmatched += 1
