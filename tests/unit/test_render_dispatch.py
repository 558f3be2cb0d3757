"""The dispatcher hands the variants stored with the alert to every delivery; an alert
stored without them reaches channels with ``variants=None`` (they use PlainVariants)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.assets import load_accessibility
from router.cap import parse_cap
from router.channel import Capabilities, CharacterBudget, Delivery, Health, Receipt
from router.delivery import Dispatcher, DispatchSettings
from router.render import RenderedAlert, Renderer
from router.store import NewAlert, PlannedDelivery, SqliteStore

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
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "s.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def accept(store: SqliteStore, identifier: str, *, render: bool) -> None:
    raw = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_text()
    sent = (datetime.now(UTC) - timedelta(minutes=1)).replace(microsecond=0).isoformat()
    raw = raw.replace("NL-VRR-2026-0042", identifier).replace("2026-11-25T14:05:00+01:00", sent)
    document = parse_cap(raw.encode()).document
    assert document is not None
    variants = Renderer(CONFIG).render(document.alert).to_json() if render else None
    await store.accept(NewAlert(identifier, document.alert, raw.encode(), identifier, "cap12",
                                "t", datetime.now(UTC), [],
                                [PlannedDelivery("a", "r"), PlannedDelivery("b", "r")],
                                variants=variants))


async def test_every_delivery_carries_the_stored_variants(store: SqliteStore) -> None:
    await accept(store, "WITH", render=True)
    await accept(store, "WITHOUT", render=False)
    channels = [Recording("a"), Recording("b")]
    dispatcher = Dispatcher(store, {c.name: c for c in channels},
                            DispatchSettings(poll_interval_s=0.02))
    await dispatcher.start()
    try:
        async with asyncio.timeout(10):
            while sum(len(c.deliveries) for c in channels) < 4:
                await asyncio.sleep(0.02)
    finally:
        await dispatcher.stop()
    for channel in channels:
        by_alert = {d.alert_id: d for d in channel.deliveries}
        variants = by_alert["WITH"].variants
        assert isinstance(variants, RenderedAlert)
        assert variants.languages == ("nl-NL", "en-GB")
        fitted = variants.fit("en", CharacterBudget("360", 360))
        assert fitted.fits
        assert fitted.text.startswith("Safety Region Rotterdam-Rijnmond:")
        assert by_alert["WITHOUT"].variants is None
