"""The SQLite store on its own: group commit, isolation of a failing job, migrations,
Update/Cancel resolution, pagination cursors."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.cap import parse_cap
from router.errors import StoreUnavailableError
from router.store import (
    AcceptOutcome,
    AlertState,
    NewAlert,
    PlannedDelivery,
    SqliteStore,
    decode_cursor,
)
from router.store.migrations import MIGRATIONS

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
PLAN = [PlannedDelivery("cell_broadcast", "r"), PlannedDelivery("sms", "r"),
        PlannedDelivery("galileo_ewss", "r", fallback_for="cell_broadcast")]


def new_alert(name: str, identifier: str | None = None, content_hash: str = "h") -> NewAlert:
    raw = (EXAMPLES / name).read_bytes()
    if identifier:
        raw = raw.replace(b"NL-VRR-2026-0042", identifier.encode())
    document = parse_cap(raw).document
    assert document is not None
    return NewAlert(id=f"id-{identifier or name}", alert=document.alert, raw=raw,
                    content_hash=content_hash, profile="cap12", authority="t",
                    received_at=datetime.now(UTC), findings=[], plan=PLAN)


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = SqliteStore(tmp_path / "s.sqlite3", max_batch=64)
    await opened.open()
    yield opened
    await opened.close()


async def test_concurrent_accepts_share_commits(store: SqliteStore) -> None:
    results = await asyncio.gather(*(store.accept(new_alert("nl-alert-fire.xml", f"G-{n}"))
                                     for n in range(200)))
    assert {r.outcome for r in results} == {AcceptOutcome.CREATED}
    assert store.commits < 200  # group commit: fewer fsyncs than alerts
    page = await store.list(limit=500)
    assert len(page.items) == 200
    assert all(len(item.deliveries) == 3 for item in page.items)


async def test_failing_job_does_not_undo_its_batch(store: SqliteStore) -> None:
    good = [new_alert("nl-alert-fire.xml", f"OK-{n}") for n in range(5)]
    broken = new_alert("nl-alert-fire.xml", "BROKEN")
    broken = NewAlert(**{**broken.__dict__, "plan": [PLAN[0], PLAN[0]]})  # duplicate channel
    results = await asyncio.gather(*(store.accept(a) for a in [*good[:2], broken, *good[2:]]),
                                   return_exceptions=True)
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 2)
    assert await store.get("id-BROKEN") is None  # nothing half-stored
    assert all([await store.get(a.id) for a in good])


async def test_duplicate_and_conflict(store: SqliteStore) -> None:
    first = await store.accept(new_alert("nl-alert-fire.xml", content_hash="a"))
    again = await store.accept(new_alert("nl-alert-fire.xml", content_hash="a"))
    other = await store.accept(new_alert("nl-alert-fire.xml", content_hash="b"))
    assert (first.outcome, again.outcome, other.outcome) == (
        AcceptOutcome.CREATED, AcceptOutcome.DUPLICATE, AcceptOutcome.CONFLICT)
    assert first.alert_id == again.alert_id == other.alert_id


async def test_update_then_cancel(store: SqliteStore) -> None:
    await store.accept(new_alert("nl-alert-fire.xml"))
    await store.accept(new_alert("nl-alert-fire-update.xml"))
    await store.accept(new_alert("nl-alert-fire-cancel.xml"))
    first = await store.get("id-nl-alert-fire.xml")
    update = await store.get("id-nl-alert-fire-update.xml")
    assert first is not None
    assert update is not None
    assert first.state is AlertState.SUPERSEDED
    assert update.state is AlertState.CANCELLED
    assert {d.state.value for d in update.deliveries} == {"cancelled"}
    assert update.references[0].alert_id == "id-nl-alert-fire.xml"


async def test_reopen_keeps_data_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        await store.accept(new_alert("nl-alert-fire.xml"))
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1
    finally:
        conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreUnavailableError, match="newer"):
        await SqliteStore(path).open()


async def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.open()
    await store.close()
    with pytest.raises(StoreUnavailableError):
        await store.accept(new_alert("nl-alert-fire.xml"))


@pytest.mark.parametrize("cursor", ["", "garbage", "c2VxOi0x", "b3RoZXI6MQ"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError, match="not a cursor"):
        decode_cursor(cursor)
