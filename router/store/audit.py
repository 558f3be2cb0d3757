"""The audit trail's rows: append inside the caller's transaction, read pages, read the
whole chain for verification.

Stage: the store layer. ``append`` runs in the writer thread inside the job (and
so the SAVEPOINT) of the change it records: an alert and its ``alert.submitted``
entry commit or roll back together.

Where the entry is numbered depends on who else writes:

- On SQLite (one writer per file, ``tocsin keys new`` beside a running service waits
  for the write lock) an append takes the next sequence number at once, by updating
  the head row first (``UPDATE ... RETURNING``).
- On PostgreSQL every node appends to the one chain. Numbering at once would hold
  the head's row lock from the job to the end of the writer's batch: every other
  node's batch then waited on it in the middle of its own, holding its own rows, and
  three nodes accepted 4-17 alerts/s where one accepted 130-175. So the writer gives
  its transaction a ``PendingAudit``: jobs add their events to it (a job rolled back
  to its savepoint drops its own), and the writer seals them all just before
  ``COMMIT``, with one head update for the batch. The head is locked for the last
  statements and the commit only, and always last, so it is never part of a
  deadlock. The chain's order is then the order in which nodes committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from router.audit import events as audit_events
from router.audit.chain import GENESIS_HASH, AuditEntry, AuditEvent, Head, Principal, chain
from router.audit.chain import canonical_json as _canonical
from router.store.records import NewAlert
from router.store.sql import Connection, Row


def now_text() -> str:
    """An entry's time: UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def head(conn: Connection) -> Head | None:
    row = conn.execute("SELECT seq, hash FROM audit_head WHERE one = 1").fetchone()
    return None if row is None else Head(row[0], row[1])


def _current_head(conn: Connection) -> Head:
    """Where the next entry links on. A missing head row (deleted by hand) is taken
    from the last entry -- never refusing a warning for a damaged trail -- while
    verification of the damaged state has already been possible until then."""
    found = head(conn)
    if found is not None:
        return found
    row = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(row[0], row[1]) if row else Head(0, GENESIS_HASH)


def _take_next(conn: Connection) -> Head:
    """The head the next entry links on, with its row locked for this transaction:
    the update moves the head's number on first (its hash follows in ``append``)."""
    row = conn.execute("UPDATE audit_head SET seq = seq + 1 WHERE one = 1"
                       " RETURNING seq, hash").fetchone()
    return Head(row[0] - 1, row[1]) if row is not None else _current_head(conn)


_INSERT_ENTRY = (
    "INSERT INTO audit_log (seq, at, kind, via, authority, key_id, actor, subject, "
    "detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_MOVE_HEAD = ("INSERT INTO audit_head (one, seq, hash) VALUES (1, ?, ?) "
              "ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash")


def _row(entry: AuditEntry) -> tuple[object, ...]:
    p = entry.principal
    return (entry.seq, entry.at, entry.kind, p.via, p.authority, p.key, p.actor, entry.subject,
            _canonical(entry.detail), entry.prev_hash, entry.hash)


class PendingAudit:
    """The events of one writer transaction, chained and stored by ``seal`` just before
    it commits (PostgreSQL; see the module's docstring)."""

    def __init__(self) -> None:
        self._events: list[tuple[AuditEvent, str]] = []

    def add(self, event: AuditEvent, at: str) -> None:
        self._events.append((event, at))

    def mark(self) -> int:
        """Where the next job's events begin (``drop_from`` after its rollback)."""
        return len(self._events)

    def drop_from(self, mark: int) -> None:
        del self._events[mark:]

    def seal(self, conn: Connection) -> list[AuditEntry]:
        """Number, chain and insert the events added so far, moving the head once."""
        events, self._events = self._events, []
        if not events:
            return []
        row = conn.execute("UPDATE audit_head SET seq = seq + ? WHERE one = 1"
                           " RETURNING seq, hash", (len(events),)).fetchone()
        last = Head(row[0] - len(events), row[1]) if row is not None else _current_head(conn)
        sealed: list[AuditEntry] = []
        for event, at in events:
            entry = chain(event, last.seq + 1, at, last.hash)
            sealed.append(entry)
            last = Head(entry.seq, entry.hash)
        conn.executemany(_INSERT_ENTRY, [_row(entry) for entry in sealed])
        conn.execute(_MOVE_HEAD, (last.seq, last.hash))
        return sealed


