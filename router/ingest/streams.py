"""How many live event streams one API key may hold open at once.

Stage: ingest (HTTP). Each ``GET /api/v1/alerts/{id}/events`` holds a socket (a
file descriptor) and a task for as long as deliveries are open, which can be
hours. Without a bound, one key (a leaked one, or a client reconnecting in a
loop without closing) could hold hundreds and run the process out of
descriptors, starving the submission of warnings. So each key may hold at most
``max_event_streams_per_key`` (setting; default 16: a console watching a
handful of alerts, plus ``tocsin send --wait`` runs) and the next one is 429
``sse.too-many-streams`` with ``Retry-After``. Closing a stream frees its slot
within about a second (the stream notices the closed connection on its next tick).

The principal is the API key itself (its SHA-256, as ``Authenticator`` looks it
up, so the scheme's case and blanks around the key do not make another one):
two keys of one authority have a slot count each, as two consoles would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from router.http.problems import ProblemError
from router.settings import hash_api_key

RETRY_AFTER_S = 5


def principal_of(authorization: str | None) -> str:
    """The key the request authenticated with, as its hash (the header was checked)."""
    _scheme, _, key = (authorization or "").strip().partition(" ")
    return hash_api_key(key.strip())


class StreamSlots:
    """Open streams per principal, in this process."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def open_for(self, principal: str) -> int:
        return self._open.get(principal, 0)

    @contextmanager
    def hold(self, principal: str, limit: int) -> Iterator[None]:
        """One slot for the body of the ``with``, or 429 when the principal has none left."""
        held = self._open.get(principal, 0)
        if held >= limit:
            raise ProblemError(
                429, "sse.too-many-streams", "Too many event streams",
                f"this API key already holds {held} open event streams, the limit "
                f"(setting max_event_streams_per_key); close one, or follow several "
                "alerts through GET /api/v1/alerts",
                headers={"Retry-After": str(RETRY_AFTER_S)})
        self._open[principal] = held + 1
        try:
            yield
        finally:
            remaining = self._open[principal] - 1
            if remaining:
                self._open[principal] = remaining
            else:
                del self._open[principal]
