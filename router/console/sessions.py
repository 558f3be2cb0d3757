"""Console sign-in sessions: a random cookie token -> the API key it signs in with.

Why in memory: a session is a convenience over an API key the operator holds anyway;
losing sessions on a restart (or on another node behind a load balancer) only means
signing in again, and no API key is ever written to disk or into a cookie. Sessions
end after ``IDLE_S`` without use, and the table is bounded so a flood of sign-ins
cannot grow it without limit (the oldest session is dropped first).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

COOKIE = "tocsin_console"
CSRF_HEADER = "X-CSRF-Token"
IDLE_S = 8 * 3600  # one shift
MAX_SESSIONS = 1000


@dataclass
class Session:
    api_key: str
    csrf: str
    last_used: float

    def csrf_matches(self, presented: str | None) -> bool:
        """Constant-time comparison: a forged or missing token is refused."""
        return presented is not None and hmac.compare_digest(presented, self.csrf)


class Sessions:
    def __init__(self, idle_s: float = IDLE_S, limit: int = MAX_SESSIONS) -> None:
        self._by_token: OrderedDict[str, Session] = OrderedDict()
        self._idle_s = idle_s
        self._limit = limit

    def open(self, api_key: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(api_key, secrets.token_urlsafe(32), time.monotonic())
        self._by_token[token] = session
        while len(self._by_token) > self._limit:
            self._by_token.popitem(last=False)
        return token, session

    def find(self, token: str | None) -> Session | None:
        if not token:
            return None
        session = self._by_token.get(token)
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_used > self._idle_s:
            del self._by_token[token]
            return None
        session.last_used = now
        self._by_token.move_to_end(token)
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._by_token.pop(token, None)
