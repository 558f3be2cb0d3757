"""The ledger: which message this channel has on the CBC under each identifier.

Stage: the adapter's own durable memory (a small JSON file, or memory only).
osmo-cbc has no read or list call, allows one active message per Message
Identifier, and often does not answer at all where it should answer 409 or 404
(shared/specs/cell-broadcast.md §8). So the channel keeps track itself:

- before a write it records ``pending`` (the outcome is unknown until the CBC
  answers), after a 200/201 ``active``; a definite refusal removes the record;
- a retry that finds its own ``active`` record is a duplicate and sends nothing;
- a retry that finds its own ``pending`` record (a timeout, a crash mid-call)
  kills that identifier and writes again with the same serial number: handsets
  that showed the first write drop the second as a repeat (same identifier and
  serial), and the kill makes the write safe whether or not the first arrived;
- message codes handed out per identifier are remembered for
  ``code_reuse_hours`` so a new alert does not get a code a handset may still
  hold, and a retry gets the code its first attempt had.

The file is rewritten whole and fsynced on every change (it holds a handful of
entries); ``state_file`` should sit on the same durable volume as the store.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

State = Literal["pending", "active"]


@dataclass(frozen=True)
class Holding:
    key: str
    serial: int
    state: State
    since: float


class Ledger:
    def __init__(self, path: Path | None, clock: Any = time.time) -> None:
        self.path = path
        self._clock = clock
        self._held: dict[str, Holding] = {}
        self._codes: dict[str, list[tuple[int, str, float]]] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
        self._held = {mid: Holding(**h) for mid, h in data.get("held", {}).items()}
        self._codes = {mid: [(int(c), str(k), float(t)) for c, k, t in codes]
                       for mid, codes in data.get("codes", {}).items()}

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"held": {mid: asdict(h) for mid, h in self._held.items()},
                "codes": self._codes}
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)

    def holder(self, message_id: int) -> Holding | None:
        return self._held.get(str(message_id))

    def hold(self, message_id: int, key: str, serial: int, state: State) -> None:
        self._held[str(message_id)] = Holding(key, serial, state, self._clock())
        self._save()

    def restore(self, message_id: int, previous: Holding | None) -> None:
        """Put back what was recorded before a write the CBC refused."""
        if previous is None:
            self._held.pop(str(message_id), None)
        else:
            self._held[str(message_id)] = previous
        self._save()

    def release(self, message_id: int) -> None:
        if self._held.pop(str(message_id), None) is not None:
            self._save()

    def message_code(self, message_id: int, key: str, preferred: int,
                     reuse_after_s: float) -> int:
        """The code for ``key`` on ``message_id``: the one it had, else ``preferred``
        or the next code no other alert used within ``reuse_after_s``."""
        now = self._clock()
        recent = [entry for entry in self._codes.get(str(message_id), [])
                  if now - entry[2] < reuse_after_s]
        for code, owner, _ in recent:
            if owner == key:
                return code
        taken = {code for code, _, _ in recent}
        code = next(((preferred + step) % 1024 for step in range(1024)
                     if (preferred + step) % 1024 not in taken), preferred)
        self._codes[str(message_id)] = [*recent, (code, key, now)]
        return code  # saved with the ``pending`` record that always follows
