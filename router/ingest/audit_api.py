"""``GET /api/v1/audit?since=&principal=&subject=&cursor=&limit=``: the audit trail, for
``admin``.

Stage: ingest (HTTP). Entries come back exactly as chained (``at`` as hashed,
``detail`` as stored, ``prev_hash`` and ``hash``), so a reader can recompute each
hash from the response alone (docs/audit.md). Unknown query parameters are a 400:
a misspelt filter must not silently return everything.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from router.audit.chain import AuditEntry
from router.http.problems import ProblemError, reject_unknown_parameters
from router.ingest.context import CONTEXT
from router.trust import Principal, Role

QUERY = frozenset({"since", "principal", "subject", "cursor", "limit"})
DEFAULT_LIMIT = 100


def require_admin(principal: Principal) -> None:
    """The one gate of the audit routes: 403 unless the key holds ``admin``."""
    if not principal.has(Role.ADMIN):
        raise ProblemError(403, "auth.role", "Role required",
                           "reading the audit trail needs the 'admin' role")


class PrincipalOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    via: str
    authority: str | None
    key: str | None
    actor: str | None


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    seq: int
    at: str
    kind: str
    principal: PrincipalOut
    subject: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditList(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[AuditEntryOut]
    next_cursor: str | None
    total: int = Field(description="entries matching the filters, over every page")


def _out(entry: AuditEntry) -> AuditEntryOut:
    p = entry.principal
    return AuditEntryOut(
        seq=entry.seq, at=entry.at, kind=entry.kind,
        principal=PrincipalOut(via=p.via, authority=p.authority, key=p.key, actor=p.actor),
        subject=entry.subject, detail=dict(entry.detail), prev_hash=entry.prev_hash,
        hash=entry.hash)


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{seq}".encode()).decode().rstrip("=")


def _after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode(
            ).partition(":")
        if kind == "audit" and value.isdigit():
            return int(value)
    except (UnicodeDecodeError, ValueError):
        pass
    raise ProblemError(400, "query.cursor", "Bad cursor",
                       f"{cursor!r} is not a cursor returned by this API")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        since = datetime.fromisoformat(text)
    except ValueError:
        since = None
    if since is None or since.tzinfo is None:
        raise ProblemError(400, "query.since", "Bad since filter",
                           "since must be an ISO 8601 date-time with a UTC offset")
    return since


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= 500:
        raise ProblemError(400, "query.limit", "Bad limit", "limit must be 1..500")
    return int(text)


async def get_audit(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    try:
        require_admin(principal)
    except ProblemError as problem:
        if ctx.audit is not None:
            await ctx.audit.refused(request, problem)
        raise
    reject_unknown_parameters(request.query, QUERY)
    query = request.query
    if "\x00" in query.get("subject", ""):  # no database text holds one
        raise ProblemError(400, "query.subject", "Bad subject filter",
                           "subject must be a text without NUL")
    page = await ctx.store.audit_page(after=_after(query.get("cursor")),
                                      since=_since(query.get("since")),
                                      principal=query.get("principal"),
                                      subject=query.get("subject"),
                                      limit=_limit(query.get("limit")))
    body = AuditList(items=[_out(e) for e in page.items],
                     next_cursor=_cursor(page.next_after) if page.next_after else None,
                     total=page.total)
    return web.Response(body=body.model_dump_json(), content_type="application/json")
