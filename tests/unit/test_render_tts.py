"""Spoken variants with the real espeak-ng and opusenc: an Ogg Opus file (a real Ogg page
with an ``OpusHead``), far smaller than the WAV espeak-ng writes, decoded back to a real
WAV on request; the Dutch text read by a Dutch voice, and a missing espeak-ng or
opusenc a finding, not a lost alert."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.assets import load_accessibility
from router.assets.speech import SpeechWorker, asset_name
from router.assets.tts import (
    OPUS_MIME,
    Speaker,
    SpeechError,
    opus_head,
    opus_to_wav,
    parse_voices,
    wav_duration,
)
from router.cap import parse_cap
from router.render import Renderer
from router.store import NewAlert, SpeechJob, SqliteStore

REPO = Path(__file__).resolve().parents[2]
CONFIG = load_accessibility(REPO / "config" / "accessibility")
RAW = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_bytes()
needs_espeak = pytest.mark.usefixtures("espeak")


@pytest.fixture
def espeak() -> str:
    """The real espeak-ng and opus-tools; missing them is a failure (make system-deps
    installs them)."""
    for tool in ("opusenc", "opusdec"):
        assert shutil.which(tool), (f"{tool} is not installed: run `make system-deps` "
                                    "(opus-tools, scripts/debian-packages.txt)")
    found = shutil.which("espeak-ng")
    assert found, "espeak-ng is not installed: run `make system-deps` (scripts/debian-packages.txt)"
    return found


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "s.sqlite3")
    await opened.open()
    yield opened
    await opened.close()


async def accepted(store: SqliteStore, raw: bytes = RAW) -> str:
    document = parse_cap(raw).document
    assert document is not None
    rendered = Renderer(CONFIG).render(document.alert)
    await store.accept(NewAlert("A1", document.alert, raw, "h", "cap12", "t", datetime.now(UTC),
                                [], [], variants=rendered.to_json(), speech_pending=True))
    return "A1"


def expiring(*expires: str) -> bytes:
    """The example alert with one ``<expires>`` per info (before ``<senderName>``)."""
    parts = RAW.split(b"    <senderName>")
    assert len(parts) == len(expires) + 1
    out = parts[0]
    for value, rest in zip(expires, parts[1:], strict=True):
        out += f"    <expires>{value}</expires>\n".encode() + b"    <senderName>" + rest
    return out


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_voice_listing_is_parsed() -> None:
    listing = ("Pty Language       Age/Gender VoiceName          File                 Other\n"
               " 5  nl              --/M      Dutch              gmw/nl\n"
               " 7  nl              --/M      dutch-mbrola-2     mb/mb-nl2\n")
    voices = parse_voices(listing)
    assert [(v.language, v.name, v.file) for v in voices] == [
        ("nl", "Dutch", "gmw/nl"), ("nl", "dutch-mbrola-2", "mb/mb-nl2")]


@needs_espeak
async def test_dutch_text_is_spoken_by_a_dutch_voice_into_ogg_opus(tmp_path: Path) -> None:
    speaker = Speaker(CONFIG.tts)
    speech = await speaker.speak("Ga naar binnen. Sluit ramen en deuren.", "nl-NL",
                                 tmp_path / "nl.opus")
    data = (tmp_path / "nl.opus").read_bytes()
    assert data[:4] == b"OggS"
    assert data[28:36] == b"OpusHead"  # one segment on the first page: the header
    head = opus_head(data)
    assert head is not None
    assert (head.channels, head.input_rate) == (1, 22050)  # espeak-ng's mono 22.05 kHz
    assert speech.duration_s > 0.5
    assert speech.sha256 == hashlib.sha256(data).hexdigest()
    assert speech.size == len(data)
    assert speech.voice.language == "nl"
    assert speech.voice.file == "gmw/nl"
    assert names(tmp_path) == ["nl.opus"]  # no WAV left behind
    english = await speaker.speak("Ga naar binnen. Sluit ramen en deuren.", "en-GB",
                                  tmp_path / "en.opus")
    assert english.voice.language == "en-gb"
    assert english.sha256 != speech.sha256  # the voice, not only the label, differs


@needs_espeak
async def test_opus_is_far_smaller_than_the_wav_and_decodes_back_to_one(tmp_path: Path
                                                                         ) -> None:
    speech = await Speaker(CONFIG.tts).speak(
        "Grote brand in Rotterdam-Zuid. Ga naar binnen, sluit ramen en deuren en zet de "
        "ventilatie uit. Kijk voor meer informatie op de website van de veiligheidsregio.",
        "nl-NL", tmp_path / "nl.opus")
    wav = await opus_to_wav(speech.path)
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    (tmp_path / "back.wav").write_bytes(wav)
    assert abs(wav_duration(tmp_path / "back.wav") - speech.duration_s) < 0.1
    # espeak-ng's WAV is 44,100 bytes a second; 24 kbit/s Opus about 3,000
    assert speech.size * 8 < len(wav)
    assert speech.size < 4000 * speech.duration_s


async def test_a_file_that_is_not_ogg_opus_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.opus").write_bytes(b"RIFF" + bytes(100))
    assert opus_head(b"RIFF" + bytes(100)) is None
    with pytest.raises(SpeechError) as caught:
        await opus_to_wav(tmp_path / "x.opus")
    assert caught.value.code == "render.tts.failed"


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
    assert {a.name for a in assets} == {"speech-nl-nl.opus", "speech-en-gb.opus"}
    assert {asset_name("nl-NL"), asset_name("en-GB")} == {a.name for a in assets}
    for asset in assets:
        path = tmp_path / "assets" / alert_id / asset.name
        assert asset.mime_type == OPUS_MIME == "audio/ogg; codecs=opus"
        assert path.read_bytes()[:4] == b"OggS"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == asset.sha256
        assert asset.duration_s is not None
        assert 1 < asset.duration_s <= 60
        assert "http" not in str(asset.detail["text"])  # the link is not read aloud
        assert asset.expires_at is None  # the example never expires: its audio is kept
    stored = await store.variants(alert_id)
    assert stored is not None
    assert stored.speech_state == "done"
    assert await store.speech_due(8) == []


@needs_espeak
async def test_worker_records_the_alerts_latest_expiry_for_pruning(store: SqliteStore,
                                                                   tmp_path: Path) -> None:
    alert_id = await accepted(store, expiring("2026-11-25T18:00:00+01:00",
                                              "2026-11-25T20:00:00+01:00"))
    [job] = await store.speech_due(8)
    await SpeechWorker(store, Speaker(CONFIG.tts), tmp_path / "assets").speak(job)
    assets = await store.assets(alert_id)
    assert len(assets) == 2
    assert {a.expires_at for a in assets} == {datetime(2026, 11, 25, 19, 0, tzinfo=UTC)}


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


async def test_missing_opusenc_is_a_finding_and_no_wav_is_kept(store: SqliteStore,
                                                                 tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: nothing to encode")
    alert_id = await accepted(store)
    worker = SpeechWorker(store, Speaker(CONFIG.tts), tmp_path / "assets")
    worker.speaker.encoder = None  # as if opus-tools were not installed
    [job] = await store.speech_due(8)
    await worker.speak(job)
    record = await store.get(alert_id)
    assert record is not None
    assert [f.code for f in record.findings] == ["render.tts.unavailable"]
    assert "opus-tools" in record.findings[0].message
    assert await store.assets(alert_id) == []
    assert names(tmp_path / "assets" / alert_id) == []


def _tool(path: Path, body: str) -> str:
    """A stand-in for a tool that reports the niceness it was started with."""
    path.write_text(f"#!{sys.executable}\nimport os, sys\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


async def test_espeak_and_opusenc_run_at_lower_priority(tmp_path: Path) -> None:
    """Speech must not take the cores from ingest and delivery: both tools run under
    ``nice -n 10`` (here: stand-ins that print the niceness they were given)."""
    if shutil.which("nice") is None:
        pytest.skip("no nice(1) on this system: the tools run at normal priority")
    ours = os.nice(0)
    speaker = Speaker(CONFIG.tts, binary=_tool(tmp_path / "espeak", "print(os.nice(0))"),
                      encoder=_tool(tmp_path / "opusenc",
                                    "open(sys.argv[-1], 'w').write(str(os.nice(0)))"))
    assert int(await speaker._run("--voices=nl")) == min(ours + 10, 19)
    (tmp_path / "in.wav").write_bytes(b"")
    await speaker._encode(tmp_path / "in.wav", tmp_path / "out.opus")
    assert int((tmp_path / "out.opus").read_text()) == min(ours + 10, 19)


class _Timed(SpeechWorker):
    """Records how many alerts are spoken at once; speaks nothing."""

    active = 0
    most = 0

    async def speak(self, job: SpeechJob) -> None:
        type(self).active += 1
        type(self).most = max(type(self).most, type(self).active)
        await asyncio.sleep(0.05)
        type(self).active -= 1
        await self.store.record_speech(job.alert_id, [], [], state="done")


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_the_worker_speaks_up_to_its_concurrency_at_once(
        store: SqliteStore, tmp_path: Path, concurrency: int) -> None:
    """Speech runs niced, so it may use every idle core: a backlog drains ``concurrency``
    alerts at a time, never more."""
    for number in range(6):
        raw = RAW.replace(b"<identifier>", f"<identifier>C{number}-".encode(), 1)
        document = parse_cap(raw).document
        assert document is not None
        rendered = Renderer(CONFIG).render(document.alert)
        await store.accept(NewAlert(f"C{number}", document.alert, raw, f"h{number}", "cap12",
                                    "t", datetime.now(UTC), [], [],
                                    variants=rendered.to_json(), speech_pending=True))
    _Timed.active = _Timed.most = 0
    worker = _Timed(store, Speaker(CONFIG.tts), tmp_path / "assets", concurrency=concurrency)
    await worker.start()
    try:
        async with asyncio.timeout(10):
            while await store.speech_due(8):
                await asyncio.sleep(0.02)
    finally:
        await worker.stop()
    assert _Timed.most == concurrency


def test_speech_concurrency_defaults_to_the_cores() -> None:
    assert Speaker(CONFIG.tts).settings.concurrency is None
    assert SpeechWorker.default_concurrency() == (os.cpu_count() or 1)
