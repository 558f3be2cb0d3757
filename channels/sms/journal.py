"""A fixed recipient list from the channel's configuration, with a journal file.

Stage: channel adapter. Used when a delivery comes without an ``Audience`` (a
caller outside the dispatcher, or a deployment that sends every alert to a duty
list instead of subscribers): the same ``Audience`` contract, kept in a JSON-lines
file of outcomes so that a resend -- also after a restart -- reaches nobody twice.
Recipient keys are hashes of the numbers, so the journal holds no phone number.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from router.channel import Recipient, RecipientOutcome, RecipientResult

_DONE = {"sent", "delivered", "failed", "expired"}


def recipient_key(address: str) -> str:
    return "static-" + hashlib.sha256(address.encode()).hexdigest()[:16]


class JournalAudience:
    def __init__(self, path: Path, addresses: Sequence[str], delivery_key: str, *,
                 prior_key: str | None = None, include_list: bool = True) -> None:
        self.path, self.delivery_key, self.prior_key = path, delivery_key, prior_key
        self._people = [Recipient(recipient_key(a), a) for a in addresses]
        self._include_list = include_list
        self._claim = uuid.uuid4().hex
        self._state: dict[tuple[str, str], tuple[str, str | None]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self._state[(row["d"], row["r"])] = (row["s"], row.get("c"))

    @property
    def interrupted(self) -> str | None:
        return None

    def _append(self, rows: list[dict[str, str | None]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            journal.writelines(json.dumps(row) + "\n" for row in rows)
        for row in rows:
            self._state[(str(row["d"]), str(row["r"]))] = (str(row["s"]), row.get("c"))

    def _open(self, person: Recipient) -> bool:
        state, claim = self._state.get((self.delivery_key, person.key), (None, None))
        return state in (None, "unsent") or (state == "claimed" and claim != self._claim)

    async def batches(self, size: int) -> AsyncIterator[Sequence[Recipient]]:
        wanted = [p for p in self._people if self.prior_key and self._state.get(
            (self.prior_key, p.key), ("",))[0] in {"sent", "delivered"}]
        if self._include_list:
            wanted += [p for p in self._people if p not in wanted]
        fresh = [p for p in wanted if self._open(p)]
        for start in range(0, len(fresh), size):
            batch = fresh[start:start + size]
            self._append([{"d": self.delivery_key, "r": p.key, "s": "claimed",
                           "c": self._claim} for p in batch])
            yield batch

    async def record(self, results: Sequence[RecipientResult]) -> None:
        rows: list[dict[str, str | None]] = []
        for r in results:
            current = self._state.get((self.delivery_key, r.key), ("", None))[0]
            if r.outcome is RecipientOutcome.UNSENT:
                rows.append({"d": self.delivery_key, "r": r.key, "s": "unsent"})
            elif current not in _DONE - {"sent"}:
                rows.append({"d": self.delivery_key, "r": r.key, "s": r.outcome.value})
        if rows:
            self._append(rows)

    async def settle(self, results: Sequence[RecipientResult]) -> None:
        await self.record(results)

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (delivery, _), (state, _claim) in self._state.items():
            if delivery == self.delivery_key and state != "unsent":
                counts[state] = counts.get(state, 0) + 1
        counts["accepted"] = sum(n for s, n in counts.items() if s in _DONE - {"failed"})
        return counts
