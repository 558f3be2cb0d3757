"""``ChannelState`` on the SQLite database of a ``SqliteStore`` (table ``channel_state``).

Stage: channel state. Every change is one job on the store's single writer: the
version check and the write are one statement inside a committed transaction, so two
writers naming the same version cannot both win, and a caller told "written" has it
on disk (``synchronous=FULL``) before it makes the network call the entry announces.
"""

from __future__ import annotations

from datetime import UTC, datetime

from router.channel import StateEntry
from router.store.sql import Connection, Row
from router.store.sqlite import SqlStore


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _entry(row: Row | None) -> StateEntry | None:
    return None if row is None else StateEntry(row["key"], bytes(row["value"]), row["version"])


class SqlChannelState:
    """The state area of one channel instance."""

    def __init__(self, database: SqlStore, channel: str) -> None:
        self._db, self.channel = database, channel

    async def get(self, key: str) -> StateEntry | None:
        return await self._db.run_read(lambda conn: _entry(conn.execute(
            "SELECT key, value, version FROM channel_state WHERE channel = ? AND key = ?",
            (self.channel, key)).fetchone()))

    async def compare_and_set(self, key: str, value: bytes,
                              expected_version: int | None) -> StateEntry | None:
        def write(conn: Connection) -> StateEntry | None:
            if expected_version is None:
                row = conn.execute(
                    "INSERT INTO channel_state VALUES (?, ?, ?, 1, ?) ON CONFLICT DO NOTHING"
                    " RETURNING key, value, version",
                    (self.channel, key, value, _now())).fetchone()
            else:
                row = conn.execute(
                    "UPDATE channel_state SET value = ?, version = version + 1, updated_at = ?"
                    " WHERE channel = ? AND key = ? AND version = ?"
                    " RETURNING key, value, version",
                    (value, _now(), self.channel, key, expected_version)).fetchone()
            return _entry(row)
        return await self._db.run_write(write)

    async def scan(self, prefix: str) -> list[StateEntry]:
        def read(conn: Connection) -> list[StateEntry]:
            rows = conn.execute(
                "SELECT key, value, version FROM channel_state WHERE channel = ?"
                " AND substr(key, 1, ?) = ? ORDER BY key",
                (self.channel, len(prefix), prefix)).fetchall()
            return [StateEntry(r["key"], bytes(r["value"]), r["version"]) for r in rows]
        return await self._db.run_read(read)

    async def delete(self, key: str, expected_version: int) -> bool:
        def write(conn: Connection) -> bool:
            return conn.execute(
                "DELETE FROM channel_state WHERE channel = ? AND key = ? AND version = ?",
                (self.channel, key, expected_version)).rowcount > 0
        return await self._db.run_write(write)


class SqlChannelStateStore:
    """Hands out one ``SqlChannelState`` per channel instance name."""

    def __init__(self, database: SqlStore) -> None:
        self._db = database

    def for_channel(self, channel: str) -> SqlChannelState:
        return SqlChannelState(self._db, channel)


SqliteChannelState = SqlChannelState
SqliteChannelStateStore = SqlChannelStateStore
"""The names from before the same SQL served PostgreSQL too."""
