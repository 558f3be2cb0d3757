"""Spoken variants with the real espeak-ng: a WAV with a real header and duration, the
Dutch text read by a Dutch voice, and a missing espeak-ng a finding, not a lost alert."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.assets import load_accessibility
from router.assets.speech import SpeechWorker, asset_name
from router.assets.tts import Speaker, SpeechError, parse_voices, wav_duration
from router.cap import parse_cap
from router.render import Renderer
from router.store import NewAlert, SqliteStore

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_accessibility(REPO / "config" / "accessibility")
RAW = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_bytes()
needs_espeak = pytest.mark.usefixtures("espeak")


@pytest.fixture
def espeak() -> str:
    """The real espeak-ng; missing it is a failure (make system-deps installs it)."""
    found = shutil.which("espeak-ng")
    assert found, "espeak-ng is not installed: run `make system-deps` (scripts/debian-packages.txt)"
    return found


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "s.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def accepted(store: SqliteStore) -> str:
    document = parse_cap(RAW).document
    assert document is not None
    rendered = Renderer(CONFIG).render(document.alert)
    await store.accept(NewAlert("A1", document.alert, RAW, "h", "cap12", "t", datetime.now(UTC),
                                [], [], variants=rendered.to_json(), speech_pending=True))
    return "A1"


def test_voice_listing_is_parsed() -> None:
    listing = ("Pty Language       Age/Gender VoiceName          File                 Other\n"
               " 5  nl              --/M      Dutch              gmw/nl\n"
               " 7  nl              --/M      dutch-mbrola-2     mb/mb-nl2\n")
    voices = parse_voices(listing)
    assert [(v.language, v.name, v.file) for v in voices] == [
        ("nl", "Dutch", "gmw/nl"), ("nl", "dutch-mbrola-2", "mb/mb-nl2")]


@needs_espeak
async def test_dutch_text_is_spoken_by_a_dutch_voice_into_a_wav(tmp_path: Path) -> None:
    speaker = Speaker(CONFIG.tts)
    speech = await speaker.speak("Ga naar binnen. Sluit ramen en deuren.", "nl-NL",
                                 tmp_path / "nl.wav")
    data = (tmp_path / "nl.wav").read_bytes()
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    assert speech.duration_s == wav_duration(tmp_path / "nl.wav") > 0.5
    assert speech.sha256 == hashlib.sha256(data).hexdigest()
    assert speech.size == len(data)
    assert speech.voice.language == "nl"
    assert speech.voice.file == "gmw/nl"
    english = await speaker.speak("Ga naar binnen. Sluit ramen en deuren.", "en-GB",
                                  tmp_path / "en.wav")
    assert english.voice.language == "en-gb"
    assert english.sha256 != speech.sha256  # the voice, not only the label, differs


@needs_espeak
async def test_a_language_without_a_voice_is_an_error_not_another_voice() -> None:
    with pytest.raises(SpeechError) as caught:
        await Speaker(CONFIG.tts).voice_for("tlh")  # Klingon: no espeak-ng voice
    assert caught.value.code == "render.tts.no-voice"


@needs_espeak
async def test_worker_stores_each_language_as_an_asset(store: SqliteStore, tmp_path: Path) -> None:
    alert_id = await accepted(store)
    worker = SpeechWorker(store, Speaker(CONFIG.tts), tmp_path / "assets")
    [job] = await store.speech_due(8)
    await worker.speak(job)
    assets = await store.assets(alert_id)
    assert {a.name for a in assets} == {asset_name("nl-NL"), asset_name("en-GB")}
    for asset in assets:
        path = tmp_path / "assets" / alert_id / asset.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == asset.sha256
        assert asset.duration_s is not None
        assert 1 < asset.duration_s <= 60
        assert "http" not in str(asset.detail["text"])  # the link is not read aloud
    stored = await store.variants(alert_id)
    assert stored is not None
    assert stored.speech_state == "done"
    assert await store.speech_due(8) == []


async def test_missing_espeak_is_a_finding_and_the_alert_stays(store: SqliteStore,
                                                               tmp_path: Path) -> None:
    alert_id = await accepted(store)
    worker = SpeechWorker(store, Speaker(CONFIG.tts, binary=None), tmp_path / "assets")
    worker.speaker.binary = None  # as if espeak-ng were not installed
    [job] = await store.speech_due(8)
    await worker.speak(job)
    record = await store.get(alert_id)
    assert record is not None
    assert record.state == "accepted"
    assert [f.code for f in record.findings] == ["render.tts.unavailable"]
    stored = await store.variants(alert_id)
    assert stored is not None
    assert stored.speech_state == "failed"
    assert await store.assets(alert_id) == []
