"""Spoken audio is pruned after its alert's expiry plus the retention period, not before,
and the speech backlog is readable for its gauges (issue 18: 237 MB of WAV for 550
alerts, never pruned). Runs on SQLite and on PostgreSQL (the store contract suite)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from router.assets.pruning import AssetPruner
from router.observability.metrics import Metrics
from router.record.speech import SpeechBacklogGauges
from router.store import AlertStore, AssetRecord, NewAlert
from tests.stores import opened_stores
from tests.unit.test_sqlite_store import new_alert

pytestmark = pytest.mark.usefixtures("store_backend")  # the store contract suite

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


async def spoken(store: AlertStore, assets: Path, alert_id: str,
                 expires_at: datetime | None, received_at: datetime = NOW) -> None:
    base = new_alert("nl-alert-fire.xml", alert_id)
    await store.accept(NewAlert(**{**base.__dict__, "id": alert_id, "plan": [],
                                   "received_at": received_at,
                                   "variants": "{}", "speech_pending": True}))
    records = []
    for language in ("nl-nl", "en-gb"):
        name = f"speech-{language}.opus"
        (assets / alert_id).mkdir(parents=True, exist_ok=True)
        (assets / alert_id / name).write_bytes(b"OggS" + language.encode())
        records.append(AssetRecord(alert_id, name, "speech", language, "audio/ogg; codecs=opus",
                                   6, "ab" * 32, 2.0, {}, NOW, expires_at))
    await store.record_speech(alert_id, records, [], state="done")


async def test_audio_goes_after_expiry_plus_retention_and_not_before(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]  # alert ids of this test alone, in a shared store too
    expired, recent, endless = f"old-{tag}", f"new-{tag}", f"never-{tag}"
    assets = tmp_path / "assets"
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        await spoken(store, assets, expired, NOW - WEEK - timedelta(hours=1))
        await spoken(store, assets, recent, NOW - WEEK + timedelta(hours=1))
        await spoken(store, assets, endless, None)  # an alert without <expires>
        [stored] = [a for a in await store.assets(recent) if a.language == "nl-nl"]
        assert stored.expires_at == NOW - WEEK + timedelta(hours=1)  # the column round-trips

        pruner = AssetPruner(store, assets, retention=WEEK)
        mine = {expired, recent, endless}
        pruned = await pruner.prune(NOW)
        assert pruned >= 2  # a shared store may hold other tests' expired audio too
        assert await store.assets(expired) == []
        assert not (assets / expired).exists()  # the files, and their folder
        state = await store.variants(expired)
        assert state is not None
        assert state.speech_state == "pruned"  # what makes the asset route answer 410
        for kept in (recent, endless):
            assert len(await store.assets(kept)) == 2
            assert len(list((assets / kept).iterdir())) == 2
            state = await store.variants(kept)
            assert state is not None
            assert state.speech_state == "done"

        # an hour and a bit later the second one's retention has passed too
        assert await pruner.prune(NOW + timedelta(hours=1, seconds=1)) >= 2
        assert await store.assets(recent) == []
        assert len(await store.assets(endless)) == 2  # never expires: kept
        left = {a.alert_id for a in await store.expired_assets(NOW + 10 * WEEK, 1000)}
        assert not left & mine


async def test_a_crash_between_files_and_rows_is_finished_by_the_next_run(tmp_path: Path
                                                                           ) -> None:
    alert_id = f"crash-{uuid.uuid4().hex[:8]}"
    assets = tmp_path / "assets"
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        await spoken(store, assets, alert_id, NOW - 2 * WEEK)
        for path in (assets / alert_id).iterdir():  # files gone, rows left (the crash)
            path.unlink()
        await AssetPruner(store, assets, retention=WEEK).prune(NOW)
        assert await store.assets(alert_id) == []
        state = await store.variants(alert_id)
        assert state is not None
        assert state.speech_state == "pruned"


async def test_speech_backlog_counts_the_waiting_alerts_and_the_oldest(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        before = await store.speech_backlog()
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=400)  # the oldest
        for n in range(3):
            base = new_alert("nl-alert-fire.xml", f"SB-{tag}-{n}")
            await store.accept(NewAlert(**{**base.__dict__, "id": f"sb-{tag}-{n}", "plan": [],
                                           "received_at": start + timedelta(minutes=n),
                                           "variants": "{}", "speech_pending": True}))
        backlog = await store.speech_backlog()
        assert backlog.pending == before.pending + 3
        assert backlog.oldest_accepted == start
        assert backlog.oldest_age_s(start + timedelta(minutes=2)) == 120

        await store.record_speech(f"sb-{tag}-0", [], [], state="done")
        backlog = await store.speech_backlog()
        assert backlog.pending == before.pending + 2
        assert backlog.oldest_accepted == start + timedelta(minutes=1)

        metrics = Metrics(process=False)
        await SpeechBacklogGauges(store, metrics).refresh()
        exposed = metrics.exposition()[0].decode()
        assert f"tocsin_speech_backlog {float(before.pending + 2)}" in exposed
        assert "tocsin_speech_oldest_pending_age_seconds " in exposed


async def test_a_folder_whose_rows_another_node_pruned_is_swept(tmp_path: Path) -> None:
    """Nodes on one PostgreSQL store keep their audio in their own data directories: the
    node that prunes the rows may not hold the files, so each node sweeps its own."""
    tag = uuid.uuid4().hex[:8]
    gone, endless = f"elsewhere-{tag}", f"forever-{tag}"
    assets = tmp_path / "assets"
    async with opened_stores(tmp_path) as stores:
        store = stores.alerts
        await spoken(store, assets, gone, NOW - 2 * WEEK)
        await spoken(store, assets, endless, None)
        await store.prune_assets([gone], NOW - WEEK)  # as another node does: no files here
        old = (NOW - 2 * WEEK).timestamp()
        for folder in (assets / gone, assets / endless):
            os.utime(folder, (old, old))
        await AssetPruner(store, assets, retention=WEEK).prune(NOW)
        assert not (assets / gone).exists()
        assert len(list((assets / endless).iterdir())) == 2  # not pruned: kept
