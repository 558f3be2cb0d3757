"""The SQL connection every store job runs on, whichever database holds the store.

Stage: the store layer. The alert store's jobs (``router.store.sqlite``), the audience's
(``router.audience``) and channel state's are plain functions over one connection inside
one transaction. They are written once, in SQL both databases run (``?`` parameters,
``ON CONFLICT``, ``RETURNING``, no ``INSERT OR ...``, no implicit ``rowid``: the
PostgreSQL schema has an explicit ``rowid`` column where the SQLite one orders by it),
and typed against this protocol: ``sqlite3.Connection`` satisfies it as it is, and
``router.store.postgres.connection.PgConnection`` adapts a psycopg connection to it.
One set of jobs means both stores keep the same rules by construction, and the
contract suite (``tests/contract``) checks it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

Row = Any
"""A result row: by column name (``row["id"]``) and by position (``row[0]``)."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...
