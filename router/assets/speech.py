"""The speech worker: spoken variants for accepted alerts, after the 202.

Stage: assets (above the store and the pure render stage).

When: ingest stores each alert with ``speech_state = pending``; this worker,
running beside the dispatcher in ``tocsin serve``, is woken after every commit
(and polls, so work left by a crash or a restart is picked up), speaks each
language's structured summary (without the link: a URL read aloud helps no one)
with ``espeak-ng``, encodes it as Opus in Ogg (``opusenc``), writes
``data_dir/assets/<alert id>/speech-<language>.opus`` and records each file with its
size, SHA-256 and duration (files an older Tocsin recorded as ``.wav`` are still
served as they are). The 202 never waits for it and neither does delivery: a cell
broadcast must not wait for audio. A channel that carries audio reads what is ready
when it sends.

Each file is recorded with the alert's latest ``<expires>``; ``router.assets.pruning``
deletes it once the retention period (``asset_retention_days``, 7 by default) has
passed after that. An alert that never expires keeps its audio.

Never starving ingest or delivery: the queue is the store (``speech_state = pending``),
read 8 at a time, so memory does not grow with a burst; at most ``tts.concurrency``
alerts are spoken at once (default: the node's CPU count), and ``espeak-ng`` and
``opusenc`` run under ``nice -n 10``. Niced processes get a core only when the event
loop and the store writer leave it idle (under contention the kernel gives a nice-10
process about a tenth of a nice-0 one's share), so running one per core drains a
backlog on an idle node without taking time from ingest or delivery on a busy one.
``tocsin_speech_backlog`` and ``tocsin_speech_oldest_pending_age_seconds`` show
how far behind it is (``router.record.speech``).

Failures are findings on the alert (``render.tts.*``), never a lost alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import structlog

from router.assets.tts import OPUS_MIME, OPUS_SUFFIX, Speaker, SpeechError
from router.cap import Finding, read_stored
from router.cap.findings import warning
from router.planning import delivery_deadline
from router.render.variants import RenderedAlert, compose
from router.store import AssetRecord, SpeechJob, Store

log = structlog.get_logger("tocsin.speech")
BATCH = 8
"""Pending alerts read from the store at a time: the in-memory queue's bound."""

_UNSAFE = re.compile(r"[^a-z0-9-]")
SPEECH_PREFIX = "speech-"
"""Every spoken file's name starts so (``speech-nl-nl.opus``; ``.wav`` from older Tocsins)."""


def asset_name(language: str) -> str:
    return f"{SPEECH_PREFIX}{_UNSAFE.sub('_', language.lower())}{OPUS_SUFFIX}"


def spoken_text(rendered: RenderedAlert, language: str) -> str:
    variant = rendered.variant(language)
    return compose(variant.slots, ("link",)) if variant else ""


class SpeechWorker:
    def __init__(self, store: Store, speaker: Speaker, assets_dir: Path, *,
                 poll_interval_s: float = 2.0, enabled: bool = True,
                 concurrency: int | None = None) -> None:
        self.enabled = enabled
        self.concurrency = (concurrency or speaker.settings.concurrency
                            or self.default_concurrency())
        self.store = store
        self.speaker = speaker
        self.assets_dir = assets_dir
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tocsin-speech")

    async def stop(self) -> None:
        """Stop now: an alert being spoken stays pending and is spoken after restart."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def running(self, _app: object) -> AsyncIterator[None]:
        """An aiohttp ``cleanup_ctx``: runs while the service does (when enabled: speech
        on, and this node dispatches)."""
        if self.enabled:
            await self.start()
        yield
        await self.stop()

    @staticmethod
    def default_concurrency() -> int:
        """One alert at a time per core: the tools are niced (see the module docstring)."""
        return os.cpu_count() or 1

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            jobs = await self._due()
            if jobs:
                slots = asyncio.Semaphore(self.concurrency)
                await asyncio.gather(*(self._bounded(slots, job) for job in jobs))
            else:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval_s):
                        await self._wake.wait()

    async def _bounded(self, slots: asyncio.Semaphore, job: SpeechJob) -> None:
        async with slots:
            await self.speak(job)

    async def _due(self) -> list[SpeechJob]:
        try:
            return await self.store.speech_due(BATCH)
        except Exception:  # the store is down: try again at the next poll
            log.exception("speech.poll_failed")
            return []

    async def speak(self, job: SpeechJob) -> None:
        """Make and record every language's audio for one alert."""
        structlog.contextvars.bind_contextvars(alert_id=job.alert_id)
        assets: list[AssetRecord] = []
        findings: list[Finding] = []
        try:
            rendered = RenderedAlert.from_json(job.variants)
            expires_at = await self._expires_at(job.alert_id)
            for language in rendered.languages:
                asset = await self._one(job.alert_id, rendered, language, findings,
                                        expires_at)
                if asset is not None:
                    assets.append(asset)
                if findings and findings[-1].code == "render.tts.unavailable":
                    break
        except Exception as exc:  # a bug here must not stop the next alert's speech
            log.exception("speech.crashed")
            findings.append(warning("render.tts.failed", "/alert", f"speech failed: {exc!r}"))
        failed = any(f.code != "render.tts.too-long" for f in findings)
        state = "failed" if failed else "done"
        await self.store.record_speech(job.alert_id, assets, findings, state=state)
        log.info("speech.made", files=[a.name for a in assets], state=state,
                 findings=[f.code for f in findings])

    async def _expires_at(self, alert_id: str) -> datetime | None:
        """The alert's latest ``<expires>``; None (kept) when an info never expires. The
        stored CAP is parsed again: a millisecond beside the seconds of speech, and the
        alerts table keeps no separate copy of the expiry."""
        raw = await self.store.raw_cap(alert_id)
        alert = read_stored(raw) if raw is not None else None
        return delivery_deadline(alert) if alert is not None else None

    async def _one(self, alert_id: str, rendered: RenderedAlert, language: str,
                   findings: list[Finding], expires_at: datetime | None
                   ) -> AssetRecord | None:
        text = spoken_text(rendered, language)
        name = asset_name(language)
        try:
            speech = await self.speaker.speak(text, language, self.assets_dir / alert_id / name)
        except SpeechError as exc:
            findings.append(warning(exc.code, "/alert", f"{language}: {exc}"))
            return None
        limit = self.speaker.settings.max_duration_s
        if speech.duration_s > limit:
            findings.append(warning("render.tts.too-long", "/alert",
                                    f"{language}: spoken alert lasts {speech.duration_s:.1f} s, "
                                    f"more than {limit:g} s; shorten the text"))
        return AssetRecord(
            alert_id=alert_id, name=name, kind="speech", language=language,
            mime_type=OPUS_MIME, size=speech.size, sha256=speech.sha256,
            duration_s=round(speech.duration_s, 3),
            detail={"voice": speech.voice.name, "voice_language": speech.voice.language,
                    "voice_file": speech.voice.file, "sha1": speech.sha1, "text": text},
            created_at=datetime.now(UTC), expires_at=expires_at)

