"""Where the ledger's transitions are made durable: the one interface the channel uses.

Stage: between ``channels.cell_broadcast.operations`` (which calls the transitions
around every CBC call) and the two places a ledger can live:

- ``LocalLedger``: the per-node ``Ledger`` (its JSON-lines file, or memory only),
  when the channel is used without Tocsin's store (standalone, tests, benches);
- ``channels.cell_broadcast.state_ledger.ChannelStateLedger``: Tocsin's shared
  channel state, when the service hands the channel its area (``KeepsChannelState``),
  so that every node on one store sees every other node's intents and holders.

The transitions are async because a shared store is reached over I/O. Reading stays
synchronous, on ``view`` (a ``Ledger``): ``refresh`` brings the view up to date from
where the ledger is kept, and the channel calls it before every decision that
depends on what another node may have done since (is this slot free, which slot does
this delivery own, what is due for a kill). For the local ledger the view *is* the
ledger, and ``refresh`` has nothing to do.
"""

from __future__ import annotations

from typing import Protocol

from channels.cell_broadcast.ledger import Holding, Ledger, Slot


class DurableLedger(Protocol):
    @property
    def view(self) -> Ledger:
        """The slots as last read or changed (``slot`` / ``slots`` / ``find``)."""

    async def refresh(self, slot: str | None = None) -> None:
        """Read ``slot`` (None: every slot) again from where the ledger is kept."""

    async def begin_write(self, slot: str, holding: Holding) -> Slot:
        """free -> writing, durable before it returns; ``LedgerConflictError`` when the
        slot is not free (on a shared store: when another node took it first)."""

    async def write_unanswered(self, slot: str) -> Slot: ...

    async def confirm_write(self, slot: str, key: str) -> Slot: ...

    async def abandon_write(self, slot: str, key: str) -> Slot: ...

    async def begin_kill(self, slot: str, chain: str | None = None) -> Slot: ...

    async def confirm_kill(self, slot: str) -> Slot: ...

    async def message_code(self, message_id: int, key: str, preferred: int,
                           reuse_after_s: float) -> int: ...

    def close(self) -> None: ...


class LocalLedger:
    """A node's own ``Ledger`` behind the async interface (nothing shared)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    @property
    def view(self) -> Ledger:
        return self._ledger

    async def refresh(self, slot: str | None = None) -> None:  # noqa: ARG002  (the protocol)
        return None  # this node alone writes it: the memory is the ledger

    async def begin_write(self, slot: str, holding: Holding) -> Slot:
        return self._ledger.begin_write(slot, holding)

    async def write_unanswered(self, slot: str) -> Slot:
        return self._ledger.write_unanswered(slot)

    async def confirm_write(self, slot: str, key: str) -> Slot:
        return self._ledger.confirm_write(slot, key)

    async def abandon_write(self, slot: str, key: str) -> Slot:
        return self._ledger.abandon_write(slot, key)

    async def begin_kill(self, slot: str, chain: str | None = None) -> Slot:
        return self._ledger.begin_kill(slot, chain)

    async def confirm_kill(self, slot: str) -> Slot:
        return self._ledger.confirm_kill(slot)

    async def message_code(self, message_id: int, key: str, preferred: int,
                           reuse_after_s: float) -> int:
        return self._ledger.message_code(message_id, key, preferred, reuse_after_s)

    def close(self) -> None:
        self._ledger.close()
