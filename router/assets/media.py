"""The variants a channel is handed, with the audio the speech worker has made so far.

Stage: assets (above the store and the pure render stage). Used by the dispatcher,
when it hands a delivery over, and by the wallet fetch route, so a phone that
fetches a document gets the text the push carried, built from the same stored
variants. Speech is made after the 202 and nothing waits for it: an alert handed
over before its audio exists gets ``speech_state == "pending"`` and no audio.
"""

from __future__ import annotations

import structlog

from router.channel import Asset
from router.render import RenderedAlert
from router.store import AssetRecord, Store

log = structlog.get_logger("tocsin.assets")
SPEECH_MADE = frozenset({"done", "failed"})
"""States after which the asset table may hold audio (a failure can be partial)."""
SPEECH_PRUNED = "pruned"
"""The alert's audio was deleted after its expiry and the retention period
(``router.assets.pruning``): asked for, it is 410 Gone, not 404."""


def speech_asset(record: AssetRecord) -> Asset:
    """A stored speech file as the contract's ``Asset`` (served by name)."""
    sha1 = record.detail.get("sha1")
    return Asset(kind="audio", mime_type=record.mime_type,
                 description=f"Spoken alert ({record.language})", language=record.language,
                 name=record.name, sha256=record.sha256,
                 sha1=sha1 if isinstance(sha1, str) else None, size=record.size,
                 duration_s=record.duration_s)


def parse(alert_id: str, stored: str | None) -> RenderedAlert | None:
    """The stored variants; None (channels use ``PlainVariants``) when there are none or
    they were stored by a Tocsin whose layout this one cannot read."""
    if stored is None:
        return None
    try:
        return RenderedAlert.from_json(stored)
    except (ValueError, KeyError, TypeError):
        log.warning("variants_unreadable", alert_id=alert_id)
        return None


async def with_speech(store: Store, alert_id: str, rendered: RenderedAlert | None,
                      speech_state: str | None) -> RenderedAlert | None:
    """``rendered`` with the spoken audio recorded for the alert; the asset table is
    read only when the speech worker has finished with the alert."""
    if rendered is None:
        return None
    records = await store.assets(alert_id) if speech_state in SPEECH_MADE else []
    speech = tuple(speech_asset(r) for r in records if r.kind == "speech")
    return rendered.with_speech(speech, speech_state)


async def stored_variants(store: Store, alert_id: str) -> RenderedAlert | None:
    """The alert's variants and audio as a delivery of it is handed them now."""
    stored = await store.variants(alert_id)
    if stored is None:
        return None
    return await with_speech(store, alert_id, parse(alert_id, stored.variants),
                             stored.speech_state)
