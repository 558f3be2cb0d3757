"""The dispatcher hands the variants stored with the alert to every delivery, with the
spoken audio made so far (never waiting for it); an alert stored without them reaches
channels with ``variants=None`` (they use PlainVariants). The wallet fetch route reads
the same through ``router.assets.media.stored_variants``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.assets import load_accessibility
from router.assets.media import stored_variants
from router.cap import parse_cap
from router.channel import Capabilities, CharacterBudget, Delivery, Health, Receipt
from router.delivery import Dispatcher, DispatchSettings
from router.render import RenderedAlert, Renderer
from router.store import AlertStore, AssetRecord, NewAlert, PlannedDelivery
from tests.stores import opened_stores

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_accessibility(REPO / "config" / "accessibility")


class Recording:
    capabilities = Capabilities()

    def __init__(self, name: str) -> None:
        self.name = name
        self.deliveries: list[Delivery] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, delivery: Delivery) -> Receipt:
        self.deliveries.append(delivery)
        return Receipt(self.name, delivery.idempotency_key, "ref")

    async def cancel(self, delivery: Delivery, receipt: Receipt) -> None:
        return None

    async def health(self) -> Health:
        return Health(True)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    async with opened_stores(tmp_path) as opened:
        yield opened.alerts


async def accept(store: AlertStore, identifier: str, *, render: bool,
                 speech: bool = False) -> None:
    raw = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_text()
    sent = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    raw = raw.replace("NL-VRR-2026-0042", identifier).replace("2026-11-25T14:05:00+01:00", sent)
    document = parse_cap(raw.encode()).document
    assert document is not None
    variants = Renderer(CONFIG).render(document.alert).to_json() if render else None
    await store.accept(NewAlert(identifier, document.alert, raw.encode(), identifier, "cap12",
                                "t", datetime.now(UTC), [],
                                [PlannedDelivery("a", "r"), PlannedDelivery("b", "r")],
                                variants=variants, speech_pending=speech))


async def test_every_delivery_carries_the_stored_variants(store: AlertStore) -> None:
    await accept(store, "WITH", render=True)
    await accept(store, "WITHOUT", render=False)
    channels = [Recording("a"), Recording("b")]
    await deliver_all(store, channels, 4)
    for channel in channels:
        by_alert = {d.alert_id: d for d in channel.deliveries}
        variants = by_alert["WITH"].variants
        assert isinstance(variants, RenderedAlert)
        assert variants.languages == ("nl-NL", "en-GB")
        fitted = variants.fit("en", CharacterBudget("360", 360))
        assert fitted.fits
        assert fitted.text.startswith("Safety Region Rotterdam-Rijnmond:")
        assert by_alert["WITHOUT"].variants is None


async def deliver_all(store: AlertStore, channels: list[Recording], count: int) -> None:
    dispatcher = Dispatcher(store, {c.name: c for c in channels},
                            DispatchSettings(poll_interval_s=0.02))
    await dispatcher.start()
    try:
        async with asyncio.timeout(10):
            while sum(len(c.deliveries) for c in channels) < count:
                await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop()


def spoken(alert_id: str, language: str) -> AssetRecord:
    return AssetRecord(alert_id, f"speech-{language.lower()}.opus", "speech", language,
                       "audio/ogg; codecs=opus", 1234, "ab" * 32, 3.5, {"sha1": "cd" * 20},
                       datetime.now(UTC))


async def test_audio_made_before_the_hand_over_goes_with_it_and_pending_speech_does_not_wait(
        store: AlertStore) -> None:
    await accept(store, "SPOKEN", render=True, speech=True)
    await store.record_speech("SPOKEN", [spoken("SPOKEN", "nl-NL")], [], state="done")
    await accept(store, "PENDING", render=True, speech=True)
    await accept(store, "SILENT", render=True, speech=False)
    channels = [Recording("a"), Recording("b")]
    await deliver_all(store, channels, 6)
    by_alert = {d.alert_id: d.variants for d in channels[0].deliveries}
    made = by_alert["SPOKEN"]
    assert isinstance(made, RenderedAlert)
    [audio] = made.speech
    assert (audio.kind, audio.name, audio.language, audio.sha256, audio.sha1) == (
        "audio", "speech-nl-nl.opus", "nl-NL", "ab" * 32, "cd" * 20)
    assert made.speech_pending is False
    pending = by_alert["PENDING"]
    assert isinstance(pending, RenderedAlert)
    assert pending.speech_pending is True  # handed over before any audio exists
    assert pending.speech == ()
    silent = by_alert["SILENT"]
    assert isinstance(silent, RenderedAlert)
    assert (silent.speech_state, silent.speech) == ("off", ())


async def test_the_fetch_route_reads_what_the_dispatcher_handed_over(
        store: AlertStore) -> None:
    await accept(store, "SAME", render=True, speech=True)
    await store.record_speech("SAME", [spoken("SAME", "nl-NL"), spoken("SAME", "en-GB")],
                              [], state="done")
    channel = Recording("a")
    await deliver_all(store, [channel, Recording("b")], 2)
    handed = channel.deliveries[0].variants
    assert handed is not None
    assert await stored_variants(store, "SAME") == handed
    assert await stored_variants(store, "NO-SUCH-ALERT") is None
