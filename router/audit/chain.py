"""The tamper-evident audit trail: entries, their canonical form, the hash chain and
its verification.

Stage: trust, pure (no I/O, imports nothing of the service). The store appends
entries with it inside the transaction of the change they record; ``tocsin audit
verify`` recomputes the chain with it. An outside tool can do the same from the
database alone: the canonical form is specified here and in ``docs/audit.md``.

Canonical form (scheme ``v: 1``) of one entry: a JSON object with exactly the keys
``at``, ``detail``, ``kind``, ``prev``, ``principal`` (an object with ``actor``,
``authority``, ``key``, ``via``), ``seq``, ``subject`` and ``v``, serialised with
keys sorted, no insignificant white space (separators ``,`` and ``:``), non-ASCII
characters as themselves, UTF-8. Values are only strings, integers, booleans, null,
arrays and objects with ASCII keys -- no floats, whose text is ambiguous -- so the
form equals RFC 8785 (JCS) for these entries. The entry's hash is the lower-case
hex SHA-256 of those bytes; ``prev`` is the hash of the entry before it, or 64
zeros for the first.

What the chain proves, and what it cannot: changing, removing or reordering any
entry breaks the chain from that entry on, and a removed tail is seen against the
head (the last sequence number and hash, kept in a second table and written in the
same transaction). Someone who can write the database *and* recomputes every hash
after the point of change (and the head) is not caught by the database alone; an
anchor recorded elsewhere (``tocsin audit head``, the ``audit.head`` log line)
catches that (``tocsin audit verify --anchor SEQ:HASH``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

SCHEME = 1
GENESIS_HASH = "0" * 64
"""``prev`` of the first entry."""
MAX_TEXT = 500
"""Longest string kept in an entry's detail; longer ones are cut and marked."""
MAX_ITEMS = 50
"""Most list items or object members kept in a detail value; the rest are counted."""


class AuditKind(StrEnum):
    """Every kind of entry (a closed list: a consumer can switch on it)."""

    ALERT_SUBMITTED = "alert.submitted"
    ALERT_SUPERSEDED = "alert.superseded"
    ALERT_CANCELLED = "alert.cancelled"
    ALERT_APPROVED = "alert.approved"
    ALERT_APPROVAL_REJECTED = "alert.approval-rejected"
    ALERT_EXPIRED_UNAPPROVED = "alert.expired-unapproved"
    INGEST_REJECTED = "ingest.rejected"
    POLICY_VIOLATED = "policy.violated"
    REJECTIONS_AGGREGATED = "ingest.rejections-aggregated"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    RETRY_REQUESTED = "delivery.retry-requested"
    CONFIG_LOADED = "config.loaded"


@dataclass(frozen=True)
class Principal:
    """Who acted. ``via``: ``api`` (an API key), ``cli`` (a command run on the host, with
    the operating-system user as ``actor``) or ``service`` (Tocsin itself)."""

    via: str
    authority: str | None = None
    key: str | None = None
    """The API key's id: ``sha256:`` and the first 16 hex digits of its hash."""
    actor: str | None = None

    def canonical(self) -> dict[str, str | None]:
        return {"actor": self.actor, "authority": self.authority, "key": self.key,
                "via": self.via}


SERVICE = Principal(via="service")


def key_id(key_hash: str) -> str:
    """The short id of a key from its ``sha256:<hex>`` hash (the hash is not secret)."""
    return key_hash[: len("sha256:") + 16]


