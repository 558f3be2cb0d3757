"""``POST /api/v1/alerts/preview/speech``: the spoken text of a document not stored,
through the real application and the real ``espeak-ng``/``opusenc``: Ogg Opus back,
nothing stored, the same refusals as the preview, and a bound on how many wait."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.assets.tts import opus_head
from router.console.cap_form import alert_from_form
from router.ingest import preview_api
from router.settings import Settings

KEY = "dev-key-for-speech-preview-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}
FORM = {"sender": "meldkamer@vr-zeeland.example.nl", "urgency": "Immediate",
        "severity": "Severe", "certainty": "Likely", "category": "Met",
        "area_desc": "Zeeland", "polygon": "51.6,3.5 51.6,4.0 51.3,4.0 51.3,3.5 51.6,3.5",
        "event_nl-NL": "Overstroming", "headline_nl-NL": "Hoog water in Zeeland",
        "instruction_nl-NL": "Ga naar de hoogste verdieping.",
        "event_en-GB": "Flood", "headline_en-GB": "Flood risk in Zeeland"}

pytestmark = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("opusenc")),
                                reason="espeak-ng/opusenc missing: make system-deps")


def _app(tmp_path: Path) -> TestServer:
    return TestServer(create_app(Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY,
                                          dispatch_enabled=False)))


async def test_spoken_preview_is_ogg_opus_and_nothing_is_stored(tmp_path: Path) -> None:
    async with TestClient(_app(tmp_path)) as client:
        response = await client.post("/api/v1/alerts/preview/speech?lang=nl-NL",
                                     data=alert_from_form(FORM), headers=AUTH)
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "audio/ogg; codecs=opus"
        audio = await response.read()
        assert opus_head(audio) is not None
        english = await client.post("/api/v1/alerts/preview/speech?lang=en-GB",
                                    data=alert_from_form(FORM), headers=AUTH)
        assert english.status == 200
        assert await english.read() != audio  # each language its own text
        listed = await (await client.get("/api/v1/alerts", headers=AUTH)).json()
    assert listed["total"] == 0
    assets = tmp_path / "assets"
    assert not assets.exists() or not list(assets.rglob("*"))


async def test_spoken_preview_refuses_as_the_preview_does(tmp_path: Path) -> None:
    async with TestClient(_app(tmp_path)) as client:
        document = alert_from_form(FORM)
        unknown = await client.post("/api/v1/alerts/preview/speech?lang=fr-FR",
                                    data=document, headers=AUTH)
        assert unknown.status == 404
        invalid = await client.post("/api/v1/alerts/preview/speech?lang=nl-NL",
                                    data=alert_from_form({**FORM, "urgency": "Soon"}),
                                    headers=AUTH)
        assert invalid.status == 422
        assert (await invalid.json())["findings"]
        anonymous = await client.post("/api/v1/alerts/preview/speech?lang=nl-NL",
                                      data=document,
                                      headers={"Content-Type": "application/cap+xml"})
        assert anonymous.status == 401


async def test_spoken_previews_beyond_the_bound_are_told_to_come_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preview_api, "SPEECH_PREVIEWS_WAITING", 0)
    async with TestClient(_app(tmp_path)) as client:
        ctx = client.server.app[preview_api.CONTEXT]
        slots, _waiting, _speaker = preview_api._speech_slots(ctx)
        await slots.acquire()  # one being made
        try:
            busy = await client.post("/api/v1/alerts/preview/speech?lang=nl-NL",
                                     data=alert_from_form(FORM), headers=AUTH)
        finally:
            slots.release()
        assert busy.status == 503
        assert busy.headers["Retry-After"] == "2"
        again = await client.post("/api/v1/alerts/preview/speech?lang=nl-NL",
                                  data=alert_from_form(FORM), headers=AUTH)
        assert again.status == 200
