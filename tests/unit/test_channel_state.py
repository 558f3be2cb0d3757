"""Channel state (``router.channel.ChannelState``): compare-and-set semantics, prefix
scans, per-instance areas, durability across a reopen, and one winner among racers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from router.channel import StateEntry
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite


async def test_compare_and_set_writes_only_at_the_expected_version(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        state = stores.channel_state.for_channel("cbc")
        assert await state.get("intent/1") is None
        first = await state.compare_and_set("intent/1", b"a", None)
        assert first == StateEntry("intent/1", b"a", 1)
        assert await state.compare_and_set("intent/1", b"b", None) is None  # exists
        assert await state.compare_and_set("intent/1", b"b", 7) is None  # stale version
        assert await state.compare_and_set("missing", b"b", 1) is None
        second = await state.compare_and_set("intent/1", b"b", 1)
        assert second == StateEntry("intent/1", b"b", 2)
        assert not await state.delete("intent/1", 1)
        assert await state.delete("intent/1", 2)
        assert await state.get("intent/1") is None


async def test_scan_by_prefix_and_areas_per_channel_instance(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        cbc, other = (stores.channel_state.for_channel(n) for n in ("cbc", "cbc-2"))
        for key in ("serial/2", "holder/7", "serial/1", "serial_x", "serial/10"):
            await cbc.compare_and_set(key, key.encode(), None)
        await other.compare_and_set("serial/1", b"elsewhere", None)
        assert [e.key for e in await cbc.scan("serial/")] == ["serial/1", "serial/10",
                                                              "serial/2"]
        assert [e.value for e in await other.scan("")] == [b"elsewhere"]
        assert await cbc.scan("%") == []  # no pattern characters in a prefix


async def test_one_racer_wins_and_what_was_written_survives_a_reopen(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        state = stores.channel_state.for_channel("cbc")
        base = await state.compare_and_set("identifier/4370", b"free", None)
        assert base is not None
        results = await asyncio.gather(*(state.compare_and_set(
            "identifier/4370", f"held by {n}".encode(), base.version) for n in range(20)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        url = stores.url
    async with opened_stores(tmp_path, url=url) as stores:
        kept = await stores.channel_state.for_channel("cbc").get("identifier/4370")
        assert kept == winners[0]
