"""The HTTP API handlers: post an alert, read its status, list alerts, fetch its bytes.

Stage: ingest. Order of checks on ``POST /api/v1/alerts``, each with its status
and problem code:

1. API key present and known (401 ``auth.missing-key`` / ``auth.invalid-key``)
2. ``Content-Type`` is ``application/cap+xml`` or ``application/xml``
   (415 ``http.unsupported-media-type``)
3. body within ``max_body_bytes`` (413 ``xml.too-large``) and decodable for its
   ``Content-Encoding`` (415 / 400, see ``router.http.body``), ``?profile=`` known
   (400 ``ingest.unknown-profile``)
4. readable CAP (400 with the ``xml.*`` / ``cap.namespace`` finding)
5. XML-DSig signature checked (``router.trust``); a signed alert is validated and
   modelled from the verified tree only. Its verdict is a finding like any other
   (``signature.*``; an invalid signature is always an error) and is stored
6. the key's authority may use the alert's ``sender`` (403 ``auth.sender-not-allowed``)
7. valid under the profile, signature verdict included (422 ``cap.invalid`` with
   every finding)
8. authorised (``router.ingest.authorise``): the key holds ``submit`` (``cancel`` for a
   Cancel), the alert keeps to its authority's policy and references only alerts the
   authority may reference (403 ``auth.role`` / ``authz.*`` with one finding per violated
   rule); the channels the policy forbids are not planned; an alert the approval policy
   names is stored ``pending_approval`` with nothing planned until a second principal
   approves it (``router.ingest.approvals``)
8. stored with its delivery plan in one durable transaction: 202; the identical
   alert again: 200 with the original result; same CAP key, other content:
   409 ``ingest.key-conflict``; store unavailable: 503 ``store.unavailable``.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog
from aiohttp import web
from pydantic import BaseModel
from ulid import ULID

from router.audit.chain import Principal as AuditPrincipal
from router.cap import Alert, Finding, FindingSeverity, ParseOutcome, XmlLimits
from router.cap.findings import error
from router.cap.rules import arrival_findings
from router.errors import ReferenceForbiddenError, StoreUnavailableError
from router.http.body import read_body
from router.http.problems import ProblemError, reject_unknown_parameters
from router.ingest.access import not_found, readable_authorities, readable_record
from router.ingest.audit_trail import principal_of
from router.ingest.authorise import authorise, forbidden
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.schemas import (
    Accepted,
    AlertList,
    AlertOut,
    ApprovalOut,
    AttemptOut,
    CapKey,
    DeliveryOut,
    Health,
    PrincipalOut,
    ReferenceOut,
    SignatureOut,
)
from router.ingest.variants import render_for_ingest
from router.store import AcceptOutcome, AlertRecord, AlertState, NewAlert
from router.store.outcome import alert_outcome
from router.trust import AuthorityPolicy, CheckedAlert, Principal, Role, read_alert
from router.trust.verdict import SignatureState

CAP_MEDIA_TYPES = ("application/cap+xml", "application/xml")
INLINE_PARSE_BYTES = 64 * 1024
"""Bodies up to this size are validated on the event loop (about a millisecond at
most); larger ones in a worker thread so that one big alert cannot stall the rest."""

LIST_QUERY = frozenset({"state", "authority", "event", "since", "until", "cursor", "limit"})
"""The parameters ``GET /api/v1/alerts`` understands; any other is a 400, because a
misspelt filter (``?status=cancelled``) silently ignored answers a different question."""

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
        await _audit_refusal(request, problem)
        raise
    except Exception:
        intake.rejected(started, 500, "internal", _bound_authority())
        await _audit_refusal(request, ProblemError(500, "internal", "Internal error",
                                                   "an unexpected error occurred"))
        raise


async def _audit_refusal(request: web.Request, problem: ProblemError) -> None:
    """Every refusal of a post, whatever raised it (authentication, policy, validation),
    goes to the audit trail the same way; ``AuditTrail`` bounds what it writes."""
    trail = request.app[CONTEXT].audit
    if trail is not None and problem.status != 503:  # the store is down: nothing to write to
        await trail.refused(request, problem)


def _bound_authority() -> str | None:
    authority = structlog.contextvars.get_contextvars().get("authority")
    return authority if isinstance(authority, str) else None


async def read_submission(request: web.Request, ctx: IngestContext
                          ) -> tuple[Principal, AuthorityPolicy, bytes, str]:
    """What a post of CAP XML brings -- the key's principal and its authority, the body
    and the profile -- or the problem it gets: the same for ``POST /api/v1/alerts`` and
    its previews, so a preview refuses exactly what a post would."""
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    authority = ctx.auth.policy(principal)
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
    return principal, authority, body, profile


async def _post_alert(request: web.Request, started: float) -> web.Response:
    ctx = request.app[CONTEXT]
    principal, authority, body, profile = await read_submission(request, ctx)
    submitted = await submit_document(ctx, principal, body, profile,
                                      recorded_as=principal_of(request, authority.name),
                                      started=started)
    url = _status_url(submitted.alert_id)
    return _json(Accepted(id=submitted.alert_id, status_url=url, warnings=submitted.warnings),
                 status=202 if submitted.created else 200, headers={"Location": url})


@dataclass(frozen=True)
class Submitted:
    """What became of a CAP document the service took in: its alert id, whether it is
    new (False: the identical alert was accepted before) and the warnings it carries."""

    alert_id: str
    created: bool
    warnings: list[Finding]


async def submit_document(ctx: IngestContext, principal: Principal, body: bytes, profile: str,
                          *, recorded_as: AuditPrincipal, started: float,
                          require_signature: bool = False,
                          envelope: bytes | None = None) -> Submitted:
    """Steps 4 to 8 above for one CAP document, whoever brought it (``POST`` or a
    configured feed, ``router.feeds``): the same hardened parse, signature check, sender
    and authority policy, profile validation, reference handling and durable accept, so
    that an alert taken from a feed is held to exactly what a posted one is. Raises
    ``ProblemError`` with the code a ``POST`` would answer. ``require_signature``: an
    alert without a verified XML signature is invalid (``signature.required``), whatever
    its profile says -- a feed configured to trust only signed alerts. ``envelope``: the
    EDXL-DE distribution the CAP ``body`` was unwrapped from, stored beside the alert
    (``GET /api/v1/alerts/{id}/envelope``); every check above applies to ``body``."""
    authority = ctx.auth.policy(principal)
    checked = await _check(ctx, body, profile)
    outcome = checked.outcome
    if require_signature and outcome.readable and (
            checked.signature is None or checked.signature.state is not SignatureState.VERIFIED):
        outcome = replace(outcome, findings=[*outcome.findings, error(
            "signature.required", "/alert/Signature",
            "this source is configured to accept only alerts with a verified XML signature")])
    document = outcome.document
    if document is not None:
        outcome = with_arrival_findings(outcome, document.alert,
                                        ctx.settings.expired_on_arrival == "reject")
    if not outcome.readable or (document is None and not outcome.findings):
        first = outcome.findings[0] if outcome.findings else None
        raise ProblemError(400, first.code if first else "xml.malformed",
                           "Unreadable CAP document",
                           first.message if first else "the body is not a CAP document",
                           findings=outcome.findings)
    if document is not None:
        ctx.auth.authorise_sender(principal, document.alert.sender)
    if document is None or not outcome.ok:
        raise ProblemError(422, "cap.invalid", "Invalid CAP alert",
                           f"the alert breaks CAP 1.2 or profile {profile!r}; "
                           "see findings", findings=outcome.findings)
    alert = document.alert
    authorised = await authorise(ctx, principal, alert, ctx.router.decide(alert))
    plan = authorised.plan
    warnings = [f for f in outcome.findings if f.severity is FindingSeverity.WARNING]
    warnings += authorised.warnings
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
        speech_pending=ctx.speech and rendered is not None, hold=authorised.hold,
        reference_authorities=authorised.reference_authorities,
        forward_unknown_references=authority.forward_unknown_references,
        signature=checked.signature.to_json() if checked.signature else None,
        principal=recorded_as, envelope=envelope,
    )
    try:
        result = await ctx.store.accept(new)
    except ReferenceForbiddenError as exc:
        raise forbidden([error("authz.reference", "/alert/references", str(exc))]) from exc
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
    created = result.outcome is AcceptOutcome.CREATED
    if created and authorised.hold is None:
        ctx.on_accepted()
    ctx.recorder.intake.accepted(started, alert, created=created, profile=profile,
                                 authority=authority.name, plan=plan)
    return Submitted(result.alert_id, created, result.warnings)



async def _read_body(request: web.Request, ctx: IngestContext) -> bytes:
    limit = ctx.settings.max_body_bytes
    too_large = ProblemError(413, "xml.too-large", "Alert too large",
                             f"the body exceeds the limit of {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        return await read_body(request, ctx.settings.body_read_timeout_s)
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large from exc


async def _check(ctx: IngestContext, body: bytes, profile: str) -> CheckedAlert:
    """Parse, verify the signature, validate (``router.trust.read_alert``).

    A signed alert costs a public-key verification and canonicalisation on top,
    so it always goes to a worker thread; small unsigned ones stay inline."""
    limits = XmlLimits(max_bytes=ctx.settings.max_body_bytes)
    if len(body) <= INLINE_PARSE_BYTES and b"Signature" not in body:
        return read_alert(body, ctx.profiles, profile, ctx.signatures, limits)
    return await asyncio.to_thread(read_alert, body, ctx.profiles, profile, ctx.signatures,
                                   limits)


def with_arrival_findings(outcome: ParseOutcome, alert: Alert,
                          reject_expired: bool) -> ParseOutcome:
    """The outcome with what is wrong at this moment (``cap.expires.past``) added, so
    that a 422 lists it with the rest and a 202 carries it as a warning."""
    arrival = arrival_findings(alert, datetime.now(UTC), reject_expired=reject_expired)
    return replace(outcome, findings=[*outcome.findings, *arrival]) if arrival else outcome


async def alert_out(ctx: IngestContext, record: AlertRecord) -> AlertOut:
    """The status answer of ``record``, with the recipient counts of its subscriber
    deliveries from the audience store (the alert store knows no recipients)."""
    recipients = await ctx.audience.recipient_counts(
        [d.idempotency_key for d in record.deliveries]) if ctx.audience else {}
    return _alert_out(record, recipients)


def _alert_out(record: AlertRecord,
               recipients: Mapping[str, dict[str, int]] | None = None) -> AlertOut:
    recipients = recipients or {}
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
                     for a in d.history], recipients=recipients.get(d.idempotency_key),
            retry_requested_by=PrincipalOut(authority=d.retry_requested_by.authority,
                                            key=d.retry_requested_by.key)
            if d.retry_requested_by else None,
            retry_requested_at=d.retry_requested_at) for d in record.deliveries],
        cap_url=f"/api/v1/alerts/{record.id}/cap",
        signature=SignatureOut.model_validate(record.signature) if record.signature else None,
        approval=None if record.approval is None else ApprovalOut(
            reason=record.approval.reason, submitted_by=record.approval.submitted_by,
            submitted_at=record.approval.submitted_at,
            expires_at=record.approval.expires_at, decision=record.approval.decision,
            decided_by=record.approval.decided_by, decided_at=record.approval.decided_at,
            decision_reason=record.approval.decision_reason),
    )


def _not_found(alert_id: str) -> ProblemError:
    return not_found(alert_id)


async def get_alert(request: web.Request) -> web.Response:
    ctx, _principal, record = await readable_record(request)
    return _json(await alert_out(ctx, record))


async def get_alert_cap(request: web.Request) -> web.Response:
    ctx, _principal, record = await readable_record(request)
    raw = await ctx.store.raw_cap(record.id)
    if raw is None:
        raise _not_found(record.id)
    return web.Response(body=raw, content_type="application/cap+xml")


async def get_alert_envelope(request: web.Request) -> web.Response:
    """The EDXL-DE envelope a feed delivered the alert in, as received."""
    ctx, _principal, record = await readable_record(request)
    envelope = await ctx.store.envelope(record.id)
    if envelope is None:
        raise ProblemError(404, "alert.no-envelope", "No envelope",
                           f"alert {record.id} did not arrive in an EDXL-DE envelope")
    return web.Response(body=envelope, content_type="application/xml")


def _instant(query: Mapping[str, str], name: str) -> datetime | None:
    """A ``since``/``until`` bound: ISO 8601 with an offset, so it names one instant."""
    if name not in query:
        return None
    try:
        value = datetime.fromisoformat(query[name])
    except ValueError as exc:
        raise ProblemError(400, f"query.{name}", f"Bad {name} filter",
                           f"{name} must be an ISO 8601 date-time with an offset") from exc
    if value.tzinfo is None:
        raise ProblemError(400, f"query.{name}", f"Bad {name} filter",
                           f"{name} needs a UTC offset, e.g. 2026-11-25T10:00:00+01:00")
    return value


async def list_alerts(request: web.Request) -> web.Response:
    """Only the alerts the caller's authority may read (its own, unless ``read: all``)."""
    ctx = request.app[CONTEXT]
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    ctx.auth.require(principal, Role.READ)
    query = request.query
    reject_unknown_parameters(query, LIST_QUERY)
    try:
        state = AlertState(query["state"]) if "state" in query else None
    except ValueError as exc:
        raise ProblemError(400, "query.state", "Bad state filter",
                           f"state must be one of {', '.join(s.value for s in AlertState)}"
                           ) from exc
    since, until = _instant(query, "since"), _instant(query, "until")
    for name in ("authority", "event"):
        if name in query and (not query[name].strip() or "\x00" in query[name]):
            raise ProblemError(400, f"query.{name}", f"Bad {name} filter",
                               f"{name} must be a text, not empty, without NUL")
    limit_text = query.get("limit", "50")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
        raise ProblemError(400, "query.limit", "Bad limit", "limit must be 1..500")
    try:
        page = await ctx.store.list(state=state, since=since, until=until,
                                    authority=query.get("authority"),
                                    event=query.get("event"), cursor=query.get("cursor"),
                                    limit=int(limit_text),
                                    authorities=readable_authorities(
                                        ctx.auth.policy(principal)))
    except ValueError as exc:
        raise ProblemError(400, "query.cursor", "Bad cursor", str(exc)) from exc
    return _json(AlertList(items=[await alert_out(ctx, r) for r in page.items],
                           next_cursor=page.next_cursor, total=page.total))


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
