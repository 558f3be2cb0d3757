"""The embedded default store: one SQLite file in WAL mode, ``synchronous=FULL``.

Stage: the store layer.

Durability without one fsync per request: every write goes to a single writer
thread, which takes whatever jobs are queued (up to ``max_batch``), runs each
inside its own SAVEPOINT within one ``BEGIN IMMEDIATE`` transaction, commits
once, and only then resolves the callers' futures. A job that fails rolls back
to its savepoint without touching the others. With ``synchronous=FULL`` the
commit is on disk when it returns, so every caller told "created" is durable;
the batch only shares the fsync (group commit). Reads use separate connections
on a small thread pool; WAL lets them run beside the writer.

Plain ``sqlite3`` rather than an async wrapper: group commit needs control of
transaction boundaries across requests, which a connection-per-call wrapper hides.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog

from router.audit import events as audit_events
from router.audit.chain import AuditEvent, Head
from router.audit.chain import Principal as AuditPrincipal
from router.cap import Alert, Finding
from router.cap.findings import warning
from router.cap.model import MsgType
from router.errors import LeaseLostError, ReferenceForbiddenError, StoreUnavailableError
from router.planning import ReferenceEffect, follow_up_deliveries, reference_effect
from router.store import approvals, audit, keys
from router.store.audit import PendingAudit
from router.store.backlog import StoreBacklog, read_backlog
from router.store.group_commit import STOP, next_batch, settle
from router.store.leases import ClaimPolicy, node_id
from router.store.migrations import EVENTS_MIGRATION, MIGRATIONS, backfill_events
from router.store.records import (
    DUE_DELIVERY_STATES,
    OPEN_DELIVERY_STATES,
    AcceptOutcome,
    AcceptResult,
    AlertPage,
    AlertRecord,
    AlertState,
    AssetRecord,
    AttemptRecord,
    AttemptResult,
    ClaimedDelivery,
    DecisionOutcome,
    DeliveryRecord,
    DeliveryState,
    NewAlert,
    PlannedDelivery,
    PriorDelivery,
    ReferencedAlert,
    ReferenceRecord,
    ReplanOutcome,
    ReplanResult,
    Requester,
    SpeechBacklog,
    SpeechJob,
    StoredKey,
    StoredVariants,
)
from router.store.sql import Connection, Row
from router.store.unknown_references import held_finding, held_for_unknown_references

T = TypeVar("T")
Job = Callable[[Connection], Any]
CLI = AuditPrincipal(via="cli")
"""Who made or revoked a key when the caller does not say (a command on the host)."""
log = structlog.get_logger("tocsin.store")


def utc_text(value: datetime, *, round_up: bool = False) -> str:
    """An instant as stored: UTC ISO 8601 to the millisecond, the fraction left out when
    it is zero. Sub-second precision matters: retry and breaker times are fractions of
    a second apart, and a time cut to the second makes work due before it is.

    Text columns compare as strings, and this form orders exactly as the instants do,
    old rows written to the second included: within one second ``...:05+00:00`` (the
    whole second, as old rows and whole-second values are written) sorts before any
    ``...:05.001+00:00``, because ``+`` sorts before ``.``, and ``.000`` is never written.
    CAP times (``sent``, ``expires``) have no fraction, so CAP keys are unchanged.
    ``round_up`` is for due times: never due before the moment asked for."""
    moment = value.astimezone(UTC)
    millis, rest = divmod(moment.microsecond, 1000)
    if round_up and rest:
        moment = moment.replace(microsecond=0) + timedelta(milliseconds=millis + 1)
    else:
        moment = moment.replace(microsecond=millis * 1000)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


class _WriterConnection(sqlite3.Connection):
    """The writer's connection: it carries the transaction's ``PendingAudit``, so the
    audit entries of one group commit are chained and inserted together before its
    ``COMMIT`` (``router.store.audit``), moving the chain head once per commit rather
    than twice per entry -- as the PostgreSQL writer does."""

    pending_audit: object = None


def _connect(path: Path, *, read_only: bool = False, writer: bool = False
             ) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30,
                           factory=_WriterConnection if writer else sqlite3.Connection)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    if read_only:
        conn.execute("PRAGMA query_only=ON")
    return conn


class _Writer(threading.Thread):
    """The single writer: batches queued jobs into one transaction (group commit)."""

    def __init__(self, path: Path, max_batch: int) -> None:
        super().__init__(name="tocsin-sqlite-writer", daemon=True)
        self.path = path
        self.max_batch = max_batch
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.failed: BaseException | None = None
        self.commits = 0

    def submit(self, job: Job) -> asyncio.Future[Any]:
        if not self.is_alive():
            raise StoreUnavailableError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.jobs.put((job, future, loop))
        return future

    def stop(self) -> None:
        self.jobs.put(STOP)

    def run(self) -> None:
        conn = _connect(self.path, writer=True)
        try:
            stopping = False
            while not stopping:
                batch, stopping = next_batch(self.jobs, self.max_batch)
                if batch:
                    self._run_batch(conn, batch)
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        trail = PendingAudit()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.pending_audit = trail  # type: ignore[attr-defined]  # _WriterConnection
            for job, _future, _loop in batch:
                conn.execute("SAVEPOINT job")
                mark = trail.mark()
                try:
                    outcomes.append((job(conn), None))
                    conn.execute("RELEASE job")
                except Exception as exc:  # one job's failure is its caller's alone
                    trail.drop_from(mark)  # a job rolled back leaves no audit entry
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((None, exc))
            trail.seal(conn)
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            trail.drop_from(0)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            log.exception("store.commit_failed", error=str(exc), batch=len(batch))
            failure = StoreUnavailableError(f"the store could not commit: {exc}")
            outcomes = [(None, failure) for _ in batch]
        finally:
            conn.pending_audit = None  # type: ignore[attr-defined]
        for (_job, future, loop), (value, error) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(settle, future, value, error)


def _findings_json(findings: list[Finding]) -> str:
    return json.dumps([f.model_dump(mode="json") for f in findings], ensure_ascii=False)


def _findings(text: str) -> list[Finding]:
    return [Finding.model_validate(item) for item in json.loads(text)]


def _accept(conn: Connection, new: NewAlert) -> AcceptResult:
    """One alert, its references and its plan; runs inside the writer's transaction."""
    alert = new.alert
    sent_utc = utc_text(alert.sent)
    existing = conn.execute(
        "SELECT id, content_hash, findings FROM alerts "
        "WHERE sender = ? AND identifier = ? AND sent_utc = ?",
        (alert.sender, alert.identifier, sent_utc),
    ).fetchone()
    if existing is not None:
        if existing["content_hash"] == new.content_hash:
            return AcceptResult(AcceptOutcome.DUPLICATE, existing["id"],
                                _findings(existing["findings"]))
        return AcceptResult(AcceptOutcome.CONFLICT, existing["id"])

    warnings = list(new.findings)
    resolved: list[tuple[int, Any, str | None]] = []
    for position, ref in enumerate(alert.references or (), start=1):
        row = conn.execute(
            "SELECT id, authority FROM alerts WHERE sender = ? AND identifier = ? "
            "AND sent_utc = ?", (ref.sender, ref.identifier, utc_text(ref.sent)),
        ).fetchone()
        if (row is not None and new.reference_authorities is not None
                and row["authority"] not in new.reference_authorities):
            raise ReferenceForbiddenError(
                f"references entry {position} names an alert this authority may not "
                "reference")
        if row is None:
            warnings.append(warning(
                "ingest.reference.unknown", f"/alert/references (entry {position})",
                f"{ref.sender},{ref.identifier} is not in this store; accepted anyway "
                "(it may have been sent through another system)"))
        resolved.append((position, ref, row["id"] if row else None))

    now = utc_text(new.received_at)
    unknown = held_for_unknown_references(alert.msg_type, [t for _p, _r, t in resolved],
                                          forward_unknown=new.forward_unknown_references)
    if unknown:
        warnings.append(held_finding(alert.msg_type))
    held = new.hold is not None and not unknown
    state = (AlertState.HELD_UNKNOWN_REFERENCE if unknown else
             AlertState.PENDING_APPROVAL if held else AlertState.ACCEPTED)
    conn.execute(
        "INSERT INTO alerts (id, sender, identifier, sent_utc, sent, status, msg_type, state, "
        "profile, authority, source_version, content_hash, received_at, findings, raw, "
        "signature, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.id, alert.sender, alert.identifier, sent_utc, alert.sent.isoformat(),
         alert.status.value, alert.msg_type.value, state.value, new.profile,
         new.authority, new.source_version, new.content_hash, now, _findings_json(warnings),
         new.raw, json.dumps(new.signature) if new.signature is not None else None,
         new.envelope),
    )
    conn.executemany("INSERT INTO alert_events VALUES (?, ?)",
                     [(new.id, event) for event in sorted({info.event.casefold()
                                                           for info in alert.infos})])
    for position, ref, target in resolved:
        conn.execute(
            "INSERT INTO alert_references VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new.id, position, ref.sender, ref.identifier, utc_text(ref.sent),
             ref.sent.isoformat(), target),
        )

    if new.variants is not None:
        conn.execute("INSERT INTO alert_variants VALUES (?, ?, ?, ?)",
                     (new.id, new.variants, "pending" if new.speech_pending else "off", now))
    if unknown:
        pass  # held: nothing planned, nothing applied (router.store.unknown_references)
    elif new.hold is not None:
        approvals.hold(conn, new.id, new.hold, plan=list(new.plan), deadline=_deadline(new),
                       now=new.received_at)
    else:
        _release(conn, new.id, alert.msg_type,
                 targets=[target for _p, _r, target in resolved], plan=list(new.plan),
                 deadline=_deadline(new), now=now)
    return AcceptResult(AcceptOutcome.CREATED, new.id, warnings)


