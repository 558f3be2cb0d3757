"""``tocsin send --wait``: follow an alert's server-sent events until its outcome is
settled, as per-channel progress bars on a terminal, as plain lines otherwise.

Stage: CLI. Reads ``GET /api/v1/alerts/{id}/events`` (``router.ingest.observe``);
when a stream ends without ``done`` (the service restarted or drained) it
reconnects, until the caller's deadline. A pipe or a log file gets one line per
change (``deliveries: webhook=delivered, file=sending``), which scripts can read.
At ``done`` it prints the alert's state with its counts (``alert delivered:
delivered 3, skipped 1``) and one line per channel that did not deliver, with the
reason (``  cell_broadcast failed: identifier_pool_exhausted (4371 holds ...)``).
The server decides when it is settled (``router.store.outcome``): every delivery
final, or a still-retrying channel covered by a fallback that delivered.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

FINAL = frozenset({"delivered", "failed", "expired", "superseded", "cancelled", "skipped",
                   "standby"})
FAILED = frozenset({"failed", "expired"})
NOT_DELIVERED = FAILED | {"pending", "sending", "waiting_for_channel"}


class View(Protocol):
    states: dict[str, str]

    def update(self, delivery: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class PlainView:
    """One line per change of any delivery's state."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self._printed: dict[str, str] = {}

    def update(self, delivery: dict[str, Any]) -> None:
        self.states[delivery["channel"]] = delivery["state"]
        if self.states != self._printed:
            print("deliveries: " + ", ".join(f"{c}={s}" for c, s in self.states.items()),
                  flush=True)
            self._printed = dict(self.states)

    def close(self) -> None:
        return None


class RichView:
    """A bar per channel: full when final, with its state, attempts and last error."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

        self.states: dict[str, str] = {}
        self._progress = Progress(TextColumn("{task.fields[channel]:<16}"), BarColumn(),
                                  TextColumn("{task.fields[state]:<10}"),
                                  TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
        self._tasks: dict[str, Any] = {}
        self._progress.start()

    def update(self, delivery: dict[str, Any]) -> None:
        channel, state = delivery["channel"], delivery["state"]
        self.states[channel] = state
        if channel not in self._tasks:
            self._tasks[channel] = self._progress.add_task(
                channel, total=1, channel=channel, state=state, detail="")
        style = "red" if state in FAILED else "green" if state == "delivered" else ""
        detail = f"attempt {delivery.get('attempts', 0)}"
        if delivery.get("replaced"):
            detail += f", replaces {delivery['replaced']}"
        if delivery.get("last_error") and state not in {"delivered", "skipped"}:
            detail += f": {str(delivery['last_error'])[:60]}"
        self._progress.update(self._tasks[channel], completed=1 if state in FINAL else 0,
                              state=f"[{style}]{state}[/]" if style else state, detail=detail)

    def close(self) -> None:
        self._progress.stop()


async def sse_events(lines: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """``(event, data)`` pairs from a ``text/event-stream`` body (comments skipped)."""
    event, data = "message", list[str]()
    async for raw in lines:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


async def follow(session: Any, events_url: str, auth: str, wait_for: float) -> int:
    """Exit status: 0 the alert was delivered on every channel meant to carry it, 1
    anything else (a channel failed or expired, the alert was cancelled or superseded
    meanwhile, or it was not settled within ``wait_for``)."""
    view: View = RichView() if sys.stdout.isatty() else PlainView()
    deadline = time.monotonic() + wait_for
    seen: dict[str, dict[str, Any]] = {}
    outcome: dict[str, Any] | None = None
    try:
        while outcome is None and time.monotonic() < deadline:
            outcome = await _stream_once(session, events_url, auth, _Tracker(view, seen),
                                         deadline)
    finally:
        view.close()
    if outcome is None:
        print(f"tocsin send: deliveries not finished after {wait_for:.0f} s", file=sys.stderr)
        return 1
    report(outcome, seen)
    return 0 if outcome.get("state") == "delivered" else 1


def report(outcome: dict[str, Any], deliveries: dict[str, dict[str, Any]]) -> None:
    """The alert's state and counts, then every channel that did not deliver and why."""
    counts = outcome.get("counts") or {}
    listed = ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
    print(f"alert {outcome.get('state')}: {listed}", flush=True)
    for channel, delivery in deliveries.items():
        state = delivery.get("state")
        if state not in NOT_DELIVERED:
            continue
        why = delivery.get("reason") or "no reason given"
        error = delivery.get("last_error")
        covered = next((c for c, d in deliveries.items() if d.get("replaced") == channel
                        and d.get("state") == "delivered"), None)
        line = f"  {channel} {state}: {why}" + (f" ({str(error)[:200]})" if error else "")
        print(line + (f"; {covered} delivered in its place" if covered else ""), flush=True)


class _Tracker:
    """Hands each delivery event to the view and keeps the latest of each channel."""

    def __init__(self, view: View, seen: dict[str, dict[str, Any]]) -> None:
        self.view = view
        self.seen = seen

    def update(self, delivery: dict[str, Any]) -> None:
        self.seen[delivery["channel"]] = delivery
        self.view.update(delivery)


async def _stream_once(session: Any, url: str, auth: str, view: _Tracker, deadline: float
                       ) -> dict[str, Any] | None:
    """The ``done`` event's data, or None when the stream ended without one."""
    import aiohttp  # noqa: PLC0415

    remaining = max(0.1, deadline - time.monotonic())
    timeout = aiohttp.ClientTimeout(total=remaining, sock_read=remaining)
    try:
        async with session.get(url, headers={"Authorization": auth, "Accept":
                                             "text/event-stream"}, timeout=timeout) as response:
            response.raise_for_status()
            async for event, data in sse_events(response.content):
                if event == "delivery":
                    view.update(data)
                elif event == "done":
                    return data
    except TimeoutError:
        return None
    return None
