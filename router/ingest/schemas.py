"""The HTTP API's JSON bodies as pydantic models: responses are built from these and
the OpenAPI document takes its schemas from them, so the two cannot drift apart.

Stage: ingest (HTTP).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router.cap import Finding


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Accepted(_Out):
    """202 (stored now) or 200 (the identical alert was stored before)."""

    id: str
    status_url: str
    warnings: list[Finding]


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
    state: str = Field(description="pending, standby, sending, waiting_for_channel, "
                                   "delivered, failed, expired, superseded, cancelled or "
                                   "skipped")
    reason: str | None = Field(default=None, description="the last attempt's failure reason "
                               "(closed set, e.g. unavailable, identifier_pool_exhausted)")
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
    retry_requested_by: PrincipalOut | None = Field(
        default=None, description="who last asked for this delivery to be retried")
    retry_requested_at: datetime | None = None


class PrincipalOut(_Out):
    authority: str
    key: str = Field(description="sha256: and the first 12 hex digits of the key's hash")


class RetryAccepted(_Out):
    """202: the delivery is pending again and the dispatcher has been woken."""

    alert_id: str
    channel: str
    state: str
    status_url: str
    requested_by: PrincipalOut


class SignatureOut(_Out):
    """The XML-DSig verdict stored with the alert (see router.trust.verdict)."""

    state: Literal["verified", "unsigned", "invalid", "untrusted"]
    signer: str | None = Field(default=None, description="signing certificate subject")
    certificate_sha256: str | None = None
    checked_at: datetime = Field(description="when the signature was checked (receipt)")
    mode: Literal["valid-at-sent", "valid-now"]
    judged_at: datetime | None = Field(
        default=None, description="the instant certificates were judged at")
    reason: str | None = Field(default=None, description="the finding code, when not verified")


class ApprovalOut(_Out):
    """Four-eyes approval of an alert that needed it."""

    reason: str = Field(description="the approval rule the alert matched")
    submitted_by: str = Field(description="the submitting principal")
    submitted_at: datetime
    expires_at: datetime = Field(description="expired_unapproved after this")
    decision: str | None = Field(description="approved, rejected, expired, cancelled or "
                                             "superseded; null while pending")
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None = Field(description="why it was rejected")


class DecisionIn(_Out):
    """The body of ``/approve`` (optional) and ``/reject`` (a reason is required)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, min_length=1, max_length=1000)


class AlertOut(_Out):
    id: str
    state: str = Field(description="how its deliveries went: delivering, delivered, "
                       "partially_delivered, failed, expired, skipped, cancelled, "
                       "superseded, pending_approval, rejected or expired_unapproved "
                       "(router.store.outcome)")
    lifecycle: str = Field(description="accepted, superseded, cancelled, pending_approval, "
                           "rejected or expired_unapproved: the stored state (the ?state= "
                           "filter of the list)")
    settled: bool = Field(description="nothing more to wait for: every delivery is final, or "
                          "covered by a fallback that delivered")
    counts: dict[str, int] = Field(description="deliveries per delivery state")
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
    signature: SignatureOut | None = Field(
        default=None, description="the signature verdict; null for alerts stored before "
                                  "signatures were checked")
    approval: ApprovalOut | None = None


class AlertList(_Out):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")
    total: int = Field(description="alerts matching the filters, over every page")


class Health(_Out):
    status: str
    checks: dict[str, bool] = Field(default_factory=dict)


class SlotOut(_Out):
    slot: str = Field(description="source, hazard, impact, where, guidance, time or link")
    text: str


class AssetOut(_Out):
    """A file made for the alert, described like a CAP ``<resource>``."""

    resource_desc: str
    mime_type: str
    size: int
    uri: str
    digest: str | None = Field(description="SHA-1, as CAP 1.2 <digest>")
    sha256: str
    duration_s: float | None
    language: str
    voice: str | None


class LanguageVariantOut(_Out):
    language: str
    origin: str = Field(description="cap: the alert's own <info>; template: the "
                                    "human-verified template library")
    info_index: int | None
    full_text: str
    screen_reader_text: str
    summary: str
    slots: list[SlotOut]
    readability: dict[str, float]
    audio: AssetOut | None = Field(description="spoken summary; null until made")


class FormOut(_Out):
    target: str = Field(description="a configured channel instance or a reference short form")
    kind: str = Field(description="channel or reference")
    language: str = Field(description="the form's language; languages joined with '+' "
                                      "for one message of several (a bilingual NL-Alert)")
    languages: list[str] = Field(default_factory=list)
    alphabet: str | None = Field(default=None, description="GSM-7 or UCS-2, where the "
                                 "channel codes its text itself")
    error: str | None = Field(default=None, description="why the channel cannot send it")
    budget: str
    cost: int
    limit: int | None
    use_percent: float | None
    segments: int | None = Field(description="pages or parts, when the budget counts them")
    fits: bool
    overflow: int
    dropped: list[str]
    text: str
    ellipse: dict[str, Any] | None = Field(default=None, description="the decoded EWSS "
                                           "ellipse: centre, axes, azimuth, outline "
                                           "([lat, lon] ring), areas, over-warning ratio")
    pages: list[str] = Field(default_factory=list, description="each page's text as the "
                             "receiver shows it, where the channel pages (cell broadcast) "
                             "or splits it into parts (SMS)")


class VariantsOut(_Out):
    alert_id: str
    languages: list[str]
    findings: list[Finding]
    variants: list[LanguageVariantOut]
    icon: dict[str, object] | None
    cadence: dict[str, object] | None
    sign_language: list[dict[str, object]]
    speech: str = Field(description="pending, done, failed or off")
    forms: list[FormOut]
