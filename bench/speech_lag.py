"""How far speech falls behind during an ingest burst, and how fast it catches up.

Speech is made after the 202, one alert at a time and under ``nice -n 10``
(``router/assets/speech.py``), so under a burst it falls behind on purpose rather than
take the cores from ingest and delivery. ``bench/ingest.py`` calls ``speech_lag`` when
its load on ``tocsin serve --demo`` stops: the alerts still waiting for speech (what
``tocsin_speech_backlog`` shows) and the oldest one's wait, read from the node's
SQLite store directly (read-only, so the figure is exact, not up to one gauge refresh
old), then again after ``window_s``: the difference is the catch-up rate, and the
backlog over that rate the time it would take to reach zero with no new alerts.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SQL = ("SELECT COUNT(*), MIN(a.received_at) FROM alert_variants v"
        " JOIN alerts a ON a.id = v.alert_id WHERE v.speech_state = 'pending'")


@dataclass(frozen=True)
class SpeechLag:
    waiting: int  # alerts waiting for speech when the load stopped
    oldest_s: float  # how long the oldest of them had waited
    spoken_per_s: float  # alerts spoken per second in the window after the load
    waiting_after: int  # still waiting at the end of the window

    @property
    def catch_up_s(self) -> float | None:
        """Seconds to an empty backlog at the measured rate (None: no progress seen)."""
        return self.waiting_after / self.spoken_per_s if self.spoken_per_s > 0 else None


def _read(store: Path) -> tuple[int, float]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as conn:
        count, oldest = conn.execute(_SQL).fetchone()
    age = (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
    return int(count), age


def speech_lag(store: Path, window_s: float) -> SpeechLag:
    waiting, oldest = _read(store)
    started = time.monotonic()
    time.sleep(window_s)
    after, _ = _read(store)
    elapsed = time.monotonic() - started
    return SpeechLag(waiting, oldest, max(waiting - after, 0) / elapsed, after)
