"""The message ledger: network message id -> recipient, for receipts that come late.

Stage: the audience layer. Implements ``router.channel.MessageLedger`` on SQLite.

Why the store and not the channel's memory: an SMS delivery receipt can come minutes
or hours after the submit -- after ``tocsin serve`` restarted, or, with several nodes,
on another node's SMPP bind. The rows are written in the same transaction as the
recipient's ``sent`` outcome (``SubscriberAudience.record``), so a recipient marked
sent always has its message ids on file. Each row is one message id (one SMS part);
a recipient is ``delivered`` when all of its ids are, ``failed``/``expired`` at the
first id that is not, and its rows are deleted once its outcome is final. Rows whose
receipt never comes stay (one short row per part sent).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from router.channel import RecipientOutcome, RecipientResult
from router.store.sql import Connection

Run = Callable[[Callable[[Connection], Any]], Awaitable[Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def index_messages(conn: Connection, channel: str, delivery_key: str,
                   results: Sequence[RecipientResult]) -> None:
    """File the message ids of every ``SENT`` result (inside the caller's transaction)."""
    now = _now()
    conn.executemany(
        "INSERT INTO recipient_messages VALUES (?, ?, ?, ?, 'sent', ?)"
        " ON CONFLICT (channel, message_id) DO UPDATE SET delivery_key = excluded.delivery_key,"
        " subscriber_id = excluded.subscriber_id, state = excluded.state,"
        " created_at = excluded.created_at",
        [(channel, message_id, delivery_key, int(r.key), now) for r in results
         if r.outcome is RecipientOutcome.SENT and r.reference
         for message_id in r.reference.split()])


def _settle_one(conn: Connection, channel: str, message_id: str,
                outcome: RecipientOutcome) -> bool:
    row = conn.execute("SELECT delivery_key, subscriber_id FROM recipient_messages"
                       " WHERE channel = ? AND message_id = ?", (channel, message_id)).fetchone()
    if row is None:
        return False
    conn.execute("UPDATE recipient_messages SET state = ? WHERE channel = ? AND message_id = ?",
                 (outcome.value, channel, message_id))
    if outcome is RecipientOutcome.DELIVERED and conn.execute(
            "SELECT 1 FROM recipient_messages WHERE delivery_key = ? AND subscriber_id = ?"
            " AND state != 'delivered' LIMIT 1", row).fetchone():
        return True  # other parts still to come
    conn.execute("UPDATE recipient_outcomes SET state = ?, updated_at = ? WHERE delivery_key = ?"
                 " AND subscriber_id = ? AND state IN ('claimed', 'sent')",
                 (outcome.value, _now(), *row))
    conn.execute("DELETE FROM recipient_messages WHERE delivery_key = ? AND subscriber_id = ?",
                 row)
    return True


class SqliteMessageLedger:
    """``MessageLedger`` of one channel instance."""

    def __init__(self, write: Run, channel: str) -> None:
        self._write, self.channel = write, channel

    async def settle_messages(self, receipts: Sequence[tuple[str, RecipientOutcome]]
                              ) -> set[str]:
        def settle(conn: Connection) -> set[str]:
            return {message_id for message_id, outcome in receipts
                    if _settle_one(conn, self.channel, message_id, outcome)}
        if not receipts:
            return set()
        matched: set[str] = await self._write(settle)
        return matched
