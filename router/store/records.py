"""What the store takes in and gives back: plain frozen records, no SQL, no HTTP.

Stage: the store layer. Depends only on the CAP core (for findings and the model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from router.audit.chain import Principal
from router.cap import Alert, Finding
from router.planning import PlannedDelivery as PlannedDelivery  # noqa: PLC0414  (re-exported)
from router.planning import delivery_deadline


class AlertState(StrEnum):
    """Where an alert stands. Delivery progress lives on each delivery, not here."""

    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"  # an Update referenced it
    CANCELLED = "cancelled"  # a Cancel referenced it
    PENDING_APPROVAL = "pending_approval"  # stored, nothing planned: waits for a second person
    REJECTED = "rejected"  # the second person refused it; never delivered
    EXPIRED_UNAPPROVED = "expired_unapproved"  # nobody approved it within the window
    HELD_UNKNOWN_REFERENCE = "held_unknown_reference"  # an Update/Cancel of nothing known:
    # stored, nothing planned or applied (router.store.unknown_references)


class DeliveryState(StrEnum):
    PENDING = "pending"  # due for the dispatcher
    WAITING = "waiting_for_channel"  # the channel's breaker is open: due again when it
    # lets a trial through (or at once when it closes); nothing is sent meanwhile
    STANDBY = "standby"  # a fallback, used only if its primary fails
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # an Update replaced the alert before it went out
    CANCELLED = "cancelled"  # a Cancel arrived before it went out
    SKIPPED = "skipped"  # a standby fallback that was never needed


OPEN_DELIVERY_STATES = (DeliveryState.PENDING, DeliveryState.STANDBY, DeliveryState.WAITING)
"""Not sent and not being sent: what an Update or Cancel closes."""
DUE_DELIVERY_STATES = (DeliveryState.PENDING, DeliveryState.WAITING)
"""What the dispatcher claims once ``next_attempt_at`` has come."""


class AcceptOutcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"  # same CAP key, same content: the original result
    CONFLICT = "conflict"  # same CAP key, different content


@dataclass(frozen=True)
class HoldForApproval:
    """An accepted alert that must wait for a second principal (``pending_approval``)."""

    reason: str  # the approval rule it matched
    submitted_by: str  # the submitting principal's id
    expires_at: datetime  # unapproved after this: expired_unapproved


@dataclass(frozen=True)
class NewAlert:
    id: str
    alert: Alert
    raw: bytes
    content_hash: str
    profile: str
    authority: str
    received_at: datetime
    findings: list[Finding]
    plan: list[PlannedDelivery]
    source_version: str = "1.2"
    variants: str | None = None  # the rendered variants (router.render JSON), stored with it
    speech_pending: bool = False  # spoken variants are to be made after acceptance
    signature: dict[str, str | None] | None = None  # the XML-DSig verdict (router.trust JSON)
    principal: Principal | None = None  # who submitted it (the audit trail); None: authority
    hold: HoldForApproval | None = None  # set: stored pending_approval, nothing planned
    reference_authorities: frozenset[str] | None = None
    """The authorities whose alerts this one may reference (Update, Cancel, Ack, Error);
    None: any. Checked again inside the transaction that applies the references."""
    forward_unknown_references: bool = False
    """The sender's policy forwards an Update or Cancel whose references name nothing in
    this store (it may have been announced through another system); False: held."""
    deadline: datetime | None = field(default=None)
    """After it no delivery of this alert is attempted. Set by the planning rule
    (``router.planning.delivery_deadline``) when the record is made; the store
    persists it as given."""

    envelope: bytes | None = None
    """The EDXL-DE distribution the alert was unwrapped from (a feed), kept as received."""

    def __post_init__(self) -> None:
        if self.deadline is None:
            object.__setattr__(self, "deadline", delivery_deadline(self.alert))


@dataclass(frozen=True)
class AcceptResult:
    outcome: AcceptOutcome
    alert_id: str
    warnings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryRecord:
    channel: str
    state: DeliveryState
    attempts: int
    route: str
    fallback_for: str | None
    idempotency_key: str
    deadline: datetime | None
    updated_at: datetime
    replaced: str | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    history: tuple[AttemptRecord, ...] = ()
    retry_requested_by: Requester | None = None  # who last re-planned it, if anyone
    retry_requested_at: datetime | None = None


@dataclass(frozen=True)
class ReferenceRecord:
    sender: str
    identifier: str
    sent: datetime
    alert_id: str | None  # None when the referenced alert is not in this store


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    started_at: datetime
    ended_at: datetime
    outcome: str
    reason: str | None
    error: str | None


@dataclass(frozen=True)
class ClaimedDelivery:
    """A due delivery the dispatcher now owns (state ``sending``)."""

    alert_id: str
    channel: str
    idempotency_key: str
    attempts: int
    deadline: datetime | None
    raw: bytes
    replaces: PriorDelivery | None = None
    received_at: datetime | None = None  # when the store accepted the alert
    variants: str | None = None  # the rendered variants stored with the alert (JSON)
    speech_state: str | None = None  # of those variants: pending | done | failed | off
    retry_base: int = 0  # attempts made before the last re-plan: its back-off starts anew
    retry_requested_at: datetime | None = None  # when it was last re-planned on request
    last_reason: str | None = None  # of its last recorded attempt (a FailureReason value)
    last_error: str | None = None  # and that attempt's message
    fence: int = 0  # the claim's fencing token: an outcome recorded with an older one is refused


@dataclass(frozen=True)
class PriorDelivery:
    """What an Update or Cancel refers to on the same channel: the earlier alert's
    delivery there and the receipt its network gave (to update or withdraw it)."""

    alert_id: str
    idempotency_key: str
    receipt: dict[str, object]


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to, and what the delivery becomes."""

    alert_id: str
    channel: str
    number: int
    started_at: datetime
    ended_at: datetime
    outcome: str
    next_state: DeliveryState
    reason: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    receipt: dict[str, object] | None = None
    fence: int | None = None  # the claim's token (``ClaimedDelivery.fence``); None: unchecked


