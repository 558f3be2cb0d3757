"""A Cancel or Update that references nothing this store knows is held, not broadcast
(it went out as "withdrawn" to every phone): state ``held_unknown_reference``, no
deliveries, the finding ``ingest.reference.held``; unless the sender's policy says
``forward_unknown_references``. ``tocsin pending`` lists it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.settings import Authority, Settings, hash_api_key

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
KEY = "dev-key-for-reference-tests-0123456789"
RELAY_KEY = "relay-key-for-reference-tests-0123456789"
CANCEL = (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes()  # its original is not stored


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/cap+xml"}


def _settings(tmp_path: Path) -> Settings:
    relay = Authority(name="relay", senders=["*"], key_hashes=[hash_api_key(RELAY_KEY)],
                      forward_unknown_references=True)
    return Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False,
                    authorities=[relay])


async def test_a_cancel_of_nothing_known_is_held(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        posted = await client.post("/api/v1/alerts", data=CANCEL, headers=_headers(KEY))
        body = await posted.json()
        assert posted.status == 202, body
        assert "ingest.reference.held" in {f["code"] for f in body["warnings"]}
        status = await (await client.get(body["status_url"], headers=_headers(KEY))).json()
        assert status["lifecycle"] == "held_unknown_reference"
        assert status["state"] == "held_unknown_reference"
        assert status["deliveries"] == []
        listed = await (await client.get("/api/v1/alerts?state=held_unknown_reference",
                                         headers=_headers(KEY))).json()
        assert [item["id"] for item in listed["items"]] == [body["id"]]

        # `tocsin pending` against this server lists it
        url = str(client.make_url("")).rstrip("/")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "router.cli", "pending", "--url", url, "--key", KEY,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        line = next(line for line in out.decode().splitlines() if body["id"] in line)
        assert "held_unknown_reference" in line
        assert "NL-VRR-2026-0043" in line


async def test_the_senders_policy_may_forward_unknown_references(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        posted = await client.post("/api/v1/alerts", data=CANCEL, headers=_headers(RELAY_KEY))
        body = await posted.json()
        assert posted.status == 202, body
        codes = {f["code"] for f in body["warnings"]}
        assert "ingest.reference.unknown" in codes
        assert "ingest.reference.held" not in codes
        status = await (await client.get(body["status_url"],
                                         headers=_headers(RELAY_KEY))).json()
        assert status["lifecycle"] == "accepted"
        assert status["deliveries"], "forwarded: routing plans it"


async def test_a_cancel_of_a_known_alert_is_sent(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        for name in ("nl-alert-fire.xml", "nl-alert-fire-update.xml"):
            answer = await client.post("/api/v1/alerts", data=(EXAMPLES / name).read_bytes(),
                                       headers=_headers(KEY))
            assert answer.status == 202
        posted = await client.post("/api/v1/alerts", data=CANCEL, headers=_headers(KEY))
        body = await posted.json()
        status = await (await client.get(body["status_url"], headers=_headers(KEY))).json()
        assert status["lifecycle"] == "accepted"
        assert status["deliveries"]
