"""Four-eyes approval in the store: hold an alert, then approve, reject or expire it.

Stage: the store layer (runs inside the writer's transaction). Each decision has one
function here -- ``approve``, ``reject``, ``expire_due`` -- so that whatever else must
be recorded with a decision (the audit trail) is added in one place, in the same
transaction. A held alert has state ``pending_approval`` and no delivery rows: its
plan waits in ``approvals.plan`` and its references are not applied, so nothing is
sent and nothing it would update or cancel changes until a second principal
approves. The window is stored as an instant (``expires_at``), so it survives a
restart and the sweep after a restart expires what fell due while Tocsin was down.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Protocol

from router.audit import events as audit_events
from router.audit.chain import Principal as AuditPrincipal
from router.cap.model import MsgType
from router.store import audit
from router.store.records import (
    AlertState,
    ApprovalRecord,
    DecisionOutcome,
    HoldForApproval,
    PlannedDelivery,
)
from router.store.sql import Connection, Row


class Release(Protocol):
    """Apply an alert's references and insert its delivery plan (``router.store.sqlite``)."""

    def __call__(self, conn: Connection, alert_id: str, msg_type: MsgType, *,
                 targets: list[str | None], plan: list[PlannedDelivery],
                 deadline: str | None, now: str) -> None: ...


def _text(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def hold(conn: Connection, alert_id: str, held: HoldForApproval, *,
         plan: list[PlannedDelivery], deadline: str | None, now: datetime) -> None:
    conn.execute(
        "INSERT INTO approvals (alert_id, reason, submitted_by, submitted_at, expires_at, "
        "plan, deadline) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (alert_id, held.reason, held.submitted_by, _text(now), _text(held.expires_at),
         json.dumps([[p.channel, p.route, p.fallback_for] for p in plan]), deadline))


