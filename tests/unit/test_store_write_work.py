"""What the SQLite writer executes per accepted alert, counted rather than timed (a
regression guard for ingest speed: the writer thread is a third of the server's time).

The audit trail's entries of one group commit are numbered, chained and inserted
once per transaction, moving the chain head once, as on PostgreSQL; before, every
alert moved the head twice and inserted its entry alone."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from router.audit.chain import verify_chain
from router.cap import parse_cap
from router.storage import open_stores
from router.store import NewAlert, PlannedDelivery, audit
from router.store import sqlite as sqlite_store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cap" / "medium.xml"
ALERTS = 20


def _new(number: int) -> NewAlert:
    raw = FIXTURE.read_bytes().replace(b"NL-BENCH-M", f"W-{number}".encode())
    document = parse_cap(raw).document
    assert document is not None
    return NewAlert(id=f"alert-{number:03}", alert=document.alert, raw=raw,
                    content_hash=f"h{number}", profile="cap12", authority="demo",
                    received_at=datetime.now(UTC), findings=[],
                    plan=[PlannedDelivery("file", "r"), PlannedDelivery("webhook", "r")])


async def test_a_group_commit_moves_the_audit_head_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    statements: list[str] = []
    real_connect = sqlite_store._connect

    def traced(path: Path, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(path, **kwargs)
        if threading_name() == "tocsin-sqlite-writer":
            conn.set_trace_callback(statements.append)
        return conn
    monkeypatch.setattr(sqlite_store, "_connect", traced)
    stores = open_stores(f"sqlite:///{tmp_path / 't.sqlite3'}", tmp_path)
    await stores.open()
    try:
        store = stores.alerts
        await store.accept(_new(999))  # the writer is up and migrated
        statements.clear()
        results = await asyncio.gather(*(store.accept(_new(n)) for n in range(ALERTS)))
        assert len({r.alert_id for r in results}) == ALERTS
        head_moves = [s for s in statements if "audit_head" in s]
        entries = [s for s in statements if s.startswith("INSERT INTO audit_log")]
        commits = statements.count("COMMIT")
        assert len(entries) == ALERTS  # one entry per alert, none lost
        assert commits < ALERTS  # they shared commits, so the count below means something
        assert len(head_moves) == 2 * commits, head_moves  # per commit, not per alert
        verdict = await store.run_read(  # type: ignore[attr-defined]
            lambda conn: verify_chain(lambda: audit.entries(conn), audit.head(conn)))
        assert not verdict.broken, verdict
        assert verdict.checked >= ALERTS + 1
    finally:
        await stores.close()


def threading_name() -> str:
    import threading  # noqa: PLC0415

    return threading.current_thread().name
