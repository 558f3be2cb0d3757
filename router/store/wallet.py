"""Wallet push subscriptions and the per-recipient progress of fan-out deliveries.

Stage: the store layer (SQL over the connections ``router.store.sqlite`` hands in).

A subscription row holds only what sending needs: the push endpoint and its two
keys (RFC 8291), plus the optional country and preferred languages the holder
chose, and the day it was made (for clean-up of stale rows). No identity, no
location, no device identifier; ``tests/unit/test_wallet_store.py`` checks the
columns. Its ``id`` is a random handle returned to the device so that it can
unsubscribe; it names the subscription, not the phone.

``recipient_results`` records, per delivery (idempotency key) and subscription,
the outcome of the last push, so a retried or resumed delivery skips everyone
already reached (``router.channel.Audience``).
"""

from __future__ import annotations

import functools
import json
import secrets
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from router.channel import Recipient, RecipientOutcome, RecipientResult

T = TypeVar("T")
WALLET_AUDIENCE = "eudi_wallet"
Runner = Callable[[Callable[[sqlite3.Connection], T]], Awaitable[T]]


@dataclass(frozen=True)
class NewWalletSubscription:
    endpoint: str
    p256dh: str  # base64url, as the PushSubscription gives it
    auth: str
    country: str | None = None
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubscriptionSaved:
    id: str
    created: bool  # False: the endpoint was subscribed already; its keys were updated


def save_subscription(conn: sqlite3.Connection, new: NewWalletSubscription) -> SubscriptionSaved:
    """Insert, or update the keys and choices of the same endpoint (a browser renews
    its keys under the same endpoint; that is one subscription, not two)."""
    row = conn.execute("SELECT id FROM wallet_subscriptions WHERE endpoint = ?",
                       (new.endpoint,)).fetchone()
    languages = ",".join(new.languages) or None
    if row is not None:
        conn.execute("UPDATE wallet_subscriptions SET p256dh = ?, auth = ?, country = ?, "
                     "languages = ? WHERE id = ?",
                     (new.p256dh, new.auth, new.country, languages, row["id"]))
        return SubscriptionSaved(row["id"], created=False)
    subscription_id = secrets.token_urlsafe(16)
    conn.execute("INSERT INTO wallet_subscriptions (id, endpoint, p256dh, auth, country, "
                 "languages, created_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (subscription_id, new.endpoint, new.p256dh, new.auth, new.country, languages,
                  datetime.now(UTC).date().isoformat()))
    return SubscriptionSaved(subscription_id, created=True)


def delete_subscription(conn: sqlite3.Connection, subscription_id: str) -> bool:
    return conn.execute("DELETE FROM wallet_subscriptions WHERE id = ?",
                        (subscription_id,)).rowcount > 0


def count_subscriptions(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM wallet_subscriptions").fetchone()[0])


def _recipient(row: sqlite3.Row) -> Recipient:
    address = json.dumps({"endpoint": row["endpoint"],
                          "keys": {"p256dh": row["p256dh"], "auth": row["auth"]}})
    attributes = {name: row[name] for name in ("country", "languages") if row[name]}
    return Recipient(row["id"], address, attributes)


def _pending(conn: sqlite3.Connection, key: str, after: int, limit: int
             ) -> list[tuple[int, Recipient]]:
    rows = conn.execute(
        "SELECT s.* FROM wallet_subscriptions s WHERE s.seq > ? AND NOT EXISTS ("
        " SELECT 1 FROM recipient_results r WHERE r.idempotency_key = ?"
        " AND r.recipient_id = s.id AND r.outcome != 'failed') ORDER BY s.seq LIMIT ?",
        (after, key, limit)).fetchall()
    return [(row["seq"], _recipient(row)) for row in rows]


def _record(conn: sqlite3.Connection, key: str, results: Sequence[RecipientResult]) -> None:
    conn.executemany(
        "INSERT INTO recipient_results (idempotency_key, recipient_id, outcome) VALUES (?, ?, ?)"
        " ON CONFLICT (idempotency_key, recipient_id) DO UPDATE SET outcome = excluded.outcome",
        [(key, r.recipient_id, r.outcome.value) for r in results])
    conn.executemany("DELETE FROM wallet_subscriptions WHERE id = ?",
                     [(r.recipient_id,) for r in results
                      if r.outcome is RecipientOutcome.GONE])


def _progress(conn: sqlite3.Connection, key: str) -> dict[RecipientOutcome, int]:
    rows = conn.execute("SELECT outcome, COUNT(*) AS n FROM recipient_results "
                        "WHERE idempotency_key = ? GROUP BY outcome", (key,)).fetchall()
    return {RecipientOutcome(row["outcome"]): int(row["n"]) for row in rows}


class SqliteAudience:
    """``router.channel.Audience`` over ``wallet_subscriptions`` for one delivery."""

    def __init__(self, key: str, read: Runner[Any], write: Runner[Any]) -> None:
        self.key = key
        self._read = read
        self._write = write

    async def pending(self, batch_size: int) -> AsyncIterator[Sequence[Recipient]]:
        after = 0
        while True:
            rows: list[tuple[int, Recipient]] = await self._read(
                functools.partial(_pending, key=self.key, after=after, limit=batch_size))
            if not rows:
                return
            after = rows[-1][0]
            yield [recipient for _seq, recipient in rows]

    async def record(self, results: Sequence[RecipientResult]) -> None:
        if results:
            await self._write(lambda conn: _record(conn, self.key, results))

    async def progress(self) -> Mapping[RecipientOutcome, int]:
        counts: dict[RecipientOutcome, int] = await self._read(
            lambda conn: _progress(conn, self.key))
        return counts

