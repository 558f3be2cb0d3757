"""``POST /api/v1/alerts/preview``: validate and render a CAP document without storing it.

Stage: ingest. Why a route of its own rather than a flag on ``POST /api/v1/alerts``:
the console validates while the operator types, and nothing typed half-way may ever be
stored, audited as an accept or dispatched. The document goes through the same checks
as a post -- hardened parse, signature, sender and authority policy, profile, arrival
rules, authorisation, routing -- and the same rendering (``render_for_ingest``) and
per-channel preview (``variants_out``, the code of ``GET /api/v1/alerts/{id}/variants``
and ``tocsin preview``), so what it shows is what the channels will send. What would
refuse a post is answered as findings (200, ``valid: false``) with the path each
concerns, so a form can put each next to its field; only a missing or unknown key
(401), a wrong media type (415), an oversized body (413) and an unknown profile (400)
are problems, as for a post.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from router.cap import Finding, FindingSeverity
from router.http.problems import ProblemError
from router.ingest.authorise import authorise
from router.ingest.context import CONTEXT
from router.ingest.handlers import CAP_MEDIA_TYPES, _check, _read_body, with_arrival_findings
from router.ingest.schemas import VariantsOut, _Out
from router.ingest.variants import render_for_ingest, variants_out

PREVIEW_ID = "preview"
"""The ``alert_id`` of a preview's variants: it has none, being stored nowhere."""


class PreviewOut(_Out):
    valid: bool = Field(description="POST /api/v1/alerts would accept this document now")
    findings: list[Finding] = Field(description="errors and warnings, each with the path "
                                                "of the CAP element it concerns")
    planned: list[str] = Field(description="the channels a post would plan")
    approval: str | None = Field(description="why a post would wait for approval, if it "
                                             "would")
    variants: VariantsOut | None = Field(description="when valid: exactly what GET "
                                                     "/api/v1/alerts/{id}/variants would "
                                                     "show after the post")


def _answer(out: PreviewOut) -> web.Response:
    return web.Response(body=out.model_dump_json(), content_type="application/json")


def _refused(findings: list[Finding], problem: ProblemError | None = None) -> web.Response:
    if problem is not None and not problem.findings:
        findings = [*findings, Finding(code=problem.code, severity=FindingSeverity.ERROR,
                                       location="/alert", message=problem.detail)]
    return _answer(PreviewOut(valid=False, findings=findings, planned=[], approval=None,
                              variants=None))


async def preview_alert(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
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
    outcome = (await _check(ctx, body, profile)).outcome
    document = outcome.document
    if document is not None:
        outcome = with_arrival_findings(outcome, document.alert,
                                        ctx.settings.expired_on_arrival == "reject")
    if document is None or not outcome.readable or not outcome.ok:
        return _refused(list(outcome.findings))
    alert = document.alert
    try:
        ctx.auth.authorise_sender(principal, alert.sender)
        authorised = await authorise(ctx, principal, alert, ctx.router.decide(alert))
        planned = [p.channel for p in authorised.plan]
        rendered, render_findings = render_for_ingest(ctx, alert, planned)
    except ProblemError as problem:
        if problem.status in (401, 503):
            raise
        return _refused([*outcome.findings, *problem.findings], problem)
    findings = [f for f in outcome.findings if f.severity is FindingSeverity.WARNING]
    findings += authorised.warnings + render_findings
    shown = None if rendered is None else variants_out(
        ctx, PREVIEW_ID, rendered, [], "off", alert=alert, planned=set(planned))
    return _answer(PreviewOut(
        valid=True, findings=findings, planned=planned,
        approval=authorised.hold.reason if authorised.hold else None, variants=shown))