@dataclass(frozen=True)
class AlertRecord:
    id: str
    seq: int
    sender: str
    identifier: str
    sent: datetime
    status: str
    msg_type: str
    state: AlertState
    profile: str
    authority: str
    source_version: str
    received_at: datetime
    findings: list[Finding]
    references: list[ReferenceRecord]
    superseded_by: str | None
    cancelled_by: str | None
    deliveries: list[DeliveryRecord]
    signature: dict[str, str | None] | None = None
    approval: ApprovalRecord | None = None


@dataclass(frozen=True)
class ApprovalRecord:
    """The four-eyes record of an alert that needed approval."""

    reason: str
    submitted_by: str
    submitted_at: datetime
    expires_at: datetime
    decision: str | None = None  # approved | rejected | expired
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None


class DecisionOutcome(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    NOT_PENDING = "not_pending"  # decided before, cancelled, or never needed approval
    EXPIRED = "expired"  # the window closed (the alert is now expired_unapproved)
    SAME_PERSON = "same_person"


@dataclass(frozen=True)
class ReferencedAlert:
    """An alert named in ``<references>`` that is in this store."""

    position: int
    alert_id: str
    authority: str
    approved: bool  # it went through four-eyes approval


@dataclass(frozen=True)
class StoredKey:
    """An API key made with ``tocsin keys new --authority`` (its hash only)."""

    id: str
    authority: str
    name: str
    roles: tuple[str, ...]
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class AlertPage:
    items: list[AlertRecord]
    next_cursor: str | None
    total: int
    """Alerts matching the filters over every page (the cursor left aside), so that an
    operator's tooling knows how many there are without paging through them."""


@dataclass(frozen=True)
class AssetRecord:
    """A file made for an alert (spoken audio), referenced like a CAP ``<resource>``."""

    alert_id: str
    name: str
    kind: str
    language: str
    mime_type: str
    size: int
    sha256: str
    duration_s: float | None
    detail: dict[str, object]
    created_at: datetime
    expires_at: datetime | None = None
    """The alert's latest ``<expires>``: the file is deleted once the retention period
    (``asset_retention_days``) has passed after it; None keeps it (never expires)."""


@dataclass(frozen=True)
class SpeechBacklog:
    """Accepted alerts whose spoken variants are still to be made (``speech_state =
    pending``), and when the oldest of them was accepted."""

    pending: int
    oldest_accepted: datetime | None

    def oldest_age_s(self, now: datetime) -> float:
        """Seconds the oldest waiting alert has waited; 0 when none waits."""
        if self.oldest_accepted is None:
            return 0.0
        return max(0.0, (now - self.oldest_accepted).total_seconds())


@dataclass(frozen=True)
class StoredVariants:
    variants: str  # router.render JSON
    speech_state: str  # pending | done | failed | off


@dataclass(frozen=True)
class SpeechJob:
    """An accepted alert whose spoken variants are still to be made."""

    alert_id: str
    variants: str


@dataclass(frozen=True)
class Requester:
    """Who asked for a retry: the authority and which of its API keys (``sha256:`` and the first
    hex digits of the key's hash: names the key, cannot be used as one)."""

    authority: str
    key: str


class ReplanOutcome(StrEnum):
    REPLANNED = "replanned"
    NO_ALERT = "no_alert"
    NO_DELIVERY = "no_delivery"  # the alert has no delivery on that channel
    NOT_IN_FORCE = "not_in_force"  # cancelled or superseded
    NOT_RETRYABLE = "not_retryable"  # not failed or expired (delivered, still open, ...)
    EXPIRED = "expired"  # past its <expires>: a retry could not be sent


@dataclass(frozen=True)
class ReplanResult:
    outcome: ReplanOutcome
    state: str | None = None  # the alert's lifecycle state or the delivery's state found
