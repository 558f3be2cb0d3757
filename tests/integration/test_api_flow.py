"""The HTTP API end to end against a real ``tocsin serve``: idempotency under
concurrency, Update/Cancel, pagination, byte-exact CAP, OpenAPI, SIGTERM drain."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp

from router.app import create_app
from router.settings import Settings
from tests.integration.conftest import EXAMPLES, make_alert
from tests.integration.server import Server, start_server


async def _post(session: aiohttp.ClientSession, server: Server, body: bytes,
                query: str = "") -> tuple[int, dict[str, object]]:
    async with session.post(f"{server.url}/api/v1/alerts{query}", data=body) as response:
        return response.status, await response.json(content_type=None)


async def test_same_alert_posted_20_times_concurrently_is_stored_once(server: Server) -> None:
    body = make_alert("IDEM-1")
    async with aiohttp.ClientSession(headers=server.headers) as session:
        results = await asyncio.gather(*(_post(session, server, body) for _ in range(20)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 19 + [202]
    assert len({answer["id"] for _, answer in results}) == 1
    conn = sqlite3.connect(server.data_dir / "tocsin.sqlite3")
    try:
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0] == 5
    finally:
        conn.close()


async def test_update_supersedes_and_cancel_cancels(server: Server) -> None:
    async with aiohttp.ClientSession(headers=server.headers) as session:
        _, first = await _post(session, server, (EXAMPLES / "nl-alert-fire.xml").read_bytes())
        _, update = await _post(session, server,
                                (EXAMPLES / "nl-alert-fire-update.xml").read_bytes())
        async with session.get(f"{server.url}{first['status_url']}") as response:
            original = await response.json()
        assert original["state"] == "superseded"
        assert original["superseded_by"] == update["id"]
        # whatever had not gone out yet was stopped; nothing of it is still waiting
        assert not {"pending", "standby"} & {d["state"] for d in original["deliveries"]}

        status, cancel = await _post(session, server,
                                     (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes())
        assert status == 202
        async with session.get(f"{server.url}{update['status_url']}") as response:
            updated = await response.json()
        assert updated["state"] == "cancelled"
        assert updated["cancelled_by"] == cancel["id"]
        assert not {"pending", "standby"} & {d["state"] for d in updated["deliveries"]}
        async with session.get(f"{server.url}{cancel['status_url']}") as response:
            cancelling = await response.json()
        assert cancelling["references"][0]["alert_id"] == update["id"]


async def test_reference_to_unknown_alert_is_held_with_its_findings(server: Server) -> None:
    """Stored durably (202) with the unknown reference named, and held: a Cancel of
    nothing this store knows is sent nowhere (router.store.unknown_references)."""
    body = (EXAMPLES / "nl-alert-fire-cancel.xml").read_bytes()
    async with aiohttp.ClientSession(headers=server.headers) as session:
        status, answer = await _post(session, server, body)
    assert status == 202
    assert [w["code"] for w in answer["warnings"]] == ["ingest.reference.unknown",
                                                       "ingest.reference.held"]


async def test_raw_bytes_listing_and_pagination(server: Server) -> None:
    bodies = [make_alert(f"PAGE-{n}") for n in range(7)]
    bodies[3] = bodies[3].replace(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", b"")
    async with aiohttp.ClientSession(headers=server.headers) as session:
        ids = [(await _post(session, server, body))[1]["id"] for body in bodies]
        async with session.get(f"{server.url}/api/v1/alerts/{ids[3]}/cap") as response:
            assert response.content_type == "application/cap+xml"
            assert await response.read() == bodies[3]
        seen: list[str] = []
        url = f"{server.url}/api/v1/alerts?limit=3&state=accepted"
        while True:
            async with session.get(url) as response:
                page = await response.json()
            seen += [item["id"] for item in page["items"]]
            if page["next_cursor"] is None:
                break
            url = (f"{server.url}/api/v1/alerts?limit=3&state=accepted"
                   f"&cursor={page['next_cursor']}")
        assert seen == ids
        async with session.get(f"{server.url}/api/v1/alerts",
                               params={"since": "2999-01-01T00:00:00+00:00"}) as response:
            assert (await response.json())["items"] == []


async def test_openapi_lists_exactly_the_served_routes(server: Server) -> None:
    app = create_app(Settings(data_dir=server.data_dir / "unused", demo=True))
    # the operator console's pages (/console/...) are a browser client of this API, not part
    # of it: they are not documented as API operations
    served = {(route.method, route.resource.canonical) for route in app.router.routes()
              if route.resource is not None and route.method != "HEAD"
              and not route.resource.canonical.startswith("/console")}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/openapi.json") as response:
            document = await response.json()
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    assert documented == served
    for path, item in document["paths"].items():
        for operation in item.values():
            for answer in operation["responses"].values():
                for media in answer.get("content", {}).values():
                    ref = media["schema"].get("$ref")
                    if ref:
                        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], path


async def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    answers: list[int | str] = []

    async def post(session: aiohttp.ClientSession, n: int) -> None:
        try:
            async with session.post(f"{server.url}/api/v1/alerts",
                                    data=make_alert(f"TERM-{n}")) as response:
                answers.append(response.status)
        except (aiohttp.ClientError, ConnectionError):
            answers.append("refused")

    async with aiohttp.ClientSession(headers=server.headers) as session:
        tasks = [asyncio.create_task(post(session, n)) for n in range(200)]
        # SIGTERM once the service is demonstrably taking alerts, with most still in flight
        # (not after a fixed sleep: a loaded machine may not have answered any by then).
        for _ in range(600):
            if answers:
                break
            await asyncio.sleep(0.05)
        server.proc.send_signal(signal.SIGTERM)
        await asyncio.gather(*tasks)
    code = server.proc.wait(timeout=30)
    assert code == 0, (code, server.log_path.read_text(errors="replace")[-4000:])
    accepted = answers.count(202)
    assert accepted > 0
    assert set(answers) <= {202, "refused"}
    events = [line["event"] for line in server.log_lines()]
    assert "service.draining" in events
    assert events[-1] == "service.stopped"
    conn = sqlite3.connect(server.data_dir / "tocsin.sqlite3")
    try:
        stored = conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
    finally:
        conn.close()
    assert stored >= accepted
