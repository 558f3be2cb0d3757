"""The PostgreSQL store's writer: group commit, one savepoint per job, reconnection.

Stage: the store layer (PostgreSQL). As on SQLite (``router.store.sqlite``), one
thread per node takes the queued jobs (up to ``max_batch``), runs each inside its own
``SAVEPOINT`` within one transaction, commits once and only then answers the callers:
a 202 is sent after the commit returned, and every connection commits with
``synchronous_commit=on``, so an acknowledged alert is on the primary's disk (and on a
synchronous standby's, where one is configured).

What differs from SQLite is that other nodes write at the same time. A job that
collides with another node's transaction -- the same CAP key accepted on two nodes at
once (a unique violation once the other commits), a deadlock, a lock wait past
``lock_timeout`` -- is rolled back to its savepoint and run
again, up to ``RETRIES`` times: the second run sees what the other node committed (the
alert is then a duplicate and both nodes answer with the same id). A broken connection
fails the batch with ``StoreUnavailableError`` (a 503: the client may repeat, and a
repeated alert is recognised by its key), and the next batch connects again.

The audit chain, which every node appends to, neither collides nor makes the nodes
wait on each other mid-batch: the jobs' entries gather in the transaction's
``PendingAudit`` and are numbered and chained just before ``COMMIT``, under the chain
head's row lock, which is then held for three statements and the commit
(``router.store.audit``). ``collisions`` counts the reruns (``store.write_collision``
in the log): it stays near zero unless the same alert is posted to several nodes at
once.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from psycopg import errors as pg_errors

from router.errors import StoreUnavailableError
from router.store.audit import PendingAudit
from router.store.group_commit import STOP, next_batch, settle
from router.store.postgres.connection import PgConnection, connect

Job = Callable[[PgConnection], Any]
RETRIES = 5
COLLISIONS = (pg_errors.UniqueViolation, pg_errors.DeadlockDetected,
              pg_errors.SerializationFailure, pg_errors.LockNotAvailable)
"""Errors another node's concurrent transaction causes: the job is run again."""
log = structlog.get_logger("tocsin.store")


class PgWriter(threading.Thread):
    """The single writer of one node."""

    def __init__(self, url: str, max_batch: int, *, application_name: str) -> None:
        super().__init__(name="tocsin-postgres-writer", daemon=True)
        self.url, self.max_batch, self.application_name = url, max_batch, application_name
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.commits = 0
        self.collisions = 0
        self.connected = False
        self._conn: PgConnection | None = None

    def submit(self, job: Job) -> asyncio.Future[Any]:
        if not self.is_alive():
            raise StoreUnavailableError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.jobs.put((job, future, loop))
        return future

    def stop(self) -> None:
        self.jobs.put(STOP)

    def run(self) -> None:
        try:
            stopping = False
            while not stopping:
                batch, stopping = next_batch(self.jobs, self.max_batch)
                if batch:
                    self._run_batch(batch)
        finally:
            self._drop()

    def _connection(self) -> PgConnection:
        if self._conn is None or self._conn.raw.closed:
            self._conn = connect(self.url, application_name=self.application_name)
            if not self.connected:
                log.info("store.connected", role="writer")
            self.connected = True
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _collided(self, error: str) -> None:
        self.collisions += 1
        log.info("store.write_collision", error=error, collisions=self.collisions)

    def _run_batch(self, batch: list[Any]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn = self._connection()
            trail = conn.pending_audit = PendingAudit()
            conn.execute("BEGIN")
            for job, _future, _loop in batch:
                outcomes.append(_run_job(conn, job, trail, self._collided))
            trail.seal(conn)
            conn.execute("COMMIT")
            self.commits += 1
        except psycopg.Error as exc:
            log.error("store.commit_failed",  # noqa: TRY400  (a server away: no traceback)
                      error=str(exc).strip(), batch=len(batch))
            self._drop()
            failure = StoreUnavailableError(f"the store could not commit: {str(exc).strip()}")
            outcomes = [(None, failure) for _ in batch]
            time.sleep(0.05)  # a server that is away: do not spin on reconnecting
        for (_job, future, loop), (value, error) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(settle, future, value, error)


def _run_job(conn: PgConnection, job: Job, trail: PendingAudit,
             collided: Callable[[str], None]) -> tuple[Any, BaseException | None]:
    """One job in its savepoint, run again after a collision with another node; a job
    rolled back leaves no audit entry behind."""
    for attempt in range(1, RETRIES + 1):
        conn.execute("SAVEPOINT job")
        mark = trail.mark()
        try:
            value = job(conn)
        except COLLISIONS as exc:
            trail.drop_from(mark)
            conn.execute("ROLLBACK TO SAVEPOINT job")
            conn.execute("RELEASE SAVEPOINT job")
            collided(type(exc).__name__)
            if attempt == RETRIES:
                return None, StoreUnavailableError(
                    f"the store stayed busy with other nodes' writes: {str(exc).strip()}")
            continue
        except psycopg.OperationalError:
            raise  # the connection itself: the whole batch fails
        except Exception as exc:  # one job's failure is its caller's alone
            trail.drop_from(mark)
            conn.execute("ROLLBACK TO SAVEPOINT job")
            conn.execute("RELEASE SAVEPOINT job")
            return None, exc
        conn.execute("RELEASE SAVEPOINT job")
        return value, None
    raise AssertionError("unreachable")
