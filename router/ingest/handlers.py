"""The HTTP API handlers: post an alert, read its status, list alerts, fetch its bytes.

Stage: ingest. Order of checks on ``POST /api/v1/alerts``, each with its status
and problem code:

1. API key present and known (401 ``auth.missing-key`` / ``auth.invalid-key``)
2. ``Content-Type`` is ``application/cap+xml`` or ``application/xml``
   (415 ``http.unsupported-media-type``)
3. body within ``max_body_bytes`` (413 ``xml.too-large``), ``?profile=`` known
   (400 ``ingest.unknown-profile``)
4. readable CAP (400 with the ``xml.*`` / ``cap.namespace`` finding)
5. the key's authority may use the alert's ``sender`` (403 ``auth.sender-not-allowed``)
6. valid under the profile (422 ``cap.invalid`` with every finding)
7. stored with its delivery plan in one durable transaction: 202; the identical
   alert again: 200 with the original result; same CAP key, other content:
   409 ``ingest.key-conflict``; store unavailable: 503 ``store.unavailable``.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import structlog
from aiohttp import web
from pydantic import BaseModel
from ulid import ULID

from router.cap import Alert, Finding, FindingSeverity, ParseOutcome, XmlLimits
from router.errors import StoreUnavailableError
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.plan import plan_deliveries
from router.ingest.problems import ProblemError
from router.ingest.schemas import (
    Accepted,
    AlertList,
    AlertOut,
    AttemptOut,
    CapKey,
    DeliveryOut,
    Health,
    PrincipalOut,
    ReferenceOut,
)
from router.ingest.variants import render_for_ingest
from router.store import AcceptOutcome, AlertRecord, AlertState, NewAlert
from router.store.outcome import alert_outcome

CAP_MEDIA_TYPES = ("application/cap+xml", "application/xml")
INLINE_PARSE_BYTES = 64 * 1024
"""Bodies up to this size are validated on the event loop (about a millisecond at
most); larger ones in a worker thread so that one big alert cannot stall the rest."""

log = structlog.get_logger("tocsin.ingest")


def _json(model: BaseModel, status: int = 200,
          headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=model.model_dump_json(), headers=headers,
                        content_type="application/json")


def content_hash(alert: Alert) -> str:
    """What "the identical alert" means: equal models, whatever the XML whitespace,
    namespace prefixes or attribute order. Hashes the model's JSON (pydantic-core,
    about 10 times faster than re-serialising to CAP XML); ``m1:`` names this scheme
    so that a future change of it can be told apart from a changed alert."""
    return "m1:" + hashlib.sha256(alert.model_dump_json().encode()).hexdigest()


def _status_url(alert_id: str) -> str:
    return f"/api/v1/alerts/{alert_id}"


async def post_alert(request: web.Request) -> web.Response:
    """Every outcome, accepted or rejected, is reported once to the record stage."""
    intake = request.app[CONTEXT].recorder.intake
    started = intake.received()
    try:
        return await _post_alert(request, started)
    except ProblemError as problem:
        intake.rejected(started, problem.status, problem.code, _bound_authority(),
                        len(problem.findings))
        raise
    except Exception:
        intake.rejected(started, 500, "internal", _bound_authority())
        raise


def _bound_authority() -> str | None:
    authority = structlog.contextvars.get_contextvars().get("authority")
    return authority if isinstance(authority, str) else None


async def _post_alert(request: web.Request, started: float) -> web.Response:
    ctx = request.app[CONTEXT]
    authority = ctx.auth.authenticate(request.headers.get("Authorization"))
    structlog.contextvars.bind_contextvars(authority=authority.name)
    if request.content_type not in CAP_MEDIA_TYPES:
        raise ProblemError(415, "http.unsupported-media-type", "Unsupported media type",
                           f"send CAP XML as {' or '.join(CAP_MEDIA_TYPES)}, "
                           f"not {request.content_type!r}",
                           headers={"Accept-Post": ", ".join(CAP_MEDIA_TYPES)})
    body = await _read_body(request, ctx)
    profile = request.query.get("profile") or authority.profile or ctx.settings.default_profile
    if profile not in ctx.profiles.names():
        raise ProblemError(400, "ingest.unknown-profile", "Unknown profile",
                           f"profile {profile!r} is not loaded; known profiles: "
                           f"{', '.join(ctx.profiles.names())}")
    outcome = await _validate(ctx, body, profile)
    document = outcome.document
    if not outcome.readable or (document is None and not outcome.findings):
        first = outcome.findings[0] if outcome.findings else None
        raise ProblemError(400, first.code if first else "xml.malformed",
                           "Unreadable CAP document",
                           first.message if first else "the body is not a CAP document",
                           findings=outcome.findings)
    if document is not None:
        ctx.auth.authorise_sender(authority, document.alert.sender)
    if document is None or not outcome.ok:
        raise ProblemError(422, "cap.invalid", "Invalid CAP alert",
                           f"the alert breaks CAP 1.2 or profile {profile!r}; "
                           "see findings", findings=outcome.findings)
    alert = document.alert
    decision = ctx.router.decide(alert)
    plan = plan_deliveries(decision)
    warnings = [f for f in outcome.findings if f.severity is FindingSeverity.WARNING]
    if not plan:
        warnings.append(Finding(code="ingest.no-channels", severity=FindingSeverity.WARNING,
                                location="/alert",
                                message="no route matched and there is no default route: "
                                        "the alert is stored but goes to no channel"))
    rendered, render_findings = render_for_ingest(ctx, alert, [p.channel for p in plan])
    warnings += render_findings
    new = NewAlert(
        id=str(ULID()), alert=alert, raw=body,
        content_hash=content_hash(alert),
        profile=profile, authority=authority.name, received_at=datetime.now(UTC),
        findings=warnings, plan=plan, source_version=document.source_version,
        variants=rendered.to_json() if rendered else None,
        speech_pending=ctx.speech and rendered is not None,
    )
    try:
        result = await ctx.store.accept(new)
    except StoreUnavailableError as exc:
        raise ProblemError(503, "store.unavailable", "Store unavailable",
                           f"{exc}; the alert was NOT accepted, retry",
                           headers={"Retry-After": "1"}) from exc
    structlog.contextvars.bind_contextvars(alert_id=result.alert_id)
    if result.outcome is AcceptOutcome.CONFLICT:
        raise ProblemError(409, "ingest.key-conflict", "CAP key already used",
                           f"an alert with sender {alert.sender!r}, identifier "
                           f"{alert.identifier!r} and sent {alert.sent.isoformat()} was "
                           "accepted before with different content; a correction must be "
                           "a new alert (msgType Update) with its own identifier",
                           existing_id=result.alert_id)
    url = _status_url(result.alert_id)
    created = result.outcome is AcceptOutcome.CREATED
    if created:
        ctx.on_accepted()
    ctx.recorder.intake.accepted(started, alert, created=created, profile=profile,
                                 authority=authority.name, plan=plan)
    return _json(Accepted(id=result.alert_id, status_url=url, warnings=result.warnings),
                 status=202 if created else 200, headers={"Location": url})


async def _read_body(request: web.Request, ctx: IngestContext) -> bytes:
    limit = ctx.settings.max_body_bytes
    too_large = ProblemError(413, "xml.too-large", "Alert too large",
                             f"the body exceeds the limit of {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large from exc


async def _validate(ctx: IngestContext, body: bytes, profile: str) -> ParseOutcome:
    limits = XmlLimits(max_bytes=ctx.settings.max_body_bytes)
    if len(body) <= INLINE_PARSE_BYTES:
        return ctx.profiles.validate(body, profile, limits)
    return await asyncio.to_thread(ctx.profiles.validate, body, profile, limits)


def _authenticated(request: web.Request) -> IngestContext:
    ctx = request.app[CONTEXT]
    ctx.auth.authenticate(request.headers.get("Authorization"))
    return ctx


def _alert_out(record: AlertRecord) -> AlertOut:
    outcome = alert_outcome(record.state.value, record.deliveries)
    return AlertOut(
        id=record.id, state=outcome.state, lifecycle=record.state.value,
        settled=outcome.settled, counts=outcome.counts,
        key=CapKey(sender=record.sender, identifier=record.identifier, sent=record.sent),
        status=record.status, msg_type=record.msg_type, profile=record.profile,
        authority=record.authority, source_version=record.source_version,
        received_at=record.received_at, findings=record.findings,
        references=[ReferenceOut(sender=r.sender, identifier=r.identifier, sent=r.sent,
                                 alert_id=r.alert_id) for r in record.references],
        superseded_by=record.superseded_by, cancelled_by=record.cancelled_by,
        deliveries=[DeliveryOut(
            channel=d.channel, state=d.state.value, attempts=d.attempts, route=d.route,
            reason=d.history[-1].reason if d.history else None,
            fallback_for=d.fallback_for, replaced=d.replaced,
            idempotency_key=d.idempotency_key, deadline=d.deadline,
            next_attempt_at=d.next_attempt_at, last_error=d.last_error, updated_at=d.updated_at,
            history=[AttemptOut(number=a.number, started_at=a.started_at, ended_at=a.ended_at,
                                outcome=a.outcome, reason=a.reason, error=a.error)
                     for a in d.history], recipients=d.recipients,
            retry_requested_by=PrincipalOut(authority=d.retry_requested_by.authority,
                                            key=d.retry_requested_by.key)
            if d.retry_requested_by else None,
            retry_requested_at=d.retry_requested_at) for d in record.deliveries],
        cap_url=f"/api/v1/alerts/{record.id}/cap",
    )


def _not_found(alert_id: str) -> ProblemError:
    return ProblemError(404, "alert.not-found", "No such alert",
                        f"no alert with id {alert_id!r}")


async def get_alert(request: web.Request) -> web.Response:
    ctx = _authenticated(request)
    alert_id = request.match_info["alert_id"]
    record = await ctx.store.get(alert_id)
    if record is None:
        raise _not_found(alert_id)
    return _json(_alert_out(record))


async def get_alert_cap(request: web.Request) -> web.Response:
    ctx = _authenticated(request)
    alert_id = request.match_info["alert_id"]
    raw = await ctx.store.raw_cap(alert_id)
    if raw is None:
        raise _not_found(alert_id)
    return web.Response(body=raw, content_type="application/cap+xml")


async def list_alerts(request: web.Request) -> web.Response:
    ctx = _authenticated(request)
    query = request.query
    try:
        state = AlertState(query["state"]) if "state" in query else None
    except ValueError as exc:
        raise ProblemError(400, "query.state", "Bad state filter",
                           f"state must be one of {', '.join(s.value for s in AlertState)}"
                           ) from exc
    try:
        since = datetime.fromisoformat(query["since"]) if "since" in query else None
    except ValueError as exc:
        raise ProblemError(400, "query.since", "Bad since filter",
                           "since must be an ISO 8601 date-time with an offset") from exc
    if since is not None and since.tzinfo is None:
        raise ProblemError(400, "query.since", "Bad since filter",
                           "since needs a UTC offset, e.g. 2026-11-25T10:00:00+01:00")
    limit_text = query.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        raise ProblemError(400, "query.limit", "Bad limit", "limit must be 1..500")
    try:
        page = await ctx.store.list(state=state, since=since, cursor=query.get("cursor"),
                                    limit=int(limit_text))
    except ValueError as exc:
        raise ProblemError(400, "query.cursor", "Bad cursor", str(exc)) from exc
    return _json(AlertList(items=[_alert_out(r) for r in page.items],
                           next_cursor=page.next_cursor))


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers. Says nothing about the store."""
    return _json(Health(status="ok"))


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the store takes reads and writes and the service is not draining."""
    ctx = request.app[CONTEXT]
    checks = {"store": await ctx.store.ping(), "accepting": not ctx.draining}
    ready = all(checks.values())
    return _json(Health(status="ready" if ready else "not-ready", checks=checks),
                 status=200 if ready else 503)
