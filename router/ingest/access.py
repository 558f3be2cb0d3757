"""Who may read what: the role check and read isolation every read handler shares.

Stage: ingest (HTTP). An authority reads its own alerts and those of the
authorities it supervises, unless its policy says ``read: all``. Another
authority's alert answers exactly as an alert that does not exist (404
``alert.not-found``), so a caller cannot even learn which ids are in use.
"""

from __future__ import annotations

from aiohttp import web

from router.http.problems import ProblemError
from router.ingest.context import CONTEXT, IngestContext
from router.store import AlertRecord
from router.trust import AuthorityPolicy, Principal, Role


async def principal_with(request: web.Request, role: Role
                         ) -> tuple[IngestContext, Principal]:
    """The context and the calling principal, which must hold ``role`` (else 401/403)."""
    ctx = request.app[CONTEXT]
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    ctx.auth.require(principal, role)
    return ctx, principal


def not_found(alert_id: str) -> ProblemError:
    return ProblemError(404, "alert.not-found", "No such alert",
                        f"no alert with id {alert_id!r}")


def readable_authorities(policy: AuthorityPolicy) -> frozenset[str] | None:
    """The authorities whose alerts ``policy``'s principals may read; None: all."""
    return None if policy.read_all else frozenset({policy.name, *policy.supervises})


async def readable_record(request: web.Request, role: Role = Role.READ
                          ) -> tuple[IngestContext, Principal, AlertRecord]:
    """The alert named in the path, if the caller (holding ``role``) may see it; else 404."""
    ctx, principal = await principal_with(request, role)
    alert_id = request.match_info["alert_id"]
    record = await ctx.store.get(alert_id)
    if record is None or not ctx.auth.policy(principal).may_read(record.authority):
        raise not_found(alert_id)
    return ctx, principal, record
