"""Drafts: a compose form an operator saved to finish later (table ``drafts``).

Stage: the store layer, on the alert store's database (one file and one writer on
SQLite; the same SQL on PostgreSQL). Why in the store rather than the browser: a
draft written at the desk must survive a closed tab, a crashed laptop or a change of
shift. A draft is only the form's fields as JSON; nothing here parses CAP, and no
draft is ever planned, delivered or shown to another principal: each row belongs to
the principal that saved it (``owner``), and every read and write names the owner.
"""

from __future__ import annotations

import builtins
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from router.store.sql import Connection, Row
from router.store.sqlite import SqlStore

MAX_DRAFTS_PER_OWNER = 200
"""A principal's drafts are bounded, so a script saving in a loop cannot fill the disk."""


class TooManyDraftsError(Exception):
    """The owner holds ``MAX_DRAFTS_PER_OWNER`` drafts already; delete one first."""


@dataclass(frozen=True)
class Draft:
    id: str
    owner: str
    authority: str
    title: str
    form: dict[str, Any]
    version: int
    created_at: str
    updated_at: str


class DraftStore(Protocol):
    async def create(self, owner: str, authority: str, title: str,
                     form: dict[str, Any]) -> Draft:
        """Store a new draft of ``owner`` (``TooManyDraftsError`` past the bound)."""

    async def get(self, owner: str, draft_id: str) -> Draft | None:
        """The draft, only if ``owner`` saved it."""

    async def list(self, owner: str) -> builtins.list[Draft]:
        """``owner``'s drafts, the most recently changed first."""

    async def update(self, owner: str, draft_id: str, title: str,
                     form: dict[str, Any]) -> Draft | None:
        """Replace the draft's fields; None if ``owner`` has no such draft."""

    async def delete(self, owner: str, draft_id: str) -> bool:
        """Remove it; False if ``owner`` has no such draft."""


def _now() -> str:
    """Microseconds: the list is newest first, and two saves within one millisecond (an
    autosave beside a click) must still sort in the order they were made."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _draft(row: Row | None) -> Draft | None:
    if row is None:
        return None
    return Draft(row["id"], row["owner"], row["authority"], row["title"],
                 json.loads(row["form"]), int(row["version"]), row["created_at"],
                 row["updated_at"])


_COLUMNS = "id, owner, authority, title, form, version, created_at, updated_at"


class SqlDrafts:
    """``DraftStore`` in the SQL both stores run (``router.store.sql``)."""

    def __init__(self, database: SqlStore) -> None:
        self._db = database

    async def create(self, owner: str, authority: str, title: str,
                     form: dict[str, Any]) -> Draft:
        draft_id = secrets.token_urlsafe(12)
        text = json.dumps(form, ensure_ascii=False, sort_keys=True)

        def write(conn: Connection) -> Draft | None:
            held = conn.execute("SELECT count(*) FROM drafts WHERE owner = ?",
                                (owner,)).fetchone()[0]
            if int(held) >= MAX_DRAFTS_PER_OWNER:
                return None
            now = _now()
            return _draft(conn.execute(
                f"INSERT INTO drafts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1, ?, ?)"  # noqa: S608
                f" RETURNING {_COLUMNS}",
                (draft_id, owner, authority, title, text, now, now)).fetchone())
        made = await self._db.run_write(write)
        if made is None:
            raise TooManyDraftsError(f"at most {MAX_DRAFTS_PER_OWNER} drafts per principal")
        return made

    async def get(self, owner: str, draft_id: str) -> Draft | None:
        return await self._db.run_read(lambda conn: _draft(conn.execute(
            f"SELECT {_COLUMNS} FROM drafts WHERE owner = ? AND id = ?",  # noqa: S608
            (owner, draft_id)).fetchone()))

    async def list(self, owner: str) -> builtins.list[Draft]:
        def read(conn: Connection) -> builtins.list[Draft]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM drafts WHERE owner = ?"  # noqa: S608
                " ORDER BY updated_at DESC, created_at DESC, id", (owner,)).fetchall()
            return [d for d in map(_draft, rows) if d is not None]
        return await self._db.run_read(read)

    async def update(self, owner: str, draft_id: str, title: str,
                     form: dict[str, Any]) -> Draft | None:
        text = json.dumps(form, ensure_ascii=False, sort_keys=True)
        return await self._db.run_write(lambda conn: _draft(conn.execute(
            "UPDATE drafts SET title = ?, form = ?, version = version + 1,"  # noqa: S608
            f" updated_at = ? WHERE owner = ? AND id = ? RETURNING {_COLUMNS}",
            (title, text, _now(), owner, draft_id)).fetchone()))

    async def delete(self, owner: str, draft_id: str) -> bool:
        return await self._db.run_write(lambda conn: conn.execute(
            "DELETE FROM drafts WHERE owner = ? AND id = ?",
            (owner, draft_id)).rowcount > 0)
