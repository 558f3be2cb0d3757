"""The cell-broadcast ledger kept in Tocsin's shared channel state (``ChannelState``).

Stage: one of the two places the channel's ledger can live (``durable``); this one
is used whenever Tocsin hands the channel its channel-state area, so that several
nodes on one store share one ledger. With a ledger per node, two nodes would each
see an identifier free and both POST to it: the second meets a 409 and, worse, if
that 409 is lost, its reconciling POST is answered 409 again and the node takes
the other node's live message for its own (and kills it at Cancel or expiry).

Shape, and why it is the simplest correct one:

- **One entry per slot** (``slot/<identifier>`` or ``slot/<identifier>/<serial>``),
  its value the slot's JSON (``Slot.as_json``), and one per identifier for the
  message codes handed out there (``codes/<identifier>``). The store's version of
  each entry is what every change names: a transition reads the slot, applies the
  same pure rule the file ledger applies (``ledger.after_begin_write`` ...), and
  writes the result with ``compare_and_set`` on the version it read. Every
  ``compare_and_set`` returns committed, so an intent (``begin_write``,
  ``begin_kill``) is durable in the shared store before its HTTP call goes out.
- **A lost compare-and-set** means another node changed the slot: the entry is read
  again and the rule applied to what is there now. A write intent is only ever made
  on a slot the store shows free: if another node's intent or holder is there now,
  ``begin_write`` raises ``LedgerConflictError`` and the channel moves on to the next
  member of the pool (or reports the identifier busy). No rule ever writes over
  another node's intent or holding; a confirmation that finds the slot already in
  the state it was going to write (another node finished the same delivery) is done.
- **A freed slot stays stored** (as a free value), never deleted: versions only grow,
  so a version read long ago can never match an entry written since (deleting and
  re-creating would start again at version 1 and let a stale compare-and-set win).
  The entries are bounded by the identifiers (and serials) the channel ever used.
- **An intent belongs to the node that recorded it.** Another node's ``writing`` or
  ``killing`` slot may have its call in flight right now, so ``begin_kill`` refuses
  it (``SlotInFlightError``, a ``LedgerConflictError``: retried later) until the
  slot has stayed unchanged for ``stale_after_s`` (the longest a send may take):
  only then is its node taken for dead and the intent taken over, by a
  compare-and-set that makes this node the claimant. Only the claimant counts an
  unanswered call or frees the slot after its DELETE (``confirm_kill`` and
  ``write_unanswered`` name the version this node wrote; a node whose intent was
  taken over leaves the slot alone). Without this, two nodes finishing one kill
  could each DELETE: the first frees the slot, a third writes a new alert there,
  and the second's late DELETE kills that live warning. A node that restarts has no
  intents of its own: what it left behind is finished once stale, by it or another.
- **The in-memory view** (a memory-only ``Ledger``) is what the channel reads
  synchronously; ``refresh`` re-reads every slot (a prefix scan) or one, and the
  channel calls it before each decision that matters: at the start of a send, a
  cancel and a sweep, and under the slot's lock before it acts on a slot. A view
  that is stale can only cost a lost compare-and-set (re-read, choose again), never
  a write over another node's slot, because the compare-and-set is the decision.
  Entries are adopted by version, so an older read never replaces a newer one.

The per-node file ledger (``state_file``) and channel state: when a node first runs
with channel state and its ``state_file`` exists, the slots it shows live and the
codes it handed out are **imported once** into the store (the file's slot is taken
where the store has none or a free one; where the store has a different live slot
the store's is kept and the clash logged as ``cell_broadcast.ledger_import_conflict``,
because that identifier is on the CBC for whoever the store names). The file is then
renamed ``<state_file>.imported`` (kept for the operator, never read again), so the
import happens once and a stale file can never be taken for the ledger later.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import structlog

from channels.cell_broadcast.ledger import (
    FREE,
    CodeEntry,
    Holding,
    Ledger,
    LedgerConflictError,
    Slot,
    after_abandon_write,
    after_begin_kill,
    after_begin_write,
    after_confirm_kill,
    after_confirm_write,
    after_unanswered,
    choose_code,
)
from router.channel import ChannelState, StateEntry
from router.errors import FailureReason, TransientError

log = structlog.get_logger("tocsin.channel.cell_broadcast")

SLOT = "slot/"
CODES = "codes/"
RACES = 16
"""Compare-and-sets lost in a row on one entry before the change is given up as a
transient error (every loss is another node's committed change, so this many in a
row means heavy contention, not a bug)."""


def _encode(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _slot(entry: StateEntry) -> Slot:
    return Slot.from_json(json.loads(entry.value))


def _codes(entry: StateEntry | None) -> list[CodeEntry]:
    if entry is None:
        return []
    return [(int(c), str(k), float(t)) for c, k, t in json.loads(entry.value)]


class SlotInFlightError(LedgerConflictError):
    """Another node's intent on the slot, recent enough that its call may be in flight."""


