"""The ledger: what this channel has, or may have, on the CBC under each identifier.

Stage: the adapter's own durable memory (an append-only JSON-lines file per channel,
or memory only). osmo-cbc has no read or list call, holds one message per Message
Identifier, and sometimes carries out a request without ever answering it
(shared/specs/cell-broadcast.md §8.x). So the channel keeps track itself, as a small
state machine per *slot* (an identifier; identifier + serial on a CBC that keys
messages by both), and it records an **intent** separately from the **confirmed**
holder::

    free ──begin_write──▶ writing ──confirm_write──▶ held ──begin_kill──▶ killing
     ▲ ▲                    │  │                                            │
     │ └──abandon_write─────┘  └──begin_kill (cancel / expiry of a write    │
     │                            whose answer never came)──▶ killing ──────┤
     └───────────────────────────────confirm_kill───────────────────────────┘

- ``writing``: a POST is (or may be) on its way. Only a *free* slot can be written
  (``begin_write`` is a compare-and-set that refuses any other state), so a write for
  one alert is never attempted on a slot the ledger gives to another.
- ``held``: the CBC answered 200/201 for this holding (or a reconciling POST was
  answered 409, see the channel).
- ``killing``: a DELETE is (or may be) on its way; the holding it targets stays
  recorded until the kill is confirmed, so a crash between the steps leaves a
  retry that knows what it was killing and for whom.

Every transition is one JSON line appended to the file. A transition that starts an
HTTP call (``begin_write``, ``begin_kill``) is fsynced before it returns, so every
intent is on disk before its call goes out. The file is zero-filled ahead of the
lines in 64 KiB stretches (fsynced with their size when made), and lines are written
into that space, so each intent's ``fdatasync`` flushes its data alone, with no file
size change to journal (the cost of an fsynced append on ext4). A confirmation (``confirm_*``,
``abandon_write``) is appended without its own fsync and reaches the disk with the
next intent's fsync (one file, appended in order) or at ``close``: losing it to a
power cut leaves the intent behind, which the next attempt reconciles with the CBC
(a repeated POST answered 409 / 201, a repeated DELETE answered 404 / 200), so a
lost confirmation costs a call, never a wrong kill. A torn last line (a crash mid
append) is ignored on load: its call had not been made. The file is compacted (one
line per slot, written to a temporary file, fsynced and renamed) when it grows.

The rules of the state machine are pure functions (``after_begin_write`` ...,
``choose_code``), so the ledger kept in Tocsin's shared store
(``channels.cell_broadcast.state_ledger``) applies exactly the same ones; this file
ledger is used when the channel is given no channel state (standalone use). A
memory-only ``Ledger`` also serves as the in-memory *view* of the shared one
(``adopt``). ``message_code`` hands out codes per identifier (kept
``code_reuse_hours`` so a new alert does not get a code a handset may still hold,
and a retry gets the code its first attempt had).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

State = Literal["free", "writing", "held", "killing"]
COMPACT_AFTER_LINES = 5000
PREALLOCATE_BYTES = 64 * 1024


class LedgerConflictError(Exception):
    """A transition whose precondition does not hold (the compare-and-set failed)."""


@dataclass(frozen=True)
class Holding:
    """One message of one alert chain on one slot."""

    key: str
    """The delivery that wrote it (its idempotency key, ``#slot`` for a second message)."""
    chain: str
    """The alert chain it belongs to: the key of the original alert's delivery. An
    Update or a Cancel may only touch slots of its own chain."""
    alert_id: str
    serial: int
    expires_at: float | None = None
    """When the broadcast must end (the alert's latest ``<expires>``); None: on Cancel."""


@dataclass(frozen=True)
class Slot:
    confirmed: Holding | None = None
    """What the CBC is known to hold here."""
    intent: Literal["write", "kill"] | None = None
    pending: Holding | None = None
    """The write in flight, or the unconfirmed write a kill is withdrawing."""
    unknown: int = 0
    """Calls of the current intent that got no answer."""

    @property
    def state(self) -> State:
        if self.intent == "write":
            return "writing"
        if self.intent == "kill":
            return "killing"
        return "held" if self.confirmed is not None else "free"

    @property
    def owner(self) -> Holding | None:
        """The holding this slot is about (confirmed, else the one in flight)."""
        return self.confirmed or self.pending

    def as_json(self) -> dict[str, Any]:
        return {"confirmed": asdict(self.confirmed) if self.confirmed else None,
                "intent": self.intent,
                "pending": asdict(self.pending) if self.pending else None,
                "unknown": self.unknown}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Slot:
        def holding(item: Any) -> Holding | None:
            return Holding(**item) if isinstance(item, dict) else None
        return cls(holding(data.get("confirmed")), data.get("intent"),
                   holding(data.get("pending")), int(data.get("unknown", 0)))


FREE = Slot()


CodeEntry = tuple[int, str, float]
"""A message code handed out: (code, delivery key, when)."""


# -- the state machine's rules, shared by every ledger ------------------------------
# Pure functions from the slot as it is to the slot as it must become, raising
# ``LedgerConflictError`` where the precondition fails. The file ledger applies them
# to its own memory; a ledger in a shared store applies them to the entry it read
# and writes the result with a compare-and-set on that entry's version.

def after_begin_write(name: str, current: Slot, holding: Holding) -> Slot:
    if current.state != "free":
        raise LedgerConflictError(f"slot {name} is {current.state}, not free")
    return Slot(intent="write", pending=holding)


def after_unanswered(name: str, current: Slot) -> Slot:
    if current.intent is None:
        raise LedgerConflictError(f"slot {name} has no intent")
    return replace(current, unknown=current.unknown + 1)


def _writing_for(name: str, current: Slot, key: str) -> Holding:
    if current.state != "writing" or current.pending is None or current.pending.key != key:
        raise LedgerConflictError(f"slot {name} is not writing for {key}")
    return current.pending


def after_confirm_write(name: str, current: Slot, key: str) -> Slot:
    return Slot(confirmed=_writing_for(name, current, key))


def after_abandon_write(name: str, current: Slot, key: str) -> Slot:
    _writing_for(name, current, key)
    return FREE


def after_begin_kill(name: str, current: Slot, chain: str | None) -> Slot:
    """``current`` itself when it is killing already (nothing to record)."""
    owner = current.owner
    if owner is None:
        raise LedgerConflictError(f"slot {name} is free: nothing of ours to kill")
    if chain is not None and owner.chain != chain:
        raise LedgerConflictError(f"slot {name} holds chain {owner.chain}, not {chain}")
    if current.state == "killing":
        return current
    return Slot(current.confirmed, "kill", current.pending)


def after_confirm_kill(name: str, current: Slot) -> Slot:
    if current.state != "killing":
        raise LedgerConflictError(f"slot {name} is not killing")
    return FREE


def choose_code(entries: list[CodeEntry], key: str, preferred: int, reuse_after_s: float,
                now: float) -> tuple[int, list[CodeEntry] | None]:
    """The code for ``key`` among the codes handed out on one identifier, and the new
    list to record (None: ``key`` has its code already, nothing to record)."""
    recent = [entry for entry in entries if now - entry[2] < reuse_after_s]
    for code, owner, _ in recent:
        if owner == key:
            return code, None
    taken = {code for code, _, _ in recent}
    code = next(((preferred + step) % 1024 for step in range(1024)
                 if (preferred + step) % 1024 not in taken), preferred)
    return code, [*recent, (code, key, now)]


class Ledger:
    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._slots: dict[str, Slot] = {}
        self._codes: dict[str, list[tuple[int, str, float]]] = {}
        self._staged: list[dict[str, Any]] = []
        self._fd: int | None = None
        self._lines = 0
        self._offset = 0  # where the next line goes
        self._allocated = 0  # bytes of the file that exist (lines, then zeros)
        self.synced_bytes = 0
        """How much of the file is known to be on disk (what a power cut leaves)."""
        if path is not None:
            if path.exists():
                self._load(path)
            if self._lines > max(COMPACT_AFTER_LINES // 10, 4 * len(self._slots) + 100):
                self._compact()

    # -- reading --------------------------------------------------------------------

    def slot(self, slot: str) -> Slot:
        return self._slots.get(slot, FREE)

    def slots(self) -> Iterator[tuple[str, Slot]]:
        return iter(list(self._slots.items()))

    def find(self, key: str) -> tuple[str, Slot] | None:
        """The slot holding or writing a delivery's own message (a retry, a restart)."""
        for name, slot in self._slots.items():
            owner = slot.owner
            if owner is not None and owner.key == key:
                return name, slot
        return None

    # -- transitions ----------------------------------------------------------------

    def begin_write(self, slot: str, holding: Holding) -> Slot:
        """free -> writing (durable before it returns). A slot already ``writing`` the
        same holding stays so (the retry of a write whose answer never came)."""
        current = self.slot(slot)
        if current.state == "writing" and current.pending == holding:
            return current
        return self._set(slot, after_begin_write(slot, current, holding), durable=True)

    def write_unanswered(self, slot: str) -> Slot:
        """The intent's call got no answer: it stays, counted (durable)."""
        return self._set(slot, after_unanswered(slot, self.slot(slot)), durable=True)

    def confirm_write(self, slot: str, key: str) -> Slot:
        """writing -> held: the CBC answered for our write."""
        return self._set(slot, after_confirm_write(slot, self.slot(slot), key), durable=False)

    def abandon_write(self, slot: str, key: str) -> Slot:
        """writing -> free: the CBC definitely did not take our write."""
        return self._set(slot, after_abandon_write(slot, self.slot(slot), key), durable=False)

    def begin_kill(self, slot: str, chain: str | None = None) -> Slot:
        """held / writing -> killing (durable before it returns), for ``chain`` only
        (None: whatever this channel has there, as at expiry). Already killing: stays."""
        current = self.slot(slot)
        after = after_begin_kill(slot, current, chain)
        if after is current:
            return current
        return self._set(slot, after, durable=True)

    def confirm_kill(self, slot: str) -> Slot:
        """killing -> free: the CBC answered 200, or 404 (nothing there)."""
        return self._set(slot, after_confirm_kill(slot, self.slot(slot)), durable=False)

    def message_code(self, message_id: int, key: str, preferred: int,
                     reuse_after_s: float) -> int:
        """The code for ``key`` on ``message_id``: the one it had, else ``preferred``
        or the next code no other alert used within ``reuse_after_s``. Recorded with
        the next durable transition (the ``begin_write`` that always follows)."""
        code, codes = choose_code(self._codes.get(str(message_id), []), key, preferred,
                                  reuse_after_s, self._clock())
        if codes is not None:
            self._codes[str(message_id)] = codes
            self._staged.append({"codes": str(message_id), "list": codes})
        return code

    # -- a view of a ledger kept elsewhere ------------------------------------------

    def adopt(self, slot: str, value: Slot) -> None:
        """Show ``value`` for ``slot`` without recording anything: a memory-only
        ledger used as the view of a ledger kept in a shared store."""
        if value == FREE:
            self._slots.pop(slot, None)
        else:
            self._slots[slot] = value

    def codes(self) -> dict[str, list[tuple[int, str, float]]]:
        """The codes handed out, per identifier (as recorded; old ones included)."""
        return {mid: list(codes) for mid, codes in self._codes.items()}

    def close(self) -> None:
        """Flush the confirmations appended since the last intent."""
        if self._fd is not None:
            os.fsync(self._fd)
            self.synced_bytes = self._offset
            os.close(self._fd)
            self._fd = None

    # -- the file -------------------------------------------------------------------

    def _set(self, slot: str, value: Slot, *, durable: bool) -> Slot:
        if value == FREE:
            self._slots.pop(slot, None)
        else:
            self._slots[slot] = value
        self._staged.append({"slot": slot, **value.as_json()})
        self._append(durable)
        return value

    def _append(self, durable: bool) -> None:
        lines, self._staged = self._staged, []
        if self.path is None:
            return
        if self._lines >= COMPACT_AFTER_LINES:
            self._compact()
            return
        fd = self._open()
        data = "".join(json.dumps(line, separators=(",", ":")) + "\n"
                       for line in lines).encode()
        if self._offset + len(data) > self._allocated:
            self._extend(fd, len(data))
        os.pwrite(fd, data, self._offset)
        self._offset += len(data)
        self._lines += len(lines)
        if durable:
            os.fdatasync(fd)
            self.synced_bytes = self._offset

    def _open(self) -> int:
        if self._fd is None:
            if self.path is None:
                raise LedgerConflictError("a memory-only ledger has no file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._allocated = os.fstat(self._fd).st_size
        return self._fd

    def _extend(self, fd: int, needed: int) -> None:
        """Zero-fill the next stretch of the file and fsync it with its new size, so
        the fdatasync of each transition has only data to flush, no file size."""
        grow = max(PREALLOCATE_BYTES, needed)
        os.pwrite(fd, bytes(self._offset + grow - self._allocated), self._allocated)
        os.fsync(fd)
        self._allocated = self._offset + grow

    def _load(self, path: Path) -> None:
        content = path.read_bytes()
        if content.lstrip().startswith(b'{"held"'):
            self._load_whole_file_format(content)
            return
        end = content.rfind(b"\n") + 1  # after the last whole line; zeros or a torn
        self._offset = self.synced_bytes = end  # append beyond it are overwritten
        for line in content[:end].split(b"\n"):
            try:
                record = json.loads(line.strip(b"\0"))
            except ValueError:
                continue  # a torn append (its call was never made), or a blank
            self._lines += 1
            if "slot" in record:
                value = Slot.from_json(record)
                if value == FREE:
                    self._slots.pop(record["slot"], None)
                else:
                    self._slots[record["slot"]] = value
            elif "codes" in record:
                self._codes[record["codes"]] = [(int(c), str(k), float(t))
                                                for c, k, t in record["list"]]

    def _load_whole_file_format(self, content: bytes) -> None:
        """The ledger of earlier releases (one JSON object, ``pending`` / ``active``
        per identifier): ``active`` is a confirmed holder, ``pending`` a write intent.
        Their receipts carry no chain, and a receipt's chain then defaults to its own
        delivery key, which is the key recorded here. Rewritten in the new form."""
        data = json.loads(content)
        for slot, item in data.get("held", {}).items():
            key = str(item["key"])
            holding = Holding(key, key, key.split("/", 1)[0], int(item["serial"]))
            self._slots[slot] = (Slot(confirmed=holding) if item.get("state") == "active"
                                 else Slot(intent="write", pending=holding))
        self._codes = {mid: [(int(c), str(k), float(t)) for c, k, t in codes]
                       for mid, codes in data.get("codes", {}).items()}
        self._compact()

    def _compact(self) -> None:
        """One line per slot and per code list, written aside, fsynced, renamed."""
        if self.path is None:
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        lines = [{"codes": mid, "list": codes} for mid, codes in self._codes.items()]
        lines += [{"slot": name, **slot.as_json()} for name, slot in self._slots.items()]
        data = "".join(json.dumps(line, separators=(",", ":")) + "\n"
                       for line in lines).encode()
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as handle:
            handle.write(data + bytes(PREALLOCATE_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._lines = len(lines)
        self._offset = self.synced_bytes = len(data)
        self._allocated = len(data) + PREALLOCATE_BYTES
