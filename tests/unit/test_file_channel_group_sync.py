"""The ``file`` channel syncs lines sent at the same time together: one ``fsync`` for
a group of concurrent sends instead of one each (counted, not timed), every line on
disk before its ``send`` returns, a key sent twice at once written once."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from channels.file import FileChannel
from router.cap import parse_cap
from router.channel import Delivery

EXAMPLE = (Path(__file__).resolve().parents[2] / "config" / "examples"
           / "nl-alert-exercise.xml").read_bytes()
SENDS = 24


def delivery(key: str) -> Delivery:
    document = parse_cap(EXAMPLE).document
    assert document is not None
    return Delivery(alert_id=key.partition("/")[0], channel="f", idempotency_key=key,
                    alert=document.alert, raw=EXAMPLE)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_concurrent_sends_share_fsyncs_and_every_line_is_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        synced.append(fd)
        real(fd)
    monkeypatch.setattr(os, "fsync", counted)
    channel = FileChannel("f", {"path": str(tmp_path / "out.jsonl")})
    await channel.start()
    receipts = await asyncio.gather(*(channel.send(delivery(f"a{n}/f"))
                                      for n in range(SENDS)))
    written = lines(tmp_path / "out.jsonl")
    assert sorted(r["idempotency_key"] for r in written) == sorted(f"a{n}/f"
                                                                   for n in range(SENDS))
    assert len({r.reference for r in receipts}) == SENDS  # each its own line's end
    ends = sorted(int(str(r.reference).removeprefix("end:")) for r in receipts)
    assert ends[-1] == (tmp_path / "out.jsonl").stat().st_size
    assert 1 <= len(synced) < SENDS // 2, synced  # grouped, not one per line


async def test_a_key_sent_twice_at_once_is_written_once(tmp_path: Path) -> None:
    channel = FileChannel("f", {"path": str(tmp_path / "out.jsonl")})
    await channel.start()
    first, second = await asyncio.gather(channel.send(delivery("k/f")),
                                         channel.send(delivery("k/f")))
    assert [r["idempotency_key"] for r in lines(tmp_path / "out.jsonl")] == ["k/f"]
    assert first.reference == second.reference
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    again = await channel.send(delivery("k/f"))  # and after the group was written
    assert again.duplicate


async def test_a_failed_write_fails_every_send_of_its_group_and_none_is_remembered(
        tmp_path: Path) -> None:
    channel = FileChannel("f", {"path": str(tmp_path / "missing-dir" / "out.jsonl")})
    await channel.start()
    results = await asyncio.gather(*(channel.send(delivery(f"b{n}/f")) for n in range(4)),
                                   return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results), results
    (tmp_path / "missing-dir").mkdir()
    receipt = await channel.send(delivery("b0/f"))  # retried: written now, not a duplicate
    assert not receipt.duplicate
