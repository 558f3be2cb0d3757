"""Signed alerts POSTed to a real ``tocsin serve --trust-store``: each generated case gets
its verdict, a rejected one changes nothing, an accepted one shows its signature."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.server import Server, start_server
from tests.signing import (
    NOW,
    SENT_RECENT,
    Pki,
    alert_xml,
    make_ca,
    make_leaf,
    make_pki,
    sign,
    wrap,
)
from tests.unit.test_signature import CASES, HOSTILE

ACCEPTED = {"verified", "unsigned"}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


@pytest.fixture(scope="module")
def api(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("signatures")
    (base / "ca.pem").write_bytes(pki.ca.pem)
    server = start_server(base / "data", args=("--trust-store", str(base / "ca.pem")))
    yield server
    server.stop(signal.SIGKILL)


async def _post(api: Server, body: bytes, profile: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers=api.headers) as session:
        async with session.post(f"{api.url}/api/v1/alerts?profile={profile}",
                                data=body) as response:
            return response.status, await response.json(content_type=None)


async def _get(api: Server, path: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=api.headers) as session:
        async with session.get(f"{api.url}{path}") as response:
            assert response.status == 200
            body: dict[str, Any] = await response.json()
            return body


async def _identifiers(api: Server) -> set[str]:
    listing = await _get(api, "/api/v1/alerts?limit=500")
    return {item["key"]["identifier"] for item in listing["items"]}


@pytest.mark.parametrize(("make", "state", "code"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
async def test_post_gets_the_verdict(make, state, code, api: Server, pki: Pki) -> None:  # type: ignore[no-untyped-def]
    body = make(pki)
    before = await _identifiers(api)
    status, answer = await _post(api, body, "nl-alert")
    if state in ACCEPTED:
        assert status == 202, answer
        stored = await _get(api, answer["status_url"])
        assert stored["signature"]["state"] == state
        if state == "verified":
            assert stored["signature"]["certificate_sha256"]
            assert stored["signature"]["signer"].startswith("CN=signer")
            assert stored["signature"]["mode"] == "valid-at-sent"
            assert stored["signature"]["checked_at"]
        return
    assert status == 422, answer
    assert answer["code"] == "cap.invalid"
    assert code in {f["code"] for f in answer["findings"]}
    assert await _identifiers(api) == before


@pytest.mark.parametrize(("edit", "code"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
async def test_hostile_signature_is_a_422_that_changes_nothing(edit, code, api: Server,  # type: ignore[no-untyped-def]
                                                               pki: Pki) -> None:
    before = await _identifiers(api)
    status, answer = await _post(api, edit(sign(alert_xml("HX", SENT_RECENT), pki.now)), "cap12")
    assert status == 422, answer
    assert code in {f["code"] for f in answer["findings"]}
    assert await _identifiers(api) == before


async def test_untrusted_is_a_warning_where_the_profile_ignores_trust(api: Server,
                                                                      pki: Pki) -> None:
    status, answer = await _post(api, sign(alert_xml("IGN-1", SENT_RECENT), pki.stranger),
                                 "cap12")
    assert status == 202, answer
    assert "signature.untrusted-chain" in {w["code"] for w in answer["warnings"]}
    stored = await _get(api, answer["status_url"])
    assert stored["signature"]["state"] == "untrusted"
    assert stored["signature"]["reason"] == "signature.untrusted-chain"


async def test_wrapped_alert_never_reaches_the_store(api: Server, pki: Pki) -> None:
    """The signed original is accepted; the wrapped forgery of it is refused."""
    signed = sign(alert_xml("WRAP-1", SENT_RECENT), pki.now)
    status, answer = await _post(api, signed, "nl-alert")
    assert status == 202
    forged = wrap(signed, "Forged: evacuate now")
    status, _problem = await _post(api, forged.replace(b"WRAP-1", b"WRAP-2", 1), "cap12")
    assert status == 422
    raw = await _get(api, answer["status_url"])
    assert raw["signature"]["state"] == "verified"
    assert "WRAP-2" not in await _identifiers(api)


async def test_looping_chain_is_a_422_that_changes_nothing(api: Server) -> None:
    seed = make_ca("Loop B")
    loop_a = make_ca("Loop A", issuer=seed)
    loop_b = make_ca("Loop B", issuer=loop_a, subject_key=seed.key)
    leaf = make_leaf(loop_a, "looped", NOW - timedelta(days=1), NOW + timedelta(days=30))
    before = await _identifiers(api)
    status, answer = await _post(api, sign(alert_xml("LOOP-1", SENT_RECENT), leaf,
                                           (loop_a, loop_b)), "cap12")
    assert status == 422, answer
    assert "signature.chain-loop" in {f["code"] for f in answer["findings"]}
    assert await _identifiers(api) == before


def test_unusable_trust_store_stops_the_server(tmp_path: Path) -> None:
    (tmp_path / "broken.pem").write_text("not a certificate", encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"broken\.pem"):
        start_server(tmp_path / "data", args=("--trust-store", str(tmp_path / "broken.pem")))
