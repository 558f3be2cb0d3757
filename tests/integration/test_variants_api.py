"""``GET /api/v1/alerts/{id}/variants`` and the spoken assets, through a real
``tocsin serve`` process; ``missing_language: reject`` as a 422; ``tocsin preview``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import REPO, Server, start_server


async def get_json(server: Server, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.get(f"{server.url}{path}") as response:
            return response.status, await response.json(content_type=None)


async def post(server: Server, body: bytes) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.post(f"{server.url}/api/v1/alerts", data=body) as response:
            return response.status, await response.json(content_type=None)


def dutch_only(identifier: str) -> bytes:
    text = make_alert(identifier).decode()
    text = text[:text.index("  <info>\n    <language>en-GB")] + "</alert>\n"
    return text.replace("<responseType>Shelter</responseType>", "")


async def test_variants_per_channel_and_spoken_assets(server: Server) -> None:
    status, accepted = await post(server, make_alert("VAR-1"))
    assert status == 202, accepted
    status, body = await get_json(server, f"/api/v1/alerts/{accepted['id']}/variants")
    assert status == 200, body
    assert body["languages"] == ["nl-NL", "en-GB"]
    assert body["icon"]["id"] == "fire"
    assert body["cadence"]["duration_ms"] == 10500
    nl = body["variants"][0]
    assert nl["summary"].startswith("Veiligheidsregio Rotterdam-Rijnmond: Grote brand")
    assert [s["slot"] for s in nl["slots"]][:4] == ["source", "hazard", "impact", "where"]
    forms = {(f["target"], f["language"]): f for f in body["forms"]}
    assert forms[("file", "nl-NL")]["budget"] == "no limit"
    assert forms[("short-360", "en-GB")]["fits"] is True
    short = forms[("short-90", "nl-NL")]  # the headline: no summary form fits 90
    assert short["fits"] is True
    assert short["text"] == "Grote brand in Rotterdam-Zuid."
    assert shutil.which("espeak-ng"), "espeak-ng is not installed: run `make system-deps`"
    for _ in range(100):  # bounded: speech is made after the 202, by the worker
        status, body = await get_json(server, f"/api/v1/alerts/{accepted['id']}/variants")
        if body["speech"] != "pending":
            break
        await asyncio.sleep(0.1)
    assert body["speech"] == "done", body
    audio = body["variants"][0]["audio"]
    assert audio["mime_type"] == "audio/ogg; codecs=opus"
    assert audio["uri"].endswith("/speech-nl-nl.opus")
    assert audio["duration_s"] > 0
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.get(f"{server.url}{audio['uri']}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "audio/ogg; codecs=opus"
            data = await response.read()
        async with session.get(f"{server.url}{audio['uri']}?format=wav") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "audio/wav"
            wav = await response.read()
        async with session.get(f"{server.url}{audio['uri']}?format=mp3") as response:
            assert response.status == 400
            assert (await response.json())["code"] == "asset.format-unknown"
    assert data[:4] == b"OggS"
    assert data[28:36] == b"OpusHead"
    assert hashlib.sha256(data).hexdigest() == audio["sha256"]
    assert hashlib.sha1(data, usedforsecurity=False).hexdigest() == audio["digest"]
    assert audio["size"] == len(data)
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    assert len(wav) > 8 * len(data)  # what storing Opus saves


async def speech_state(server: Server, alert_id: str) -> dict[str, Any]:
    for _ in range(150):  # bounded: speech is made after the 202, by the worker
        _, body = await get_json(server, f"/api/v1/alerts/{alert_id}/variants")
        if body["speech"] != "pending":
            break
        await asyncio.sleep(0.1)
    return body


async def status_of(server: Server, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.get(f"{server.url}{path}") as response:
            return response.status, await response.read()


async def test_audio_is_pruned_after_expiry_plus_retention_and_then_gone(tmp_path: Path
                                                                        ) -> None:
    expires = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    stamp = expires.isoformat()
    raw = make_alert("VAR-PRUNE").replace(
        b"    <senderName>", f"    <expires>{stamp}</expires>\n    <senderName>".encode())
    often = {"TOCSIN_ASSET_PRUNE_INTERVAL_S": "0.2"}
    running = start_server(tmp_path / "data", env=often)  # retention: the default 7 days
    try:
        status, accepted = await post(running, raw)
        assert status == 202, accepted
        alert_id = accepted["id"]
        body = await speech_state(running, alert_id)
        assert body["speech"] == "done", body
        uri = body["variants"][0]["audio"]["uri"]
        assert (await status_of(running, uri))[0] == 200
        wait = (expires - datetime.now(UTC)).total_seconds() + 1.0
        await asyncio.sleep(max(wait, 0))  # expired, and the pruner has run since
        assert (await status_of(running, uri))[0] == 200  # within the retention period
    finally:
        running.stop()
    folder = tmp_path / "data" / "assets" / alert_id
    assert len(list(folder.iterdir())) == 2
    running = start_server(tmp_path / "data",
                           env={**often, "TOCSIN_ASSET_RETENTION_DAYS": "0"})
    try:
        for _ in range(100):  # bounded: the first prune runs as the service starts
            status, answer = await status_of(running, uri)
            if status != 200:
                break
            await asyncio.sleep(0.1)
        assert status == 410, answer
        assert json.loads(answer)["code"] == "asset.pruned"
        assert (await status_of(running, uri + "?format=wav"))[0] == 410
        _, body = await get_json(running, f"/api/v1/alerts/{alert_id}/variants")
        assert body["speech"] == "pruned"
        assert body["variants"][0]["audio"] is None
        status, answer = await status_of(running,
                                         f"/api/v1/alerts/{alert_id}/assets/speech-xx.wav")
        assert status == 410  # any of the alert's spoken files: gone
        status, answer = await status_of(running, f"/api/v1/alerts/{alert_id}/assets/other")
        assert status == 404  # never one of them
    finally:
        running.stop(signal.SIGKILL)
    assert not folder.exists()


async def test_missing_language_warns_in_the_202_and_on_the_alert(server: Server) -> None:
    status, accepted = await post(server, dutch_only("VAR-2"))
    assert status == 202, accepted
    assert "render.language.missing" in {w["code"] for w in accepted["warnings"]}
    _, record = await get_json(server, f"/api/v1/alerts/{accepted['id']}")
    assert "render.language.missing" in {f["code"] for f in record["findings"]}


async def test_unknown_alert_and_openapi(server: Server) -> None:
    status, problem = await get_json(server, "/api/v1/alerts/nope/variants")
    assert status == 404
    assert problem["code"] == "alert.not-found"
    _, document = await get_json(server, "/api/v1/openapi.json")
    assert "/api/v1/alerts/{alert_id}/variants" in document["paths"]
    assert "VariantsOut" in document["components"]["schemas"]


async def test_reject_policy_refuses_with_422(tmp_path: Path) -> None:
    directory = tmp_path / "accessibility"
    shutil.copytree(REPO / "config" / "accessibility", directory)
    main = directory / "accessibility.yaml"
    main.write_text(main.read_text().replace("missing_language: warn",
                                             "missing_language: reject"))
    running = start_server(tmp_path / "data", env={"TOCSIN_ACCESSIBILITY_DIR": str(directory)})
    try:
        status, problem = await post(running, dutch_only("VAR-3"))
        assert status == 422, problem
        assert problem["code"] == "render.rejected"
        assert [f["code"] for f in problem["findings"]] == ["render.language.missing"]
        status, _ = await post(running, make_alert("VAR-4"))
        assert status == 202
    finally:
        running.stop(signal.SIGKILL)


def test_preview_command_shows_every_variant_per_channel() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "router.cli", "preview", "--demo", "--format", "json",
         str(EXAMPLES / "nl-alert-fire.xml")],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    [report] = json.loads(result.stdout)["results"]
    assert report["languages"] == ["nl-NL", "en-GB"]
    assert report["ok"] is True
    targets = {(f["target"], f["language"]) for f in report["forms"]}
    assert {("file", "nl-NL"), ("short-90", "en-GB"), ("short-360", "nl-NL")} <= targets
    forms = {(f["target"], f["language"]): f for f in report["forms"]}
    # one bilingual NL-Alert: both texts in one GSM-7 message, as the CBC receives it
    cb = forms[("cell_broadcast", "nl-NL+en-GB")]
    assert (cb["segments"], cb["alphabet"], cb["languages"]) == (8, "GSM-7",
                                                                 ["nl-NL", "en-GB"])
    assert forms[("sms", "en-GB")]["segments"] == forms[("sms", "en-GB")]["cost"] == 3
    assert forms[("file", "nl-NL")]["segments"] is None  # no encoding of its own
    text = subprocess.run(
        [sys.executable, "-m", "router.cli", "preview", str(EXAMPLES / "nl-alert-fire.xml")],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert "cost/limit" in text.stdout
    assert "| Waar: Rotterdam-Zuid" in text.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "router.cli", "preview", str(REPO / "nope.xml")],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2