def _release(conn: Connection, alert_id: str, msg_type: MsgType, *,
             targets: list[str | None], plan: list[PlannedDelivery], deadline: str | None,
             now: str) -> None:
    """Apply the alert's references and store its delivery plan: at acceptance, or when
    an alert held for approval is approved."""
    for target in targets:
        if target is not None:
            _apply_reference(conn, msg_type, target, alert_id, now)
    carried = _carried_channels(conn, targets) if reference_effect(msg_type) else []
    for planned in plan + follow_up_deliveries(msg_type, plan, carried):
        state = DeliveryState.STANDBY if planned.fallback_for else DeliveryState.PENDING
        conn.execute(
            "INSERT INTO deliveries (alert_id, channel, route, fallback_for, state, "
            "idempotency_key, deadline, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (alert_id, planned.channel, planned.route, planned.fallback_for, state.value,
             f"{alert_id}/{planned.channel}", deadline, now),
        )


def _accept_audited(conn: Connection, new: NewAlert) -> AcceptResult:
    """``_accept`` and, for a new alert, its audit entries in the same job: the alert
    submitted, and each alert its Update superseded or its Cancel cancelled."""
    result = _accept(conn, new)
    if result.outcome is AcceptOutcome.CREATED:
        audit.append_all(conn, audit.alert_events(new, _changed_by(conn, new)))
    return result


