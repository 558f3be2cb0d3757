"""Sending one encrypted message to one subscription, and what its answer means.

Stage: channel adapter. RFC 8030 §5 and §8 answers, per subscription:

- 201 (also 200, 202): the push service took it -> ``SENT``;
- 404, 410: the subscription is gone (uninstalled, expired) -> ``GONE``, deleted;
- 408, 425, 429, 5xx, a timeout, a refused connection -> ``UNSENT``: offered again
  when the delivery is retried;
- any other 4xx (400 bad headers, 401/403 VAPID refused, 413 too large) ->
  ``FAILED``: retrying the same request cannot help.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from channels.eudi_wallet.webpush import Subscription, VapidSigner, encrypt
from router.channel import RecipientOutcome


@dataclass(frozen=True)
class PushHeaders:
    ttl: int
    urgency: str
    topic: str


def outcome_of(status: int) -> RecipientOutcome:
    if 200 <= status < 300:
        return RecipientOutcome.SENT
    if status in {404, 410}:
        return RecipientOutcome.GONE
    if status in {408, 425, 429} or status >= 500:
        return RecipientOutcome.UNSENT
    return RecipientOutcome.FAILED


async def push(session: aiohttp.ClientSession, vapid: VapidSigner, subscription: Subscription,
               payload: bytes, headers: PushHeaders) -> RecipientOutcome:
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
            return outcome_of(response.status)
    except (aiohttp.ClientError, TimeoutError):
        return RecipientOutcome.UNSENT