@dataclass(frozen=True)
class AuditEvent:
    """What is to be appended; the store gives it its sequence number, time and hashes."""

    kind: AuditKind
    principal: Principal
    subject: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    kind: str
    principal: Principal
    subject: str | None
    detail: Mapping[str, Any]
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        """The bytes hashed: every field but ``hash`` itself (see the module docstring)."""
        return _canonical_bytes(seq=self.seq, at=self.at, kind=self.kind,
                                principal=self.principal, subject=self.subject,
                                detail=self.detail, prev_hash=self.prev_hash)

    def recomputed_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def canonical_json(value: Any) -> str:
    """The canonical text of a detail value (also how the store keeps ``detail``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _canonical_bytes(*, seq: int, at: str, kind: str, principal: Principal,
                     subject: str | None, detail: Mapping[str, Any], prev_hash: str) -> bytes:
    return canonical_json({
        "at": at, "detail": detail, "kind": kind, "prev": prev_hash,
        "principal": principal.canonical(), "seq": seq, "subject": subject, "v": SCHEME,
    }).encode("utf-8")


def chain(event: AuditEvent, seq: int, at: str, prev_hash: str) -> AuditEntry:
    """The entry that follows ``prev_hash`` at ``seq``, hashed."""
    detail = bounded(event.detail)
    digest = hashlib.sha256(_canonical_bytes(
        seq=seq, at=at, kind=event.kind.value, principal=event.principal,
        subject=event.subject, detail=detail, prev_hash=prev_hash)).hexdigest()
    return AuditEntry(seq, at, event.kind.value, event.principal, event.subject, detail,
                      prev_hash, digest)


def bounded(value: Any) -> Any:
    """``value`` with every string cut to ``MAX_TEXT`` characters and every list or object
    to ``MAX_ITEMS`` items, so that no request can make an entry large. Floats become
    their text (the canonical form has no floats)."""
    kind = type(value)  # exact types first: this runs in the store's writer thread
    if kind is str:
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…[cut]"
    if kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return repr(value)
    if isinstance(value, Mapping):
        items = list(value.items())
        if len(items) > MAX_ITEMS:  # keep the same members whatever the insertion order
            items = sorted(items, key=lambda item: str(item[0]))
        kept = {_ascii_key(k): bounded(v) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            kept["_more"] = len(items) - MAX_ITEMS
        return kept
    if kind is list or kind is tuple:
        kept_list = [bounded(v) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            kept_list.append(f"…[{len(value) - MAX_ITEMS} more]")
        return kept_list
    return bounded(str(value))


def _ascii_key(key: object) -> str:
    """Object keys stay ASCII (the canonical form sorts them by code point, as JCS does
    by UTF-16 unit only when they agree)."""
    if isinstance(key, str) and key.isascii() and len(key) <= 100:
        return key
    return str(key).encode("ascii", "backslashreplace").decode("ascii")[:100]


# -- verification ----------------------------------------------------------------------


class BreakKind(StrEnum):
    CHANGED = "changed"
    REMOVED = "removed"
    REORDERED = "reordered"
    HEAD_MISSING = "head-missing"
    ANCHOR = "anchor-mismatch"
    ALERT_CHANGED = "alert-changed"


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain does not hold: the entry (sequence number) named and how."""

    seq: int
    kind: BreakKind
    message: str


