"""A psycopg connection that the store's jobs can use as they use ``sqlite3``.

Stage: the store layer (PostgreSQL). The jobs are written once in SQL both databases
run (``router.store.sql``); this adapter closes the remaining gap: ``?`` parameters
become psycopg's ``%s`` (a literal ``%`` is doubled), and rows answer by column name
and by position, as ``sqlite3.Row`` does. The translated text of each statement is
cached: the jobs use a few dozen distinct statements.

psycopg 3 rather than asyncpg: the jobs are synchronous functions inside one
transaction that the writer controls (group commit, one savepoint per job), and
psycopg offers the same driver both synchronously (the writer and reader threads) and
asynchronously, with ``LISTEN``/``NOTIFY``, a connection pool and a C implementation.
asyncpg is async only and numbers its parameters (``$1``): every job would have to be
written twice, once per database, and the two copies would drift.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

_PARAMETER = re.compile(r"'[^']*'|\?|%")


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """``sql`` with ``?`` as ``%s`` and ``%`` as ``%%``; string literals left alone."""
    def swap(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return text.replace("%", "%%")  # inside a literal: psycopg still reads % there
    return _PARAMETER.sub(swap, sql)


class PgRow(tuple[Any, ...]):
    """A result row by position (a tuple) and by column name (``row["id"]``)."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def pg_row(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    """psycopg row factory making ``PgRow``s."""
    names = {column.name: index for index, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, names)
    return make


class PgConnection:
    """``router.store.sql.Connection`` over one psycopg connection (autocommit: the
    caller opens and ends transactions with ``BEGIN`` / ``COMMIT`` statements)."""

    def __init__(self, raw: psycopg.Connection[PgRow]) -> None:
        self.raw = raw
        self.pending_audit: object = None
        """The writer's transaction's ``router.store.audit.PendingAudit``, if any."""

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[PgRow]:
        return self.raw.execute(postgres_sql(sql), parameters or None)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[PgRow]:
        cursor = self.raw.cursor()
        rows = list(parameters)
        if rows:
            cursor.executemany(postgres_sql(sql), rows)
        return cursor

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, application_name: str) -> PgConnection:
    """A connection for the store: autocommit (transactions are explicit), every commit
    waits for the WAL flush (``synchronous_commit=on``, whatever the server default),
    timestamps in UTC, and a statement that waits on a lock longer than 30 s fails
    rather than holding a request forever."""
    raw = psycopg.connect(url, autocommit=True, row_factory=pg_row,
                          application_name=application_name, connect_timeout=5,
                          options="-c synchronous_commit=on -c TimeZone=UTC"
                                  " -c lock_timeout=30000")
    return PgConnection(raw)
