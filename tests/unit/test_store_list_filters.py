"""The alert list's filters in the store (``AlertStore.list``): authority, an info's event
compared case-folded, and the time range ``[since, until)``, combined with each other,
the reader's authorities and the cursor -- on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.cap import parse_cap
from router.store import NewAlert, PlannedDelivery
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _alert(name: str, identifier: str, authority: str, minutes: int) -> NewAlert:
    raw = (EXAMPLES / name).read_bytes().replace(b"NL-VRR-2026-0042", identifier.encode())
    document = parse_cap(raw).document
    assert document is not None
    return NewAlert(id=f"id-{identifier}", alert=document.alert, raw=raw, content_hash=identifier,
                    profile="cap12", authority=authority,
                    received_at=T0 + timedelta(minutes=minutes), findings=[],
                    plan=[PlannedDelivery("sms", "r")])


async def test_list_filters_by_authority_event_and_time(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        for new in (_alert("nl-alert-fire.xml", "FIRE-A", "vrr", 0),
                    _alert("nl-alert-fire.xml", "FIRE-B", "vrz", 10),
                    _alert("wallet-flood-accessible.xml", "FLOOD-A", "vrz", 20),
                    _alert("nl-alert-fire.xml", "FIRE-C", "vrz", 30)):
            await store.accept(new)

        async def ids(**filters: object) -> list[str]:
            page = await store.list(limit=500, **filters)  # type: ignore[arg-type]
            return [item.id for item in page.items]

        assert await ids(authority="vrz") == ["id-FIRE-B", "id-FLOOD-A", "id-FIRE-C"]
        # any info's event, whatever its case: the Dutch and the English one
        assert await ids(event="GROTE BRAND") == ["id-FIRE-A", "id-FIRE-B", "id-FIRE-C"]
        assert await ids(event="major fire", authority="vrz") == ["id-FIRE-B", "id-FIRE-C"]
        assert await ids(event="brand") == []  # the whole text, not a part of it
        assert await ids(since=T0 + timedelta(minutes=10),
                         until=T0 + timedelta(minutes=30)) == ["id-FIRE-B", "id-FLOOD-A"]
        # the reader's authorities still bound what a filter finds
        assert await ids(authority="vrz", authorities=["vrr"]) == []
        page = await store.list(event="grote brand", limit=2)
        assert page.total == 3
        assert [i.id for i in page.items] == ["id-FIRE-A", "id-FIRE-B"]
        assert page.next_cursor is not None
        rest = await store.list(event="grote brand", limit=2, cursor=page.next_cursor)
        assert [i.id for i in rest.items] == ["id-FIRE-C"]
        assert rest.next_cursor is None


async def test_audit_page_filters_by_subject(tmp_path: Path) -> None:
    """One alert's audit trail: the entries about it, not those of the alerts around it."""
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        for number, name in enumerate(("nl-alert-fire.xml", "nl-alert-fire-update.xml",
                                       "nl-alert-fire-cancel.xml")):
            new = _alert(name, "NL-VRR-2026-0042", "vrr", number)
            await store.accept(replace(new, id=f"id-{name}"))
        page = await store.audit_page(subject="id-nl-alert-fire-update.xml")
        assert [(e.kind, e.subject) for e in page.items] == [
            ("alert.submitted", "id-nl-alert-fire-update.xml"),
            ("alert.cancelled", "id-nl-alert-fire-update.xml")]
        assert page.total == 2
        first = await store.audit_page(subject="id-nl-alert-fire.xml", limit=1)
        assert [e.kind for e in first.items] == ["alert.submitted"]
        assert first.total == 2
        assert first.next_after is not None
        rest = await store.audit_page(subject="id-nl-alert-fire.xml", after=first.next_after)
        assert [e.kind for e in rest.items] == ["alert.superseded"]
        assert (await store.audit_page(subject="id-unknown")).items == []


def _as_before_the_events_table(url: str, path: Path) -> None:
    """Turn the store back into one written before ``alert_events`` existed."""
    undo = "DROP INDEX audit_log_subject; DROP TABLE alert_events"
    if url.startswith("postgresql"):
        import psycopg  # noqa: PLC0415  (only for the PostgreSQL run)

        with psycopg.connect(url, autocommit=True) as conn:
            for statement in undo.split("; "):
                conn.execute(statement)
            conn.execute("UPDATE tocsin_schema SET version = 4")
        return
    conn = sqlite3.connect(path)
    try:
        for statement in undo.split("; "):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 16")
        conn.commit()
    finally:
        conn.close()


async def test_the_migration_fills_in_the_events_of_stored_alerts(tmp_path: Path) -> None:
    async with opened_stores(tmp_path) as stores:
        await stores.alerts.accept(_alert("nl-alert-fire.xml", "FIRE-OLD", "vrr", 0))
        url = stores.url
    _as_before_the_events_table(url, tmp_path / "s.sqlite3")
    async with opened_stores(tmp_path, url=url if url.startswith("postgresql") else None
                             ) as reopened:
        page = await reopened.alerts.list(event="Major Fire")
        assert [item.id for item in page.items] == ["id-FIRE-OLD"]
        assert (await reopened.alerts.audit_page(subject="id-FIRE-OLD")).total == 1
