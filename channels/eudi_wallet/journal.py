"""Fixed test phones from the channel's configuration, with a journal of outcomes.

Stage: channel adapter. ``devices`` are PushSubscriptions that get every alert
this channel sends, besides the subscribers (the operator's own test handsets,
the demo's phones), and all that a delivery reaches when it comes without an
``Audience`` (a caller outside the dispatcher). The same ``Audience`` contract,
kept in a JSON-lines file so that a resend -- also after a restart -- reaches no
device twice. Keys are hashes of the endpoints, so the journal holds no endpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from router.channel import Recipient, RecipientOutcome, RecipientResult

_DONE = {"sent", "delivered", "failed", "gone"}


def device_key(endpoint: str) -> str:
    return "device-" + hashlib.sha256(endpoint.encode("utf-8")).hexdigest()[:16]


class DeviceJournal:
    """``router.channel.Audience`` over a fixed list of subscriptions."""

    def __init__(self, path: Path, devices: Sequence[dict[str, Any]], delivery_key: str) -> None:
        self.path, self.delivery_key = path, delivery_key
        self._devices = [Recipient(device_key(str(d["endpoint"])), json.dumps(d))
                         for d in devices]
        self._state: dict[tuple[str, str], str] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self._state[(row["d"], row["r"])] = row["s"]

    @property
    def interrupted(self) -> str | None:
        return None

    def _append(self, rows: list[dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as journal:
            journal.writelines(json.dumps(row) + "\n" for row in rows)
        for row in rows:
            self._state[(row["d"], row["r"])] = row["s"]

    async def batches(self, size: int) -> AsyncIterator[Sequence[Recipient]]:
        fresh = [d for d in self._devices
                 if self._state.get((self.delivery_key, d.key)) not in _DONE]
        for start in range(0, len(fresh), size):
            yield fresh[start:start + size]

    async def record(self, results: Sequence[RecipientResult]) -> None:
        self._append([{"d": self.delivery_key, "r": r.key, "s": r.outcome.value}
                      for r in results])

    async def settle(self, results: Sequence[RecipientResult]) -> None:
        await self.record(results)

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (delivery, _key), state in self._state.items():
            if delivery == self.delivery_key:
                counts[state] = counts.get(state, 0) + 1
        return counts


__all__ = ["DeviceJournal", "RecipientOutcome", "device_key"]
