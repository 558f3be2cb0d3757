"""The alert store on PostgreSQL, shared by every Tocsin node of a deployment.

Stage: the store layer (PostgreSQL). The alert store's SQL is ``SqlStore``'s, the same
as on SQLite (``router.store.sql``); this class adds what a shared database needs:

- a writer thread per node with group commit and collision retries
  (``router.store.postgres.writer``), readers on their own connections;
- claims with ``FOR UPDATE SKIP LOCKED``, a lease renewed every third of its length
  while the node lives, take-over of expired leases and fencing tokens
  (``router.store.leases``). A node renews only the claims it knows it holds: one whose
  answer it never received (the connection broke after the commit, the call was
  cancelled) lapses and is taken over like a dead node's;
- ``NOTIFY tocsin_work`` in the transaction that makes work due (an alert accepted or
  approved, a delivery re-planned, fallbacks woken, waiting deliveries released); every
  node ``LISTEN``s and wakes its dispatcher within milliseconds of the commit. Polling
  stays the fallback: a lost notification costs one poll interval;
- migrations under an advisory lock (``router.store.postgres.schema``);
- when the server is unreachable, every call fails with ``StoreUnavailableError`` (503,
  ``/readyz`` not ready) and the next one connects again: a node needs no restart.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psycopg
import structlog

from router.errors import LeaseLostError, StoreUnavailableError
from router.store import approvals
from router.store.leases import DEFAULT_LEASE_S, ClaimPolicy, node_id
from router.store.migrations import backfill_events
from router.store.postgres.connection import PgConnection, connect
from router.store.postgres.schema import EVENTS_MIGRATION, MIGRATIONS
from router.store.postgres.writer import PgWriter
from router.store.records import (
    AcceptOutcome,
    AcceptResult,
    AttemptResult,
    ClaimedDelivery,
    DecisionOutcome,
    DeliveryState,
    NewAlert,
    ReplanOutcome,
    ReplanResult,
    Requester,
)
from router.store.sql import Connection
from router.store.sqlite import (
    SqlStore,
    _accept_audited,
    _release,
    _replan,
    _settle_fallbacks,
    utc_text,
)

T = TypeVar("T")
CHANNEL = "tocsin_work"
MIGRATION_LOCK = 7_411_922_016
"""The advisory lock key that serialises migrations (any fixed number)."""
log = structlog.get_logger("tocsin.store")


def _notify(conn: Connection) -> None:
    """Wake every node's dispatcher once this transaction commits."""
    conn.execute(f"NOTIFY {CHANNEL}")


def _migrate(url: str) -> int:
    conn = connect(url, application_name="tocsin-migrate")
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS tocsin_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM tocsin_schema").fetchone()
        version = int(row[0]) if row else 0
        if row is None:
            conn.execute("INSERT INTO tocsin_schema VALUES (0)")
        if version > len(MIGRATIONS):
            raise StoreUnavailableError(
                f"the database has schema version {version}, newer than this Tocsin "
                f"({len(MIGRATIONS)}); upgrade Tocsin")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.raw.execute(script)  # DDL, no parameters: as written
            if number == EVENTS_MIGRATION:
                backfill_events(conn)
            conn.execute("UPDATE tocsin_schema SET version = ?", (number,))
            log.info("store.migrated", version=number)
        conn.execute("COMMIT")
        return max(version, len(MIGRATIONS))
    finally:
        conn.close()


