"""Rotating the wallet signing key, through real processes: ``tocsin serve`` restarted
on the same data directory and port with its keys swapped, and the mock push
service's phones, which cache the JWKS they fetched (as a real wallet does for the
``max-age`` Tocsin gives it).

1. Before the switch: key 1 signs, key 2 is published too. A phone fetches the JWKS.
2. After the switch: key 2 signs, key 1 is still published. The phone, still holding
   the JWKS of step 1, shows the alert signed with key 2; the JWKS now served also
   verifies what key 1 signed (documents still in flight or being fetched).
3. After the rollover: only key 2 is published; a phone that fetched that JWKS
   refuses a document signed with the retired key 1."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from channels.eudi_wallet import jws
from channels.eudi_wallet.keys import SigningKey, load_private_key, write_private_key
from tests.contract.harnesses import MockPushProcess, mock_push_service
from tests.integration import server as server_module
from tests.integration.conftest import EXAMPLES
from tests.integration.server import Server, free_port, start_server
from tests.integration.test_wallet_end_to_end import (
    FAST,
    ROUTES,
    delivered,
    post,
    subscribe,
)

INSIDE = (51.8825, 4.46)


@pytest.fixture(scope="module")
def push(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockPushProcess]:
    with mock_push_service(tmp_path_factory.mktemp("push")) as mock:
        yield mock


def serve(tmp: Path, port: int, signing: Path, published: list[Path]) -> Server:
    (tmp / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    vapid = tmp / "vapid.pem"
    if not vapid.exists():
        write_private_key(vapid, ec.generate_private_key(ec.SECP256R1()))
    config = {"routes_file": str(tmp / "routes.yaml"), "channels": {"eudi_wallet": {
        "type": "eudi_wallet", "signing_key_file": str(signing),
        "published_key_files": [str(p) for p in published], "vapid_key_file": str(vapid),
        "vapid_subject": "mailto:ops@tocsin.example",
        "public_base_url": f"http://127.0.0.1:{port}"}}}
    (tmp / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(server_module, "free_port", lambda: port)
        return start_server(tmp / "data", env={**FAST, "TOCSIN_CONFIG": str(tmp / "tocsin.yaml")})


def alert(n: int) -> tuple[bytes, str]:
    identifier = f"NL-VRR-ROLL-{n}"
    sent = datetime.now(UTC).replace(microsecond=0).isoformat()
    raw = (EXAMPLES / "nl-alert-fire.xml").read_bytes().replace(
        b"NL-VRR-2026-0042", identifier.encode())
    start, end = raw.index(b"<sent>") + 6, raw.index(b"</sent>")
    return raw[:start] + sent.encode() + raw[end:], identifier


async def jwks_of(server: Server) -> dict[str, object]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/wallet/jwks.json") as response:
            return dict(await response.json())


async def shown_after(server: Server, push: MockPushProcess, n: int) -> list[str]:
    """What the phone made of alert ``n`` (a refused message names no alert: all
    records since the last call are its)."""
    push.call("DELETE", "/_mock/received")
    raw, identifier = alert(n)
    assert (await delivered(server, await post(server, raw), timeout=60))["state"] == "delivered"
    seen = push.call("GET", "/_mock/received?brief=1")
    assert all(r.get("cap_identifier") in {identifier, None} for r in seen)
    return [str(r["outcome"]) for r in seen]


async def test_a_phone_accepts_documents_signed_with_either_key_during_a_rollover(
        tmp_path: Path, push: MockPushProcess) -> None:
    one, two = tmp_path / "key-1.pem", tmp_path / "key-2.pem"
    for path in (one, two):
        write_private_key(path, ec.generate_private_key(ec.SECP256R1()))
    kid = {path: SigningKey.from_private(load_private_key(path)).kid for path in (one, two)}
    port = free_port()
    jwks_url = f"http://127.0.0.1:{port}/api/v1/wallet/jwks.json"
    push.call("PUT", "/_mock/trust", {"jwks_url": jwks_url})  # fetched at the first push

    server = serve(tmp_path, port, one, [two])  # 1. key 2 announced before it signs
    try:
        await subscribe(server, push, [INSIDE])
        before = await jwks_of(server)
        first = await shown_after(server, push, 1)
    finally:
        server.stop()
    server = serve(tmp_path, port, two, [one])  # 2. switched; key 1 still published
    try:
        second = await shown_after(server, push, 2)  # the phone's JWKS is still step 1's
        during = await jwks_of(server)
    finally:
        server.stop()
    retired = jws.sign({"cap_identifier": "late"}, SigningKey.from_private(load_private_key(one)))
    server = serve(tmp_path, port, two, [])  # 3. the rollover is over
    try:
        after = await jwks_of(server)
        push.call("PUT", "/_mock/trust", {"jwks_url": jwks_url})  # phones refresh the JWKS
        third = await shown_after(server, push, 3)
    finally:
        server.stop(signal.SIGKILL)
    server = serve(tmp_path, port, one, [])  # the retired key signing again (a mistake)
    try:
        refused = await shown_after(server, push, 4)  # the phone holds step 3's JWKS
    finally:
        server.stop(signal.SIGKILL)

    assert [k["kid"] for k in before["keys"]] == [kid[one], kid[two]]  # type: ignore[index]
    assert [k["kid"] for k in during["keys"]] == [kid[two], kid[one]]  # type: ignore[index]
    assert [k["kid"] for k in after["keys"]] == [kid[two]]  # type: ignore[index]
    assert (first, second, third) == (["shown"], ["shown"], ["shown"])
    assert jws.verify(retired, jws.key_set(during))["cap_identifier"] == "late"
    with pytest.raises(jws.SignatureError):
        jws.verify(retired, jws.key_set(after))
    assert refused == ["refused"]
