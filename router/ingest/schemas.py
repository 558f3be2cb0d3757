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


class DeliveryOut(_Out):
    channel: str
    state: str
    attempts: int
    route: str
    fallback_for: str | None
    idempotency_key: str
    deadline: datetime | None
    updated_at: datetime


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