def _changed_by(conn: Connection, new: NewAlert) -> list[tuple[str, bool]]:
    """The alerts this Update superseded (True) or this Cancel cancelled (False) just now:
    its resolved references whose state it set (by primary key, no scan)."""
    if new.alert.msg_type not in (MsgType.UPDATE, MsgType.CANCEL):
        return []
    rows = conn.execute(
        "SELECT a.id, a.superseded_by, a.cancelled_by FROM alert_references r "
        "JOIN alerts a ON a.id = r.resolved_id WHERE r.alert_id = ? ORDER BY r.position",
        (new.id,)).fetchall()
    changed = {row["id"]: row["superseded_by"] == new.id for row in rows
               if new.id in (row["superseded_by"], row["cancelled_by"])}
    return list(changed.items())  # an alert referenced twice is one entry


def _carried_channels(conn: Connection, targets: list[str | None]) -> list[str]:
    """The channels the referenced alerts went out on or are going out on, in plan order:
    the rows ``router.planning.follow_up_deliveries`` decides the follow-ups from."""
    return [row["channel"] for target in targets if target is not None
            for row in conn.execute(
                "SELECT channel FROM deliveries WHERE alert_id = ? AND state IN "
                "('delivered', 'sending') ORDER BY rowid", (target,))]


_EFFECTS = {
    ReferenceEffect.SUPERSEDE: (AlertState.SUPERSEDED, "superseded_by",
                                DeliveryState.SUPERSEDED),
    ReferenceEffect.CANCEL: (AlertState.CANCELLED, "cancelled_by", DeliveryState.CANCELLED),
}
"""How each ``router.planning.ReferenceEffect`` is stored: the referenced alert's state,
the column naming the alert that did it, and the state its open deliveries end in."""


def _apply_reference(conn: Connection, msg_type: MsgType, target: str, by: str,
                     now: str) -> None:
    """Persist the reference's effect (``router.planning.reference_effect``) on the
    referenced alert and its open deliveries."""
    effect = reference_effect(msg_type)
    if effect is None:
        return
    state, column, delivery_state = _EFFECTS[effect]
    conn.execute(
        f"UPDATE alerts SET state = ?, {column} = ? WHERE id = ? AND state IN (?, ?)",  # noqa: S608
        (state.value, by, target, AlertState.ACCEPTED.value,
         AlertState.PENDING_APPROVAL.value),
    )
    approvals.withdrawn(conn, target, state.value, now)  # a held alert it overtook
    conn.execute(
        "UPDATE deliveries SET state = ?, updated_at = ? WHERE alert_id = ? AND state IN "
        "(?, ?, ?)",
        (delivery_state.value, now, target, *(s.value for s in OPEN_DELIVERY_STATES)),
    )


def _deadline(new: NewAlert) -> str | None:
    """The deadline the planning step gave the alert, as stored."""
    return utc_text(new.deadline) if new.deadline is not None else None


def _claim(conn: Connection, now: datetime, limit: int, policy: ClaimPolicy,
           skip: Collection[str] = ()) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries for ``policy.node`` (``router.store.leases``):
    each becomes ``sending`` with a lease and the next fencing token. Deliveries of the
    ``skip`` channels stay where they are, so a slow channel's backlog, first in rowid
    order, does not fill every claim while faster channels' deliveries wait behind it."""
    due = "state IN (?, ?) AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
    moment = utc_text(now)
    params: list[object] = [*(s.value for s in DUE_DELIVERY_STATES), moment]
    if policy.reclaim_expired:
        due = f"({due}) OR (state = 'sending' AND lease_expires < ?)"
        params.append(moment)
    if skip:
        due = f"({due}) AND channel NOT IN ({', '.join('?' * len(skip))})"
        params.extend(sorted(skip))
    lock = " FOR UPDATE SKIP LOCKED" if policy.skip_locked else ""
    rows = conn.execute(
        "UPDATE deliveries SET state = 'sending', updated_at = ?, fence = fence + 1,"  # noqa: S608
        " lease_node = ?, lease_expires = ? WHERE rowid IN ("
        " SELECT rowid FROM deliveries WHERE " + due + " ORDER BY rowid LIMIT ?" + lock + ")"
        " RETURNING alert_id, channel, idempotency_key, attempts, deadline, retry_base,"
        " retry_requested_at, fence",
        (moment, policy.node, utc_text(now + timedelta(seconds=policy.lease_s)),
         *params, limit)).fetchall()
    claimed = []
    for row in rows:
        raw = conn.execute(
            "SELECT a.raw, a.received_at, v.variants, v.speech_state FROM alerts a"
            " LEFT JOIN alert_variants v"
            " ON v.alert_id = a.id WHERE a.id = ?", (row["alert_id"],)).fetchone()
        prior = conn.execute(
            "SELECT d.alert_id, d.idempotency_key, d.receipt FROM alert_references r"
            " JOIN deliveries d ON d.alert_id = r.resolved_id AND d.channel = ?"
            " WHERE r.alert_id = ? AND d.receipt IS NOT NULL ORDER BY r.position LIMIT 1",
            (row["channel"], row["alert_id"])).fetchone()
        last = conn.execute(
            "SELECT reason, error FROM attempts WHERE alert_id = ? AND channel = ?"
            " ORDER BY number DESC LIMIT 1", (row["alert_id"], row["channel"])).fetchone()
        claimed.append(ClaimedDelivery(
            row["alert_id"], row["channel"], row["idempotency_key"], row["attempts"],
            _parse_time(row["deadline"]), bytes(raw["raw"]),
            PriorDelivery(prior["alert_id"], prior["idempotency_key"],
                          json.loads(prior["receipt"])) if prior else None,
            _parse_time(raw["received_at"]), raw["variants"], raw["speech_state"],
            row["retry_base"], _parse_time(row["retry_requested_at"]),
            last["reason"] if last else None, last["error"] if last else None,
            row["fence"]))
    return claimed


