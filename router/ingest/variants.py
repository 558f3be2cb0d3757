"""Accessible variants at the HTTP edge: rendered before the alert is stored,
shown by ``GET /api/v1/alerts/{id}/variants``, audio served from
``GET /api/v1/alerts/{id}/assets/{name}`` (Ogg Opus as stored; ``?format=wav`` decodes
it to WAV for a client that plays nothing else; 410 once the audio has been pruned).

Stage: ingest. Rendering is pure and takes well under a millisecond, so it runs
in the request: its findings reach the 202 response, a configured rejection
(``missing_language: reject``) is a 422 before anything is stored, and the
variants are committed in the same transaction as the alert. A bug in rendering
never loses an alert: it becomes the finding ``render.failed`` and the alert is
stored without variants (channels then fall back on the plain CAP text).
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import Collection, Mapping

import structlog
from aiohttp import web

from router.assets.media import SPEECH_PRUNED
from router.assets.speech import SPEECH_PREFIX
from router.assets.tts import OPUS_MIME, WAV_MIME, SpeechError, opus_to_wav
from router.cap import Alert, Finding, has_errors, read_stored
from router.cap.findings import warning
from router.http.problems import ProblemError, reject_unknown_parameters
from router.ingest.access import readable_record
from router.ingest.context import IngestContext
from router.ingest.schemas import AssetOut, FormOut, LanguageVariantOut, SlotOut, VariantsOut
from router.render import RenderedAlert, fit_findings, preview, short_findings
from router.store import AssetRecord

log = structlog.get_logger("tocsin.render")


def render_for_ingest(ctx: IngestContext, alert: Alert, channels: list[str]
                      ) -> tuple[RenderedAlert | None, list[Finding]]:
    """The variants and their findings; raises the 422 when the configuration rejects
    what is missing.

    Not before the 202: how each form fits each planned channel (pages, SMS parts, the
    cost of letters outside GSM-7). Counting them for every channel was half the time
    of an accept, and none of it can refuse an alert (every fit finding is a warning).
    It is a preview concern, computed when asked -- ``GET /api/v1/alerts/{id}/variants``
    and ``tocsin preview`` show it, with the channel's own notes -- and the channel
    applies the same fit when it sends. ``channels`` is kept for the callers' sake."""
    del channels  # the fit per planned channel is the preview's (see above)
    if ctx.renderer is None:
        return None, []
    try:
        rendered = ctx.renderer.render(alert)
        findings = list(rendered.findings)
    except Exception as exc:  # never lose an alert to a rendering bug
        log.exception("render.failed")
        return None, [warning("render.failed", "/alert", f"variants could not be rendered "
                              f"({type(exc).__name__}); channels use the plain CAP text")]
    if has_errors(findings):
        raise ProblemError(422, "render.rejected", "Alert lacks required variants",
                           "the alert cannot reach everyone this deployment must reach; "
                           "see findings", findings=findings)
    return dataclasses.replace(rendered, findings=tuple(findings)), findings


def _target(location: str) -> str:
    """The channel a fit finding is about: ``/variants/<target>/<language>``."""
    return location.split("/")[2] if location.count("/") >= 3 else ""


def _audio(alert_id: str, assets: list[AssetRecord], language: str) -> AssetOut | None:
    asset = next((a for a in assets if a.kind == "speech" and a.language == language), None)
    if asset is None:
        return None
    voice = asset.detail.get("voice")
    sha1 = asset.detail.get("sha1")
    return AssetOut(resource_desc=f"Spoken alert ({language})", mime_type=asset.mime_type,
                    size=asset.size, uri=f"/api/v1/alerts/{alert_id}/assets/{asset.name}",
                    digest=str(sha1) if sha1 else None, sha256=asset.sha256,
                    duration_s=asset.duration_s, language=language,
                    voice=str(voice) if voice else None)


def variants_out(ctx: IngestContext, alert_id: str, rendered: RenderedAlert,
                 assets: list[AssetRecord], speech: str, *, alert: Alert | None = None,
                 planned: Collection[str] = ()) -> VariantsOut:
    """With ``alert``, cell broadcast and SMS show what their ``send`` builds (computed
    here, when asked, never before the 202). Findings: the rendering's, each channel's
    notes (UCS-2 cost, ...), and what does not fit the ``planned`` channels."""
    reference = ctx.renderer.config.reference_forms if ctx.renderer else {}
    rows = preview(rendered, ctx.capabilities, reference, alert)
    kept = {(f.code, f.location) for f in rendered.findings}  # stored before this change
    fit = [f for f in fit_findings([r for r in rows if r.notes or r.target in planned])
           if (f.code, f.location) not in kept
           and (f.code != "render.fit.too-long" or _target(f.location) in planned)]
    return VariantsOut(
        alert_id=alert_id, languages=list(rendered.languages),
        findings=list(rendered.findings) + fit + short_findings(rows),
        variants=[LanguageVariantOut(
            language=v.language, origin=v.origin, info_index=v.info_index,
            full_text=v.full_text, screen_reader_text=v.screen_reader_text,
            summary=v.summary, slots=[SlotOut(slot=n, text=t) for n, t in v.slots if t],
            readability=v.readability, audio=_audio(alert_id, assets, v.language))
            for v in rendered.variants],
        icon=dataclasses.asdict(rendered.icon) if rendered.icon else None,
        cadence={**dataclasses.asdict(rendered.cadence),
                 "duration_ms": rendered.cadence.duration_ms} if rendered.cadence else None,
        sign_language=list(rendered.sign_language), speech=speech,
        forms=[FormOut.model_validate(row.as_dict()) for row in rows])


