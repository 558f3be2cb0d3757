"""One constructor per kind of audit entry: what each records, in one place.

Stage: trust, pure. Code that changes the store appends the event inside the same
writer job as the change (``router.store.audit.append(conn, event)``); code whose
act changes nothing else (a rejection) uses ``Store.append_audit``. Each detail
is bounded by ``router.audit.chain.bounded`` when it is chained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from router.audit.chain import SERVICE, AuditEvent, AuditKind, Principal, key_id

MAX_FINDING_CODES = 10
"""Rejections keep the first few finding codes and the count of all of them."""


def submitted(alert_id: str, principal: Principal, *, sender: str, identifier: str,
              sent: str, msg_type: str, status: str, profile: str, content_hash: str,
              raw_sha256: str, channels: Sequence[str]) -> AuditEvent:
    """An alert accepted and stored with its plan. ``raw_sha256`` lets anyone check the
    stored bytes against the trail."""
    return AuditEvent(AuditKind.ALERT_SUBMITTED, principal, alert_id, {
        "sender": sender, "identifier": identifier, "sent": sent, "msg_type": msg_type,
        "status": status, "profile": profile, "content_hash": content_hash,
        "raw_sha256": raw_sha256, "channels": sorted(channels)})


def superseded(alert_id: str, by: str, principal: Principal) -> AuditEvent:
    return AuditEvent(AuditKind.ALERT_SUPERSEDED, principal, alert_id, {"superseded_by": by})


def cancelled(alert_id: str, by: str, principal: Principal) -> AuditEvent:
    """An alert withdrawn by the Cancel ``by`` (the Cancel's own entry is ``submitted``)."""
    return AuditEvent(AuditKind.ALERT_CANCELLED, principal, alert_id, {"cancelled_by": by})


def rejected_at_ingest(principal: Principal, *, status: int, code: str, detail: str,
                       finding_codes: Sequence[str], request: Mapping[str, object]
                       ) -> AuditEvent:
    """One refused ``POST``. A 403 is a policy violation (``auth.*``, ``authz.*``)."""
    kind = AuditKind.POLICY_VIOLATED if status == 403 else AuditKind.INGEST_REJECTED
    return AuditEvent(kind, principal, None, {
        "status": status, "code": code, "detail": detail,
        "findings": list(finding_codes[:MAX_FINDING_CODES]),
        "findings_total": len(finding_codes), "request": dict(request)})


def rejections_aggregated(principal: Principal, *, reason: str, count: int,
                          codes: Mapping[str, int], first_at: str, last_at: str,
                          remotes: Mapping[str, int] | None = None) -> AuditEvent:
    """Rejections counted rather than written one by one: ``reason`` is
    ``unauthenticated`` (no valid key: one entry per interval, whatever the flood) or
    ``over-cap`` (a principal's rejections beyond its per-minute cap)."""
    detail: dict[str, object] = {"reason": reason, "count": count, "codes": dict(codes),
                                 "first_at": first_at, "last_at": last_at}
    if remotes is not None:
        detail["remotes"] = dict(remotes)
    return AuditEvent(AuditKind.REJECTIONS_AGGREGATED, principal, None, detail)


def approved(alert_id: str, principal: Principal, *, submitted_by: Principal) -> AuditEvent:
    """A second principal released an alert held in ``pending_approval``."""
    return AuditEvent(AuditKind.ALERT_APPROVED, principal, alert_id,
                      {"submitted_by": submitted_by.canonical()})


def approval_rejected(alert_id: str, principal: Principal, *, reason: str) -> AuditEvent:
    """A second principal refused an alert held in ``pending_approval``."""
    return AuditEvent(AuditKind.ALERT_APPROVAL_REJECTED, principal, alert_id,
                      {"reason": reason})


def expired_unapproved(alert_id: str, *, pending_since: str, window_s: int) -> AuditEvent:
    """Nobody approved within the window; Tocsin itself records it."""
    return AuditEvent(AuditKind.ALERT_EXPIRED_UNAPPROVED, SERVICE, alert_id,
                      {"pending_since": pending_since, "window_s": window_s})


def key_created(key_hash: str, principal: Principal, *, authority: str | None,
                roles: Sequence[str] = ()) -> AuditEvent:
    """An API key made (the hash only: the key itself is never recorded)."""
    return AuditEvent(AuditKind.KEY_CREATED, principal, key_id(key_hash),
                      {"key_hash": key_hash, "authority": authority, "roles": list(roles)})


def key_revoked(key_hash: str, principal: Principal, *, authority: str | None) -> AuditEvent:
    return AuditEvent(AuditKind.KEY_REVOKED, principal, key_id(key_hash),
                      {"key_hash": key_hash, "authority": authority})


def retry_requested(alert_id: str, channel: str, principal: Principal) -> AuditEvent:
    """An operator asked for a channel of an alert to be tried again."""
    return AuditEvent(AuditKind.RETRY_REQUESTED, principal, alert_id, {"channel": channel})


def config_loaded(config_sha256: str, *, settings_sha256: str,
                  files: Mapping[str, str]) -> AuditEvent:
    """The configuration the service started with: one hash over the effective settings
    and every file read (routes, profiles), and each part's own hash."""
    return AuditEvent(AuditKind.CONFIG_LOADED, SERVICE, None, {
        "sha256": config_sha256, "settings_sha256": settings_sha256, "files": dict(files)})
