"""What the HTTP side appends to the audit trail: refused requests (bounded), and the
configuration the service started with.

Stage: ingest. An accepted alert's entries are written by the store inside the
alert's own transaction; this module covers the acts that change nothing else.

Refusals cannot bloat the store, whatever a client sends:

- without a valid key (401) nothing is written per request: refusals are counted
  in memory by problem code and client address (at most ``MAX_REMOTES`` addresses,
  the rest as ``other``) and written as one ``ingest.rejections-aggregated`` entry
  per ``audit_aggregate_interval_s`` (and at shutdown) -- at most one entry per
  interval under any flood; a crash loses at most one interval's counts (the
  ``tocsin_alerts_rejected_total`` metric counts them too);
- with a valid key, each refusal is one entry with a bounded detail (status, code,
  the detail text cut to 500 characters, the first ten finding codes and their
  total, method, path, body length), up to ``audit_rejections_per_minute`` per key;
  beyond that the key's refusals are counted and written as one aggregated entry
  per interval (``reason: over-cap``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from router.audit import events as audit_events
from router.audit.chain import AuditEvent, Principal, canonical_json, key_id
from router.errors import StoreUnavailableError
from router.http.problems import ProblemError
from router.ingest.auth import Authenticator
from router.observability.logging import secrets_in
from router.profiles import ProfileSet
from router.settings import Settings, hash_api_key
from router.store import Store
from router.store.audit import now_text

MAX_REMOTES = 16
"""Client addresses counted one by one in an aggregated entry; the rest are ``other``."""
log = structlog.get_logger("tocsin.audit")


def principal_of(request: web.Request, authority: str) -> Principal:
    """The API key that authenticated ``request`` (for ``authority``), as the trail
    names it."""
    scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
    key_hash = hash_api_key(key.strip()) if scheme.lower() == "bearer" else None
    return Principal(via="api", authority=authority,
                     key=key_id(key_hash) if key_hash else None)


@dataclass
class _Tally:
    """Refusals counted instead of written, for one principal (or for nobody)."""

    count: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    remotes: Counter[str] = field(default_factory=Counter)
    first_at: str = ""
    last_at: str = ""

    def add(self, code: str, remote: str | None) -> None:
        self.first_at = self.first_at or now_text()
        self.last_at = now_text()
        self.count += 1
        self.codes[code] += 1
        known = remote if remote in self.remotes or len(self.remotes) < MAX_REMOTES else None
        self.remotes[known or "other"] += 1


@dataclass
class _Window:
    started: float
    written: int = 0


class AuditTrail:
    def __init__(self, store: Store, auth: Authenticator, settings: Settings) -> None:
        self.store = store
        self.auth = auth
        self.per_minute = settings.audit_rejections_per_minute
        self.interval_s = settings.audit_aggregate_interval_s
        self._anonymous = _Tally()
        self._over_cap: dict[Principal, _Tally] = {}
        self._windows: dict[Principal, _Window] = {}

    async def refused(self, request: web.Request, problem: ProblemError) -> None:
        """Record one refused request (never raises: the refusal is answered anyway)."""
        principal = await self._principal(request)
        if principal is None:
            self._anonymous.add(problem.code, request.remote)
            return
        if not self._within_cap(principal):
            self._over_cap.setdefault(principal, _Tally()).add(problem.code, None)
            return
        await self._append([audit_events.rejected_at_ingest(
            principal, status=problem.status, code=problem.code, detail=problem.detail,
            finding_codes=[f.code for f in problem.findings],
            request={"method": request.method, "path": request.path,
                     "query": request.query_string, "content_length": request.content_length,
                     "remote": request.remote})])

    async def _principal(self, request: web.Request) -> Principal | None:
        try:
            caller = await self.auth.authenticate(request.headers.get("Authorization"))
        except ProblemError:
            return None
        return principal_of(request, caller.authority)

    def _within_cap(self, principal: Principal) -> bool:
        now = time.monotonic()
        window = self._windows.get(principal)
        if window is None or now - window.started >= 60:
            window = self._windows[principal] = _Window(now)
        window.written += 1
        return window.written <= self.per_minute

    async def flush(self) -> None:
        """Write the counted refusals as aggregated entries and start counting afresh."""
        tallies = [(Principal(via="api"), "unauthenticated", self._anonymous, True)]
        tallies += [(who, "over-cap", tally, False) for who, tally in self._over_cap.items()]
        self._anonymous, self._over_cap = _Tally(), {}
        events = [audit_events.rejections_aggregated(
            who, reason=reason, count=t.count, codes=dict(t.codes), first_at=t.first_at,
            last_at=t.last_at, remotes=dict(t.remotes) if with_remotes else None)
            for who, reason, t, with_remotes in tallies if t.count]
        if events:
            await self._append(events)

    async def _append(self, events: list[AuditEvent]) -> None:
        try:
            await self.store.append_audit(events)
        except StoreUnavailableError as exc:
            log.exception("audit.append_failed", error=str(exc), kinds=[e.kind for e in events])

    async def log_head(self) -> None:
        """The head in the service's log: a witness outside the database."""
        head = await self.store.audit_head()
        if head is not None:
            log.info("audit.head", seq=head.seq, hash=head.hash)

    async def running(self, config: AuditEvent) -> AsyncIterator[None]:
        """From the store's opening to its closing: the configuration entry first, then
        aggregated refusals every interval, the rest at shutdown."""
        await self._append([config])
        await self.log_head()
        task = asyncio.create_task(self._every_interval())
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.flush()
        await self.log_head()

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()
            await self.log_head()


def config_event(settings: Settings, profiles: ProfileSet) -> AuditEvent:
    """``config.loaded``: the effective settings (every source merged; secret values
    left out, so a hash cannot be used to guess them) and each file read."""
    dumped = settings.model_dump(mode="json")
    hidden = set(secrets_in(dumped))
    settings_sha = _sha(canonical_json(_without(dumped, hidden)).encode())
    paths = [settings.routes_file, *(profiles.get(n).source for n in profiles.names())]
    files = {str(path): _sha(path.read_bytes()) for path in paths if path.is_file()}
    combined = _sha(canonical_json({"files": files, "settings": settings_sha}).encode())
    return audit_events.config_loaded(combined, settings_sha256=settings_sha, files=files)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _without(value: Any, hidden: set[str]) -> Any:
    if isinstance(value, str):
        return "[secret]" if value in hidden else value
    if isinstance(value, Mapping):
        return {k: _without(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_without(v, hidden) for v in value]
    return value
