"""A circuit breaker per channel instance: closed -> open after N consecutive
failures -> half-open after a cool-down (one trial) -> closed on success.

Small enough to keep here: the PyPI breakers are either synchronous
(pybreaker) or tied to a retry decorator, while the dispatcher needs to ask
"may I call this channel now, and if not, until when?" before claiming work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    failure_threshold: int = 5
    reset_after_s: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def _now(self) -> float:
        return self.clock()

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self._now() - self.opened_at >= self.reset_after_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go to the channel now? Half-open lets one trial through."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self.trial_in_flight:
            self.trial_in_flight = True
            return True
        return False

    def retry_in(self) -> float:
        """Seconds until the breaker lets a trial through (0 when closed)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_after_s - (self._now() - self.opened_at))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def failure(self) -> None:
        self.failures += 1
        self.trial_in_flight = False
        if self.opened_at is not None or self.failures >= self.failure_threshold:
            self.opened_at = self._now()