def pending(conn: Connection) -> PendingAudit | None:
    """The transaction's ``PendingAudit``, where its writer gave it one."""
    found = getattr(conn, "pending_audit", None)
    return found if isinstance(found, PendingAudit) else None


def append(conn: Connection, event: AuditEvent, at: str | None = None) -> None:
    """Append one entry in the caller's transaction. Call it from inside a writer job
    whose change it records: on SQLite it is stored at once, on PostgreSQL when the
    writer seals its transaction (the same commit either way)."""
    later = pending(conn)
    if later is not None:
        later.add(event, at or now_text())
        return
    last = _take_next(conn)
    entry = chain(event, last.seq + 1, at or now_text(), last.hash)
    conn.execute(_INSERT_ENTRY, _row(entry))
    conn.execute(_MOVE_HEAD, (entry.seq, entry.hash))


def append_all(conn: Connection, events: Sequence[AuditEvent]) -> None:
    at = now_text()
    for event in events:
        append(conn, event, at)


def alert_events(new: NewAlert, changed: Sequence[tuple[str, bool]]) -> list[AuditEvent]:
    """The entries of a new alert: submitted, then one per alert it superseded
    (``True``) or cancelled (``False``)."""
    alert = new.alert
    who = new.principal or Principal(via="api", authority=new.authority)
    events = [audit_events.submitted(
        new.id, who, sender=alert.sender, identifier=alert.identifier,
        sent=alert.sent.isoformat(), msg_type=alert.msg_type.value, status=alert.status.value,
        profile=new.profile, content_hash=new.content_hash,
        raw_sha256=hashlib.sha256(new.raw).hexdigest(),
        channels=[p.channel for p in new.plan])]
    for target, was_superseded in changed:
        make = audit_events.superseded if was_superseded else audit_events.cancelled
        events.append(make(target, new.id, who))
    return events


def _entry(row: Row | tuple[object, ...]) -> AuditEntry:
    seq, at, kind, via, authority, key, actor, subject, detail, prev_hash, digest = row
    return AuditEntry(
        seq=int(str(seq)), at=str(at), kind=str(kind),
        principal=Principal(str(via), _text(authority), _text(key), _text(actor)),
        subject=_text(subject), detail=json.loads(str(detail)), prev_hash=str(prev_hash),
        hash=str(digest))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


_COLUMNS = "seq, at, kind, via, authority, key_id, actor, subject, detail, prev_hash, hash"


def entries(conn: Connection, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every entry in sequence order, read in batches (the trail may be long)."""
    after = None
    while True:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE CAST(? AS BIGINT) IS NULL OR seq > ? "  # noqa: S608
            "ORDER BY seq LIMIT ?", (after, after, batch)).fetchall()
        for row in rows:
            yield _entry(tuple(row))
        if len(rows) < batch:
            return
        after = rows[-1][0]


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_after: int | None
    """The ``seq`` to continue after, when there are more."""
    total: int
    """Entries matching the filters over every page (the cursor left aside)."""


def page(conn: Connection, *, after: int, since: str | None, principal: str | None,
         limit: int, subject: str | None = None) -> AuditPage:
    """Entries after ``after`` in sequence order, at or after ``since`` (UTC text),
    whose principal's authority or key id is ``principal``, about ``subject``."""
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append("at >= ?")
        params.append(since)
    if principal is not None:
        clauses.append("(authority = ? OR key_id = ?)")
        params += [principal, principal]
    if subject is not None:
        clauses.append("subject = ?")
        params.append(subject)
    filters = " AND ".join(clauses) or "1 = 1"
    sql = (f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? AND "  # noqa: S608  (fixed
           + filters + " ORDER BY seq LIMIT ?")                      # fragments)
    rows = conn.execute(sql, (after, *params, limit + 1)).fetchall()
    total = conn.execute("SELECT count(*) FROM audit_log WHERE " + filters,  # noqa: S608
                         params).fetchone()[0]
    items = [_entry(tuple(row)) for row in rows[:limit]]
    more = len(rows) > limit and bool(items)
    return AuditPage(items, items[-1].seq if more else None, total)