class PostgresStore(SqlStore):
    """``AlertStore`` on a PostgreSQL database. Open with ``await store.open()``."""

    def __init__(self, url: str, *, max_batch: int = 256, readers: int = 4,
                 lease_s: float = DEFAULT_LEASE_S, open_timeout_s: float = 30.0) -> None:
        self.url = url
        self.max_batch = max_batch
        self.open_timeout_s = open_timeout_s
        self.claim_policy = ClaimPolicy(node_id(), lease_s, reclaim_expired=True,
                                        skip_locked=True)
        self._writer: PgWriter | None = None
        self._readers = ThreadPoolExecutor(max_workers=readers,
                                           thread_name_prefix="tocsin-postgres-reader")
        self._local = threading.local()
        self._opened: list[PgConnection] = []  # every reader's, closed at close
        self._opened_lock = threading.Lock()
        self._renewer: asyncio.Task[None] | None = None
        self._lease_conn: PgConnection | None = None
        self._held: dict[tuple[str, str], int] = {}
        """(alert id, channel) -> fence of every claim this node is working on."""
        self._listener: _Listener | None = None
        self._watchers: list[Callable[[], None]] = []

    # -- life cycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Migrate (waiting up to ``open_timeout_s`` for the server), then start the
        writer, the lease renewal and the listener."""
        deadline = asyncio.get_running_loop().time() + self.open_timeout_s
        while True:
            try:
                await asyncio.to_thread(_migrate, self.url)
                break
            except psycopg.OperationalError as exc:
                if asyncio.get_running_loop().time() >= deadline:
                    raise StoreUnavailableError(
                        f"PostgreSQL is unreachable: {str(exc).strip()}") from exc
                log.warning("store.unreachable", error=str(exc).strip())
                await asyncio.sleep(0.5)
        self._writer = PgWriter(self.url, self.max_batch,
                                application_name=f"tocsin {self.claim_policy.node}")
        self._writer.start()
        self._renewer = asyncio.create_task(self._renew_leases())
        self._listener = _Listener(self.url, asyncio.get_running_loop(), self._announce)
        self._listener.start()

    async def close(self) -> None:
        await self.stop_renewing_leases()
        if self._lease_conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._lease_conn.close()
            self._lease_conn = None
        if self._listener is not None:
            self._listener.stop()
            await asyncio.to_thread(self._listener.join)
            self._listener = None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
            await asyncio.to_thread(writer.join)
        self._readers.shutdown(wait=True)
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    @property
    def commits(self) -> int:
        """Transactions committed so far by this node's writer."""
        return self._writer.commits if self._writer else 0

    @property
    def collisions(self) -> int:
        """Jobs this node's writer ran again after colliding with another node's."""
        return self._writer.collisions if self._writer else 0

    @property
    def node(self) -> str:
        """This node's name in the leases it holds."""
        return self.claim_policy.node

    # -- transport --------------------------------------------------------------------

    async def run_write(self, job: Callable[[Connection], T]) -> T:
        if self._writer is None:
            raise StoreUnavailableError("the store is not open")
        result: T = await asyncio.shield(self._writer.submit(job))
        return result

    def _read_sync(self, fn: Callable[[Connection], T]) -> T:
        conn: PgConnection | None = getattr(self._local, "conn", None)
        try:
            if conn is None or conn.raw.closed:
                conn = connect(self.url, application_name="tocsin reader")
                self._local.conn = conn
                with self._opened_lock:
                    self._opened.append(conn)
            return fn(conn)
        except psycopg.OperationalError as exc:
            self._local.conn = None
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            raise StoreUnavailableError(
                f"the store could not be read: {str(exc).strip()}") from exc

    async def run_read(self, fn: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._readers, self._read_sync, fn)
        except RuntimeError as exc:  # executor shut down
            raise StoreUnavailableError("the store is closed") from exc

    async def ping(self) -> bool:
        """True when this node can read and its writer is running and connected (or has
        not needed a connection yet)."""
        if self._writer is None or not self._writer.is_alive():
            return False
        try:
            await self.run_read(lambda conn: conn.execute("SELECT 1").fetchone())
        except StoreUnavailableError:
            return False
        return True

    # -- leases -----------------------------------------------------------------------

    async def _renew_leases(self) -> None:
        """Every third of the lease: push the expiry of every claim this node holds. A
        failed renewal is logged and tried again; the lease is long enough for two."""
        every = self.claim_policy.lease_s / 3
        while True:
            await asyncio.sleep(every)
            try:
                await self.renew_leases(datetime.now(UTC))
            except StoreUnavailableError as exc:
                log.warning("store.lease_renewal_failed", error=str(exc))

    async def stop_renewing_leases(self) -> None:
        """Stop renewing this node's leases, as a process that stopped (``SIGSTOP``, a
        partition) stops: the other nodes take its deliveries over once the leases end,
        and nothing this node records for them afterwards is stored."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None

    async def renew_leases(self, now: datetime) -> int:
        """Renew the leases of the claims this node is working on; returns how many.

        Only the claims ``claim_due`` handed to this node and not yet settled: a
        ``sending`` row under this node's name that it does not know of (its claim's
        answer was lost) must lapse, or it would stay ``sending`` for as long as the
        node lives. A held claim whose row no longer matches (settled, taken over) is
        forgotten.

        On a connection of its own, not through the writer: the writer may have seconds
        of work queued (a fan-out's receipts arrive by the thousand), and a renewal
        waiting behind it would let a live node's lease run out."""
        held = dict(self._held)
        if not held:
            return 0
        until = utc_text(now + timedelta(seconds=self.claim_policy.lease_s))
        renewed = await asyncio.to_thread(self._renew_sync, until, held)
        for key, fence in held.items():
            if key not in renewed and self._held.get(key) == fence:
                del self._held[key]
        return len(renewed)

    def _renew_sync(self, until: str, held: dict[tuple[str, str], int]
                    ) -> set[tuple[str, str]]:
        conn = self._lease_conn
        keys = list(held)
        try:
            if conn is None or conn.raw.closed:
                conn = self._lease_conn = connect(self.url, application_name="tocsin leases")
            rows = conn.execute(
                "UPDATE deliveries d SET lease_expires = ?"
                " FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]))"
                " AS h(alert_id, channel, fence)"
                " WHERE d.alert_id = h.alert_id AND d.channel = h.channel"
                " AND d.fence = h.fence AND d.lease_node = ? AND d.state = 'sending'"
                " RETURNING d.alert_id, d.channel",
                (until, [a for a, _c in keys], [c for _a, c in keys], list(held.values()),
                 self.claim_policy.node)).fetchall()
            return {(row[0], row[1]) for row in rows}
        except psycopg.OperationalError as exc:
            self._lease_conn = None
            if conn is not None:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            raise StoreUnavailableError(
                f"leases could not be renewed: {str(exc).strip()}") from exc

    async def claim_due(self, now: datetime, limit: int, *,
                        skip_channels: Collection[str] = ()) -> builtins.list[ClaimedDelivery]:
        claimed = await super().claim_due(now, limit, skip_channels=skip_channels)
        for claim in claimed:
            self._held[(claim.alert_id, claim.channel)] = claim.fence
        return claimed

    def _let_go(self, alert_id: str, channel: str, fence: int | None) -> None:
        if fence is not None and self._held.get((alert_id, channel)) == fence:
            del self._held[(alert_id, channel)]

    @contextlib.contextmanager
    def _settling(self, alert_id: str, channel: str, fence: int | None) -> Iterator[None]:
        """The claim ends with the call that settles it, stored or refused as taken
        over; while the store is unreachable it stays held (the recorder tries again)."""
        try:
            yield
        except LeaseLostError:
            self._let_go(alert_id, channel, fence)
            raise
        self._let_go(alert_id, channel, fence)

    async def record_attempt(self, result: AttemptResult) -> DeliveryState:
        with self._settling(result.alert_id, result.channel, result.fence):
            return await super().record_attempt(result)

    async def wait_for_channel(self, alert_id: str, channel: str, until: datetime,
                               why: str, *, fence: int | None = None) -> DeliveryState:
        with self._settling(alert_id, channel, fence):
            return await super().wait_for_channel(alert_id, channel, until, why,
                                                  fence=fence)

    async def release_in_flight(self) -> int:
        """At start-up another node may be sending: only deliveries whose lease ran out
        (their node died) become due again; live leases are left to their nodes."""
        now = utc_text(datetime.now(UTC))

        def release(conn: Connection) -> int:
            count = conn.execute(
                "UPDATE deliveries SET state = 'pending', lease_expires = NULL, updated_at = ?"
                " WHERE state = 'sending' AND lease_expires < ?", (now, now)).rowcount
            if count:
                _notify(conn)
            return count
        return await self.run_write(release)

    # -- work announced to every node -------------------------------------------------

    def watch_work(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the event loop) when any node committed due work."""
        self._watchers.append(callback)

    def _announce(self) -> None:
        for callback in self._watchers:
            callback()

    async def accept(self, new: NewAlert) -> AcceptResult:
        def job(conn: Connection) -> AcceptResult:
            result = _accept_audited(conn, new)
            if result.outcome is AcceptOutcome.CREATED:
                _notify(conn)
            return result
        return await self.run_write(job)

    async def approve(self, alert_id: str, principal: str) -> DecisionOutcome:
        now = datetime.now(UTC)

        def job(conn: Connection) -> DecisionOutcome:
            outcome = approvals.approve(conn, alert_id, principal, now, _release)
            _notify(conn)
            return outcome
        return await self.run_write(job)

    async def replan(self, alert_id: str, channel: str, by: Requester,
                     now: datetime) -> ReplanResult:
        def job(conn: Connection) -> ReplanResult:
            result = _replan(conn, alert_id, channel, by, now)
            if result.outcome is ReplanOutcome.REPLANNED:
                _notify(conn)
            return result
        return await self.run_write(job)

    async def settle_fallbacks(self, alert_id: str, channel: str, *,
                               needed: bool) -> builtins.list[str]:
        now = utc_text(datetime.now(UTC))

        def job(conn: Connection) -> builtins.list[str]:
            woken = _settle_fallbacks(conn, alert_id, channel, needed, now)
            if woken and needed:
                _notify(conn)
            return woken
        return await self.run_write(job)

    async def release_waiting(self, channel: str, now: datetime) -> int:
        moment = utc_text(now)

        def job(conn: Connection) -> int:
            count = conn.execute(
                "UPDATE deliveries SET next_attempt_at = ? WHERE channel = ? AND state = ?",
                (moment, channel, DeliveryState.WAITING.value)).rowcount
            if count:
                _notify(conn)
            return count
        return await self.run_write(job)


class _Listener(threading.Thread):
    """``LISTEN tocsin_work`` on a connection of its own, reconnecting when it drops."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop,
                 callback: Callable[[], None]) -> None:
        super().__init__(name="tocsin-postgres-listener", daemon=True)
        self.url, self.loop, self.callback = url, loop, callback
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                                     application_name="tocsin listener") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.loop.call_soon_threadsafe(self.callback)
            except psycopg.Error as exc:
                log.warning("store.listener_lost", error=str(exc).strip())
                self._stopping.wait(1.0)
            except RuntimeError:  # the event loop closed under us: the service is stopping
                return

