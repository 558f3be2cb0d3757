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
    its fallbacks still take over."""

    def __init__(self, message: str) -> None:
        super().__init__(message, FailureReason.NOT_APPLICABLE)
