"""The operator console in a real browser (Debian's chromium, driven by Playwright)
against a real ``tocsin serve --demo`` process with four-eyes approval for Extreme alerts:
compose -> submit -> a second principal approves -> delivered live -> cancel; a CAP text
holding markup stays text; a forged CSRF token and a principal without ``approve`` are
refused and change nothing. Screenshots go to the test's temporary directory."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import DEV_KEY, REPO, Server, start_server
from tests.integration.test_dispatch_flow import FAST

CHROMIUM = "/usr/bin/chromium"
APPROVER_KEY = "console-approver-key-0123456789"
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
FINAL = {"delivered", "failed", "expired", "cancelled", "skipped", "superseded"}
POLYGON = "51.60,3.50 51.60,4.00 51.30,4.00 51.30,3.50 51.60,3.50"

if shutil.which(CHROMIUM) is None:
    pytest.skip(f"{CHROMIUM} missing: apt-get install chromium (make test installs it)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("console") / "data", env={
        **FAST, "TOCSIN_DEV_APPROVER_KEY": APPROVER_KEY,
        "TOCSIN_APPROVAL": json.dumps({"rules": [{"severity": ["Extreme"]}]})})
    yield running
    running.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


def api(server: Server, path: str) -> Any:
    request = urllib.request.Request(server.url + path,
                                     headers={"Authorization": f"Bearer {DEV_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def signed_in(browser: Any, server: Server, key: str) -> Any:
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.url + "/console/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Alerts").wait_for()
    return page


def compose(page: Any, server: Server, *, severity: str, headline_nl: str) -> str:
    page.goto(server.url + "/console/compose")
    page.get_by_label("Severity (how bad)").select_option(severity)
    page.get_by_label("Category").select_option("Met")
    page.get_by_label("Certainty (how sure)").select_option("Likely")
    page.get_by_label("Gebeurtenis").fill("Overstroming")
    page.get_by_label("Kop").fill(headline_nl)
    page.get_by_label("Instructie").fill("Ga naar de hoogste verdieping.")
    page.get_by_label("Event", exact=True).fill("Flood")
    page.get_by_label("Headline").fill("Flood risk in Zeeland")
    page.get_by_label("Instruction").fill("Go to the highest floor.")
    page.get_by_label("Area description").fill("Zeeland, Walcheren")
    page.get_by_role("textbox", name="Polygon").fill(POLYGON)
    page.locator("#map path.leaflet-interactive").wait_for()  # the polygon on the map
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/console/alert?id=*")
    alert_id: str = page.url.split("id=")[1]
    return alert_id


def delivery_states(page: Any) -> dict[str, str]:
    rows = page.locator("#deliveries tr").all()
    return {row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
            for row in rows}


def test_compose_approve_follow_cancel(browser: Any, server: Server, shots: Path) -> None:
    operator = signed_in(browser, server, DEV_KEY)
    alert_id = compose(operator, server, severity="Extreme", headline_nl=XSS)
    operator.locator("#alert-state").get_by_text("pending_approval").wait_for()
    # the markup arrived as text, and none of it ran
    assert operator.locator("#alert-headline").inner_text() == XSS
    assert operator.evaluate("window.__xss") is None
    operator.screenshot(path=shots / "alert-pending.png", full_page=True)

    approver = signed_in(browser, server, APPROVER_KEY)
    approver.goto(f"{server.url}/console/alert?id={alert_id}")
    # the approver sees what each channel will carry, as the API's /variants reports it
    approver.locator("#forms tr").first.wait_for()
    shown = [row.locator("td").nth(4).text_content() for row in approver.locator("#forms tr").all()]
    assert shown == [f["text"] for f in api(server, f"/api/v1/alerts/{alert_id}/variants")["forms"]]
    assert any("Flood risk in Zeeland" in text for text in shown), shown
    approver.screenshot(path=shots / "alert-approver.png", full_page=True)
    approver.get_by_role("button", name="Approve").click()
    approver.get_by_text("approve: done").wait_for()

    # the operator's page follows the deliveries live (SSE), without a reload
    deadline = time.monotonic() + 30
    while True:
        states = delivery_states(operator)
        if states and all(state in FINAL for state in states.values()):
            break
        assert time.monotonic() < deadline, json.dumps(states)
        operator.wait_for_timeout(200)
    assert "failed" not in states.values(), states
    assert states.get("cell_broadcast") == states.get("webhook") == "delivered", states
    assert {d["channel"]: d["state"] for d in api(server, f"/api/v1/alerts/{alert_id}")[
        "deliveries"]} == states
    operator.screenshot(path=shots / "alert-delivered.png", full_page=True)

    operator.get_by_role("button", name="Cancel this alert").click()
    operator.get_by_text("Cancel submitted").wait_for()
    deadline = time.monotonic() + 30
    while api(server, f"/api/v1/alerts/{alert_id}")["lifecycle"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    operator.screenshot(path=shots / "alert-cancelled.png", full_page=True)
    assert list(shots.glob("*.png"))


def test_principal_without_approve_cannot_approve(browser: Any, server: Server) -> None:
    operator = signed_in(browser, server, DEV_KEY)  # submit, cancel, read, admin: no approve
    alert_id = compose(operator, server, severity="Extreme", headline_nl="Overstroming")
    operator.locator("#alert-state").get_by_text("pending_approval").wait_for()
    operator.get_by_role("button", name="Approve").click()
    operator.get_by_text("approve refused: 403").wait_for()
    assert api(server, f"/api/v1/alerts/{alert_id}")["lifecycle"] == "pending_approval"


def test_forged_csrf_token_is_refused(browser: Any, server: Server) -> None:
    operator = signed_in(browser, server, DEV_KEY)
    before = api(server, "/api/v1/alerts?limit=1")["total"]
    statuses = operator.evaluate("""async () => {
        const form = {sender: "meldkamer@vr-zeeland.example.nl", urgency: "Immediate",
                      severity: "Severe", certainty: "Likely", area_desc: "Zeeland",
                      "headline_en-GB": "forged", "event_en-GB": "Flood"};
        const forged = await fetch("/console/compose", {method: "POST",
            headers: {"Content-Type": "application/json", "X-CSRF-Token": "forged"},
            body: JSON.stringify(form)});
        const missing = await fetch("/console/compose", {method: "POST",
            headers: {"Content-Type": "application/json"}, body: JSON.stringify(form)});
        return [forged.status, missing.status];
    }""")
    assert statuses == [403, 403]
    assert api(server, "/api/v1/alerts?limit=1")["total"] == before


def test_session_cookie_and_content_security_policy(browser: Any, server: Server) -> None:
    operator = signed_in(browser, server, DEV_KEY)
    cookie = next(c for c in operator.context.cookies() if c["name"] == "tocsin_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["value"] != DEV_KEY
    response = operator.goto(server.url + "/console/compose")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # an unknown key does not sign in
    stranger = browser.new_context().new_page()
    stranger.goto(server.url + "/console/")
    stranger.get_by_label("API key").fill("not-a-key-0123456789")
    stranger.get_by_role("button", name="Sign in").click()
    stranger.get_by_text("Sign-in refused: 401").wait_for()


AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(not AXE.is_file(), reason="axe-core missing: run `npm ci` (make install)")
def test_pages_have_no_serious_accessibility_violations(browser: Any, server: Server,
                                                        shots: Path) -> None:
    """axe-core (npm, a dev dependency) on each page. The audit's own script is injected
    inline, so only this audit's context bypasses the CSP; the console never needs it."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(server.url + "/console/")
    serious: dict[str, list[str]] = {}

    def audit(name: str) -> None:
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run()")
        serious[name] = [f"{v['id']}: {v['help']}" for v in result["violations"]
                         if v["impact"] in {"serious", "critical"}]
        page.screenshot(path=shots / f"{name}.png", full_page=True)

    audit("sign-in")
    page.get_by_label("API key").fill(DEV_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Alerts").wait_for()
    audit("alerts")
    compose(page, server, severity="Severe", headline_nl="Hoog water")
    page.locator("#deliveries tr").first.wait_for()
    audit("alert")
    page.goto(server.url + "/console/compose")
    page.locator("#map.leaflet-container").wait_for()
    audit("compose")
    assert serious == {"sign-in": [], "alerts": [], "alert": [], "compose": []}, serious


def test_live_check_and_preview_while_typing(browser: Any, server: Server, shots: Path) -> None:
    """Typing goes, debounced, to ``POST /api/v1/alerts/preview`` (via the console's CSRF-
    checked forwarder): each finding appears next to the field it concerns and goes when
    fixed; the preview shows each channel's pages/parts as sent; markup stays text; and
    nothing typed is stored."""
    page = signed_in(browser, server, DEV_KEY)
    before = api(server, "/api/v1/alerts?limit=1")["total"]
    page.goto(server.url + "/console/compose")
    page.get_by_label("Category").select_option("Met")
    page.get_by_label("Gebeurtenis").fill("Overstroming")
    page.get_by_label("Kop").fill(XSS)
    page.get_by_label("Instructie").fill("Ga naar de hoogste verdieping.")
    page.get_by_label("Area description").fill("Zeeland, Walcheren")
    open_ring = POLYGON.rsplit(" ", 1)[0]  # the first point not repeated last: invalid
    page.get_by_role("textbox", name="Polygon").fill(open_ring)
    note = page.locator("#finding-polygon")
    note.get_by_text("error", exact=False).wait_for()
    assert page.get_by_role("textbox", name="Polygon").get_attribute("aria-invalid") == "true"
    page.get_by_text("Not valid yet").wait_for()
    assert page.locator("#preview-forms tr").count() == 0
    page.screenshot(path=shots / "compose-finding.png", full_page=True)

    page.get_by_role("textbox", name="Polygon").fill(POLYGON)
    page.get_by_text("Valid: would go to").wait_for()
    assert note.text_content() == ""
    cell_broadcast = page.locator('#preview-forms tr[data-target="cell_broadcast"]')
    cell_broadcast.first.wait_for()
    pages = cell_broadcast.first.locator("td").nth(2).text_content() or ""
    assert pages[:1].isdigit(), pages  # the number of pages it goes out in
    shown = [row.locator("td").nth(4).text_content()
             for row in page.locator("#preview-forms tr").all()]
    assert any(XSS in (text or "") for text in shown), shown  # the markup, as text
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=shots / "compose-preview.png", full_page=True)
    assert api(server, "/api/v1/alerts?limit=1")["total"] == before  # nothing stored
