"""Where an alert on the dashboard came from: read from its ``alert.submitted`` entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from router.audit.chain import AuditEntry, AuditKind, Principal
from router.ingest import overview
from router.store.audit import AuditPage

START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@dataclass
class Trail:
    """The store's ``audit_page`` over a list of entries, counting the pages read."""

    entries: list[AuditEntry]
    pages: int = 0

    async def audit_page(self, *, after: int = 0, since: datetime | None = None,
                         principal: str | None = None, limit: int = 100,
                         subject: str | None = None) -> AuditPage:
        assert principal is None
        self.pages += 1
        floor = since.isoformat() if since else ""
        match = [e for e in self.entries if e.seq > after and e.at >= floor
                 and (subject is None or e.subject == subject)]
        items = match[:limit]
        return AuditPage(items, items[-1].seq if len(match) > limit else None, len(match))


def entry(seq: int, at: datetime, kind: str, subject: str, who: Principal) -> AuditEntry:
    return AuditEntry(seq, at.isoformat(), kind, who, subject, {}, "", "")


def record(alert_id: str, received_at: datetime) -> Any:
    return SimpleNamespace(id=alert_id, received_at=received_at, authority="demo")


async def test_feed_and_posted_alerts_far_apart_in_the_trail() -> None:
    feed = Principal(via="feed", authority="demo", actor="http://127.0.0.1:9/feed.atom")
    api = Principal(via="api", authority="demo", key="sha256:0123")
    noise = [entry(n, START + timedelta(seconds=n), "delivery.retried", "x", api)
             for n in range(2, 500)]
    late = START + timedelta(seconds=600)
    trail = Trail([entry(1, START, AuditKind.ALERT_SUBMITTED.value, "A", feed), *noise,
                   entry(600, late, AuditKind.ALERT_SUBMITTED.value, "B", api)])
    ctx = SimpleNamespace(store=trail, settings=SimpleNamespace(feeds=[SimpleNamespace(
        url="http://127.0.0.1:9/feed.atom", label="demo-feed")]))
    found = await overview._sources(cast(Any, ctx), [record("A", START), record("B", late),
                                                     record("C", late)])
    assert found["A"] == {"via": "feed", "feed": "demo-feed", "authority": "demo"}
    # 500 entries later in the trail: found all the same, by its own subject
    assert found["B"] == {"via": "api", "feed": None, "authority": "demo"}
    # not in the trail at all: unknown
    assert found["C"] == {"via": None, "feed": None, "authority": "demo"}
    assert trail.pages == 3  # one read of the trail per alert, whatever lies between
