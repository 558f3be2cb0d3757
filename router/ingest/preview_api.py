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

import asyncio
import tempfile
import weakref
from pathlib import Path

from aiohttp import web
from pydantic import Field

from router.assets.speech import spoken_text
from router.assets.tts import OPUS_MIME, Speaker, SpeechError
from router.cap import Finding, FindingSeverity
from router.http.problems import ProblemError
from router.ingest.authorise import authorise
from router.ingest.context import CONTEXT, IngestContext
from router.ingest.handlers import _check, read_submission, with_arrival_findings
from router.ingest.schemas import VariantsOut, _Out
from router.ingest.variants import render_for_ingest, variants_out
from router.trust import Principal

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
    principal, body, profile = await _read_preview(request, ctx)
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


async def _read_preview(request: web.Request, ctx: IngestContext
                        ) -> tuple[Principal, bytes, str]:
    """The key's principal, the CAP body and the profile, or the problem a post gets."""
    principal, _authority, body, profile = await read_submission(request, ctx)
    return principal, body, profile


SPEECH_PREVIEWS_AT_ONCE = 1
"""Spoken previews made at once per event loop: ``espeak-ng`` and ``opusenc`` take a
core for a second or so (niced, as for the speech worker), and an operator asks for one
at a time."""
SPEECH_PREVIEWS_WAITING = 4
"""Requests allowed to wait for a slot; more are answered 503 with Retry-After."""
_speech: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                   tuple[asyncio.Semaphore, list[int], dict[int, Speaker]]] = (
    weakref.WeakKeyDictionary())


def _speech_slots(ctx: IngestContext) -> tuple[asyncio.Semaphore, list[int], Speaker]:
    """The loop's slots, its count of waiting requests, and one ``Speaker`` per
    configuration (voices are listed once per language, as for the worker)."""
    loop = asyncio.get_running_loop()
    if loop not in _speech:
        _speech[loop] = (asyncio.Semaphore(SPEECH_PREVIEWS_AT_ONCE), [0], {})
    slots, waiting, speakers = _speech[loop]
    assert ctx.renderer is not None  # noqa: S101 - checked by the caller
    tts = ctx.renderer.config.tts
    speaker = speakers.setdefault(id(tts), Speaker(tts))
    return slots, waiting, speaker


async def preview_speech(request: web.Request) -> web.StreamResponse:
    """The spoken text of one language of a CAP document not stored: what the speech
    worker would make after the post (the same ``spoken_text`` and ``Speaker``), as Ogg
    Opus, made on request and kept nowhere (a temporary directory, removed before the
    answer). The document passes the same checks as ``POST /api/v1/alerts/preview``;
    one that would be refused is a 422 with its findings."""
    ctx = request.app[CONTEXT]
    principal, body, profile = await _read_preview(request, ctx)
    language = request.query.get("lang", "")
    outcome = (await _check(ctx, body, profile)).outcome
    document = outcome.document
    if document is None or not outcome.readable or not outcome.ok:
        raise ProblemError(422, "preview.not-valid", "Alert not valid",
                           "the document would be refused; see findings",
                           findings=list(outcome.findings))
    alert = document.alert
    ctx.auth.authorise_sender(principal, alert.sender)
    authorised = await authorise(ctx, principal, alert, ctx.router.decide(alert))
    rendered, _ = render_for_ingest(ctx, alert, [p.channel for p in authorised.plan])
    if rendered is None or not ctx.speech:
        raise ProblemError(503, "preview.speech-off", "No speech",
                           "spoken variants are not made by this service (tts off)")
    if language not in rendered.languages:
        raise ProblemError(404, "preview.no-language", "No such language",
                           f"lang={language!r}: the alert's languages are "
                           f"{', '.join(rendered.languages)}")
    slots, waiting, speaker = _speech_slots(ctx)
    if slots.locked() and waiting[0] >= SPEECH_PREVIEWS_WAITING:
        raise ProblemError(503, "preview.speech-busy", "Speech busy",
                           "other spoken previews are being made; try again",
                           headers={"Retry-After": "2"})
    waiting[0] += 1
    try:
        await slots.acquire()
    finally:
        waiting[0] -= 1
    try:
        with tempfile.TemporaryDirectory(prefix="tocsin-speech-preview-") as folder:
            try:
                speech = await speaker.speak(spoken_text(rendered, language), language,
                                             Path(folder) / "preview.opus")
            except SpeechError as exc:
                raise ProblemError(503, exc.code, "No speech", str(exc)) from exc
            data = await asyncio.to_thread(speech.path.read_bytes)
    finally:
        slots.release()
    response = web.Response(body=data, headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = OPUS_MIME
    return response
