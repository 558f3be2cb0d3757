"""One message per recipient, over every bind at once: the SMS fan-out of one delivery.

Stage: channel adapter. Workers (``window`` per bind) pull recipients one at a time
from the audience's batches -- a new batch is fetched only when the last one is
handed out, so memory holds one batch plus the messages in flight, whatever the
audience size. Outcomes are buffered and recorded once ``flush_every`` have
gathered, and always before the next batch is fetched: a node that dies has at
most one batch plus the messages on the wire sent but unrecorded -- what the node
that takes over sends again. When the fan-out stops early, every recipient taken but
not sent is recorded ``UNSENT``, so the next attempt offers it again.

A worker whose bind stays down hands its message back and leaves while another
bind is up; when none is, the fan-out ends with ``LinkDown``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from channels.sms.encoding import Part
from channels.sms.esme import Bind, GaveUp, LinkDown, Refused
from channels.sms.tracking import ReceiptTracker
from router.channel import Audience, Recipient, RecipientOutcome, RecipientResult


@dataclass
class _Job:
    recipient: Recipient
    parts: tuple[Part, ...]
    ids: list[str] = field(default_factory=list)


@dataclass
class FanOutResult:
    sent: int = 0
    failed: int = 0
    unsent: int = 0
    refusals: Counter[int] = field(default_factory=Counter)
    link_down: str | None = None


class FanOut:
    def __init__(self, binds: Sequence[Bind], window: int, audience: Audience,
                 parts_for: Callable[[Recipient], tuple[Part, ...]],
                 tracker: ReceiptTracker | None,
                 *, batch_size: int = 500, flush_every: int = 500) -> None:
        self.binds, self.window, self.audience = list(binds), window, audience
        self.parts_for, self.tracker = parts_for, tracker
        self.batch_size, self.flush_every = batch_size, flush_every
        self.result = FanOutResult()
        self._batches: AsyncIterator[Sequence[Recipient]] | None = None
        self._ready: deque[_Job] = deque()
        self._in_hand: set[int] = set()
        self._held: dict[int, _Job] = {}
        self._results: list[RecipientResult] = []
        self._lock = asyncio.Lock()
        self._exhausted = False

    async def run(self) -> FanOutResult:
        self._batches = aiter(self.audience.batches(self.batch_size))
        workers = [asyncio.create_task(self._worker(bind))
                   for bind in self.binds for _ in range(self.window)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await asyncio.shield(self._wind_up())
        return self.result

    async def _wind_up(self) -> None:
        """Give back whatever was taken but not sent, and record everything."""
        left = list(self._ready) + list(self._held.values())
        self._ready.clear()
        self._held.clear()
        self._results += [RecipientResult(job.recipient.key, RecipientOutcome.UNSENT)
                          for job in left]
        self.result.unsent += len(left)
        if self._batches is not None:
            with contextlib.suppress(Exception):
                await self._batches.aclose()  # type: ignore[attr-defined]
        await self._flush()

    async def _flush(self) -> None:
        results, self._results = self._results, []
        await self.audience.record(results)

    async def _next(self) -> _Job | None:
        async with self._lock:
            if self.result.link_down is not None:
                return None
            boundary = not self._ready and not self._exhausted
            if self._results and (boundary or len(self._results) >= self.flush_every):
                await self._flush()
            if boundary and self._batches is not None:
                batch = await anext(self._batches, None)
                if batch is None:
                    self._exhausted = True
                else:
                    self._ready.extend(_Job(r, self.parts_for(r)) for r in batch)
            if not self._ready:
                return None
            job = self._ready.popleft()
            self._held[id(job)] = job
            return job

    async def _worker(self, bind: Bind) -> None:
        while (job := await self._next()) is not None:
            try:
                for part in job.parts[len(job.ids):]:
                    job.ids.append(await bind.submit(job.recipient.address, part))
            except Refused as exc:
                self._done(job, RecipientOutcome.FAILED)
                self.result.failed += 1
                self.result.refusals[exc.status] += 1
            except GaveUp:
                self._done(job, RecipientOutcome.UNSENT)
                self.result.unsent += 1
            except LinkDown as exc:
                self._held.pop(id(job), None)
                self._ready.appendleft(job)  # another bind takes it, from the part it reached
                if not any(b.ready.is_set() for b in self.binds if b is not bind):
                    self.result.link_down = str(exc)
                return
            else:
                self._done(job, RecipientOutcome.SENT, " ".join(job.ids))
                if self.tracker is not None:  # None: the store's message ledger tracks them
                    self.tracker.track(self.audience, job.recipient.key, job.ids)
                self.result.sent += 1

    def _done(self, job: _Job, outcome: RecipientOutcome, reference: str | None = None) -> None:
        self._held.pop(id(job), None)
        self._results.append(RecipientResult(job.recipient.key, outcome, reference))