def _still_wanted(conn: Connection, alert_id: str,
                 next_state: DeliveryState) -> DeliveryState:
    """``next_state``, unless it is another go and an Update or Cancel overtook the alert
    while it was being sent: then the delivery ends ``superseded`` or ``cancelled``."""
    if next_state not in DUE_DELIVERY_STATES:
        return next_state
    alert_state = conn.execute("SELECT state FROM alerts WHERE id = ?",
                               (alert_id,)).fetchone()["state"]
    if alert_state == AlertState.CANCELLED.value:
        return DeliveryState.CANCELLED
    if alert_state == AlertState.SUPERSEDED.value:
        return DeliveryState.SUPERSEDED
    return next_state


def _record_attempt(conn: Connection, result: AttemptResult) -> DeliveryState:
    """Store one attempt; returns the delivery's new state. A retry of an alert that an
    Update or Cancel overtook while it was being sent is not scheduled. With a fencing
    token, only the claim that holds it is recorded (``router.store.leases``)."""
    next_state = _still_wanted(conn, result.alert_id, result.next_state)
    fenced = " AND fence = ?" if result.fence is not None else ""
    changed = conn.execute(  # fixed fragments; values are bound parameters
        "UPDATE deliveries SET attempts = ?, state = ?, next_attempt_at = ?, last_error = ?,"  # noqa: S608
        " receipt = COALESCE(?, receipt), updated_at = ?, lease_expires = NULL"
        " WHERE alert_id = ? AND channel = ?" + fenced,
        (result.number, next_state.value,
         utc_text(result.next_attempt_at, round_up=True) if result.next_attempt_at else None,
         result.error,
         json.dumps(result.receipt) if result.receipt is not None else None,
         utc_text(result.ended_at), result.alert_id, result.channel,
         *(() if result.fence is None else (result.fence,)))).rowcount
    if result.fence is not None and not changed:
        raise LeaseLostError(f"{result.alert_id}/{result.channel}: the claim with fence "
                             f"{result.fence} was taken over; attempt {result.number} "
                             "is not recorded")
    conn.execute(
        "INSERT INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (result.alert_id, result.channel, result.number, utc_text(result.started_at),
         utc_text(result.ended_at), result.outcome, result.reason, result.error))
    return next_state


def _wait_for_channel(conn: Connection, alert_id: str, channel: str, until: datetime,  # noqa: PLR0917
                      why: str, fence: int | None = None) -> DeliveryState:
    """Put a claimed delivery back, unsent and without an attempt, until ``until``."""
    state = _still_wanted(conn, alert_id, DeliveryState.WAITING)
    fenced = " AND fence = ?" if fence is not None else ""
    changed = conn.execute(  # fixed fragments; values are bound parameters
        "UPDATE deliveries SET state = ?, next_attempt_at = ?, last_error = ?, updated_at = ?,"  # noqa: S608
        " lease_expires = NULL WHERE alert_id = ? AND channel = ? AND state = 'sending'"
        + fenced,
        (state.value, utc_text(until, round_up=True), why, utc_text(datetime.now(UTC)),
         alert_id, channel, *(() if fence is None else (fence,)))).rowcount
    if fence is not None and not changed:
        raise LeaseLostError(f"{alert_id}/{channel}: the claim with fence {fence} was "
                             "taken over")
    return state


