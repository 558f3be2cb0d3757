"""The subscriber registry and each delivery's audience, on the SQLite store.

Stage: the audience layer. Implements ``router.channel.Audience`` for channels that
send one message per subscriber (SMS, wallet push). Nothing here logs an address.

An audience is selected, not materialised: ``batches`` walks the subscribers of one
address kind in id order (keyset pages, so memory stays flat at any size), keeps
those whose home area the alert reaches (``router.audience.areas``), skips those that
already have an outcome for this delivery, and *claims* each batch in one write
before handing it out. A claim carries the run's token; a later run (a retry, a
restart after a crash) offers claimed-but-unfinished recipients again, so nobody
is lost; recipients with an outcome are never offered again, so nobody who was
sent the message gets it twice -- except the few in flight at a crash.

An Update goes first to everyone the earlier alert reached on this channel, then
to the subscribers in its own area; a Cancel goes only to those the earlier alert
reached. Each claim first checks the alert itself: once it is cancelled or
superseded, the stream ends and ``interrupted`` says why.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from router.audience.areas import AlertArea
from router.audience.messages import index_messages
from router.audience.records import MAX_AREAS, Subscriber
from router.channel import Recipient, RecipientOutcome, RecipientResult
from router.errors import LeaseLostError
from router.store.leases import LEASE_LOST, claim_taken_over
from router.store.records import AlertState
from router.store.sql import Connection

T = TypeVar("T")
Run = Callable[[Callable[[Connection], T]], Awaitable[T]]
FINAL = ("delivered", "failed", "expired")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


IMPORT_CHUNK = 500
"""Subscribers written per statement: one round trip per 500 rather than four per
subscriber (20,000 took 25 s on PostgreSQL one by one). 500 x 4 parameters stays far
below SQLite's limit of 32,766."""


def upsert_subscribers(conn: Connection, subscribers: Iterable[Subscriber]) -> int:
    """Insert or replace (by kind and address) subscribers and their areas; the last
    of several rows for one subscriber wins, as if they were written one by one."""
    count = 0
    chunk: dict[tuple[str, str], Subscriber] = {}
    for sub in subscribers:
        if len(sub.points) + len(sub.geocodes) > MAX_AREAS:
            raise ValueError(f"a subscriber may have at most {MAX_AREAS} home areas")
        chunk.pop((sub.kind, sub.address), None)  # a later row replaces an earlier one
        chunk[(sub.kind, sub.address)] = sub
        count += 1
        if len(chunk) >= IMPORT_CHUNK:
            _upsert_chunk(conn, list(chunk.values()))
            chunk = {}
    if chunk:
        _upsert_chunk(conn, list(chunk.values()))
    return count


def _upsert_chunk(conn: Connection, chunk: list[Subscriber]) -> None:
    """One ``INSERT ... ON CONFLICT`` for the chunk (no subscriber twice in it: a
    statement may not update one row twice on PostgreSQL), then its areas."""
    now = _now()
    rows = conn.execute(
        "INSERT INTO subscribers (kind, address, language, created_at) VALUES "  # noqa: S608
        + ", ".join(["(?, ?, ?, ?)"] * len(chunk))
        + " ON CONFLICT (kind, address) DO UPDATE SET language = excluded.language"
        " RETURNING id, kind, address",
        [value for sub in chunk for value in (sub.kind, sub.address, sub.language, now)],
    ).fetchall()
    ids = {(row[1], row[2]): row[0] for row in rows}
    chosen = [ids[(sub.kind, sub.address)] for sub in chunk]
    conn.execute("DELETE FROM subscriber_areas WHERE subscriber_id IN ("  # noqa: S608
                 + ", ".join(["?"] * len(chosen)) + ")", chosen)
    points = [(ident, lat, lon) for ident, sub in zip(chosen, chunk, strict=True)
              for lat, lon in sub.points]
    geocodes = [(ident, name, value) for ident, sub in zip(chosen, chunk, strict=True)
                for name, value in sub.geocodes]
    if points:
        conn.executemany("INSERT INTO subscriber_areas VALUES (?, ?, ?, NULL, NULL)", points)
    if geocodes:
        conn.executemany("INSERT INTO subscriber_areas VALUES (?, NULL, NULL, ?, ?)",
                         geocodes)


