"""A webhook receiver answering 307 does not make Tocsin repeat the signed POST to the
``Location`` host: the mock webhook receiver (a real process) redirects to a recorder
on another port, and the channel's answer is a permanent ``rejected`` failure."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from router.cap import parse_cap
from router.channel import Delivery, PermanentError
from router.errors import FailureReason
from router.registry import channel_types
from tests.contract.harnesses import MOCK_SECRET, mock_webhook
from tests.integration.conftest import EXAMPLES
from tests.integration.server import free_port


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.json_response({"id": "taken"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/stolen", seen
    await runner.cleanup()


async def test_a_redirecting_webhook_is_rejected_and_nothing_is_posted_elsewhere(
        elsewhere: tuple[str, list[str]]) -> None:
    target, seen = elsewhere
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes()
    document = parse_cap(raw).document
    assert document is not None
    delivery = Delivery(alert_id="a", channel="webhook", idempotency_key="a/webhook",
                        alert=document.alert, raw=raw)
    with mock_webhook() as mock:
        mock.call("PUT", "/_mock/faults", {"mode": "redirect", "location": target})
        channel = channel_types()["webhook"]("webhook", {
            "url": f"{mock.url}/hook", "secret": MOCK_SECRET, "timeout_s": 2})
        await channel.start()
        try:
            with pytest.raises(PermanentError) as refused:
                await channel.send(delivery)
        finally:
            await channel.close()
    assert refused.value.reason is FailureReason.REJECTED
    assert "307" in str(refused.value)
    assert seen == []


async def test_webhook_payloads_carry_the_hmac_the_receiver_checks() -> None:
    """What Tocsin sends stays attributable: the receiver (a real process) takes the
    payload signed with the shared secret and refuses the same payload under another."""
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes()
    document = parse_cap(raw).document
    assert document is not None
    outcomes: dict[str, object] = {}
    with mock_webhook() as mock:
        mock.call("PUT", "/_mock/faults", {"mode": "none"})
        for secret in (MOCK_SECRET, "not-the-shared-secret"):
            channel = channel_types()["webhook"]("webhook", {
                "url": f"{mock.url}/hook", "secret": secret, "timeout_s": 2})
            delivery = Delivery(alert_id="h", channel="webhook",
                                idempotency_key=f"h/{len(secret)}", alert=document.alert,
                                raw=raw)
            await channel.start()
            try:
                outcomes[secret] = await channel.send(delivery)
            except PermanentError as exc:
                outcomes[secret] = exc
            finally:
                await channel.close()
    assert not isinstance(outcomes[MOCK_SECRET], Exception)
    refused = outcomes["not-the-shared-secret"]
    assert isinstance(refused, PermanentError)
    assert "401" in str(refused)