async def get_variants(request: web.Request) -> web.Response:
    ctx, _principal, record = await readable_record(request)
    alert_id = record.id
    stored = await ctx.store.variants(alert_id)
    if stored is None:
        exists = await ctx.store.raw_cap(alert_id) is not None
        raise ProblemError(404, "variants.not-found" if exists else "alert.not-found",
                           "No variants" if exists else "No such alert",
                           f"alert {alert_id!r} was stored without variants" if exists
                           else f"no alert with id {alert_id!r}")
    rendered = RenderedAlert.from_json(stored.variants)
    assets = await ctx.store.assets(alert_id)
    raw = await ctx.store.raw_cap(alert_id)
    parsed = read_stored(raw) if raw is not None else None
    body = variants_out(ctx, alert_id, rendered, assets, stored.speech_state,
                        alert=parsed,
                        planned={d.channel for d in record.deliveries})
    return web.Response(body=body.model_dump_json(), content_type="application/json")


async def get_asset(request: web.Request) -> web.StreamResponse:
    ctx, _principal, record = await readable_record(request)
    return await serve_asset(request, ctx, record.id, request.match_info["name"])


DECODES_AT_ONCE = 2
"""WAV decodes running at once per event loop: a decode takes a core for a moment, and
the wallet route that offers it is public, so requests beyond this wait their turn."""
_decoders: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary())


def _decoder_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _decoders:
        _decoders[loop] = asyncio.Semaphore(DECODES_AT_ONCE)
    return _decoders[loop]


async def serve_asset(request: web.Request, ctx: IngestContext, alert_id: str, name: str,
                      headers: Mapping[str, str] | None = None) -> web.StreamResponse:
    """One file made for an alert, as stored (the ETag is its SHA-256), or with
    ``?format=wav`` decoded to WAV for a player that cannot play Ogg Opus (a file an
    older Tocsin stored as WAV is served as it is). 410 ``asset.pruned`` when the audio
    was deleted after the alert expired (``asset_retention_days``), so a client knows
    it will not come back, where 404 says there never was such a file."""
    reject_unknown_parameters(request.query, ("format",))
    wanted = request.query.get("format")
    if wanted not in (None, "wav"):
        raise ProblemError(400, "asset.format-unknown", "Unknown asset format",
                           f"format={wanted!r}: the only format on request is 'wav'")
    asset = next((a for a in await ctx.store.assets(alert_id) if a.name == name), None)
    if asset is None:
        stored = await ctx.store.variants(alert_id)
        if (stored is not None and stored.speech_state == SPEECH_PRUNED
                and name.startswith(SPEECH_PREFIX)):
            raise ProblemError(410, "asset.pruned", "Asset pruned",
                               f"the audio of alert {alert_id!r} was deleted after the "
                               "alert's latest <expires> and the retention period")
        raise ProblemError(404, "asset.not-found", "No such asset",
                           f"alert {alert_id!r} has no asset {name!r}")
    path = ctx.settings.data_dir / "assets" / alert_id / asset.name
    if not path.is_file():
        raise ProblemError(404, "asset.not-found", "Asset file missing",
                           f"{asset.name} is recorded but its file is gone")
    if wanted == "wav" and asset.mime_type == OPUS_MIME:
        try:
            async with _decoder_slots():
                wav = await opus_to_wav(path)
        except SpeechError as exc:
            status = 503 if exc.code == "render.tts.unavailable" else 500
            raise ProblemError(status, "asset.wav-unavailable", "No WAV of this asset",
                               str(exc)) from exc
        return web.Response(body=wav, headers={**(headers or {}), "Content-Type": WAV_MIME,
                                               "ETag": f'"{asset.sha256}.wav"'})
    return web.FileResponse(path, headers={**(headers or {}), "Content-Type": asset.mime_type,
                                           "ETag": f'"{asset.sha256}"'})
