"""One bad wallet subscription fails alone, through real processes: ``tocsin serve``
with an ``eudi_wallet`` channel and the mock push service.

The subscription route now refuses such subscriptions, so the bad ones are written
into the store directly, as rows stored before that check existed would be: a
``p256dh`` of 65 bytes starting with 0x04 that is not a point on P-256, an endpoint
with ``user:password@``, and an endpoint that answers 307 to a host outside the
allow-list. Each ends ``failed`` with its reason; the delivery is delivered in one
attempt and every legitimate phone gets the alert exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from channels.eudi_wallet.keys import b64url
from tests.contract.harnesses import MockPushProcess, mock_push_service
from tests.integration.conftest import EXAMPLES
from tests.integration.server import Server, free_port
from tests.integration.test_wallet_end_to_end import delivered, post, records, start, subscribe

INSIDE = (51.8825, 4.46)


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPushProcess]:
    with mock_push_service(tmp_path_factory.mktemp("push")) as mock:
        yield mock


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A host outside the allow-list that records every request reaching it."""
    seen: list[bytes] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/stolen", seen
    await runner.cleanup()


def not_on_the_curve() -> bytes:
    """65 bytes, 0x04 first, and no point on P-256 (checked, not assumed)."""
    while True:
        candidate = b"\x04" + os.urandom(64)
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), candidate)
        except ValueError:
            return candidate


def insert_rows(server: Server, rows: list[tuple[str, str, str]]) -> list[int]:
    """(endpoint, p256dh, auth) rows straight into the running server's store."""
    conn = sqlite3.connect(server.data_dir / "tocsin.sqlite3", timeout=10)
    try:
        with conn:
            seqs = [int(conn.execute(
                "INSERT INTO wallet_subscriptions (id, endpoint, p256dh, auth, country, "
                "languages, created_on) VALUES (?, ?, ?, ?, NULL, NULL, '2026-01-01') "
                "RETURNING seq", (secrets.token_urlsafe(16), *row)).fetchone()[0])
                for row in rows]
    finally:
        conn.close()
    return seqs


def results(server: Server) -> dict[int, tuple[str, str | None]]:
    conn = sqlite3.connect(server.data_dir / "tocsin.sqlite3", timeout=10)
    try:
        return {int(seq): (str(outcome), reason) for seq, outcome, reason in conn.execute(
            "SELECT subscription_seq, outcome, reason FROM wallet_push_results")}
    finally:
        conn.close()


def bad_rows(push: MockPushProcess, victim: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A phone's endpoint with a key not on the curve; another phone's endpoint with
    user:password in it (both phones real, so only the row itself is wrong)."""
    keys = victim["subscription"]["keys"]
    other = push.call("POST", "/_mock/phones", {"positions": [list(INSIDE)]})[0]
    with_userinfo = other["subscription"]["endpoint"].replace("http://", "http://user:pw@")
    return [(victim["subscription"]["endpoint"] + "?bad-key", b64url(not_on_the_curve()),
             keys["auth"]),
            (with_userinfo, other["subscription"]["keys"]["p256dh"],
             other["subscription"]["keys"]["auth"])]


async def test_bad_rows_fail_alone_and_every_phone_gets_the_alert_once(
        tmp_path: Path, push: MockPushProcess) -> None:
    server = start(tmp_path, push)
    try:
        phones = await subscribe(server, push, [INSIDE, INSIDE, INSIDE])
        bad = insert_rows(server, bad_rows(push, phones[0]))
        alert_id = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        wallet = await delivered(server, alert_id, timeout=30)
        outcomes = results(server)
    finally:
        server.stop(signal.SIGKILL)
    assert wallet["state"] == "delivered", wallet
    got = records(push, "NL-VRR-2026-0042")
    assert sorted(r["phone"] for r in got) == sorted(p["id"] for p in phones)  # once each
    assert {r["outcome"] for r in got} == {"shown"}
    assert [outcomes[seq] for seq in bad] == [("failed", "invalid_input")] * 2
    assert wallet["attempts"] == 1, wallet["history"]  # no retry: nothing was left unsent


async def test_an_endpoint_that_redirects_is_failed_and_the_alert_goes_nowhere_else(
        tmp_path: Path, push: MockPushProcess, elsewhere: tuple[str, list[bytes]]) -> None:
    target, seen = elsewhere
    server = start(tmp_path, push)
    try:
        [phone] = await subscribe(server, push, [INSIDE])
        push.call("PUT", "/_mock/faults", {"mode": "redirect", "location": target})
        alert_id = await post(server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        wallet = await delivered(server, alert_id, timeout=30)
        await asyncio.sleep(0.5)  # a followed redirect would have arrived by now
        outcomes = results(server)
    finally:
        push.call("PUT", "/_mock/faults", {"mode": "none"})
        server.stop(signal.SIGKILL)
    assert seen == []  # the encrypted alert never reached the host outside the allow-list
    assert list(outcomes.values()) == [("failed", "rejected")]
    assert wallet["state"] == "failed", wallet
    assert "refused" in json.dumps(wallet), wallet
    assert phone["id"] not in {r["phone"] for r in records(push, "NL-VRR-2026-0042")}
