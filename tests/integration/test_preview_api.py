"""``POST /api/v1/alerts/preview`` through a real ``tocsin serve``: it stores nothing, and
what it shows per channel is what ``GET /api/v1/alerts/{id}/variants`` shows after the
same document is posted (a preview path that drifts from the sent one fails here)."""

from __future__ import annotations

import io
from typing import Any

import aiohttp

from tests.integration.conftest import make_alert
from tests.integration.server import Server

CAP = {"Content-Type": "application/cap+xml"}


async def call(server: Server, method: str, path: str, body: bytes | None = None
               ) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.request(method, f"{server.url}{path}", data=body,
                                   headers=CAP if body is not None else None) as response:
            return response.status, await response.json(content_type=None)


async def alert_count(server: Server) -> int:
    status, page = await call(server, "GET", "/api/v1/alerts?limit=500")
    assert status == 200, page
    return len(page["items"])


async def test_preview_equals_the_variants_after_the_post(server: Server) -> None:
    document = make_alert("PREVIEW-EQ-1")
    before = await alert_count(server)
    status, preview = await call(server, "POST", "/api/v1/alerts/preview", document)
    assert status == 200, preview
    assert preview["valid"] is True, preview
    assert preview["planned"]
    assert await alert_count(server) == before  # nothing stored
    status, accepted = await call(server, "POST", "/api/v1/alerts", document)
    assert status == 202, accepted
    status, variants = await call(server, "GET", f"/api/v1/alerts/{accepted['id']}/variants")
    assert status == 200, variants
    shown = preview["variants"]
    assert shown["forms"] == variants["forms"]
    assert shown["languages"] == variants["languages"]
    assert shown["findings"] == variants["findings"]
    for mine, theirs in zip(shown["variants"], variants["variants"], strict=True):
        assert {k: v for k, v in mine.items() if k != "audio"} == \
            {k: v for k, v in theirs.items() if k != "audio"}
    status, record = await call(server, "GET", f"/api/v1/alerts/{accepted['id']}")
    assert sorted(d["channel"] for d in record["deliveries"]) == sorted(preview["planned"])


async def test_an_invalid_document_answers_findings_and_stores_nothing(server: Server) -> None:
    before = await alert_count(server)
    broken = make_alert("PREVIEW-BAD-1").replace(b"<urgency>Immediate</urgency>",
                                                  b"<urgency>Soonish</urgency>")
    assert broken != make_alert("PREVIEW-BAD-1")
    status, preview = await call(server, "POST", "/api/v1/alerts/preview", broken)
    assert status == 200, preview
    assert preview["valid"] is False
    assert preview["variants"] is None
    assert any("urgency" in f["location"] and f["severity"] == "error"
               for f in preview["findings"]), preview["findings"]
    status, unreadable = await call(server, "POST", "/api/v1/alerts/preview", b"<alert")
    assert status == 200
    assert unreadable["valid"] is False
    assert unreadable["findings"]
    assert await alert_count(server) == before


async def test_preview_needs_a_key_and_a_bounded_body(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}/api/v1/alerts/preview",
                                data=make_alert("PREVIEW-AUTH-1"), headers=CAP) as response:
            assert response.status == 401
    big = io.BytesIO(b"<a>" + b"x" * (6 * 1024 * 1024) + b"</a>")  # 5 MiB pasted, and more
    async with aiohttp.ClientSession(headers=server.headers) as session:
        async with session.post(f"{server.url}/api/v1/alerts/preview", data=big,
                                headers=CAP) as response:
            assert response.status == 413


async def test_preview_is_in_the_openapi_document(server: Server) -> None:
    status, document = await call(server, "GET", "/api/v1/openapi.json")
    assert status == 200
    assert "post" in document["paths"]["/api/v1/alerts/preview"]
