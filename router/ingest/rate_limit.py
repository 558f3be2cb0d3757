"""Token buckets keyed by who is asking: the one rate limiter both throttles share.

Stage: ingest, a leaf (standard library only). ``router.ingest.throttle`` keys one
``RateLimiter`` by principal (writes) and another by client address (the public
wallet subscription routes).

A bucket holds at most ``burst`` tokens and refills at ``per_s``; a request takes
one token or waits until one has refilled, so over any interval of ``t`` seconds a
key gets at most ``burst + per_s * t`` requests through (``tests/unit/
test_rate_limit.py`` checks that property). ``per_s == 0`` switches limiting off.

Memory is bounded: at most ``max_keys`` buckets are kept, the least recently used
dropped first. A dropped bucket comes back full; only a caller holding more than
``max_keys`` distinct keys at once gains from that, and it gains the same burst per
key it would have had anyway.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    tokens: float
    stamp: float

    def take(self, now: float, per_s: float, burst: float) -> float:
        """0.0 when a token was taken; else the seconds until one is available."""
        self.tokens = min(burst, self.tokens + (now - self.stamp) * per_s)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / per_s


class RateLimiter:
    def __init__(self, per_s: float, burst: int, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s, self.burst, self.max_keys = per_s, burst, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.per_s > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def wait_s(self, key: str) -> float:
        """0.0: go ahead (a token was taken); else how long ``key`` must wait."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(float(self.burst), now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now, self.per_s, self.burst)


def retry_after(wait_s: float) -> str:
    """A ``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_s)))
