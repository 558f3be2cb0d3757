"""The audit trail in the SQLite store: an accepted alert and its entries commit or roll
back together, group commit and a second writer process keep one chain, and refused
requests cannot grow the trail without bound."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from router.audit import events as audit_events
from router.audit.chain import Principal, verify_chain
from router.http.problems import ProblemError
from router.ingest.audit_trail import AuditTrail
from router.ingest.auth import Authenticator
from router.settings import Authority, Settings, hash_api_key
from router.store import AcceptOutcome, SqliteStore
from router.store import audit as store_audit
from router.trust import compile_policies
from tests.unit.test_sqlite_store import new_alert


@pytest.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    opened = SqliteStore(tmp_path / "s.sqlite3", max_batch=64)
    await opened.open()
    yield opened
    await opened.close()


def _verdict(path: Path) -> Any:
    conn = sqlite3.connect(path)
    try:
        return verify_chain(lambda: list(store_audit.entries(conn)), store_audit.head(conn))
    finally:
        conn.close()


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


async def test_an_alert_whose_entry_fails_is_not_stored_and_its_batch_is(
        store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    real = store_audit.append_all

    def failing(conn: sqlite3.Connection, events: list[Any]) -> list[Any]:
        if any(e.subject == "id-BAD" for e in events):
            raise sqlite3.OperationalError("disk I/O error (simulated)")
        return real(conn, events)

    monkeypatch.setattr(store_audit, "append_all", failing)
    results = await asyncio.gather(
        *(store.accept(new_alert("nl-alert-fire.xml", f"OK-{n}")) for n in range(5)),
        store.accept(new_alert("nl-alert-fire.xml", "BAD")), return_exceptions=True)
    assert isinstance(results[-1], sqlite3.OperationalError)
    assert {r.outcome for r in results[:-1]} == {AcceptOutcome.CREATED}  # type: ignore[union-attr]
    assert await store.get("id-BAD") is None
    assert _count(store.path, "SELECT count(*) FROM alerts") == 5
    assert _count(store.path, "SELECT count(*) FROM audit_log") == 5
    assert _verdict(store.path).intact


async def test_group_commit_and_a_second_writer_keep_one_chain(store: SqliteStore,
                                                               tmp_path: Path) -> None:
    """Two stores on one file (the service and ``tocsin keys new`` beside it)."""
    other = SqliteStore(store.path, max_batch=8)
    await other.open()
    try:
        cli = Principal(via="cli", actor="operator")
        await asyncio.gather(
            *(store.accept(new_alert("nl-alert-fire.xml", f"G-{n}")) for n in range(60)),
            *(other.append_audit([audit_events.key_created(
                hash_api_key(f"k{n}"), cli, authority=None)]) for n in range(20)))
    finally:
        await other.close()
    verdict = _verdict(store.path)
    assert verdict.intact, verdict.broken
    assert verdict.checked == 80
    assert store.commits < 60


async def test_cancel_records_the_alert_it_cancelled(store: SqliteStore) -> None:
    for name in ("nl-alert-fire.xml", "nl-alert-fire-update.xml", "nl-alert-fire-cancel.xml"):
        await store.accept(new_alert(name))
    page = await store.audit_page()
    assert [(e.kind, e.subject) for e in page.items] == [
        ("alert.submitted", "id-nl-alert-fire.xml"),
        ("alert.submitted", "id-nl-alert-fire-update.xml"),
        ("alert.superseded", "id-nl-alert-fire.xml"),
        ("alert.submitted", "id-nl-alert-fire-cancel.xml"),
        ("alert.cancelled", "id-nl-alert-fire-update.xml")]
    # a duplicate changes nothing and is not an act on record
    await store.accept(new_alert("nl-alert-fire.xml"))
    assert len((await store.audit_page()).items) == 5


KEY = "unit-key-0123456789abcdef"


def _trail(store: SqliteStore, per_minute: int) -> AuditTrail:
    authority = Authority(name="a", senders=["*"], key_hashes=[hash_api_key(KEY)])
    return AuditTrail(store, Authenticator([authority], compile_policies([authority], set())),
                      Settings(audit_rejections_per_minute=per_minute))


def _request(key: str | None, remote: str = "192.0.2.1") -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = make_mocked_request("POST", "/api/v1/alerts", headers=headers)
    return request.clone(remote=remote)


async def test_a_flood_without_a_key_is_one_entry(store: SqliteStore) -> None:
    trail = _trail(store, per_minute=5)
    missing = ProblemError(401, "auth.missing-key", "t", "d")
    for n in range(2000):
        await trail.refused(_request(None, remote=f"198.51.100.{n % 200}"), missing)
    assert _count(store.path, "SELECT count(*) FROM audit_log") == 0
    await trail.flush()
    await trail.flush()  # nothing counted since: nothing written
    page = await store.audit_page()
    assert [e.kind for e in page.items] == ["ingest.rejections-aggregated"]
    detail = page.items[0].detail
    assert (detail["reason"], detail["count"]) == ("unauthenticated", 2000)
    assert len(detail["remotes"]) == 17  # 16 addresses and "other"
    assert sum(detail["remotes"].values()) == 2000


async def test_a_keyed_flood_is_capped_per_minute_then_counted(store: SqliteStore) -> None:
    trail = _trail(store, per_minute=5)
    invalid = ProblemError(422, "cap.invalid", "t", "x" * 10_000)
    for _ in range(40):
        await trail.refused(_request(KEY), invalid)
    await trail.flush()
    kinds = [(e.kind, e.detail.get("count")) for e in (await store.audit_page()).items]
    assert kinds == [("ingest.rejected", None)] * 5 + [("ingest.rejections-aggregated", 35)]
    first = (await store.audit_page()).items[0]
    assert first.principal.authority == "a"
    assert len(first.detail["detail"]) < 600  # the 10,000-character text was cut
