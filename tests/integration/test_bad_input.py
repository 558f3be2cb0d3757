"""Bad input over real HTTP against ``tocsin serve``: each answer is a 4xx with its own
problem code (never a 5xx), the work it causes is bounded, and nothing is stored.

The server runs with dispatch disabled, so deliveries stay pending and event
streams stay open for as long as a test holds them.
"""

from __future__ import annotations

import asyncio
import gzip
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, REPO, Server, start_server

AUTH = {"Authorization": f"Bearer {DEV_KEY}"}
CAP = {**AUTH, "Content-Type": "application/cap+xml"}
STREAM_LIMIT = 3
BODY_TIMEOUT_S = 2
FOREIGN = b'<x:ext xmlns:x="urn:example:extension">extra</x:ext>'


def with_foreign_element(identifier: str) -> bytes:
    """A valid alert with a prefixed foreign-namespace element inside its first <info>."""
    return make_alert(identifier).replace(b"<category>", FOREIGN + b"<category>", 1)


def attribute_flood(identifier: str, count: int = 60_000) -> bytes:
    attributes = b" ".join(b'a%d="x"' % number for number in range(count))
    return make_alert(identifier).replace(b"<info>", b"<info " + attributes + b">", 1)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("bad-input") / "data", env={
        "TOCSIN_DISPATCH_ENABLED": "false", "TOCSIN_BODY_READ_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "TOCSIN_MAX_EVENT_STREAMS_PER_KEY": str(STREAM_LIMIT)})
    yield server
    server.stop(signal.SIGKILL)


async def _post(server: Server, body: bytes, headers: dict[str, str],
                path: str = "/api/v1/alerts") -> tuple[int, dict[str, Any], int]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(server.url + path, data=body, headers=headers) as response:
            raw = await response.read()
            assert response.content_type == "application/problem+json", raw[:300]
            return response.status, await response.json(content_type=None), len(raw)


async def _identifiers(server: Server) -> set[str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/alerts?limit=500",
                               headers=AUTH) as listing:
            return {a["key"]["identifier"] for a in (await listing.json())["items"]}


ENCODINGS = [
    # id, Content-Encoding, body, status, problem code
    ("gzip, not gzip", "gzip", b"this is not gzip", 400, "http.content-encoding"),
    ("deflate, not deflate", "deflate", b"\x00\x01 not deflate", 400,
     "http.content-encoding"),
    ("unknown coding", "x-unknown", make_alert("BAD-ENC-2"), 415,
     "http.unsupported-content-encoding"),
    ("stacked codings", "gzip, gzip", gzip.compress(gzip.compress(make_alert("BAD-ENC-3"))),
     415, "http.unsupported-content-encoding"),
]


@pytest.mark.parametrize(("name", "coding", "body", "status", "code"), ENCODINGS,
                         ids=[case[0] for case in ENCODINGS])
async def test_undecodable_content_encoding_is_a_4xx(api: Server, name: str, coding: str,
                                                     body: bytes, status: int,
                                                     code: str) -> None:
    got, problem, _ = await _post(api, body, {**CAP, "Content-Encoding": coding})
    assert (got, problem["code"]) == (status, code), problem
    assert not {"BAD-ENC-1", "BAD-ENC-2", "BAD-ENC-3"} & await _identifiers(api)


async def test_undecodable_content_encoding_on_the_public_subscription_route(
        api: Server) -> None:
    status, problem, _ = await _post(api, b"not gzip", {
        "Content-Type": "application/json", "Content-Encoding": "gzip"},
        path="/api/v1/wallet/subscriptions")
    assert (status, problem["code"]) == (400, "http.content-encoding"), problem


async def test_truncated_deflate_body_is_a_4xx(api: Server) -> None:
    """aiohttp's own parser notices a deflate stream that ends early and answers 400
    itself (plain text, before any handler runs): not ours to render, but a 4xx."""
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.url}/api/v1/alerts",
                                data=zlib.compress(make_alert("BAD-ENC-4"))[:60],
                                headers={**CAP, "Content-Encoding": "deflate"}) as response:
            assert response.status == 400
    assert "BAD-ENC-4" not in await _identifiers(api)


