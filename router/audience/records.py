"""What the audience store takes in and gives back: plain frozen records, no SQL.

Stage: the audience layer. Shared by every ``AudienceStore`` implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_AREAS = 16
"""Home areas per subscriber; keeps a keyset page from ending inside one subscriber."""


@dataclass(frozen=True)
class Subscriber:
    """One opt-in address with its home areas (points and/or geocodes)."""

    kind: str
    address: str
    language: str | None = None
    points: tuple[tuple[float, float], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NewWalletSubscription:
    endpoint: str
    p256dh: str  # base64url, as the PushSubscription gives it
    auth: str
    country: str | None = None
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscriptionSaved:
    id: str | None  # None: refused (the endpoint is subscribed with other keys)
    created: bool  # False: the endpoint was subscribed already, with these keys
