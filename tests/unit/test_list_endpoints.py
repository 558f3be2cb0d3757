"""List endpoints answer what was asked or say why not: a query parameter the route does
not read is a 400 problem (a misspelt filter silently ignored lists everything), and
every page carries the total count of what matches."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
KEY = "dev-key-for-list-tests-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _alert(number: int) -> bytes:
    text = (EXAMPLES / "nl-alert-fire.xml").read_text(encoding="utf-8")
    return text.replace("<identifier>NL-VRR-2026-0042</identifier>",
                        f"<identifier>NL-VRR-LIST-{number}</identifier>").encode()


async def test_unknown_parameters_are_400_and_pages_carry_the_total(tmp_path: Path) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    async with TestClient(TestServer(create_app(settings))) as client:
        for number in range(3):
            posted = await client.post("/api/v1/alerts", data=_alert(number),
                                       headers={**AUTH, "Content-Type": "application/cap+xml"})
            assert posted.status == 202, await posted.text()

        misspelt = await client.get("/api/v1/alerts?status=cancelled", headers=AUTH)
        assert misspelt.status == 400
        assert misspelt.content_type == "application/problem+json"
        problem = await misspelt.json()
        assert problem["code"] == "query.unknown-parameter"
        assert "status" in problem["detail"]
        assert "state" in problem["detail"]

        first = await (await client.get("/api/v1/alerts?limit=2", headers=AUTH)).json()
        assert len(first["items"]) == 2
        assert first["total"] == 3
        second = await (await client.get(f"/api/v1/alerts?limit=2&cursor={first['next_cursor']}",
                                         headers=AUTH)).json()
        assert len(second["items"]) == 1
        assert second["total"] == 3
        none = await (await client.get("/api/v1/alerts?state=cancelled", headers=AUTH)).json()
        assert none == {"items": [], "next_cursor": None, "total": 0}


async def test_alert_list_filters_by_authority_event_and_time(tmp_path: Path) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    async with TestClient(TestServer(create_app(settings))) as client:
        posted = await client.post("/api/v1/alerts", data=_alert(1),
                                   headers={**AUTH, "Content-Type": "application/cap+xml"})
        assert posted.status == 202, await posted.text()
        accepted = await posted.json()
        mine = (await (await client.get("/api/v1/alerts", headers=AUTH)).json())["items"][0]
        authority, received = mine["authority"], mine["received_at"]

        async def total(query: str) -> int:
            response = await client.get(f"/api/v1/alerts?{query}", headers=AUTH)
            assert response.status == 200, await response.text()
            return int((await response.json())["total"])

        assert await total("event=MAJOR%20FIRE") == 1  # an info's event, any case
        assert await total("event=flood") == 0
        assert await total(f"authority={authority}") == 1
        assert await total("authority=another") == 0
        until = received.replace("+00:00", "Z")
        assert await total(f"since={until}") == 1
        assert await total(f"until={until}") == 0  # until is exclusive
        assert await total("until=2999-01-01T00:00:00%2B00:00&event=grote%20brand") == 1
        for bad in ("until=tomorrow", "until=2026-11-25T10:00:00", "event=", "authority="):
            response = await client.get(f"/api/v1/alerts?{bad}", headers=AUTH)
            assert response.status == 400, bad
            assert response.content_type == "application/problem+json"
        assert accepted["id"] == mine["id"]


async def test_audit_filters_by_subject(tmp_path: Path) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    async with TestClient(TestServer(create_app(settings))) as client:
        ids = []
        for number in range(2):
            posted = await client.post("/api/v1/alerts", data=_alert(number),
                                       headers={**AUTH, "Content-Type": "application/cap+xml"})
            assert posted.status == 202, await posted.text()
            ids.append((await posted.json())["id"])
        response = await client.get(f"/api/v1/audit?subject={ids[1]}", headers=AUTH)
        assert response.status == 200, await response.text()
        trail = await response.json()
        assert [(e["kind"], e["subject"]) for e in trail["items"]] == [
            ("alert.submitted", ids[1])]
        assert trail["total"] == 1
        everything = await (await client.get("/api/v1/audit", headers=AUTH)).json()
        assert everything["total"] > 1


async def test_filters_holding_nul_are_400(tmp_path: Path) -> None:
    """No database text holds NUL (PostgreSQL refuses it): a clear 400, never a 500."""
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    async with TestClient(TestServer(create_app(settings))) as client:
        for path in ("/api/v1/alerts?event=a%00b", "/api/v1/alerts?authority=%00",
                     "/api/v1/audit?subject=x%00"):
            response = await client.get(path, headers=AUTH)
            assert response.status == 400, path
            assert response.content_type == "application/problem+json"