def _raw_post(server: Server, head: dict[str, str], parts: list[bytes],
              length: int) -> bytes:
    """POST over a bare socket, the body in separate segments; the answer's first bytes."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(f"POST /api/v1/alerts HTTP/1.1\r\nHost: t\r\n{lines}"
                     f"Content-Length: {length}\r\n\r\n".encode())
        for part in parts:
            sock.sendall(part)
            time.sleep(0.3)
        return sock.recv(4096)


def test_deflate_body_that_stops_decoding_in_a_later_segment_is_answered(
        api: Server) -> None:
    """aiohttp queues its own 400 behind the request whose body never completes; the
    body deadline answers instead of waiting for the client to hang up."""
    compressed = zlib.compress(make_alert("BAD-ENC-5"))
    body = compressed[: len(compressed) // 2] + b"\x00garbage"
    started = time.monotonic()
    answer = _raw_post(api, {**CAP, "Content-Encoding": "deflate"}, [body[:100], body[100:]],
                       len(body))
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"http.body-timeout" in answer
    assert time.monotonic() - started < BODY_TIMEOUT_S + 10


def test_a_body_that_stops_arriving_is_408(api: Server) -> None:
    body = make_alert("BAD-SLOW-1")
    answer = _raw_post(api, CAP, [body[:200]], len(body))
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"http.body-timeout" in answer


async def test_gzip_body_that_decodes_is_accepted(api: Server) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.url}/api/v1/alerts",
                                data=gzip.compress(make_alert("GOOD-GZIP-1")),
                                headers={**CAP, "Content-Encoding": "gzip"}) as response:
            assert response.status == 202, await response.text()


async def test_foreign_namespace_element_in_info_is_refused_with_its_finding(
        api: Server) -> None:
    status, problem, _ = await _post(api, with_foreign_element("BAD-NS-1"), CAP)
    assert (status, problem["code"]) == (422, "cap.invalid"), problem
    foreign = [f for f in problem["findings"] if f["code"] == "cap.foreign-element"]
    assert [f["location"] for f in foreign] == ["/alert/info[1]/ext"], problem["findings"]
    assert "urn:example:extension" in foreign[0]["message"]
    assert "BAD-NS-1" not in await _identifiers(api)


def test_validate_reports_a_foreign_namespace_element_without_a_traceback(
        tmp_path: Path) -> None:
    path = tmp_path / "foreign.xml"
    path.write_bytes(with_foreign_element("BAD-NS-2"))
    result = subprocess.run([sys.executable, "-m", "router.cli", "validate", str(path)],
                            cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "cap.foreign-element" in result.stdout
    assert "/alert/info[1]/ext" in result.stdout


async def test_attribute_flood_is_refused_before_validation_with_a_small_answer(
        api: Server) -> None:
    status, problem, size = await _post(api, attribute_flood("BAD-FLOOD-1"), CAP)
    assert (status, problem["code"]) == (400, "xml.too-many-attributes"), problem
    assert size < 4096
    assert "BAD-FLOOD-1" not in await _identifiers(api)


async def test_many_schema_errors_are_capped_with_a_count_of_the_rest(api: Server) -> None:
    """Under the attribute limit but still hundreds of schema errors: the answer lists the
    first ones and says how many more there are."""
    status, problem, size = await _post(api, attribute_flood("BAD-FLOOD-2", 900), CAP)
    assert (status, problem["code"]) == (422, "cap.invalid"), problem
    listed = [f for f in problem["findings"] if f["code"] == "xsd.invalid"]
    more = [f for f in problem["findings"] if f["code"] == "xsd.more-errors"]
    assert 0 < len(listed) <= 100
    assert len(more) == 1, problem["findings"][-3:]
    assert more[0]["message"].startswith(f"{900 - len(listed)} more schema errors")
    assert size < 64 * 1024


async def _post_pending(session: aiohttp.ClientSession, server: Server, identifier: str) -> str:
    async with session.post(f"{server.url}/api/v1/alerts", data=make_alert(identifier),
                            headers=CAP) as posted:
        assert posted.status == 202, await posted.text()
        alert_id: str = (await posted.json())["id"]
        return alert_id


async def _open_stream(session: aiohttp.ClientSession, server: Server, alert_id: str,
                       authorization: str = f"Bearer {DEV_KEY}") -> aiohttp.ClientResponse:
    return await session.get(f"{server.url}/api/v1/alerts/{alert_id}/events",
                             headers={"Authorization": authorization})


async def test_event_streams_per_key_are_limited(api: Server) -> None:
    async with aiohttp.ClientSession() as session:
        ids = [await _post_pending(session, api, f"SSE-LIMIT-{n}") for n in range(STREAM_LIMIT)]
        held = [await _open_stream(session, api, alert_id) for alert_id in ids]
        try:
            assert [s.status for s in held] == [200] * STREAM_LIMIT
            for stream in held:  # each is really open: its first line arrived
                assert (await stream.content.readline()).startswith(b"retry:")
            # another case of the scheme and extra blanks are still the same key
            refused = await _open_stream(session, api, ids[0], f"bearer   {DEV_KEY} ")
            assert refused.status == 429
            problem = await refused.json(content_type=None)
            assert problem["code"] == "sse.too-many-streams"
            assert int(refused.headers["Retry-After"]) >= 1
        finally:
            for stream in held:
                stream.close()
        # a stream the client closed frees its slot (soon, not at the next keep-alive)
        for _ in range(100):
            again = await _open_stream(session, api, ids[0])
            if again.status == 200:
                break
            again.release()
            await asyncio.sleep(0.1)
        assert again.status == 200
        again.close()


async def test_an_answer_lists_at_most_100_findings_and_counts_the_rest(api: Server) -> None:
    """150 open polygons: 150 spec-rule errors, each a finding; the answer lists 100."""
    polygons = b"<polygon>52.0,4.0 52.1,4.1 52.2,4.0 52.3,4.2</polygon>" * 150
    body = make_alert("BAD-MANY-1").replace(b"</areaDesc>", b"</areaDesc>" + polygons, 1)
    status, problem, _ = await _post(api, body, CAP)
    assert (status, problem["code"]) == (422, "cap.invalid"), problem
    assert len(problem["findings"]) == 100
    assert len(problem["findings"]) + problem["findings_omitted"] >= 150
    assert {f["code"] for f in problem["findings"]} >= {"cap.polygon.not-closed"}


async def test_no_rejection_above_was_counted_as_an_internal_error(api: Server) -> None:
    """Runs last in this module: every bad input above was a client error in the metrics
    too (an internal error would page the operator)."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.url}/metrics") as response:
            exposition = await response.text()
    rejected = [line for line in exposition.splitlines()
                if line.startswith("tocsin_alerts_rejected_total{")]
    assert any('status="408"' in line and not line.endswith(" 0.0") for line in rejected)
    internal = [line for line in rejected if 'status="500"' in line]
    assert all(line.endswith(" 0.0") for line in internal), internal
