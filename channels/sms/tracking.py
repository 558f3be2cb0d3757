"""Delivery receipts back to recipients: message id -> recipient, parts outstanding.

Stage: channel adapter (pure bookkeeping). A recipient whose message took three
parts is ``delivered`` when all three receipts say DELIVRD; the first part that
expires or fails decides otherwise. Receipts may overtake the submit_sm_resp
that names their message id, so a receipt for an unknown id waits (bounded) in
case the id is registered just after. Memory is bounded by ``limit`` ids: beyond
it the oldest are forgotten and their late receipts are counted as unmatched.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from router.channel import Audience, RecipientOutcome, RecipientResult

FINAL = {"DELIVRD": RecipientOutcome.DELIVERED, "EXPIRED": RecipientOutcome.EXPIRED,
         "UNDELIV": RecipientOutcome.FAILED, "REJECTD": RecipientOutcome.FAILED,
         "DELETED": RecipientOutcome.FAILED}


@dataclass
class _Entry:
    audience: Audience
    key: str
    remaining: int
    done: bool = False


class ReceiptTracker:
    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._by_id: OrderedDict[str, _Entry] = OrderedDict()
        self._early: OrderedDict[str, str] = OrderedDict()
        self._due: dict[int, tuple[Audience, list[RecipientResult]]] = {}
        self.unmatched = 0

    def track(self, audience: Audience, key: str, message_ids: list[str]) -> None:
        entry = _Entry(audience, key, len(message_ids))
        for message_id in message_ids:
            self._by_id[message_id] = entry
            if len(self._by_id) > self.limit:
                self._by_id.popitem(last=False)
        for message_id in message_ids:
            early = self._early.pop(message_id, None)
            if early is not None:
                self.receipt(message_id, early)

    def knows(self, message_id: str) -> bool:
        return message_id in self._by_id

    def offer(self, message_id: str, state: str) -> bool:
        """Take the receipt when its id is tracked here (True), else leave it (False)."""
        if message_id not in self._by_id:
            return False
        self.receipt(message_id, state)
        return True

    def receipt(self, message_id: str, state: str) -> None:
        outcome = FINAL.get(state)
        if outcome is None:
            return  # ENROUTE, ACCEPTD, UNKNOWN: not final
        entry = self._by_id.pop(message_id, None)
        if entry is None:
            self._early[message_id] = state
            if len(self._early) > 10_000:
                self._early.popitem(last=False)
                self.unmatched += 1
            return
        if entry.done:
            return
        entry.remaining -= 1
        if outcome is RecipientOutcome.DELIVERED and entry.remaining > 0:
            return
        entry.done = True
        _, results = self._due.setdefault(id(entry.audience), (entry.audience, []))
        results.append(RecipientResult(entry.key, outcome))

    def take(self) -> list[tuple[Audience, list[RecipientResult]]]:
        """The outcomes settled since the last call, per audience."""
        due, self._due = list(self._due.values()), {}
        return due