@dataclass(frozen=True)
class Head:
    """The last entry's sequence number and hash as the head table holds them."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Verdict:
    checked: int
    last: Head
    broken: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


EntrySource = Callable[[], Iterable[AuditEntry]]
"""Every entry in sequence order, from the start, each time it is called (a second
pass is made only to tell a reordering from a change)."""


def verify_chain(source: EntrySource, head: Head | None,
                 anchor: Head | None = None) -> Verdict:
    """Recompute the chain; name the first entry changed, removed or reordered."""
    previous = Head(0, GENESIS_HASH)
    checked = 0
    anchor_seen = anchor is None
    for entry in source():
        problem = _check(entry, previous, source)
        if problem is not None:
            return Verdict(checked, previous, problem)
        if anchor is not None and entry.seq == anchor.seq:
            if entry.hash != anchor.hash:
                return Verdict(checked, previous, ChainBreak(
                    entry.seq, BreakKind.ANCHOR,
                    f"entry {entry.seq} has hash {entry.hash}, the anchor recorded "
                    f"{anchor.hash}: the chain was rewritten from entry {entry.seq} or before"))
            anchor_seen = True
        previous = Head(entry.seq, entry.hash)
        checked += 1
    problem = _check_tail(previous, head)
    if problem is None and not anchor_seen and anchor is not None:
        problem = ChainBreak(anchor.seq, BreakKind.REMOVED,
                             f"entry {anchor.seq}, which the anchor records, is not in the "
                             f"trail (it ends at entry {previous.seq})")
    return Verdict(checked, previous, problem)


def _check(entry: AuditEntry, previous: Head, source: EntrySource) -> ChainBreak | None:
    expected_seq = previous.seq + 1
    if entry.recomputed_hash() != entry.hash:
        return _misplaced(entry, expected_seq, source) or ChainBreak(
            entry.seq, BreakKind.CHANGED,
            f"entry {entry.seq} was changed: its contents no longer match its hash")
    if entry.seq > expected_seq:
        gap = (f"entry {expected_seq}" if entry.seq == expected_seq + 1
               else f"entries {expected_seq}..{entry.seq - 1}")
        return ChainBreak(expected_seq, BreakKind.REMOVED,
                          f"{gap} removed (entry {entry.seq} follows entry {previous.seq})")
    if entry.prev_hash != previous.hash:
        return ChainBreak(previous.seq, BreakKind.CHANGED,
                          f"entry {previous.seq} was changed and re-hashed: entry "
                          f"{entry.seq} records a different hash for it")
    return None


def _misplaced(entry: AuditEntry, position: int, source: EntrySource) -> ChainBreak | None:
    """An entry whose contents are intact for another sequence number was moved; when no
    entry anywhere is the authentic one for this position, the ones before were removed
    and the rest renumbered."""
    original = _authentic_seq(entry, source)
    if original is None:
        return None
    moved_here = any(_authentic_at(other, position) for other in source()
                     if other.seq != position)
    if not moved_here and original > position:
        return ChainBreak(position, BreakKind.REMOVED,
                          f"entry {position} removed and the entries after it renumbered "
                          f"(entry {original} now has number {position})")
    return ChainBreak(position, BreakKind.REORDERED,
                      f"entries reordered: position {position} holds entry {original}")


def _authentic_seq(entry: AuditEntry, source: EntrySource) -> int | None:
    for other in source():
        if other.seq != entry.seq and _authentic_at(entry, other.seq):
            return other.seq
    last = max((other.seq for other in source()), default=0)
    return last + 1 if _authentic_at(entry, last + 1) else None


def _authentic_at(entry: AuditEntry, seq: int) -> bool:
    return replace(entry, seq=seq).recomputed_hash() == entry.hash


def _check_tail(last: Head, head: Head | None) -> ChainBreak | None:
    if head is None:
        return ChainBreak(last.seq, BreakKind.HEAD_MISSING,
                          "the audit head (last sequence number and hash) is missing") \
            if last.seq else None
    if head.seq > last.seq:
        gap = (f"entry {head.seq}" if head.seq == last.seq + 1
               else f"entries {last.seq + 1}..{head.seq}")
        return ChainBreak(last.seq + 1, BreakKind.REMOVED,
                          f"{gap} removed from the end (the head records {head.seq} entries)")
    if head.seq < last.seq or head.hash != last.hash:
        return ChainBreak(last.seq if head.seq >= last.seq else head.seq + 1,
                          BreakKind.CHANGED,
                          f"the trail ends at entry {last.seq} ({last.hash}) but the head "
                          f"records entry {head.seq} ({head.hash})")
    return None


def check_alerts(source: EntrySource, stored_sha256: Callable[[str], str | None]
                 ) -> ChainBreak | None:
    """Every alert the trail says was submitted is still stored with the bytes it was
    accepted with (``raw_sha256``): the chain also vouches for the alerts table.
    ``stored_sha256`` gives the SHA-256 of an alert's stored bytes, None if it is gone."""
    for entry in source():
        if entry.kind != AuditKind.ALERT_SUBMITTED.value or entry.subject is None:
            continue
        found = stored_sha256(entry.subject)
        if found != entry.detail.get("raw_sha256"):
            what = "is no longer stored" if found is None else \
                "is stored with other bytes than those accepted"
            return ChainBreak(entry.seq, BreakKind.ALERT_CHANGED,
                              f"alert {entry.subject}, submitted in entry {entry.seq}, {what}")
    return None
