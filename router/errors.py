"""The exception tree shared by the service and the channel adapters.

Stage: a leaf module (imports nothing from Tocsin), importable from anywhere,
including ``channels/``. Every failure Tocsin raises deliberately is one of
these, so callers decide by type, not by message:

- ``TransientError``: worth retrying (a timeout, a busy peer, a full queue).
- ``PermanentError``: retrying cannot help (a refused message, bad configuration).

Each carries a ``FailureReason`` from a closed set, which is what metrics,
logs and the status API report (free text goes in the message).
"""

from __future__ import annotations

from enum import StrEnum


class FailureReason(StrEnum):
    """Why something failed, as a closed set of machine-readable values."""

    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    OVERLOADED = "overloaded"
    REJECTED = "rejected"
    INVALID_INPUT = "invalid_input"
    UNAUTHORISED = "unauthorised"
    CONFLICT = "conflict"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    CONFIGURATION = "configuration"
    STORAGE = "storage"
    INTERNAL = "internal"
    TOO_LONG = "too_long"  # the text cannot be made to fit the channel's budget
    NOT_APPLICABLE = "not_applicable"  # the channel does not carry this kind of alert
    IDENTIFIER_POOL_EXHAUSTED = "identifier_pool_exhausted"  # every identifier of the class is busy
    SCOPE = "scope"  # a Private or Restricted alert and a public channel: never sent


class TocsinError(Exception):
    """Base of every deliberate Tocsin failure."""

    transient = False

    def __init__(self, message: str, reason: FailureReason = FailureReason.INTERNAL) -> None:
        super().__init__(message)
        self.reason = reason


class TransientError(TocsinError):
    """Retrying later may succeed."""

    transient = True


class PermanentError(TocsinError):
    """Retrying cannot succeed; give up (and maybe fall back)."""


class ChannelBusyError(TransientError):
    """The channel is up and answering but cannot take this message now (every
    cell-broadcast identifier of the alert's class holds another live alert).

    "Busy" is not an outage: the dispatcher does not count it against the
    channel's breaker and does not wake the route's fallbacks (the satellite is
    for terrestrial failure, not for a full identifier pool). The delivery is
    retried on its usual schedule until its deadline and then ends ``failed``
    with this reason; the message says which identifiers hold which alerts."""

    def __init__(self, message: str,
                 reason: FailureReason = FailureReason.IDENTIFIER_POOL_EXHAUSTED) -> None:
        super().__init__(message, reason)


class LeaseLostError(TocsinError):
    """This node's claim on a delivery was taken over (its lease expired and another node
    claimed it with a newer fencing token): nothing this node does for it is recorded."""


class StoreUnavailableError(TransientError):
    """The store cannot take writes right now (disk full, closed, shutting down)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, FailureReason.STORAGE)


class ConfigurationError(PermanentError):
    """Configuration that cannot work; raised at start-up with every problem listed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems), FailureReason.CONFIGURATION)
        self.problems = problems


class NotApplicableError(PermanentError):
    """The channel does not carry this alert by design (an unmapped hazard, a severity
    below its threshold). The delivery ends ``skipped`` with the reason, not ``failed``;
    its fallbacks still take over. ``SCOPE``: a confidential alert on a public channel."""

    def __init__(self, message: str,
                 reason: FailureReason = FailureReason.NOT_APPLICABLE) -> None:
        super().__init__(message, reason)


class ReferenceForbiddenError(PermanentError):
    """An Update, Cancel, Ack or Error names an alert of an authority the poster may not
    reference; raised by the store inside the transaction, so nothing changes."""

    def __init__(self, message: str) -> None:
        super().__init__(message, FailureReason.UNAUTHORISED)