def _area_filter(area: AlertArea) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for min_lat, max_lat, min_lon, max_lon in area.boxes():
        clauses.append("(a.lat BETWEEN ? AND ? AND a.lon BETWEEN ? AND ?)")
        params += [min_lat, max_lat, min_lon, max_lon]
    for name, value in sorted(area.geocodes):
        clauses.append("(a.value_name = ? AND a.value = ?)")
        params += [name, value]
    return " OR ".join(clauses) or "1 = 0", params


Page = Callable[[Connection, int, int], tuple[list[Recipient], int]]
Take = Callable[[Connection, list[Recipient]], list[Recipient] | None]


def _page(page: Page, cursor: int, size: int
          ) -> Callable[[Connection], tuple[list[Recipient], int]]:
    return lambda conn: page(conn, cursor, size)


def _claim(take: Take, candidates: list[Recipient]
           ) -> Callable[[Connection], list[Recipient] | None]:
    return lambda conn: take(conn, candidates)


class SubscriberAudience:
    """``Audience`` of one delivery, backed by the subscriber and outcome tables."""

    def __init__(self, read: Run[Any], write: Run[Any], *, kind: str, delivery_key: str,
                 alert_id: str, area: AlertArea | None, prior_key: str | None,
                 channel: str = "", fence: int = 0) -> None:
        self._read, self._write, self.channel, self.fence = read, write, channel, fence
        self.kind, self.delivery_key, self.alert_id = kind, delivery_key, alert_id
        self._area, self._prior_key = area, prior_key
        self._claim = uuid.uuid4().hex
        self._interrupted: str | None = None

    @property
    def interrupted(self) -> str | None:
        return self._interrupted

    async def batches(self, size: int) -> AsyncIterator[Sequence[Recipient]]:
        pages = [self._prior_page] if self._prior_key else []
        if self._area is not None and not self._area.empty:
            pages.append(self._area_page)
        for page in pages:
            cursor = 0
            while True:
                candidates, cursor = await self._read(_page(page, cursor, size))
                if not candidates:
                    break
                claimed = await self._write(_claim(self._take, candidates))
                if claimed is None:
                    return
                if claimed:
                    yield claimed

    def _prior_page(self, conn: Connection, cursor: int, size: int
                    ) -> tuple[list[Recipient], int]:
        rows = conn.execute(
            "SELECT s.id, s.address, s.language FROM recipient_outcomes o"
            " JOIN subscribers s ON s.id = o.subscriber_id"
            " WHERE o.delivery_key = ? AND o.state IN ('sent', 'delivered')"
            " AND o.subscriber_id > ? ORDER BY o.subscriber_id LIMIT ?",
            (self._prior_key, cursor, size)).fetchall()
        people = [Recipient(str(r[0]), r[1], r[2]) for r in rows]
        return people, (rows[-1][0] if rows else cursor)

    def _area_page(self, conn: Connection, cursor: int, size: int
                   ) -> tuple[list[Recipient], int]:
        area = self._area
        if area is None:
            return [], cursor
        where, params = _area_filter(area)
        limit = size * 2
        sql = ("SELECT s.id, s.address, s.language, a.lat, a.lon, a.value_name"  # noqa: S608
               " FROM subscribers s JOIN subscriber_areas a ON a.subscriber_id = s.id"
               " WHERE s.kind = ? AND s.id > ? AND (" + where + ")"  # fixed fragments
               " ORDER BY s.id LIMIT ?")
        rows = conn.execute(sql, (self.kind, cursor, *params, limit)).fetchall()
        if not rows:
            return [], cursor
        if len(rows) == limit:  # the last subscriber may have more area rows on the next page
            last = rows[-1][0]
            rows = [r for r in rows if r[0] != last] or rows
        matched: dict[int, Recipient] = {}
        for sid, address, language, lat, lon, value_name in rows:
            if sid not in matched and (value_name is not None or area.covers(lat, lon)):
                matched[sid] = Recipient(str(sid), address, language)
        return list(matched.values()), rows[-1][0]

    def _take(self, conn: Connection, candidates: list[Recipient]
              ) -> list[Recipient] | None:
        """Claim the candidates without an outcome; None once the alert was withdrawn."""
        state = conn.execute("SELECT state FROM alerts WHERE id = ?",
                             (self.alert_id,)).fetchone()
        if state is not None and state[0] != AlertState.ACCEPTED.value:
            self._interrupted = state[0]
            return None
        if claim_taken_over(conn, self.delivery_key, self.fence):
            self._interrupted = LEASE_LOST
            return None
        marks = ",".join("?" * len(candidates))
        sql = ("SELECT subscriber_id FROM recipient_outcomes WHERE delivery_key = ?"  # noqa: S608
               " AND subscriber_id IN (" + marks + ") AND (state != 'claimed' OR claim = ?)")
        taken = {row[0] for row in conn.execute(
            sql, (self.delivery_key, *(int(c.key) for c in candidates), self._claim))}
        fresh = [c for c in candidates if int(c.key) not in taken]
        now = _now()
        conn.executemany(
            "INSERT INTO recipient_outcomes VALUES (?, ?, 'claimed', ?, NULL, ?)"
            " ON CONFLICT (delivery_key, subscriber_id) DO UPDATE SET state = excluded.state,"
            " claim = excluded.claim, reference = NULL, updated_at = excluded.updated_at",
            [(self.delivery_key, int(c.key), self._claim, now) for c in fresh])
        return fresh

    async def record(self, results: Sequence[RecipientResult]) -> None:
        def write(conn: Connection) -> None:
            if claim_taken_over(conn, self.delivery_key, self.fence):
                raise LeaseLostError(f"{self.delivery_key}: taken over by another node; "
                                     f"{len(results)} recipient results not recorded")
            now = _now()
            gone = [(self.delivery_key, int(r.key), self._claim) for r in results
                    if r.outcome is RecipientOutcome.UNSENT]
            conn.executemany("DELETE FROM recipient_outcomes WHERE delivery_key = ? AND"
                             " subscriber_id = ? AND claim = ? AND state = 'claimed'", gone)
            conn.executemany(
                "UPDATE recipient_outcomes SET state = CASE WHEN state IN"
                " ('delivered', 'failed', 'expired') THEN state ELSE ? END,"
                " reference = COALESCE(?, reference), updated_at = ?"
                " WHERE delivery_key = ? AND subscriber_id = ?",
                [(r.outcome.value, r.reference, now, self.delivery_key, int(r.key))
                 for r in results if r.outcome is not RecipientOutcome.UNSENT])
            if self.channel:
                index_messages(conn, self.channel, self.delivery_key, results)
        if results:
            await self._write(write)

    async def settle(self, results: Sequence[RecipientResult]) -> None:
        def write(conn: Connection) -> None:
            now = _now()
            conn.executemany(
                "UPDATE recipient_outcomes SET state = ?, updated_at = ? WHERE delivery_key = ?"
                " AND subscriber_id = ? AND state IN ('claimed', 'sent')",
                [(r.outcome.value, now, self.delivery_key, int(r.key)) for r in results])
        if results:
            await self._write(write)

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = await self._read(
            lambda conn: outcome_counts(conn, self.delivery_key))
        return counts


def outcome_counts(conn: Connection, delivery_key: str) -> dict[str, int]:
    """Recipients per state of one delivery, plus ``accepted``: those the network took."""
    counts: dict[str, int] = dict(conn.execute(
        "SELECT state, count(*) FROM recipient_outcomes WHERE delivery_key = ?"
        " GROUP BY state", (delivery_key,)).fetchall())
    accepted = conn.execute("SELECT count(*) FROM recipient_outcomes WHERE delivery_key = ?"
                            " AND reference IS NOT NULL", (delivery_key,)).fetchone()[0]
    return {**counts, "accepted": int(accepted)}
