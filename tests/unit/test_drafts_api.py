"""``/api/v1/drafts`` and ``/api/v1/compose-options`` through the real application: a
draft is its principal's only, bounded in size, never an alert; the compose options
list the profile's allowed events when it has them, else the template library's."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.settings import Settings

KEY = "dev-key-for-draft-tests-0123456789"
APPROVER = "approver-key-for-draft-tests-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
FORM = {"status": "Exercise", "headline_nl-NL": "<script>x</script>", "polygon": ""}


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dev_approver_key=APPROVER,
                    dispatch_enabled=False, **extra)  # type: ignore[arg-type]


async def test_drafts_are_saved_replaced_and_removed_by_their_principal(tmp_path: Path
                                                                         ) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        made = await client.post("/api/v1/drafts", json={"title": "Hoog water", "form": FORM},
                                 headers=AUTH)
        assert made.status == 201, await made.text()
        draft = await made.json()
        assert made.headers["Location"] == f"/api/v1/drafts/{draft['id']}"
        assert (draft["form"], draft["version"]) == (FORM, 1)
        listed = await (await client.get("/api/v1/drafts", headers=AUTH)).json()
        assert [d["id"] for d in listed["items"]] == [draft["id"]]
        put = await client.put(f"/api/v1/drafts/{draft['id']}", headers=AUTH,
                               json={"title": "Hoger water", "form": {**FORM, "status": "Test"}})
        assert put.status == 200
        got = await (await client.get(f"/api/v1/drafts/{draft['id']}", headers=AUTH)).json()
        assert (got["title"], got["form"]["status"], got["version"]) == ("Hoger water", "Test",
                                                                         2)
        # a draft is never an alert
        alerts = await (await client.get("/api/v1/alerts", headers=AUTH)).json()
        assert alerts["total"] == 0

        # a key without 'submit' keeps no drafts, and sees none of another's
        other = {"Authorization": f"Bearer {APPROVER}"}
        assert (await client.get("/api/v1/drafts", headers=other)).status == 403
        assert (await client.get(f"/api/v1/drafts/{draft['id']}", headers=other)).status == 403
        assert (await client.get("/api/v1/drafts")).status == 401

        # bad bodies change nothing
        for body in (b"[]", b'{"form": {"a": 1}}', b'{"form": "x"}',
                     json.dumps({"form": {"x" * 65: ""}}).encode()):
            bad = await client.put(f"/api/v1/drafts/{draft['id']}", data=body,
                                   headers={**AUTH, "Content-Type": "application/json"})
            assert bad.status == 400, body
            assert (await bad.json())["code"] == "draft.bad-body"
        huge = await client.post("/api/v1/drafts", headers=AUTH,
                                 json={"form": {"description_nl-NL": "x" * 300_000}})
        assert huge.status == 413
        assert (await client.get(f"/api/v1/drafts/{draft['id']}", headers=AUTH)
                ).status == 200

        assert (await client.delete(f"/api/v1/drafts/{draft['id']}", headers=AUTH)
                ).status == 204
        assert (await client.delete(f"/api/v1/drafts/{draft['id']}", headers=AUTH)
                ).status == 404
        assert (await (await client.get("/api/v1/drafts", headers=AUTH)).json())["items"] == []


async def test_compose_options_offer_the_template_library(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(_settings(tmp_path)))) as client:
        response = await client.get("/api/v1/compose-options?profile=nl-alert", headers=AUTH)
        assert response.status == 200, await response.text()
        options = await response.json()
    assert (options["profile"], options["events_from"], options["free_text"]) == (
        "nl-alert", "templates", True)
    assert {"value": "Flood", "text": {"nl": "Overstroming", "en": "Flood"}} in options["events"]
    shelter = next(i for i in options["instructions"] if "responseType:Shelter" in i["codes"])
    assert shelter["text"]["nl"].startswith("Ga naar binnen.")
    assert options["status_markers"]["Exercise"] == {"nl": "OEFENING", "en": "EXERCISE"}
    # the stored areas a form may take: the routing configuration's regions, closed rings
    regions = {r["name"]: r["polygon"] for r in options["regions"]}
    assert regions["netherlands"] == [[50.7, 3.1], [50.7, 7.3], [53.7, 7.3], [53.7, 3.1],
                                      [50.7, 3.1]]


async def test_compose_options_follow_a_profile_that_restricts_events(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "regio.yaml").write_text(
        "name: regio\ntitle: Regio\nextends: nl-alert\nrules:\n"
        "  - id: events\n    allowed_values: {path: info.event, values: [Overstroming, Brand]}\n",
        encoding="utf-8")
    (profiles / "regio-open.yaml").write_text(
        "name: regio-open\ntitle: Regio (open)\nextends: regio\nrules:\n"
        "  - id: events\n    severity: warning\n"
        "    allowed_values: {path: info.event, values: [Storm]}\n", encoding="utf-8")
    settings = _settings(tmp_path / "data", profile_dirs=[profiles])
    async with TestClient(TestServer(create_app(settings))) as client:
        closed = await (await client.get("/api/v1/compose-options?profile=regio",
                                         headers=AUTH)).json()
        open_ = await (await client.get("/api/v1/compose-options?profile=regio-open",
                                        headers=AUTH)).json()
        unknown = await client.get("/api/v1/compose-options?profile=nope", headers=AUTH)
    assert (closed["events_from"], closed["free_text"]) == ("profile", False)
    assert [e["value"] for e in closed["events"]] == ["Overstroming", "Brand"]
    assert (open_["free_text"], [e["value"] for e in open_["events"]]) == (True, ["Storm"])
    assert unknown.status == 400
