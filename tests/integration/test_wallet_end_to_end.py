"""The wallet push end to end through real processes: ``tocsin serve`` with an
``eudi_wallet`` channel, and the mock push service with 1,000 test phones that
subscribed through Tocsin's API. Every phone decrypts, verifies against Tocsin's
JWKS and shows the alert only if its position is inside the area."""

from __future__ import annotations

import asyncio
import json
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from shapely import Point, Polygon

from channels.eudi_wallet import jws
from channels.eudi_wallet.device import check_asset
from channels.eudi_wallet.keys import generate_demo_keys
from tests.contract.harnesses import MockPushProcess, mock_push_service
from tests.integration import server as server_module
from tests.integration.conftest import EXAMPLES
from tests.integration.server import Server, free_port, start_server

PHONES = 1000
FAST = {"TOCSIN_DISPATCH_POLL_INTERVAL_S": "0.05", "TOCSIN_DISPATCH_RETRY_MULTIPLIER_S": "0.05",
        "TOCSIN_DISPATCH_RETRY_MAX_S": "0.2",
        # a thousand test phones subscribe from one loopback address
        "TOCSIN_SUBSCRIPTION_RATE_LIMIT": '{"per_s": 0, "burst": 1}'}
ROUTES = "routes:\n  - id: all\n    match: {status: [Actual]}\n    channels: [eudi_wallet]\ndefault: [eudi_wallet]\n"
# the example polygon (lat/lon) and a box around it for test positions
AREA = Polygon([(4.43, 51.895), (4.49, 51.895), (4.49, 51.87), (4.43, 51.87)])
MARGIN = 0.003  # no test phone within ~300 m of the border: inside or outside is clear-cut


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPushProcess]:
    with mock_push_service(tmp_path_factory.mktemp("push")) as mock:
        yield mock


def positions(count: int, seed: int) -> list[tuple[float, float]]:
    """Phones around the area, about a third inside, none near the border."""
    rng = random.Random(seed)
    chosen: list[tuple[float, float]] = []
    while len(chosen) < count:
        lat, lon = rng.uniform(51.86, 51.905), rng.uniform(4.42, 4.50)
        if AREA.exterior.distance(Point(lon, lat)) > MARGIN:
            chosen.append((round(lat, 5), round(lon, 5)))
    return chosen


