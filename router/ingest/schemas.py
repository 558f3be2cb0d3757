"""The HTTP API's JSON bodies as pydantic models: responses are built from these and
the OpenAPI document takes its schemas from them, so the two cannot drift apart.

Stage: ingest (HTTP).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from router.cap import Finding


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Accepted(_Out):
    """202 (stored now) or 200 (the identical alert was stored before)."""

    id: str
    status_url: str
    warnings: list[Finding]


class Problem(_Out):
    """RFC 9457 problem details, with Tocsin's ``code`` and the CAP ``findings``."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    findings: list[Finding] = Field(default_factory=list)
    request_id: str | None = None
    existing_id: str | None = None


class CapKey(_Out):
    sender: str
    identifier: str
    sent: datetime


class ReferenceOut(_Out):
    sender: str
    identifier: str
    sent: datetime
    alert_id: str | None = Field(description="the referenced alert here, or null if unknown")


class AttemptOut(_Out):
    number: int
    started_at: datetime
    ended_at: datetime
    outcome: str
    reason: str | None
    error: str | None


class DeliveryOut(_Out):
    channel: str
    state: str = Field(description="pending, standby, sending, delivered, failed, expired, "
                                   "superseded, cancelled or skipped")
    attempts: int
    route: str
    fallback_for: str | None = Field(description="a standby fallback: the channel it backs up")
    replaced: str | None = Field(description="a fallback that was used: the channel it replaced")
    idempotency_key: str
    deadline: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None
    updated_at: datetime
    history: list[AttemptOut]
    recipients: dict[str, int] | None = Field(
        default=None, description="subscriber channels (SMS): recipients per outcome -- "
        "claimed (being sent), sent (accepted, no receipt yet), delivered, failed, expired -- "
        "and accepted (all the network took)")


class AlertOut(_Out):
    id: str
    state: str
    key: CapKey
    status: str
    msg_type: str
    profile: str
    authority: str
    source_version: str
    received_at: datetime
    findings: list[Finding]
    references: list[ReferenceOut]
    superseded_by: str | None
    cancelled_by: str | None
    deliveries: list[DeliveryOut]
    cap_url: str


class AlertList(_Out):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class Health(_Out):
    status: str
    checks: dict[str, bool] = Field(default_factory=dict)
