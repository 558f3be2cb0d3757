"""What a node that dies mid fan-out may have sent without recording it.

A node killed between two records sends those recipients again after the take-over,
so the fan-out bounds the number of sent-but-unrecorded recipients: one batch plus
the messages on the wire (binds x window). The SMS channel used to record only once
the buffer held ``flush_every`` results when a batch ran out; the batch's last
messages were still on the wire at that moment, the buffer was a few short, and the
record waited for the next batch: twice the bound unrecorded (the node-loss test saw
3,380 repeats where 2,580 was the bound).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from channels.sms.encoding import Part
from channels.sms.esme import Bind
from channels.sms.fanout import FanOut
from router.channel import Audience, Recipient, RecipientOutcome, RecipientResult

pytestmark = pytest.mark.asyncio


class CountingAudience:
    """Hands out recipients in batches and counts what was recorded."""

    def __init__(self, size: int) -> None:
        self.recipients = [Recipient(f"k{n}", f"+3161{n:07d}") for n in range(size)]
        self.recorded: set[str] = set()
        self.records: list[int] = []
        self.submitted = 0
        self.worst_unrecorded = 0

    async def batches(self, size: int) -> AsyncIterator[Sequence[Recipient]]:
        for start in range(0, len(self.recipients), size):
            yield self.recipients[start:start + size]

    async def record(self, results: Sequence[RecipientResult]) -> None:
        self.records.append(len(results))
        self.recorded.update(r.key for r in results if r.outcome is RecipientOutcome.SENT)


class SlowBind:
    """A bind whose every submit takes a moment: messages are on the wire at once."""

    def __init__(self, audience: CountingAudience) -> None:
        self.ready = asyncio.Event()
        self.ready.set()
        self.audience = audience

    async def submit(self, address: str, part: Any) -> str:
        await asyncio.sleep(0.0005)
        audience = self.audience
        audience.submitted += 1
        unrecorded = audience.submitted - len(audience.recorded)
        audience.worst_unrecorded = max(audience.worst_unrecorded, unrecorded)
        return f"m{audience.submitted}"


@pytest.mark.parametrize(("binds", "window"), [(1, 8), (2, 8), (3, 4)])
async def test_a_dead_node_has_at_most_one_batch_and_the_wire_unrecorded(
        binds: int, window: int) -> None:
    audience = CountingAudience(3_000)
    wires = [SlowBind(audience) for _ in range(binds)]
    fan_out = FanOut(cast(list[Bind], wires), window, cast(Audience, audience),
                     lambda recipient: (cast(Part, None),), None, batch_size=500, flush_every=500)

    result = await fan_out.run()

    assert result.sent == 3_000
    assert len(audience.recorded) == 3_000
    worst = audience.worst_unrecorded
    bound = 500 + binds * window
    assert worst <= bound, (worst, bound, audience.records)
