"""The record stage for ingest: metrics and the audit log of every alert posted.

Stage: record. The ingest handler reports each ``POST /api/v1/alerts`` here once,
as accepted (created or duplicate) or rejected. Each outcome is one audit line
on the ``tocsin.audit`` logger with ``audit: true`` and the authority that holds
the API key (``null`` when no valid key was given), under one event name:

================  ==========================================================
event             when
================  ==========================================================
alert_accepted    a new Alert (or Ack/Error) stored with its delivery plan
alert_updated     a new Update stored (it supersedes what it references)
alert_cancelled   a new Cancel stored (it cancels what it references)
alert_duplicate   the identical alert again: nothing stored
alert_rejected    refused; ``status`` and ``code`` say why
================  ==========================================================

``POST /api/v1/alerts/{id}/deliveries/{channel}/retry`` is audited the same way, as
``delivery_retry_requested`` (re-planned) or ``delivery_retry_refused`` (``status``
and ``code`` say why), with the authority, the key id, the alert and the channel.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from router.cap import Alert
from router.errors import FailureReason
from router.observability.metrics import REJECTIONS, Metrics
from router.store import PlannedDelivery

audit = structlog.get_logger("tocsin.audit")

_NEW_EVENTS = {"Update": "alert_updated", "Cancel": "alert_cancelled"}


class Intake:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def received(self) -> float:
        """Count a POST; returns the start time to hand back to the outcome."""
        self.metrics.alerts_received.inc()
        return time.perf_counter()

    def accepted(self, started: float, alert: Alert, *, created: bool, profile: str,
                 authority: str, plan: Sequence[PlannedDelivery]) -> None:
        m = self.metrics
        msg_type = alert.msg_type.value
        outcome = "accepted" if created else "duplicate"
        m.ingest_duration.labels(outcome).observe(time.perf_counter() - started)
        if created:
            m.alerts_accepted.labels(m.profile(profile), m.msg_type(msg_type)).inc()
            for row in plan:
                m.deliveries_planned.labels(m.route(row.route), m.channel(row.channel)).inc()
            event = _NEW_EVENTS.get(msg_type, "alert_accepted")
        else:
            m.alerts_duplicate.inc()
            event = "alert_duplicate"
        audit.info(event, audit=True, authority=authority, sender=alert.sender,
                   identifier=alert.identifier, msg_type=msg_type, status=alert.status.value,
                   profile=profile, channels=[row.channel for row in plan])

    def rejected(self, started: float, status: int, code: str, authority: str | None,
                 findings: int = 0) -> None:
        reason = REJECTIONS.get(status, FailureReason.INTERNAL)
        self.metrics.ingest_duration.labels("rejected").observe(time.perf_counter() - started)
        self.metrics.alerts_rejected.labels(reason.value, str(status) if status in REJECTIONS
                                            else "500").inc()
        audit.info("alert_rejected", audit=True, authority=authority, status=status,
                   code=code, reason=reason.value, findings=findings)

    @staticmethod
    def retry_requested(*, authority: str | None, key: str | None, alert_id: str, channel: str,
                        status: int, code: str | None = None) -> None:
        """One audit line per retry request, re-planned (``code`` None) or refused."""
        event = "delivery_retry_requested" if code is None else "delivery_retry_refused"
        audit.info(event, audit=True, authority=authority, key=key, alert_id=alert_id,
                   channel=channel, status=status, code=code)
