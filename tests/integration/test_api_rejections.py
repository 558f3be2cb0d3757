"""Every rejection of ``POST /api/v1/alerts``, over real HTTP against ``tocsin serve``:
status code, problem code, and that nothing was stored."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from router.settings import hash_api_key
from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, Server, start_server

VR_KEY = "vr-rr-key-abcdefghijklmnop"
GOOD = make_alert("NL-REJ-1")
CAP = "application/cap+xml"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with the demo key and an authority limited to *@vr-rr.example.nl."""
    base = tmp_path_factory.mktemp("rejections")
    config = base / "tocsin.yaml"
    config.write_text(
        "authorities:\n"
        "  - name: vr-zeeland\n"
        "    senders: ['*@vrzeeland.example.nl']\n"
        f"    key_hashes: ['{hash_api_key(VR_KEY)}']\n", encoding="utf-8")
    server = start_server(base / "data", env={"TOCSIN_CONFIG": str(config)})
    yield server
    server.stop(signal.SIGKILL)


def _auth(key: str = DEV_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


CASES: list[tuple[str, dict[str, str], bytes, str, int, str, str | None]] = [
    # id, headers, body, query, status, problem code, a finding code expected
    ("no key", {"Content-Type": CAP}, GOOD, "", 401, "auth.missing-key", None),
    ("unknown key", {**_auth("nope"), "Content-Type": CAP}, GOOD, "", 401,
     "auth.invalid-key", None),
    ("basic auth", {"Authorization": "Basic " + "dGVzdA==", "Content-Type": CAP}, GOOD, "",
     401, "auth.invalid-key", None),
    ("wrong content type", {**_auth(), "Content-Type": "text/plain"}, GOOD, "", 415,
     "http.unsupported-media-type", None),
    ("json content type", {**_auth(), "Content-Type": "application/json"}, b"{}", "", 415,
     "http.unsupported-media-type", None),
    ("too large", {**_auth(), "Content-Type": CAP}, GOOD + b" " * (1 << 20), "", 413,
     "xml.too-large", None),
    ("empty", {**_auth(), "Content-Type": CAP}, b"", "", 400, "xml.empty", "xml.empty"),
    ("malformed", {**_auth(), "Content-Type": CAP}, GOOD[:300], "", 400, "xml.malformed",
     "xml.malformed"),
    ("entity attack", {**_auth(), "Content-Type": "application/xml"},
     b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
     "", 400, "xml.dtd-forbidden", "xml.dtd-forbidden"),
    ("wrong namespace", {**_auth(), "Content-Type": CAP},
     GOOD.replace(b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:example"), "", 400,
     "cap.namespace", "cap.namespace"),
    ("unknown profile", {**_auth(), "Content-Type": CAP}, GOOD, "?profile=nope", 400,
     "ingest.unknown-profile", None),
    ("Z time zone", {**_auth(), "Content-Type": CAP},
     make_alert("NL-REJ-2", sent="2026-11-25T13:05:00Z"), "", 422, "cap.invalid",
     "cap.datetime-format"),
    ("schema violation", {**_auth(), "Content-Type": CAP},
     GOOD.replace(b"<urgency>Immediate</urgency>", b"<urgency>Now</urgency>"), "", 422,
     "cap.invalid", "xsd.invalid"),
    ("profile violation", {**_auth(), "Content-Type": CAP},
     GOOD.replace(b"<language>en-GB</language>", b"<language>de-DE</language>"),
     "?profile=nl-alert", 422, "cap.invalid", "profile.nl-alert.languages"),
    ("sender not allowed", {**_auth(VR_KEY), "Content-Type": CAP}, GOOD, "", 403,
     "auth.sender-not-allowed", None),
]


@pytest.mark.parametrize(("name", "headers", "body", "query", "status", "code", "finding"),
                         CASES, ids=[c[0] for c in CASES])
async def test_rejection(api: Server, name: str, headers: dict[str, str], body: bytes,
                         query: str, status: int, code: str, finding: str | None) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.url}/api/v1/alerts{query}", data=io.BytesIO(body),
                                headers=headers) as response:
            assert response.status == status, await response.text()
            assert response.content_type == "application/problem+json"
            problem = await response.json(content_type=None)
            assert response.headers["X-Request-ID"] == problem["request_id"]
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["detail"]
    if finding is not None:
        assert finding in {f["code"] for f in problem["findings"]}, problem["findings"]
        assert all(f["location"].startswith("/") or f["location"].startswith("line")
                   for f in problem["findings"])
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.url}/api/v1/alerts", headers=_auth()) as listing:
            stored = (await listing.json())["items"]
    assert [a for a in stored if a["key"]["identifier"] in ("NL-REJ-1", "NL-REJ-2")] == []


