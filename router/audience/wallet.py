"""Wallet push subscriptions and the per-recipient progress of fan-out deliveries.

Stage: the audience layer (SQL over the connections ``router.store.sqlite`` hands in).

A subscription row holds only what sending needs: the push endpoint and its two
keys (RFC 8291), plus the optional country and preferred languages the holder
chose, and the day it was made (for clean-up of stale rows). No identity, no
location, no device identifier; ``tests/unit/test_wallet_store.py`` checks the
columns. Its ``id`` is a random handle returned to the device so that it can
unsubscribe; it names the subscription, not the phone.

``wallet_push_results`` records, per delivery (idempotency key) and subscription,
the outcome of the last push, so a retried or resumed delivery skips everyone
already reached (``router.channel.Audience``).
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from router.audience.records import NewWalletSubscription, SubscriptionSaved
from router.channel import Recipient, RecipientOutcome, RecipientResult
from router.errors import LeaseLostError
from router.store.leases import LEASE_LOST, claim_taken_over
from router.store.sql import Connection, Row

T = TypeVar("T")
WALLET = "wallet"
Runner = Callable[[Callable[[Connection], T]], Awaitable[T]]


def _same_keys(row: Row, new: NewWalletSubscription) -> bool:
    return (str(row["p256dh"]).rstrip("=") == new.p256dh.rstrip("=")
            and str(row["auth"]).rstrip("=") == new.auth.rstrip("="))


def save_subscription(conn: Connection, new: NewWalletSubscription) -> SubscriptionSaved:
    """Insert; the same endpoint with the same keys again is the same subscription (its
    choices updated, its id returned). The same endpoint with *other* keys is refused
    (``id`` None): replacing them would let anyone who learnt an endpoint take it over,
    and handing back the id would let them unsubscribe it. Keys change only with the
    id as proof (``renew_subscription``)."""
    row = conn.execute("SELECT id, p256dh, auth FROM wallet_subscriptions WHERE endpoint = ?",
                       (new.endpoint,)).fetchone()
    languages = ",".join(new.languages) or None
    if row is not None:
        if not _same_keys(row, new):
            return SubscriptionSaved(None, created=False)
        conn.execute("UPDATE wallet_subscriptions SET country = ?, languages = ? WHERE id = ?",
                     (new.country, languages, row["id"]))
        return SubscriptionSaved(row["id"], created=False)
    subscription_id = secrets.token_urlsafe(16)
    conn.execute("INSERT INTO wallet_subscriptions (id, endpoint, p256dh, auth, country, "
                 "languages, created_on) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (subscription_id, new.endpoint, new.p256dh, new.auth, new.country, languages,
                  datetime.now(UTC).date().isoformat()))
    return SubscriptionSaved(subscription_id, created=True)


def renew_subscription(conn: Connection, subscription_id: str,
                       new: NewWalletSubscription) -> bool:
    """New keys and choices for the subscription with this id and endpoint (a browser
    renewing its keys); False when no subscription has both. The id, returned only to
    whoever subscribed, is the proof of the old subscription."""
    return conn.execute(
        "UPDATE wallet_subscriptions SET p256dh = ?, auth = ?, country = ?, languages = ? "
        "WHERE id = ? AND endpoint = ?",
        (new.p256dh, new.auth, new.country, ",".join(new.languages) or None, subscription_id,
         new.endpoint)).rowcount > 0


def delete_subscription(conn: Connection, subscription_id: str) -> bool:
    return conn.execute("DELETE FROM wallet_subscriptions WHERE id = ?",
                        (subscription_id,)).rowcount > 0


def count_subscriptions(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM wallet_subscriptions").fetchone()[0])


def _recipient(row: Row) -> Recipient:
    address = json.dumps({"endpoint": row["endpoint"],
                          "keys": {"p256dh": row["p256dh"], "auth": row["auth"]}})
    first_language = (row["languages"] or "").split(",", 1)[0] or None
    return Recipient(str(row["seq"]), address, first_language)


def wallet_country(kind: str) -> str | None:
    """``wallet`` is every subscription; ``wallet:NL`` those for NL or for no country."""
    _, _, country = kind.partition(":")
    return country or None


def _pending(conn: Connection, key: str, country: str | None, after: int, limit: int
             ) -> list[Recipient]:
    rows = conn.execute(
        "SELECT s.* FROM wallet_subscriptions s WHERE s.seq > ?"
        " AND (CAST(? AS TEXT) IS NULL OR s.country IS NULL OR s.country = ?) AND NOT EXISTS ("
        " SELECT 1 FROM wallet_push_results r WHERE r.delivery_key = ?"
        " AND r.subscription_seq = s.seq AND r.outcome != 'unsent') ORDER BY s.seq LIMIT ?",
        (after, country, country, key, limit)).fetchall()
    return [_recipient(row) for row in rows]


def _alert_state(conn: Connection, alert_id: str) -> str | None:
    row = conn.execute("SELECT state FROM alerts WHERE id = ?", (alert_id,)).fetchone()
    return None if row is None else str(row["state"])


def _record(conn: Connection, key: str, results: Sequence[RecipientResult]) -> None:
    conn.executemany(
        "INSERT INTO wallet_push_results (delivery_key, subscription_seq, outcome, reason)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (delivery_key, subscription_seq)"
        " DO UPDATE SET outcome = excluded.outcome, reason = excluded.reason",
        [(key, int(r.key), r.outcome.value, r.reason.value if r.reason else None)
         for r in results])
    conn.executemany("DELETE FROM wallet_subscriptions WHERE seq = ?",
                     [(int(r.key),) for r in results if r.outcome is RecipientOutcome.GONE])


def _counts(conn: Connection, key: str) -> dict[str, int]:
    rows = conn.execute("SELECT outcome, COUNT(*) AS n FROM wallet_push_results "
                        "WHERE delivery_key = ? GROUP BY outcome", (key,)).fetchall()
    return {str(row["outcome"]): int(row["n"]) for row in rows}


class WalletAudience:
    """``router.channel.Audience`` over ``wallet_subscriptions`` for one delivery.

    Every subscription (of the country) is a recipient: the store knows nothing of
    where phones are, so no area selects among them. ``batches`` walks them in
    ``seq`` order (keyset pages: flat memory at any size), skipping those with an
    outcome other than ``unsent`` for this delivery, and stops early once the alert
    is cancelled or superseded (the Cancel or Update goes to everyone anyway). There
    is no separate claim step: the dispatcher's claim on the delivery already keeps a
    second node from sending it at the same time, and after a crash the subscriptions
    without an outcome are offered again (at least once for those in flight).
    """

    def __init__(self, read: Runner[Any], write: Runner[Any], *, kind: str, delivery_key: str,
                 alert_id: str, fence: int = 0) -> None:
        self._read, self._write = read, write
        self.delivery_key, self.alert_id, self.fence = delivery_key, alert_id, fence
        self.country = wallet_country(kind)
        self._interrupted: str | None = None

    @property
    def interrupted(self) -> str | None:
        return self._interrupted

    async def batches(self, size: int) -> AsyncIterator[Sequence[Recipient]]:
        after = 0
        while True:
            state = await self._read(functools.partial(_alert_state, alert_id=self.alert_id))
            if state is not None and state != "accepted":
                self._interrupted = state
                return
            if await self._read(functools.partial(claim_taken_over, delivery_key=self.delivery_key,
                                                  fence=self.fence)):
                self._interrupted = LEASE_LOST
                return
            batch: list[Recipient] = await self._read(functools.partial(
                _pending, key=self.delivery_key, country=self.country, after=after,
                limit=size))
            if not batch:
                return
            after = int(batch[-1].key)
            yield batch

    async def record(self, results: Sequence[RecipientResult]) -> None:
        def write(conn: Connection) -> None:
            if claim_taken_over(conn, self.delivery_key, self.fence):
                raise LeaseLostError(f"{self.delivery_key}: taken over by another node; "
                                     f"{len(results)} wallet results not recorded")
            _record(conn, self.delivery_key, results)
        if results:
            await self._write(write)

    async def settle(self, results: Sequence[RecipientResult]) -> None:
        """Web Push has no delivery receipts; a late result is stored like any other."""
        await self.record(results)

    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = await self._read(
            functools.partial(_counts, key=self.delivery_key))
        return counts