def start(tmp_path: Path, push: MockPushProcess, *, extra_env: dict[str, str] | None = None,
          **channel: Any) -> Server:
    """``tocsin serve`` on a port chosen here: the channel's ``public_base_url`` and
    the phones' JWKS URL must name it before it starts."""
    keys = generate_demo_keys(tmp_path / "keys")
    port = free_port()
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {"eudi_wallet": {
        "type": "eudi_wallet", "signing_key_file": str(keys.signing_key_file),
        "vapid_key_file": str(keys.vapid_key_file), "vapid_subject": "mailto:ops@tocsin.example",
        "public_base_url": f"http://127.0.0.1:{port}", "concurrency": 32, **channel}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    push.call("DELETE", "/_mock/received")
    push.call("PUT", "/_mock/faults", {"mode": "none"})
    push.call("PUT", "/_mock/trust", {"jwks_url": f"http://127.0.0.1:{port}/api/v1/wallet/jwks.json"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server_module, "free_port", lambda: port)
        return start_server(tmp_path / "data",
                            env={**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml"),
                                 **(extra_env or {})})


async def subscribe(server: Server, push: MockPushProcess, spots: list[tuple[float, float]]
                    ) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/wallet/config") as response:
            key = (await response.json())["application_server_key"]
        phones: list[dict[str, Any]] = push.call("POST", "/_mock/phones", {
            "positions": [list(p) for p in spots], "application_server_key": key})
        slots = asyncio.Semaphore(16)

        async def one(phone: dict[str, Any]) -> None:
            async with slots, session.post(f"{server.url}/api/v1/wallet/subscriptions", json={
                    **phone["subscription"], "country": "NL", "languages": ["nl"]}) as answer:
                assert answer.status == 201, await answer.text()
                phone["subscription_id"] = (await answer.json())["id"]

        await asyncio.gather(*map(one, phones))
    return phones


async def post(server: Server, body: bytes) -> str:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.post(f"{server.url}/api/v1/alerts", data=body) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["id"])


async def delivered(server: Server, alert_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(headers=server.headers) as session:
        while True:
            async with session.get(f"{server.url}/api/v1/alerts/{alert_id}") as response:
                wallet = next(d for d in (await response.json())["deliveries"]
                              if d["channel"] == "eudi_wallet")
            if wallet["state"] not in {"pending", "sending"}:
                return dict(wallet)
            assert asyncio.get_running_loop().time() < deadline, wallet
            await asyncio.sleep(0.2)


def records(push: MockPushProcess, cap_identifier: str) -> list[dict[str, Any]]:
    return [r for r in push.call("GET", "/_mock/received?brief=1")
            if r.get("cap_identifier") == cap_identifier]


async def test_thousand_phones_each_decrypt_verify_and_geofence(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push)
    try:
        phones = await subscribe(server, push, positions(PHONES, seed=8))
        wallet = await delivered(server, await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes()))
        assert wallet["state"] == "delivered", wallet
        seen = {r["phone"]: r for r in records(push, "NL-VRR-2026-0042")}
        assert len(seen) == PHONES  # every phone got exactly one message
        assert len(records(push, "NL-VRR-2026-0042")) == PHONES
        expected = {p["id"] for p in phones
                    if AREA.contains(Point(p["position"][1], p["position"][0]))}
        shown = {phone for phone, r in seen.items() if r["outcome"] == "shown"}
        assert 200 < len(expected) < 800
        assert shown == expected
        assert {r["outcome"] for r in seen.values()} == {"shown", "outside"}  # none refused

        update_id = await post(server, (EXAMPLES / "nl-alert-fire-update.xml").read_bytes())
        assert (await delivered(server, update_id))["state"] == "delivered"
        cancel_id = await post(server, (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes())
        assert (await delivered(server, cancel_id))["state"] == "delivered"
    finally:
        server.stop(signal.SIGKILL)
    original = {r["topic"] for r in records(push, "NL-VRR-2026-0042")}
    update = records(push, "NL-VRR-2026-0043")
    cancel = records(push, "NL-VRR-2026-0044")
    assert len(original) == 1
    assert {r["topic"] for r in update} == original  # Update under the original's Topic
    assert {r["topic"] for r in cancel} == original  # and the Cancel (it references the Update)
    assert {r["outcome"] for r in cancel} == {"withdrawn"}
    assert len(cancel) == PHONES
    inbox = push.call("GET", f"/_mock/phones/{next(iter(expected))}")
    assert inbox == []  # the Cancel took the alert off the screen


async def test_tickle_document_is_fetched_from_tocsin_and_verified(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push, max_payload_bytes=1200)
    try:
        phones = await subscribe(server, push, [(51.8825, 4.46), (52.3676, 4.9041)])
        alert_id = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        wallet = await delivered(server, alert_id)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/api/v1/wallet/alerts/{alert_id}") as response:
                assert response.status == 200
                assert response.content_type == "application/jose"
            async with session.get(f"{server.url}/api/v1/wallet/alerts/nonexistent") as response:
                assert response.status == 404
    finally:
        server.stop(signal.SIGKILL)
    assert wallet["state"] == "delivered"
    seen = {r["phone"]: r for r in records(push, "NL-VRR-2026-0042")}
    assert seen[phones[0]["id"]]["outcome"] == "shown"
    assert seen[phones[0]["id"]]["typ"] == "alert"  # the full document, fetched and verified
    assert seen[phones[1]["id"]]["outcome"] == "outside"


async def speech_made(server: Server, alert_id: str) -> None:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        for _ in range(150):  # bounded: speech is made after the 202, by the worker
            async with session.get(f"{server.url}/api/v1/alerts/{alert_id}/variants") as response:
                state = (await response.json())["speech"]
            if state != "pending":
                break
            await asyncio.sleep(0.1)
    assert state == "done", state


async def test_the_fetched_document_has_the_pushed_text_and_audio_a_phone_can_verify(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push)
    try:
        await subscribe(server, push, [(51.8825, 4.46)])
        alert_id = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        assert (await delivered(server, alert_id))["state"] == "delivered"
        await speech_made(server, alert_id)
        url = f"{server.url}/api/v1/wallet/alerts/{alert_id}"
        async with aiohttp.ClientSession() as session:  # a phone: no API key
            async with session.get(f"{server.url}/api/v1/wallet/jwks.json") as response:
                trusted = jws.key_set(json.loads(await response.read()))
            async with session.get(url) as response:
                fetched = jws.verify(await response.text(), trusted)
            audio = [a for a in fetched["assets"] if a["kind"] == "audio"]
            for asset in audio:
                assert asset["mime"] == "audio/ogg; codecs=opus"
                async with session.get(asset["url"]) as response:
                    assert response.status == 200
                    check_asset(asset, await response.read())  # raises on a mismatch
                async with session.get(asset["url"] + "?format=wav") as response:
                    assert response.status == 200  # for a phone that plays only WAV
                    assert (await response.read())[:4] == b"RIFF"
            for missing in (f"{url}/assets/speech-xx.opus",
                            f"{server.url}/api/v1/wallet/alerts/nope/assets/speech-nl-nl.opus"):
                async with session.get(missing) as response:
                    assert response.status == 404
    finally:
        server.stop(signal.SIGKILL)
    [pushed] = [r["document"] for r in push.call("GET", "/_mock/received")
                if r.get("cap_identifier") == "NL-VRR-2026-0042"]
    assert pushed["variants"] == fetched["variants"]  # the same stored variants, both ways
    assert fetched["variants"][0]["text"].startswith("Veiligheidsregio Rotterdam-Rijnmond: ")
    assert {a["lang"] for a in audio} == {"nl-NL", "en-GB"}
    assert fetched["speech_pending"] is False
    pushed_audio = [a for a in pushed["assets"] if a["kind"] == "audio"]
    assert all(a in audio for a in pushed_audio)  # a fetch never loses what the push had
    if pushed["speech_pending"]:  # pushed before the audio was made: it says where to look
        assert (pushed_audio, pushed["fetch"]) == ([], url)
    else:
        assert pushed_audio == audio


async def test_subscription_api_refuses_location_and_unknown_push_hosts_and_deletes(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push)
    try:
        phone = (await subscribe(server, push, [(51.8825, 4.46)]))[0]
        url = f"{server.url}/api/v1/wallet/subscriptions"
        async with aiohttp.ClientSession() as session:
            with_location = {**phone["subscription"], "latitude": 51.9, "longitude": 4.4}
            async with session.post(url, json=with_location) as response:
                assert response.status == 422
                assert (await response.json())["code"] == "wallet.subscription"
            elsewhere = {**phone["subscription"], "endpoint": "https://evil.example/x"}
            async with session.post(url, json=elsewhere) as response:
                assert response.status == 422
                assert (await response.json())["code"] == "wallet.push-host"
            async with session.post(url, json=phone["subscription"]) as response:
                assert response.status == 200  # the same endpoint again: one subscription
                assert (await response.json())["id"] == phone["subscription_id"]
            async with session.delete(f"{url}/{phone['subscription_id']}") as response:
                assert response.status == 204
            async with session.delete(f"{url}/{phone['subscription_id']}") as response:
                assert response.status == 404
            async with session.get(f"{server.url}/api/v1/openapi.json") as response:
                paths = (await response.json())["paths"]
        assert {"/api/v1/wallet/subscriptions", "/api/v1/wallet/jwks.json",
                "/api/v1/wallet/alerts/{alert_id}",
                "/api/v1/wallet/alerts/{alert_id}/assets/{name}"} <= set(paths)
    finally:
        server.stop(signal.SIGKILL)


async def test_gone_subscription_is_deleted_after_the_push_service_says_410(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push)
    try:
        phones = await subscribe(server, push, [(51.8825, 4.46), (51.8825, 4.47)])
        push.call("DELETE", f"/_mock/phones/{phones[1]['id']}")
        assert (await delivered(server, await post(
            server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())))["state"] == "delivered"
        async with aiohttp.ClientSession() as session:
            url = f"{server.url}/api/v1/wallet/subscriptions/{phones[1]['subscription_id']}"
            async with session.delete(url) as response:
                assert response.status == 404  # already removed by the 410
            url = f"{server.url}/api/v1/wallet/subscriptions/{phones[0]['subscription_id']}"
            async with session.delete(url) as response:
                assert response.status == 204
    finally:
        server.stop(signal.SIGKILL)