async def test_too_large_chunked_body_without_length(api: Server) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b" " * 65536

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.url}/api/v1/alerts", data=chunks(),
                                headers={**_auth(), "Content-Type": CAP}) as response:
            assert response.status == 413
            assert (await response.json(content_type=None))["code"] == "xml.too-large"


async def test_conflict_then_identical_repeat(api: Server) -> None:
    first = make_alert("NL-CONFLICT-1")
    changed = first.replace(b"Grote brand in Rotterdam-Zuid", b"Zeer grote brand")
    async with aiohttp.ClientSession(headers={**_auth(), "Content-Type": CAP}) as session:
        async with session.post(f"{api.url}/api/v1/alerts", data=first) as response:
            assert response.status == 202
            original = await response.json()
        async with session.post(f"{api.url}/api/v1/alerts", data=changed) as response:
            assert response.status == 409
            problem = await response.json(content_type=None)
            assert problem["code"] == "ingest.key-conflict"
            assert problem["existing_id"] == original["id"]
        reformatted = first.replace(b"\n  ", b"\n    ")  # same alert, other whitespace
        async with session.post(f"{api.url}/api/v1/alerts", data=reformatted) as response:
            assert response.status == 200
            assert await response.json() == original


async def test_allowed_sender_accepted_for_scoped_authority(api: Server) -> None:
    alert = make_alert("ZL-1", sender="meldkamer@vrzeeland.example.nl")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{api.url}/api/v1/alerts", data=alert,
                                headers={**_auth(VR_KEY), "Content-Type": CAP}) as response:
            assert response.status == 202, await response.text()
            body = await response.json()
        async with session.get(api.url + body["status_url"], headers=_auth(VR_KEY)) as response:
            assert (await response.json())["authority"] == "vr-zeeland"
        async with session.get(api.url + body["status_url"], headers=_auth()) as response:
            assert response.status == 404  # another authority's alert: as if it did not exist


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/api/v1/alerts/01NOPE", 404, "alert.not-found"),
    ("/api/v1/alerts/01NOPE/cap", 404, "alert.not-found"),
    ("/api/v1/alerts?cursor=garbage", 400, "query.cursor"),
    ("/api/v1/alerts?state=lost", 400, "query.state"),
    ("/api/v1/alerts?since=yesterday", 400, "query.since"),
    ("/api/v1/alerts?limit=0", 400, "query.limit"),
    ("/nowhere", 404, "http.404"),
])
async def test_read_errors(api: Server, path: str, status: int, code: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(api.url + path, headers=_auth()) as response:
            assert response.status == status
            assert (await response.json(content_type=None))["code"] == code


async def test_reads_need_a_key(api: Server) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api.url}/api/v1/alerts") as response:
            assert response.status == 401
        async with session.get(f"{api.url}/healthz") as response:
            assert response.status == 200


def test_server_log_is_json_with_request_ids(api: Server, tmp_path: Path) -> None:
    requests = [line for line in api.log_lines() if line.get("event") == "http.request"]
    assert requests
    assert all(isinstance(line.get("request_id"), str) for line in requests)
