"""The delivery backlog: what the store still has to send, per channel, in one read.

Stage: the store layer. ``/metrics`` used to show only the deliveries a node had
claimed and queued in memory; the thousands still pending in the store, the real
backlog, were invisible (issue 18). This read counts the deliveries that have not
ended, by channel and state, and gives per channel the acceptance time of the oldest
one still to go out, so the record stage can turn it into gauges and an alerting
rule can compare its age with a latency goal.

One grouped query, in SQL every store runs (``?`` parameters, ``JOIN``, ``GROUP BY``,
``COUNT``, ``MIN``): the PostgreSQL store runs this same function on its connection.
Only the open states are read, through the index on ``deliveries(state, ...)``, so the
cost follows the backlog, never the history of every delivery ever made; the ended
ones are counted as they end (``tocsin_deliveries_total``).

The age is measured from the alert's acceptance (``alerts.received_at``), not from the
delivery's ``updated_at``: ``updated_at`` moves at every attempt and every breaker
cool-down, so a delivery retried for an hour would look a few seconds old. From
acceptance is what the public waits and what ``accepted_to_confirmed`` measures for
the deliveries that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from router.store.records import DeliveryState

BACKLOG_STATES = (DeliveryState.PENDING, DeliveryState.WAITING, DeliveryState.SENDING,
                  DeliveryState.STANDBY)
"""Every state a delivery has not ended in: these are counted."""
AGED_STATES = frozenset({DeliveryState.PENDING, DeliveryState.WAITING, DeliveryState.SENDING})
"""The ones meant to go out (a standby fallback goes out only if its primary fails):
their oldest gives the channel's backlog age."""

_SQL = (  # one placeholder per BACKLOG_STATES entry
    "SELECT d.channel AS channel, d.state AS state, COUNT(*) AS n,"
    " MIN(a.received_at) AS oldest"
    " FROM deliveries d JOIN alerts a ON a.id = d.alert_id"
    " WHERE d.state IN (?, ?, ?, ?)"
    " GROUP BY d.channel, d.state"
)


class _Connection(Protocol):
    """What the read needs of a DB-API connection (``sqlite3`` or the PostgreSQL adapter)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class ChannelBacklog:
    """One channel's deliveries that have not ended."""

    counts: dict[DeliveryState, int] = field(default_factory=dict)
    oldest_accepted: datetime | None = None
    """When the oldest pending, waiting or sending delivery's alert was accepted."""

    def oldest_age_s(self, now: datetime) -> float:
        """Seconds the oldest delivery still to go out has waited; 0 when none waits."""
        if self.oldest_accepted is None:
            return 0.0
        return max(0.0, (now - self.oldest_accepted).total_seconds())


@dataclass(frozen=True)
class StoreBacklog:
    """The store's open deliveries per channel (channels with none are absent)."""

    channels: dict[str, ChannelBacklog]

    def count(self, channel: str, state: DeliveryState) -> int:
        backlog = self.channels.get(channel)
        return backlog.counts.get(state, 0) if backlog else 0


def _instant(value: str | datetime) -> datetime:
    """A stored instant: UTC ISO text (SQLite), or a datetime if the driver made one."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def read_backlog(conn: _Connection) -> StoreBacklog:
    """The backlog as one grouped query; runs on a read connection."""
    counts: dict[str, dict[DeliveryState, int]] = {}
    oldest: dict[str, datetime] = {}
    for row in conn.execute(_SQL, tuple(s.value for s in BACKLOG_STATES)).fetchall():
        channel, state = str(row["channel"]), DeliveryState(row["state"])
        counts.setdefault(channel, {})[state] = int(row["n"])
        if state in AGED_STATES and row["oldest"] is not None:
            accepted = _instant(row["oldest"])
            if channel not in oldest or accepted < oldest[channel]:
                oldest[channel] = accepted
    return StoreBacklog({channel: ChannelBacklog(by_state, oldest.get(channel))
                         for channel, by_state in counts.items()})