def _replan(conn: Connection, alert_id: str, channel: str, by: Requester,
            now: datetime) -> ReplanResult:
    """A failed or expired delivery of an alert still in force becomes pending again."""
    alert = conn.execute("SELECT state FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    if alert is None:
        return ReplanResult(ReplanOutcome.NO_ALERT)
    row = conn.execute("SELECT state, attempts, deadline FROM deliveries"
                       " WHERE alert_id = ? AND channel = ?", (alert_id, channel)).fetchone()
    if row is None:
        return ReplanResult(ReplanOutcome.NO_DELIVERY)
    if alert["state"] != AlertState.ACCEPTED.value:
        return ReplanResult(ReplanOutcome.NOT_IN_FORCE, alert["state"])
    if row["state"] not in (DeliveryState.FAILED.value, DeliveryState.EXPIRED.value):
        return ReplanResult(ReplanOutcome.NOT_RETRYABLE, row["state"])
    deadline = _parse_time(row["deadline"])
    if deadline is not None and deadline <= now:
        return ReplanResult(ReplanOutcome.EXPIRED, row["state"])
    conn.execute(
        "UPDATE deliveries SET state = ?, next_attempt_at = NULL, retry_base = attempts,"
        " retry_requested_by = ?, retry_requested_at = ?, updated_at = ?"
        " WHERE alert_id = ? AND channel = ?",
        (DeliveryState.PENDING.value, json.dumps({"authority": by.authority, "key": by.key}),
         utc_text(now), utc_text(now), alert_id, channel))
    audit.append(conn, audit_events.retry_requested(
        alert_id, channel, AuditPrincipal(via="api", authority=by.authority, key=by.key)))
    return ReplanResult(ReplanOutcome.REPLANNED, DeliveryState.PENDING.value)


def _principal(text: str | None) -> Requester | None:
    if text is None:
        return None
    data = json.loads(text)
    return Requester(str(data["authority"]), str(data["key"]))


def _settle_fallbacks(conn: Connection, alert_id: str, channel: str, needed: bool,
                      now: str) -> list[str]:
    """A primary ended: wake its standby fallbacks if it failed, else mark them skipped."""
    state = DeliveryState.PENDING if needed else DeliveryState.SKIPPED
    rows = conn.execute(
        "UPDATE deliveries SET state = ?, replaced = CASE WHEN ? THEN fallback_for END,"
        " updated_at = ? WHERE alert_id = ? AND fallback_for = ? AND state = 'standby'"
        " RETURNING channel",
        (state.value, needed, now, alert_id, channel)).fetchall()
    return [row["channel"] for row in rows]


def _record_speech(conn: Connection, alert_id: str, assets: list[AssetRecord],
                   findings: list[Finding], state: str) -> None:
    for a in assets:
        conn.execute(
            "INSERT INTO alert_assets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (alert_id, name) DO UPDATE SET kind = excluded.kind,"
            " language = excluded.language, mime_type = excluded.mime_type,"
            " size = excluded.size, sha256 = excluded.sha256,"
            " duration_s = excluded.duration_s, detail = excluded.detail,"
            " created_at = excluded.created_at, expires_at = excluded.expires_at",
            (a.alert_id, a.name, a.kind, a.language, a.mime_type, a.size, a.sha256,
             a.duration_s, json.dumps(a.detail), utc_text(a.created_at),
             utc_text(a.expires_at) if a.expires_at is not None else None))
    if findings:
        row = conn.execute("SELECT findings FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        kept = _findings(row["findings"]) if row else []
        conn.execute("UPDATE alerts SET findings = ? WHERE id = ?",
                     (_findings_json(kept + findings), alert_id))
    conn.execute("UPDATE alert_variants SET speech_state = ?, updated_at = ? WHERE alert_id = ?",
                 (state, utc_text(datetime.now(UTC)), alert_id))


def _asset(row: Row) -> AssetRecord:
    return AssetRecord(row["alert_id"], row["name"], row["kind"], row["language"],
                       row["mime_type"], row["size"], row["sha256"], row["duration_s"],
                       json.loads(row["detail"]), datetime.fromisoformat(row["created_at"]),
                       _parse_time(row["expires_at"]))


def _prune_assets(conn: Connection, alert_ids: list[str], before: str, now: str) -> int:
    """Delete the asset rows of ``alert_ids`` that expired before ``before``; an alert left
    with none gets ``speech_state = pruned`` (its audio is gone for good: 410)."""
    deleted = 0
    for alert_id in alert_ids:
        deleted += conn.execute("DELETE FROM alert_assets WHERE alert_id = ? AND expires_at < ?",
                                (alert_id, before)).rowcount
        conn.execute(
            "UPDATE alert_variants SET speech_state = 'pruned', updated_at = ?"
            " WHERE alert_id = ? AND speech_state IN ('done', 'failed')"
            " AND NOT EXISTS (SELECT 1 FROM alert_assets WHERE alert_id = ?)",
            (now, alert_id, alert_id))
    return deleted


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position after which a page starts; ValueError for a cursor we did not make."""
    problem = ValueError(f"{cursor!r} is not a cursor returned by this API")
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode(
            ).partition(":")
        position = int(value)
    except (UnicodeDecodeError, ValueError) as exc:
        raise problem from exc
    if kind != "seq" or position < 0:
        raise problem
    return position


class SqlStore:
    """The alert store's methods, in SQL both databases run (``router.store.sql``).

    A subclass provides the transport: ``run_write`` (a job inside a committed
    transaction, durable when it returns) and ``run_read``, and opens and closes
    them: ``SqliteStore`` below, ``router.store.postgres.PostgresStore``."""

    claim_policy: ClaimPolicy
    """How this store claims due deliveries (``router.store.leases``)."""

    async def run_write(self, job: Callable[[Connection], T]) -> T:
        """Run ``job`` in a transaction; returns once it is committed and durable."""
        raise NotImplementedError

    async def run_read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a connection that reads committed data."""
        raise NotImplementedError

    # -- writes -----------------------------------------------------------------------

    async def accept(self, new: NewAlert) -> AcceptResult:
        return await self.run_write(lambda conn: _accept_audited(conn, new))

    async def append_audit(self, events: builtins.list[AuditEvent]) -> None:
        """Append entries that record no other change of this store (a rejection, a
        configuration loaded) in a transaction of their own."""
        await self.run_write(lambda conn: audit.append_all(conn, events))

    async def audit_head(self) -> Head | None:
        return await self.run_read(audit.head)

    async def audit_page(self, *, after: int = 0, since: datetime | None = None,
                         principal: str | None = None, limit: int = 100,
                         subject: str | None = None) -> audit.AuditPage:
        since_text = since.astimezone(UTC).isoformat(timespec="milliseconds") if since else None
        return await self.run_read(lambda conn: audit.page(
            conn, after=after, since=since_text, principal=principal, limit=limit,
            subject=subject))

    async def claim_due(self, now: datetime, limit: int, *,
                        skip_channels: Collection[str] = ()) -> list[ClaimedDelivery]:
        """Take up to ``limit`` due pending deliveries (they become ``sending``), none of
        ``skip_channels``."""
        return await self.run_write(
            lambda conn: _claim(conn, now, limit, self.claim_policy, skip_channels))

    async def record_attempt(self, result: AttemptResult) -> DeliveryState:
        """Store an attempt and the delivery's next state; returns the state stored."""
        return await self.run_write(lambda conn: _record_attempt(conn, result))

    async def wait_for_channel(self, alert_id: str, channel: str, until: datetime,
                               why: str, *, fence: int | None = None) -> DeliveryState:
        """A claimed delivery whose channel may not be called now (its breaker is open)
        becomes ``waiting_for_channel`` until ``until``; no attempt is recorded, because
        nothing was sent. Returns the state stored."""
        return await self.run_write(
            lambda conn: _wait_for_channel(conn, alert_id, channel, until, why, fence))

    async def replan(self, alert_id: str, channel: str, by: Requester,
                     now: datetime) -> ReplanResult:
        """Send a failed or expired delivery again, at once, with a fresh back-off: only
        while the alert is in force (not cancelled, superseded or past ``<expires>``).
        Records who asked, in the delivery and in the audit trail (same transaction).
        Nothing changes unless the outcome is ``REPLANNED``."""
        return await self.run_write(lambda conn: _replan(conn, alert_id, channel, by, now))

    async def release_waiting(self, channel: str, now: datetime) -> int:
        """The channel is back (its breaker closed): its waiting deliveries are due now."""
        def release(conn: Connection) -> int:
            return conn.execute(
                "UPDATE deliveries SET next_attempt_at = ? WHERE channel = ? AND state = ?",
                (utc_text(now), channel, DeliveryState.WAITING.value)).rowcount
        return await self.run_write(release)

    async def settle_fallbacks(self, alert_id: str, channel: str, *, needed: bool) -> list[str]:
        """After ``channel`` of ``alert_id`` ended: its standby fallbacks become pending
        (``needed``, it failed) or skipped. Returns the fallback channels touched."""
        now = utc_text(datetime.now(UTC))
        return await self.run_write(
            lambda conn: _settle_fallbacks(conn, alert_id, channel, needed, now))

    async def release_in_flight(self) -> int:
        """At start-up: deliveries left ``sending`` by a crash are due again. Their
        idempotency keys make the repeat safe."""
        def release(conn: Connection) -> int:
            return conn.execute("UPDATE deliveries SET state = 'pending' "
                                "WHERE state = 'sending'").rowcount
        return await self.run_write(release)

    # -- four-eyes approval (router.store.approvals) -----------------------------------

    async def approve(self, alert_id: str, principal: str) -> DecisionOutcome:
        now = datetime.now(UTC)
        return await self.run_write(
            lambda conn: approvals.approve(conn, alert_id, principal, now, _release))

    async def reject(self, alert_id: str, principal: str, reason: str) -> DecisionOutcome:
        now = datetime.now(UTC)
        return await self.run_write(
            lambda conn: approvals.reject(conn, alert_id, principal, reason, now))

    async def expire_unapproved(self) -> list[str]:
        """Held alerts whose approval window closed become ``expired_unapproved``."""
        now = datetime.now(UTC)
        return await self.run_write(lambda conn: approvals.expire_due(conn, now))

    async def referenced(self, alert: Alert) -> list[ReferencedAlert]:
        """The alerts ``alert`` references that are in this store, with their authority."""
        def read(conn: Connection) -> list[ReferencedAlert]:
            found = []
            for position, ref in enumerate(alert.references or (), start=1):
                row = conn.execute(
                    "SELECT id, authority FROM alerts WHERE sender = ? AND identifier = ? "
                    "AND sent_utc = ?", (ref.sender, ref.identifier, utc_text(ref.sent))
                ).fetchone()
                if row is not None:
                    found.append(ReferencedAlert(position, row["id"], row["authority"],
                                                 approvals.was_approved(conn, row["id"])))
            return found

        return await self.run_read(read)

    # -- API keys (router.store.keys) -------------------------------------------------

    async def add_key(self, key: StoredKey, by: AuditPrincipal = CLI) -> None:
        """Store a key's hash and its ``key.created`` audit entry in one transaction."""
        event = audit_events.key_created(key.key_hash, by, authority=key.authority,
                                         roles=key.roles)

        def job(conn: Connection) -> None:
            keys.add(conn, key)
            audit.append(conn, event)
        await self.run_write(job)

    async def revoke_key(self, key_id: str, by: AuditPrincipal = CLI) -> bool:
        """Revoke a live key and append ``key.revoked``, in one transaction."""
        now = datetime.now(UTC)

        def job(conn: Connection) -> bool:
            live = next((k for k in keys.every(conn)
                         if k.id == key_id and k.revoked_at is None), None)
            if live is None or not keys.revoke(conn, key_id, now):
                return False
            audit.append(conn, audit_events.key_revoked(live.key_hash, by,
                                                        authority=live.authority))
            return True
        return await self.run_write(job)

    async def key_by_hash(self, key_hash: str) -> StoredKey | None:
        return await self.run_read(lambda conn: keys.by_hash(conn, key_hash))

    async def keys(self) -> builtins.list[StoredKey]:
        return await self.run_read(keys.every)

    async def record_speech(self, alert_id: str, assets: list[AssetRecord],
                            findings: list[Finding], *, state: str) -> None:
        """Store the audio made for an alert, append its findings to the alert's and
        set its speech state, in one transaction."""
        await self.run_write(lambda conn: _record_speech(conn, alert_id, assets, findings, state))
    # -- reads ------------------------------------------------------------------------

    async def get(self, alert_id: str) -> AlertRecord | None:
        def read(conn: Connection) -> AlertRecord | None:
            row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            return None if row is None else _record(conn, row)

        return await self.run_read(read)

    async def envelope(self, alert_id: str) -> bytes | None:
        def read(conn: Connection) -> bytes | None:
            row = conn.execute("SELECT envelope FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            return None if row is None or row["envelope"] is None else bytes(row["envelope"])

        return await self.run_read(read)

    async def raw_cap(self, alert_id: str) -> bytes | None:
        def read(conn: Connection) -> bytes | None:
            row = conn.execute("SELECT raw FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            return None if row is None else bytes(row["raw"])

        return await self.run_read(read)

    async def list(self, *, state: AlertState | None = None, since: datetime | None = None,
                   cursor: str | None = None, limit: int = 50,
                   authorities: Collection[str] | None = None,
                   authority: str | None = None, event: str | None = None,
                   until: datetime | None = None) -> AlertPage:
        """A page of alerts; ``authorities``: only theirs (None: everyone's); ``authority``:
        that one's only; ``event``: an info's event, compared case-folded; received in
        ``[since, until)``."""
        after = decode_cursor(cursor) if cursor else 0
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if authorities is not None:
            clauses.append("authority IN (" + ",".join("?" * len(authorities)) + ")"
                           if authorities else "1 = 0")
            params.extend(authorities)
        if state is not None:
            clauses.append("state = ?")
            params.append(state.value)
        if since is not None:
            clauses.append("received_at >= ?")
            params.append(utc_text(since))
        if until is not None:
            clauses.append("received_at < ?")
            params.append(utc_text(until))
        if authority is not None:
            clauses.append("authority = ?")
            params.append(authority)
        if event is not None:
            clauses.append("id IN (SELECT alert_id FROM alert_events WHERE event = ?)")
            params.append(event.casefold())
        where = " AND ".join(clauses) or "1 = 1"  # fixed fragments; values are bound parameters
        sql = ("SELECT * FROM alerts WHERE seq > ? AND " + where  # noqa: S608
               + " ORDER BY seq LIMIT ?")
        count_sql = "SELECT count(*) FROM alerts WHERE " + where  # noqa: S608

        def read(conn: Connection) -> AlertPage:
            rows = conn.execute(sql, (after, *params, limit + 1)).fetchall()
            total = int(conn.execute(count_sql, params).fetchone()[0])
            items = [_record(conn, row) for row in rows[:limit]]
            more = len(rows) > limit
            return AlertPage(items, _encode_cursor(items[-1].seq) if more and items else None,
                             total)

        return await self.run_read(read)

    async def variants(self, alert_id: str) -> StoredVariants | None:
        def read(conn: Connection) -> StoredVariants | None:
            row = conn.execute("SELECT variants, speech_state FROM alert_variants "
                               "WHERE alert_id = ?", (alert_id,)).fetchone()
            return None if row is None else StoredVariants(row["variants"], row["speech_state"])

        return await self.run_read(read)

    async def assets(self, alert_id: str) -> builtins.list[AssetRecord]:
        def read(conn: Connection) -> builtins.list[AssetRecord]:
            return [_asset(row) for row in conn.execute(
                "SELECT * FROM alert_assets WHERE alert_id = ? ORDER BY created_at, name",
                (alert_id,))]

        return await self.run_read(read)

    async def speech_due(self, limit: int) -> builtins.list[SpeechJob]:
        def read(conn: Connection) -> builtins.list[SpeechJob]:
            return [SpeechJob(row["alert_id"], row["variants"]) for row in conn.execute(
                "SELECT alert_id, variants FROM alert_variants WHERE speech_state = 'pending'"
                " ORDER BY rowid LIMIT ?", (limit,))]

        return await self.run_read(read)

    async def delivery_backlog(self) -> StoreBacklog:
        """The open deliveries by channel and state (``router.store.backlog``)."""
        return await self.run_read(read_backlog)

    async def speech_backlog(self) -> SpeechBacklog:
        """How many accepted alerts wait for speech, and the oldest one's acceptance: one
        read through the index on ``alert_variants(speech_state)``."""
        def read(conn: Connection) -> SpeechBacklog:
            row = conn.execute(
                "SELECT COUNT(*) AS n, MIN(a.received_at) AS oldest FROM alert_variants v"
                " JOIN alerts a ON a.id = v.alert_id WHERE v.speech_state = 'pending'"
                ).fetchone()
            return SpeechBacklog(int(row["n"]), _parse_time(row["oldest"]))

        return await self.run_read(read)

    async def expired_assets(self, before: datetime, limit: int) -> builtins.list[AssetRecord]:
        """Asset rows whose alert expired before ``before``, longest ago first."""
        def read(conn: Connection) -> builtins.list[AssetRecord]:
            return [_asset(row) for row in conn.execute(
                "SELECT * FROM alert_assets WHERE expires_at < ? ORDER BY expires_at, alert_id,"
                " name LIMIT ?", (utc_text(before), limit))]

        return await self.run_read(read)

    async def prune_assets(self, alert_ids: builtins.list[str], before: datetime) -> int:
        """Forget the assets of ``alert_ids`` whose alert expired before ``before`` (their
        files deleted first by the caller), and mark each alert left without any
        ``pruned``; returns how many rows went."""
        at, now = utc_text(before), utc_text(datetime.now(UTC))
        return await self.run_write(lambda conn: _prune_assets(conn, alert_ids, at, now))

class SqliteStore(SqlStore):
    """``Store`` on one SQLite file. Open with ``await store.open()``."""

    def __init__(self, path: Path, *, max_batch: int = 256, readers: int = 2) -> None:
        self.path = path
        self.max_batch = max_batch
        self._writer: _Writer | None = None
        self._readers = ThreadPoolExecutor(max_workers=readers,
                                           thread_name_prefix="tocsin-sqlite-reader")
        self._local = threading.local()
        self.claim_policy = ClaimPolicy(node_id())  # one node: never takes over a lease

    # -- life cycle -------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._migrate)
        self._writer = _Writer(self.path, self.max_batch)
        self._writer.start()

    def _migrate(self) -> None:
        conn = _connect(self.path)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreUnavailableError(
                    f"{self.path} has schema version {version}, newer than this Tocsin "
                    f"({len(MIGRATIONS)}); upgrade Tocsin")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                conn.execute("BEGIN IMMEDIATE")
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if number == EVENTS_MIGRATION:
                    backfill_events(conn)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
                log.info("store.migrated", version=number, path=str(self.path))
        finally:
            conn.close()

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
            await asyncio.to_thread(writer.join)
        self._readers.shutdown(wait=True)

    @property
    def commits(self) -> int:
        """Transactions committed so far (requests / commits = the group-commit factor)."""
        return self._writer.commits if self._writer else 0

    async def run_write(self, job: Callable[[Connection], T]) -> T:
        """Run ``job`` on the writer, inside the next group-committed transaction (its
        own savepoint); returns once that transaction is on disk. Public for the
        stores that share this database (``router.audience.sqlite``)."""
        if self._writer is None:
            raise StoreUnavailableError("the store is not open")
        result: T = await asyncio.shield(self._writer.submit(job))
        return result

    # -- reads ------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, read_only=True)
            self._local.conn = conn
        return conn

    async def run_read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a read-only connection of the reader pool (WAL: beside the
        writer). Public for the stores that share this database."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))
        except RuntimeError as exc:  # executor shut down
            raise StoreUnavailableError("the store is closed") from exc

    async def ping(self) -> bool:
        if self._writer is None or not self._writer.is_alive():
            return False
        try:
            await self.run_read(lambda conn: conn.execute("SELECT 1").fetchone())
        except (sqlite3.Error, StoreUnavailableError):
            return False
        return True


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _record(conn: Connection, row: Row) -> AlertRecord:
    references = [
        ReferenceRecord(r["sender"], r["identifier"], datetime.fromisoformat(r["sent"]),
                        r["resolved_id"])
        for r in conn.execute(
            "SELECT * FROM alert_references WHERE alert_id = ? ORDER BY position", (row["id"],))
    ]
    history: dict[str, list[AttemptRecord]] = {}
    for a in conn.execute("SELECT * FROM attempts WHERE alert_id = ? ORDER BY channel, number",
                          (row["id"],)):
        history.setdefault(a["channel"], []).append(AttemptRecord(
            a["number"], datetime.fromisoformat(a["started_at"]),
            datetime.fromisoformat(a["ended_at"]), a["outcome"], a["reason"], a["error"]))
    deliveries = [
        DeliveryRecord(
            channel=d["channel"], state=DeliveryState(d["state"]), attempts=d["attempts"],
            route=d["route"], fallback_for=d["fallback_for"],
            idempotency_key=d["idempotency_key"], deadline=_parse_time(d["deadline"]),
            updated_at=datetime.fromisoformat(d["updated_at"]), replaced=d["replaced"],
            next_attempt_at=_parse_time(d["next_attempt_at"]), last_error=d["last_error"],
            history=tuple(history.get(d["channel"], ())),
            retry_requested_by=_principal(d["retry_requested_by"]),
            retry_requested_at=_parse_time(d["retry_requested_at"]),
        )
        for d in conn.execute(
            "SELECT * FROM deliveries WHERE alert_id = ? ORDER BY fallback_for IS NOT NULL, "
            "rowid", (row["id"],))
    ]
    return AlertRecord(
        id=row["id"], seq=row["seq"], sender=row["sender"], identifier=row["identifier"],
        sent=datetime.fromisoformat(row["sent"]), status=row["status"],
        msg_type=row["msg_type"], state=AlertState(row["state"]), profile=row["profile"],
        authority=row["authority"], source_version=row["source_version"],
        received_at=datetime.fromisoformat(row["received_at"]),
        findings=_findings(row["findings"]), references=references,
        superseded_by=row["superseded_by"], cancelled_by=row["cancelled_by"],
        deliveries=deliveries, approval=approvals.record(conn, row["id"]),
        signature=json.loads(row["signature"]) if row["signature"] else None,
    )