def _open(conn: Connection, alert_id: str, now: datetime
          ) -> tuple[DecisionOutcome, Row | None]:
    row = conn.execute(
        "SELECT p.*, a.state, a.msg_type FROM approvals p JOIN alerts a ON a.id = p.alert_id "
        "WHERE p.alert_id = ?", (alert_id,)).fetchone()
    if row is None:
        exists = conn.execute("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return (DecisionOutcome.NOT_PENDING if exists else DecisionOutcome.NOT_FOUND), None
    if row["decision"] is not None or row["state"] != AlertState.PENDING_APPROVAL.value:
        return DecisionOutcome.NOT_PENDING, row
    if datetime.fromisoformat(row["expires_at"]) <= now:
        _expire(conn, alert_id, now)
        return DecisionOutcome.EXPIRED, row
    return DecisionOutcome.DONE, row


def approve(conn: Connection, alert_id: str, principal: str, now: datetime,
            release: Release) -> DecisionOutcome:
    """The second principal's yes: references applied, plan made real, state accepted."""
    outcome, row = _open(conn, alert_id, now)
    if outcome is not DecisionOutcome.DONE or row is None:
        return outcome
    if row["submitted_by"] == principal:
        return DecisionOutcome.SAME_PERSON
    targets = [r["resolved_id"] for r in conn.execute(
        "SELECT resolved_id FROM alert_references WHERE alert_id = ? ORDER BY position",
        (alert_id,))]
    plan = [PlannedDelivery(channel, route, fallback)
            for channel, route, fallback in json.loads(row["plan"])]
    release(conn, alert_id, MsgType(row["msg_type"]), targets=targets, plan=plan,
            deadline=row["deadline"], now=now.isoformat(timespec="seconds"))
    conn.execute("UPDATE alerts SET state = ? WHERE id = ?",
                 (AlertState.ACCEPTED.value, alert_id))
    _decide(conn, alert_id, "approved", principal=principal, now=now, reason=None)
    return DecisionOutcome.DONE


def reject(conn: Connection, alert_id: str, principal: str, reason: str,
           now: datetime) -> DecisionOutcome:
    """The second principal's no: the alert is ``rejected`` and never delivered."""
    outcome, row = _open(conn, alert_id, now)
    if outcome is not DecisionOutcome.DONE or row is None:
        return outcome
    if row["submitted_by"] == principal:
        return DecisionOutcome.SAME_PERSON
    conn.execute("UPDATE alerts SET state = ? WHERE id = ?",
                 (AlertState.REJECTED.value, alert_id))
    _decide(conn, alert_id, "rejected", principal=principal, now=now, reason=reason)
    return DecisionOutcome.DONE


def expire_due(conn: Connection, now: datetime) -> list[str]:
    """Every held alert whose window has closed becomes ``expired_unapproved``."""
    due = [row["alert_id"] for row in conn.execute(
        "SELECT p.alert_id, p.expires_at FROM approvals p JOIN alerts a ON a.id = p.alert_id "
        "WHERE p.decision IS NULL AND a.state = ?", (AlertState.PENDING_APPROVAL.value,))
        if datetime.fromisoformat(row["expires_at"]) <= now]
    for alert_id in due:
        _expire(conn, alert_id, now)
    return due


def _expire(conn: Connection, alert_id: str, now: datetime) -> None:
    conn.execute("UPDATE alerts SET state = ? WHERE id = ? AND state = ?",
                 (AlertState.EXPIRED_UNAPPROVED.value, alert_id,
                  AlertState.PENDING_APPROVAL.value))
    _decide(conn, alert_id, "expired", principal=None, now=now, reason=None)


def withdrawn(conn: Connection, alert_id: str, how: str, now: str) -> None:
    """A held alert that an Update or Cancel overtook: no longer awaits a decision."""
    conn.execute("UPDATE approvals SET decision = ?, decided_at = ? "
                 "WHERE alert_id = ? AND decision IS NULL", (how, now, alert_id))


def _decide(conn: Connection, alert_id: str, decision: str, *,
            principal: str | None, now: datetime, reason: str | None) -> None:
    """Record the decision and its audit-trail entry in the same transaction."""
    row = conn.execute("SELECT submitted_by, submitted_at, expires_at FROM approvals "
                       "WHERE alert_id = ?", (alert_id,)).fetchone()
    conn.execute("UPDATE approvals SET decision = ?, decided_by = ?, decided_at = ?, "
                 "decision_reason = ? WHERE alert_id = ?",
                 (decision, principal, _text(now), reason, alert_id))
    if decision == "approved" and principal is not None:
        event = audit_events.approved(alert_id, _audited(principal),
                                      submitted_by=_audited(row["submitted_by"]))
    elif decision == "rejected" and principal is not None:
        event = audit_events.approval_rejected(alert_id, _audited(principal),
                                               reason=reason or "")
    else:
        since = datetime.fromisoformat(row["submitted_at"])
        window = datetime.fromisoformat(row["expires_at"]) - since
        event = audit_events.expired_unapproved(alert_id, pending_since=_text(since),
                                                window_s=round(window.total_seconds()))
    audit.append(conn, event)


def _audited(principal_id: str) -> AuditPrincipal:
    """A principal id (``authority/key-name``) as the audit trail names who acted."""
    authority, _, _name = principal_id.partition("/")
    return AuditPrincipal(via="api", authority=authority or None, key=principal_id)


def record(conn: Connection, alert_id: str) -> ApprovalRecord | None:
    row = conn.execute("SELECT * FROM approvals WHERE alert_id = ?", (alert_id,)).fetchone()
    if row is None:
        return None
    return ApprovalRecord(
        reason=row["reason"], submitted_by=row["submitted_by"],
        submitted_at=datetime.fromisoformat(row["submitted_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]), decision=row["decision"],
        decided_by=row["decided_by"],
        decided_at=datetime.fromisoformat(row["decided_at"]) if row["decided_at"] else None,
        decision_reason=row["decision_reason"])


def was_approved(conn: Connection, alert_id: str) -> bool:
    return conn.execute("SELECT 1 FROM approvals WHERE alert_id = ? AND decision = 'approved'",
                        (alert_id,)).fetchone() is not None