class ChannelStateLedger:
    """The ledger of one cell-broadcast channel instance in its channel-state area."""

    def __init__(self, state: ChannelState, clock: Callable[[], float] = time.time,
                 imported: Ledger | None = None, stale_after_s: float = 60.0) -> None:
        self._state = state
        self._clock = clock
        self._view = Ledger(None, clock)
        self._versions: dict[str, int] = {}
        self._seen: dict[str, float] = {}  # slot -> when its current version was first read
        self._mine: dict[str, int] = {}  # slot -> version of the intent this node wrote
        self.stale_after_s = stale_after_s
        self._imported = imported
        self._ready = asyncio.Lock()

    @property
    def view(self) -> Ledger:
        return self._view

    # -- reading --------------------------------------------------------------------

    async def refresh(self, slot: str | None = None) -> None:
        await self._import_once()
        if slot is not None:
            entry = await self._state.get(SLOT + slot)
            if entry is not None:
                self._adopt(slot, _slot(entry), entry.version)
            return
        entries = {e.key[len(SLOT):]: e for e in await self._state.scan(SLOT)}
        for name, entry in entries.items():
            self._adopt(name, _slot(entry), entry.version)

    def _adopt(self, name: str, value: Slot, version: int) -> None:
        if version >= self._versions.get(name, 0):
            if version != self._versions.get(name):
                self._seen[name] = self._clock()
            self._versions[name] = version
            self._view.adopt(name, value)

    def _ours(self, name: str) -> bool:
        """Whether the slot's intent is the one this node recorded (its claimant)."""
        return name in self._mine and self._mine[name] == self._versions.get(name)

    def _written(self, name: str, value: Slot, version: int) -> None:
        self._adopt(name, value, version)
        if value.intent is not None:
            self._mine[name] = version
        else:
            self._mine.pop(name, None)

    # -- transitions ----------------------------------------------------------------

    async def _change(self, name: str, rule: Callable[[Slot], Slot], *,
                      done_if_there: bool = True) -> Slot:
        """Apply ``rule`` to the slot as the store has it, by compare-and-set. The
        view may be behind the store: a rule that refuses the view is tried once more
        on the entry read again, and refuses only what the store shows."""
        fresh = False
        for _ in range(RACES):
            current = self._view.slot(name)
            try:
                after = rule(current)
            except LedgerConflictError:
                if fresh:
                    raise  # not ours to change, as the store has it now
                await self.refresh(name)
                fresh = True
                continue
            if after is current:
                return current
            written = await self._state.compare_and_set(
                SLOT + name, _encode(after.as_json()), self._versions.get(name))
            if written is not None:
                self._written(name, after, written.version)
                return after
            await self.refresh(name)  # another node changed it: look again
            fresh = True
            if done_if_there and self._view.slot(name) == after:
                return after
        raise TransientError(f"cell-broadcast slot {name} changed {RACES} times in a row "
                             "on other nodes; retried later", FailureReason.CONFLICT)

    async def begin_write(self, slot: str, holding: Holding) -> Slot:
        """Only on a slot the store shows free. Another writer's identical intent is
        not ours either (``done_if_there=False``): two workers on one delivery would
        both POST, and the second's 409 would free the first's slot."""
        return await self._change(slot, lambda s: after_begin_write(slot, s, holding),
                                  done_if_there=False)

    async def _as_claimant(self, name: str, rule: Callable[[Slot], Slot]) -> Slot:
        """A change only the node that recorded the intent makes: one compare-and-set
        on the version it wrote. Lost: the intent was taken over (its claimant now
        finishes it), so the slot is left as it is."""
        if name not in self._mine:
            await self.refresh(name)
            return self._view.slot(name)
        mine = self._mine[name]
        current = self._view.slot(name) if self._versions.get(name) == mine else None
        if current is not None:
            after = rule(current)
            written = await self._state.compare_and_set(SLOT + name,
                                                        _encode(after.as_json()), mine)
            if written is not None:
                self._written(name, after, written.version)
                return after
        await self.refresh(name)
        self._mine.pop(name, None)
        log.warning("cell_broadcast.intent_taken_over", slot=name)
        return self._view.slot(name)

    async def write_unanswered(self, slot: str) -> Slot:
        return await self._as_claimant(slot, lambda s: after_unanswered(slot, s))

    async def confirm_write(self, slot: str, key: str) -> Slot:
        return await self._change(slot, lambda s: after_confirm_write(slot, s, key))

    async def abandon_write(self, slot: str, key: str) -> Slot:
        return await self._change(slot, lambda s: after_abandon_write(slot, s, key))

    async def begin_kill(self, slot: str, chain: str | None = None) -> Slot:
        """As the file ledger's, and never over another node's recent intent; a stale
        one is taken over (rewritten by compare-and-set, so this node is its claimant)."""
        await self.refresh(slot)

        def rule(current: Slot) -> Slot:
            after = after_begin_kill(slot, current, chain)
            if current.intent is None or self._ours(slot):
                return after
            age = self._clock() - self._seen.get(slot, self._clock())
            if age < self.stale_after_s:
                raise SlotInFlightError(
                    f"slot {slot} is {current.state} on another node ({age:.0f} s ago); "
                    f"taken over after {self.stale_after_s:.0f} s unchanged")
            log.warning("cell_broadcast.intent_taken_over", slot=slot, state=current.state,
                        unchanged_s=round(age))
            return replace(after, unknown=after.unknown)  # a new object: written
        return await self._change(slot, rule, done_if_there=False)

    async def confirm_kill(self, slot: str) -> Slot:
        return await self._as_claimant(slot, lambda s: after_confirm_kill(slot, s))

    async def message_code(self, message_id: int, key: str, preferred: int,
                           reuse_after_s: float) -> int:
        """As the file ledger's, recorded at once (by compare-and-set) so that another
        node never hands the same code to another alert on this identifier."""
        await self._import_once()
        name = CODES + str(message_id)
        for _ in range(RACES):
            entry = await self._state.get(name)
            code, codes = choose_code(_codes(entry), key, preferred, reuse_after_s,
                                      self._clock())
            if codes is None:
                return code
            if await self._state.compare_and_set(
                    name, _encode(codes), None if entry is None else entry.version):
                return code
        raise TransientError(f"the message codes of identifier {message_id} changed "
                             f"{RACES} times in a row on other nodes; retried later",
                             FailureReason.CONFLICT)

    def close(self) -> None:
        return None  # the store is Tocsin's: it closes it

    # -- the per-node file of earlier releases ----------------------------------------

    async def _import_once(self) -> None:
        if self._imported is None:
            return
        async with self._ready:
            old, self._imported = self._imported, None
            if old is None:
                return
            try:
                await self._import(old)
            except BaseException:
                self._imported = old  # not done: the next call tries again
                raise

    async def _import(self, old: Ledger) -> None:
        path = old.path
        slots = list(old.slots())
        for name, value in slots:
            await self._import_slot(name, value, path)
        for message_id, entries in old.codes().items():
            await self._import_codes(message_id, entries)
        old.close()
        if path is not None and path.exists():
            kept = path.with_name(path.name + ".imported")
            path.replace(kept)
            log.info("cell_broadcast.ledger_imported", file=str(path), kept=str(kept),
                     slots=len(slots))

    async def _import_slot(self, name: str, value: Slot, path: Path | None) -> None:
        for _ in range(RACES):
            entry = await self._state.get(SLOT + name)
            there = FREE if entry is None else _slot(entry)
            if there == value:
                return
            if there != FREE:
                log.warning("cell_broadcast.ledger_import_conflict", file=str(path),
                            slot=name, file_has=value.as_json(), store_has=there.as_json())
                return
            if await self._state.compare_and_set(SLOT + name, _encode(value.as_json()),
                                                 None if entry is None else entry.version):
                return
        raise TransientError(f"slot {name} kept changing while {path} was imported",
                             FailureReason.CONFLICT)

    async def _import_codes(self, message_id: str, entries: list[CodeEntry]) -> None:
        name = CODES + message_id
        for _ in range(RACES):
            entry = await self._state.get(name)
            there = _codes(entry)
            known = {(code, key) for code, key, _ in there}
            merged = there + [e for e in entries if (e[0], e[1]) not in known]
            if len(merged) == len(there) or await self._state.compare_and_set(
                    name, _encode(merged), None if entry is None else entry.version):
                return
        raise TransientError(f"the codes of {message_id} kept changing during the import",
                             FailureReason.CONFLICT)


__all__ = ["ChannelStateLedger", "LedgerConflictError", "SlotInFlightError"]
