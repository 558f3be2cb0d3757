"""The public subscription route cannot be abused, through a real ``tocsin serve`` (demo
mode, so loopback push endpoints are allowed) and the mock push service:

- keys off the curve, short secrets, non-https endpoints, ``user:password@``, an
  allowed host on another port and malformed language tags are refused (422);
- re-posting a known endpoint with other keys is refused (409) and leaks no id;
  the id renews the keys (PUT);
- 5,000 subscriptions as fast as one address can post them are bounded by the
  per-address rate limit (429 with ``Retry-After``), and writes per API key are
  bounded the same way."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from channels.eudi_wallet.keys import b64url, raw_public
from tests.contract.harnesses import MockPushProcess, mock_push_service
from tests.integration.conftest import EXAMPLES
from tests.integration.server import Server
from tests.integration.test_wallet_bad_subscriptions import not_on_the_curve
from tests.integration.test_wallet_end_to_end import start, subscribe

INSIDE = (51.8825, 4.46)
LIMITED = {"TOCSIN_SUBSCRIPTION_RATE_LIMIT": '{"per_s": 1, "burst": 60}'}  # the defaults


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPushProcess]:
    with mock_push_service(tmp_path_factory.mktemp("push")) as mock:
        yield mock


def keys() -> dict[str, str]:
    return {"p256dh": b64url(raw_public(ec.generate_private_key(ec.SECP256R1()))),
            "auth": b64url(os.urandom(16))}


def stored(server: Server, endpoint: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(server.data_dir / "tocsin.sqlite3", timeout=10)
    try:
        return [(str(a), str(b)) for a, b in conn.execute(
            "SELECT p256dh, auth FROM wallet_subscriptions WHERE endpoint = ?", (endpoint,))]
    finally:
        conn.close()


def count(server: Server) -> int:
    conn = sqlite3.connect(server.data_dir / "tocsin.sqlite3", timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM wallet_subscriptions").fetchone()[0])
    finally:
        conn.close()


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("key off the curve", {"keys": {"p256dh": b64url(not_on_the_curve()),
                                    "auth": b64url(os.urandom(16))}}),
    ("15-byte auth", {"keys": {**keys(), "auth": b64url(os.urandom(15))}}),
    ("http to a real push host", {"endpoint": "http://fcm.googleapis.com/fcm/send/x"}),
    ("allowed host, other port", {"endpoint": "https://fcm.googleapis.com:6379/fcm/send/x"}),
    ("userinfo on a push host", {"endpoint": "https://user:pw@fcm.googleapis.com/fcm/send/x"}),
    ("userinfo on loopback", {"endpoint": "http://user:pw@127.0.0.1:9/push/x"}),
    ("backslash trick", {"endpoint": "https://evil.example\\@fcm.googleapis.com/x"}),
    ("language tag too long", {"languages": ["x" * 8 + "-abcdefgh" * 4]}),
    ("not a language tag", {"languages": ["nl; DROP"]}),
]


async def test_bad_subscriptions_are_refused(tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push, extra_env=LIMITED)
    url = f"{server.url}/api/v1/wallet/subscriptions"
    good = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": keys()}
    try:
        async with aiohttp.ClientSession() as session:
            answers = {}
            for why, change in REFUSED:
                async with session.post(url, json={**good, **change}) as response:
                    answers[why] = response.status
            assert answers == {why: 422 for why, _ in REFUSED}
            async with session.post(url, json=good) as response:
                assert response.status == 201  # a real push host on 443 is fine
    finally:
        server.stop(signal.SIGKILL)


async def test_a_known_endpoint_cannot_be_taken_over_and_its_id_renews_the_keys(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push, extra_env=LIMITED)
    url = f"{server.url}/api/v1/wallet/subscriptions"
    try:
        [phone] = await subscribe(server, push, [INSIDE])
        victim = phone["subscription"]
        async with aiohttp.ClientSession() as session:
            takeover = {**victim, "keys": keys()}
            async with session.post(url, json=takeover) as response:
                assert response.status == 409, await response.text()
                body = await response.text()
            assert phone["subscription_id"] not in body
            async with session.post(url, json=victim) as response:  # the owner, same keys
                assert (response.status, (await response.json())["id"]) == (
                    200, phone["subscription_id"])
            async with session.put(f"{url}/wrong-id", json=takeover) as response:
                assert response.status == 404
            before = stored(server, victim["endpoint"])
            async with session.put(f"{url}/{phone['subscription_id']}",
                                   json=takeover) as response:
                assert response.status == 200  # the id proves the old subscription
            after = stored(server, victim["endpoint"])
    finally:
        server.stop(signal.SIGKILL)
    assert before == [(victim["keys"]["p256dh"].rstrip("="), victim["keys"]["auth"].rstrip("="))]
    assert after == [(takeover["keys"]["p256dh"], takeover["keys"]["auth"])]


async def flood(url: str, total: int) -> tuple[dict[int, int], set[str], float]:
    """``total`` subscriptions, distinct endpoints, 16 in flight (bounded, loopback)."""
    statuses: dict[int, int] = {}
    retry_after: set[str] = set()
    shared = keys()
    slots = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            body = {"endpoint": f"https://fcm.googleapis.com/fcm/send/{n}", "keys": shared}
            async with slots, session.post(url, json=body) as response:
                await response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status == 429:
                    retry_after.add(response.headers.get("Retry-After", ""))

        started = time.monotonic()
        await asyncio.gather(*map(one, range(total)))
    return statuses, retry_after, time.monotonic() - started


async def test_five_thousand_subscriptions_from_one_address_are_bounded(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push, extra_env=LIMITED)
    try:
        statuses, retry_after, elapsed = await flood(
            f"{server.url}/api/v1/wallet/subscriptions", 5000)
        rows = count(server)
    finally:
        server.stop(signal.SIGKILL)
    assert sum(statuses.values()) == 5000
    assert statuses.get(201, 0) <= 60 + 1 * elapsed + 1, (statuses, elapsed)
    assert statuses.get(429, 0) >= 5000 - 60 - elapsed - 1
    assert rows == statuses.get(201, 0)
    assert retry_after
    assert all(value.isdigit() and int(value) >= 1 for value in retry_after)


async def test_writes_are_limited_per_api_key(tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push, extra_env={
        "TOCSIN_WRITE_RATE_LIMIT": '{"per_s": 0.01, "burst": 3}'})
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes()
    try:
        async with aiohttp.ClientSession(headers=server.headers) as session:
            statuses, retry = [], None
            for n in range(5):
                body = raw.replace(b"NL-VRR-2026-0042", f"NL-VRR-RL-{n}".encode())
                async with session.post(f"{server.url}/api/v1/alerts", data=body) as response:
                    statuses.append(response.status)
                    if response.status == 429:
                        retry = response.headers.get("Retry-After")
                        assert (await response.json())["code"] == "rate-limited"
            async with session.get(f"{server.url}/api/v1/alerts") as response:
                assert response.status == 200  # reads are not writes
        async with aiohttp.ClientSession() as session:  # no key: 401, never counted
            async with session.post(f"{server.url}/api/v1/alerts", data=raw) as response:
                assert response.status == 401
    finally:
        server.stop(signal.SIGKILL)
    assert statuses == [202, 202, 202, 429, 429]
    assert retry is not None
    assert int(retry) >= 1
