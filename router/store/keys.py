"""API keys kept in the store (``tocsin keys new --authority``): hashes only.

Stage: the store layer. Keys live in the store rather than the settings file so that
a key made or revoked while the service runs takes effect at once: the service looks
a store key up on every request (an indexed read, beside the writer in WAL mode), so
a revoked key is refused on its next request. Keys in the settings file still work;
they change with a restart.
"""

from __future__ import annotations

from datetime import datetime

from router.store.records import StoredKey
from router.store.sql import Connection, Row


def add(conn: Connection, key: StoredKey) -> None:
    conn.execute("INSERT INTO api_keys (id, authority, name, roles, key_hash, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (key.id, key.authority, key.name, ",".join(key.roles), key.key_hash,
                  key.created_at.isoformat(timespec="seconds")))


def revoke(conn: Connection, key_id: str, now: datetime) -> bool:
    """True when the key existed and was live; a revoked key stays listed."""
    return conn.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        (now.isoformat(timespec="seconds"), key_id)).rowcount == 1


def _key(row: Row) -> StoredKey:
    return StoredKey(id=row["id"], authority=row["authority"], name=row["name"],
                     roles=tuple(r for r in row["roles"].split(",") if r),
                     key_hash=row["key_hash"],
                     created_at=datetime.fromisoformat(row["created_at"]),
                     revoked_at=datetime.fromisoformat(row["revoked_at"])
                     if row["revoked_at"] else None)


def by_hash(conn: Connection, key_hash: str) -> StoredKey | None:
    row = conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
    return None if row is None else _key(row)


def every(conn: Connection) -> list[StoredKey]:
    return [_key(row) for row in conn.execute("SELECT * FROM api_keys ORDER BY created_at, id")]
