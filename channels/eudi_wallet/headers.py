"""The RFC 8030 delivery headers of a wallet push: ``TTL``, ``Urgency`` and ``Topic``.

Stage: channel adapter (pure). The rules:

- ``TTL``: seconds until the alert's latest ``<expires>`` (the push service keeps
  the message for an offline phone that long, and no longer), capped at the
  configured maximum; an alert with an info that never expires gets the cap. An
  alert already expired gets 0, and the channel does not send it.
- ``Urgency``: ``high`` when an info is Extreme or Severe *and* Immediate or
  Expected (the same test the EU-Alert "life-threatening" routes use), so a
  phone in power-saving mode is woken; ``normal`` otherwise. A Cancel or Update
  without infos keeps its predecessor's urgency.
- ``Topic``: a short hash of the CAP key of the first alert in the references
  chain. Every Update and Cancel of an incident carries the Topic of the
  original, so a push service replaces a still-undelivered predecessor instead
  of queuing both (RFC 8030 §5.4). 32 characters of base64url: the most the RFC
  allows, 192 bits of the hash.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from router.channel import Alert

_SEVERE = {"Extreme", "Severe"}
_SOON = {"Immediate", "Expected"}
TOPIC_LENGTH = 32


def ttl_seconds(alert: Alert, now: datetime, maximum: int) -> int:
    """Seconds the push service should keep the message; 0 means do not send."""
    expiries = [info.expires for info in alert.infos]
    if not expiries or any(value is None for value in expiries):
        return maximum
    latest = max(value for value in expiries if value is not None)
    left = int((latest - now.astimezone(UTC)).total_seconds())
    return max(0, min(left, maximum))


def urgency(alert: Alert, inherited: str | None = None) -> str:
    if not alert.infos and inherited in {"high", "normal"}:
        return inherited
    life_threatening = any(info.severity.value in _SEVERE and info.urgency.value in _SOON
                           for info in alert.infos)
    return "high" if life_threatening else "normal"


def cap_key_text(sender: str, identifier: str, sent: datetime) -> str:
    """A CAP key as one string, ``sent`` in UTC so that offsets do not change it."""
    return f"{sender},{identifier},{sent.astimezone(UTC).isoformat(timespec='seconds')}"


def topic_for(key_text: str) -> str:
    digest = hashlib.sha256(key_text.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:TOPIC_LENGTH]


def origin_key(alert: Alert) -> str:
    """The CAP key of the first alert in the references chain: the earliest-sent
    reference (positions break ties), or the alert itself when it has none."""
    references = alert.references or ()
    if not references:
        return cap_key_text(alert.sender, alert.identifier, alert.sent)
    first = min(enumerate(references), key=lambda pair: (pair[1].sent.astimezone(UTC),
                                                         pair[0]))[1]
    return cap_key_text(first.sender, first.identifier, first.sent)


def topic(alert: Alert, inherited: str | None = None) -> str:
    """The Topic for ``alert``; an Update or Cancel prefers its predecessor's stored
    Topic, which covers chains whose references no longer list the original."""
    if inherited and alert.references:
        return inherited
    return topic_for(origin_key(alert))
