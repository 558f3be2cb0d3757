"""Sending one encrypted message to one subscription, and what its answer means.

Stage: channel adapter. RFC 8030 §5 and §8 answers, per subscription:

- 201 (also 200, 202): the push service took it -> ``SENT``;
- 404, 410: the subscription is gone (uninstalled, expired) -> ``GONE``, deleted;
- 408, 425, 429, 5xx, a timeout, a refused connection -> ``UNSENT``: offered again
  when the delivery is retried;
- a redirect (3xx): never followed (``channels.http_client``: following one would
  hand the encrypted alert to a host nobody allow-listed) -> ``FAILED``, ``rejected``;
- any other 4xx (400 bad headers, 401/403 VAPID refused, 413 too large) ->
  ``FAILED``, ``rejected``: retrying the same request cannot help.

A subscription that cannot be encrypted to or addressed at all (a ``p256dh`` that is
not a point on P-256, an endpoint with ``user:password@``: rows stored before the
subscription route checked them) is ``FAILED``, ``invalid_input``, before anything is
sent; it ends that recipient only, never the delivery (``PushResult``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from channels.eudi_wallet.webpush import Subscription, VapidSigner, encrypt
from channels.http_client import RedirectRefusedError
from router.channel import FailureReason, RecipientOutcome


@dataclass(frozen=True)
class PushHeaders:
    ttl: int
    urgency: str
    topic: str


@dataclass(frozen=True)
class PushResult:
    """One subscription's outcome and, when it ended badly, why."""

    outcome: RecipientOutcome
    reason: FailureReason | None = None


def outcome_of(status: int) -> RecipientOutcome:
    if 200 <= status < 300:
        return RecipientOutcome.SENT
    if status in {404, 410}:
        return RecipientOutcome.GONE
    if status in {408, 425, 429} or status >= 500:
        return RecipientOutcome.UNSENT
    return RecipientOutcome.FAILED


def result_of(status: int) -> PushResult:
    outcome = outcome_of(status)
    return PushResult(outcome, FailureReason.REJECTED if outcome is RecipientOutcome.FAILED
                      else None)


async def push(session: aiohttp.ClientSession, vapid: VapidSigner, subscription: Subscription,
               payload: bytes, headers: PushHeaders) -> PushResult:
    body = encrypt(payload, subscription)
    request_headers = {
        "TTL": str(headers.ttl), "Urgency": headers.urgency, "Topic": headers.topic,
        "Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
        "Authorization": vapid.header(subscription.origin),
    }
    try:
        async with session.post(subscription.endpoint, data=body,
                                headers=request_headers) as response:
            await response.read()
            return result_of(response.status)
    except RedirectRefusedError:
        return PushResult(RecipientOutcome.FAILED, FailureReason.REJECTED)
    except (aiohttp.ClientError, TimeoutError):
        return PushResult(RecipientOutcome.UNSENT)
