"""The operator console in a real browser (Debian's chromium, driven by Playwright)
against a real ``tocsin serve --demo`` process with four-eyes approval for Extreme alerts:
compose -> submit -> a second principal approves -> delivered live -> cancel; a CAP text
holding markup stays text; a forged CSRF token and a principal without ``approve`` are
refused and change nothing. Screenshots go to the test's temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

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


SCREENSHOTS = os.environ.get("TOCSIN_SCREENSHOTS_DIR")
"""Where the README's screenshots go (``docs/screenshots``) when set; unset, none are made."""


def readme_screenshot(page: Any, name: str, scroll_to: str | None = None) -> None:
    """A screenshot for the README: the window at 1280x800 (not the whole page), from the
    top or from ``scroll_to``, made smaller with ``optipng`` when it is installed."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    if scroll_to:
        page.locator(scroll_to).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    else:
        page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)  # the map redrawn at the new size
    path = folder / f"{name}.png"
    page.screenshot(path=path)
    if shutil.which("optipng"):
        subprocess.run(["optipng", "-quiet", "-o2", "-strip", "all", str(path)], check=True,
                       timeout=120)


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


def open_compose(page: Any, base: str) -> None:
    """The compose page with every handler attached (before it, typing would not be
    saved as a draft, and Submit would not be the console's)."""
    page.goto(base + "/console/compose")
    page.locator("body[data-ready='1']").wait_for()


def compose(page: Any, server: Server, *, severity: str, headline_nl: str) -> str:
    open_compose(page, server.url)
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
    # the polygon on the map (the EWSS ellipse, dashed, joins it once the preview is in)
    page.locator("#map .leaflet-overlay-pane path:not([stroke-dasharray])").first.wait_for()
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
    # the history keeps each alert's CAP: the link gives the document as received
    cap_url = operator.get_by_role("link", name="the alert as received (XML)").get_attribute(
        "href")
    cap = operator.request.get(server.url + str(cap_url))
    assert cap.status == 200
    assert b"<identifier>" in cap.body()
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
    deliveries = api(server, f"/api/v1/alerts/{alert_id}")["deliveries"]
    assert {d["channel"]: d["state"] for d in deliveries} == states
    # the reach of subscriber channels, per outcome, as the API reports it
    for d in deliveries:
        cell = operator.locator(f'#deliveries tr[data-channel="{d["channel"]}"] td').nth(3)
        expected = ", ".join(f"{k} {v}" for k, v in (d.get("recipients") or {}).items())
        assert cell.inner_text() == expected, (d["channel"], expected)
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
        const draft = await fetch("/console/drafts", {method: "POST",
            headers: {"Content-Type": "application/json", "X-CSRF-Token": "forged"},
            body: JSON.stringify({title: "forged draft", form})});
        return [forged.status, missing.status, draft.status];
    }""")
    assert statuses == [403, 403, 403]
    assert api(server, "/api/v1/alerts?limit=1")["total"] == before
    assert not [d for d in api(server, "/api/v1/drafts")["items"] if d["title"] == "forged draft"]


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
    open_compose(page, server.url)
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
    open_compose(page, server.url)
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


def post_cap(server: Server, document: bytes) -> Any:
    request = urllib.request.Request(server.url + "/api/v1/alerts", data=document, headers={
        "Authorization": f"Bearer {DEV_KEY}", "Content-Type": "application/cap+xml"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def banner(page: Any) -> str:
    locator = page.locator("#status-banner")
    if not locator.is_visible():
        return ""
    return str(locator.inner_text())


def test_exercise_and_test_are_marked_on_every_page(browser: Any, server: Server,
                                                    shots: Path) -> None:
    """A banner in words (not colour alone) as soon as the composed status is Exercise or
    Test, on the page of such an alert, and a mark on its row in the list."""
    example = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_text(encoding="utf-8")
    exercise = example.replace("<status>Actual</status>", "<status>Exercise</status>").replace(
        "NL-VRR-2026-0042", "NL-VRR-CONSOLE-EXERCISE")
    exercise_id = post_cap(server, exercise.encode())["id"]
    actual_id = post_cap(server, example.replace("NL-VRR-2026-0042",
                                                 "NL-VRR-CONSOLE-ACTUAL").encode())["id"]
    page = signed_in(browser, server, DEV_KEY)
    open_compose(page, server.url)
    page.locator("#map.leaflet-container").wait_for()
    assert banner(page) == ""
    page.get_by_label("Status").select_option("Exercise")
    assert banner(page) == "EXERCISE — this is not a real warning"
    style = page.locator("#status-banner").evaluate(
        "e => { const s = getComputedStyle(e); return [s.position, s.color, s.backgroundColor] }")
    assert style == ["sticky", "rgb(0, 0, 0)", "rgb(255, 213, 0)"]
    # it stays in view at the end of the long form
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("window.scrollY") > 500
    assert page.locator("#status-banner").evaluate("e => e.getBoundingClientRect().top") == 0
    page.screenshot(path=shots / "compose-exercise.png", full_page=True)
    page.get_by_label("Status").select_option("Test")
    assert banner(page) == "TEST — this is not a real warning"
    page.get_by_label("Status").select_option("Actual")
    assert banner(page) == ""

    page.goto(f"{server.url}/console/alert?id={exercise_id}")
    page.locator("#status-banner").get_by_text("EXERCISE").wait_for()
    page.goto(f"{server.url}/console/alert?id={actual_id}")
    page.locator("#deliveries tr").first.wait_for()
    assert banner(page) == ""
    page.goto(server.url + "/console/")
    page.locator("#alerts tr").first.wait_for()
    marks = {row.get_attribute("data-status"): row.locator(".status-mark").all_inner_texts()
             for row in page.locator("#alerts tr").all()}
    assert marks["Exercise"] == ["EXERCISE"]
    assert marks["Actual"] == []


def test_event_list_and_instruction_templates(browser: Any, server: Server) -> None:
    """The event comes from a list (free text still possible: the demo profile restricts
    no events) and a verified instruction is one click away, inserted as text."""
    page = signed_in(browser, server, DEV_KEY)
    open_compose(page, server.url)
    page.get_by_label("Event from the list").select_option(label="Overstroming / Flood")
    assert page.get_by_label("Gebeurtenis").input_value() == "Overstroming"
    assert page.get_by_label("Event", exact=True).input_value() == "Flood"
    assert page.get_by_label("Event", exact=True).is_editable()  # free text allowed
    dutch = page.get_by_role("group", name="Verified templates (Dutch)")
    dutch.get_by_role("button", name="Ga naar binnen.", exact=False).click()
    assert page.get_by_label("Instructie").input_value().startswith(
        "Ga naar binnen. Sluit ramen en deuren.")
    english = page.get_by_role("group", name="Verified templates (English)")
    english.get_by_role("button", name="Leave the area.", exact=False).click()
    assert page.get_by_label("Instruction").input_value() == (
        "Leave the area. Follow the instructions of the emergency services.")
    # every template of the library, in each language, from the API's own list
    options = api(server, "/api/v1/compose-options")
    assert english.get_by_role("button").all_inner_texts() == [
        i["text"]["en"] for i in options["instructions"] if "en" in i["text"]]


def test_a_draft_is_saved_reopened_and_never_sent(browser: Any, server: Server) -> None:
    page = signed_in(browser, server, DEV_KEY)
    before = api(server, "/api/v1/alerts?limit=1")["total"]
    open_compose(page, server.url)
    page.get_by_label("Status").select_option("Exercise")
    page.get_by_label("Kop").fill("Concept: hoog water")
    page.get_by_label("Instructie").fill(XSS)
    draft_status = page.locator("#draft-status")
    try:
        draft_status.get_by_text("Draft saved at").wait_for()  # autosaved after a pause
    except sync_api.TimeoutError:
        entries = page.evaluate("performance.getEntriesByType('resource').map("
                                "e => e.name + ' ' + Math.round(e.duration))")
        pytest.fail(f"not autosaved; the page says {draft_status.inner_text()!r}; "
                    f"requests: {entries[-15:]}; server: "
                    f"{server.log_path.read_text(errors='replace')[-3000:]}")
    page.get_by_label("Kop").fill("Concept: hoog water bij Vlissingen")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Open draft: Concept: hoog water bij Vlissingen").wait_for()
    saved = api(server, "/api/v1/drafts")["items"]
    assert len([d for d in saved if d["title"].startswith("Concept:")]) == 1  # one, replaced
    # a fresh page: the draft is listed, and opening it restores every field
    open_compose(page, server.url)
    page.get_by_role("button", name="Open draft: Concept: hoog water bij Vlissingen").click()
    page.get_by_text("Draft opened").wait_for()
    assert page.get_by_label("Kop").input_value() == "Concept: hoog water bij Vlissingen"
    assert page.get_by_label("Instructie").input_value() == XSS
    assert page.get_by_label("Status").input_value() == "Exercise"
    assert banner(page) == "EXERCISE — this is not a real warning"
    assert "draft=" in page.url
    assert page.evaluate("window.__xss") is None
    assert api(server, "/api/v1/alerts?limit=1")["total"] == before  # never sent
    page.get_by_role("button", name="Delete draft: Concept: hoog water bij Vlissingen").click()
    page.get_by_role("button", name="Open draft: Concept: hoog water bij Vlissingen").wait_for(
        state="detached")
    assert not [d for d in api(server, "/api/v1/drafts")["items"]
                if d["title"].startswith("Concept:")]


def test_dutch_interface(browser: Any, server: Server, shots: Path) -> None:
    """Accept-Language nl gives the Dutch strings and <html lang="nl">; ?lang=en switches
    (and is remembered); the Dutch pages pass the axe-core audit too."""
    context = browser.new_context(locale="nl-NL", bypass_csp=True)
    page = context.new_page()
    page.goto(server.url + "/console/")
    assert page.evaluate("document.documentElement.lang") == "nl"
    page.get_by_label("API-sleutel").fill(DEV_KEY)
    page.get_by_role("button", name="Aanmelden").click()
    page.get_by_role("heading", name="Waarschuwingen").wait_for()
    open_compose(page, server.url)
    page.get_by_role("heading", name="Waarschuwing opstellen").wait_for()
    for label in ("Ernst (hoe erg)", "Zekerheid (hoe zeker)", "Omschrijving van het gebied",
                  "Gebeurtenis uit de lijst"):
        assert page.get_by_label(label).count() == 1, label
    page.get_by_label("Soort bericht").select_option("Exercise")
    assert banner(page) == "OEFENING — dit is geen echte waarschuwing"
    assert page.get_by_role("button", name="Indienen").count() == 1
    page.locator("#preview-status").get_by_text("Geldig: gaat naar").wait_for()  # from the table
    page.screenshot(path=shots / "compose-nl.png", full_page=True)
    if AXE.is_file():
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run()")
        assert [v["id"] for v in result["violations"]
                if v["impact"] in {"serious", "critical"}] == []
    page.get_by_role("link", name="English").click()
    page.get_by_role("heading", name="Compose an alert").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.goto(server.url + "/console/")  # the choice is remembered over Accept-Language
    page.get_by_role("heading", name="Alerts").wait_for()
    context.close()


def tab_to(page: Any, target: str, limit: int = 120) -> None:
    """Press Tab until the element (an id, or a CSS selector) has focus (keyboard only),
    at most ``limit`` times."""
    selector = target if target[:1] in "#." or " " in target else f"#{target}"
    for _ in range(limit):
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} not reached with Tab")


def focus_is_visible(page: Any) -> bool:
    return bool(page.evaluate("""() => { const e = document.activeElement;
        const s = getComputedStyle(e);
        return e.matches(':focus-visible') && ((s.outlineStyle !== 'none'
            && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none'); }"""))


def test_keyboard_only_compose_preview_submit(browser: Any, server: Server,
                                              shots: Path) -> None:
    """Sign in, compose, see the preview and submit with the keyboard alone (no click),
    each control showing a visible focus indicator when reached."""
    page = browser.new_context().new_page()
    page.goto(server.url + "/console/")
    tab_to(page, "api-key")
    assert focus_is_visible(page)
    page.keyboard.type(DEV_KEY)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Alerts").wait_for()
    open_compose(page, server.url)
    page.locator("#map.leaflet-container").wait_for()
    # ArrowDown on a select takes the next option; Enter on a template button inserts it
    fields = [("category", None), ("certainty", "ArrowDown"), ("event-choice", "ArrowDown"),
              ("headline_nl-NL", "Hoog water in Zeeland"),
              ("#templates-nl-NL button.template", "Enter"),
              ("headline_en-GB", "Flood risk in Zeeland"),
              ("#templates-en-GB button.template", "Enter"),
              ("area_desc", "Zeeland, Walcheren"), ("polygon", POLYGON)]
    for target, keys in fields:
        tab_to(page, target)
        assert focus_is_visible(page), target
        if keys in {"ArrowDown", "Enter"}:
            page.keyboard.press(keys)
        elif keys is not None:
            page.keyboard.type(keys)
    assert page.get_by_label("Certainty (how sure)").input_value() == "Likely"
    assert page.get_by_label("Category").input_value() == "Met"
    assert page.get_by_label("Gebeurtenis").input_value() == "Brand"  # the first in the list
    assert page.get_by_label("Event", exact=True).input_value() == "Fire"
    assert page.get_by_label("Instructie").input_value().startswith("Ga naar binnen.")
    assert page.get_by_label("Instruction").input_value().startswith("Go inside.")
    page.get_by_text("Valid: would go to").wait_for()
    page.locator('#preview-forms tr[data-target="cell_broadcast"]').first.wait_for()
    # the preview of what was typed (an earlier one, of the empty form, is replaced)
    page.locator("#preview-forms td", has_text="Flood risk in Zeeland").first.wait_for()
    page.screenshot(path=shots / "keyboard-preview.png", full_page=True)
    readme_screenshot(page, "compose", scroll_to="#map")
    page.locator("#draft-status").get_by_text("Draft saved at").wait_for()  # autosaved
    assert "draft=" in str(page.get_by_role("link", name="Nederlands").get_attribute("href"))
    tab_to(page, "submit")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/alert?id=*")
    page.locator("#deliveries tr").first.wait_for()
    alert_id = page.url.split("id=")[1]
    assert api(server, f"/api/v1/alerts/{alert_id}")["lifecycle"] == "accepted"
    # the draft became the alert: it is no longer kept
    assert not [d for d in api(server, "/api/v1/drafts")["items"]
                if d["title"] == "Hoog water in Zeeland"]


def test_a_profile_that_restricts_events_leaves_only_the_list(
        browser: Any, tmp_path: Path) -> None:
    """With a default profile whose ``allowed_values`` rule on ``info.event`` is an error,
    the list holds exactly its events and the event fields take no free text."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "regio.yaml").write_text(
        "name: regio\ntitle: Regio\nextends: cap12\nrules:\n"
        "  - id: events\n    allowed_values: {path: info.event, values: [Dijkdoorbraak, Brand]}\n",
        encoding="utf-8")
    restricted = start_server(tmp_path / "data", env={
        **FAST, "TOCSIN_PROFILE_DIRS": json.dumps([str(profiles)]),
        "TOCSIN_DEFAULT_PROFILE": "regio"})
    try:
        page = signed_in(browser, restricted, DEV_KEY)
        open_compose(page, restricted.url)
        choice = page.get_by_label("Event from the list")
        page.locator("#event-fixed").wait_for()
        assert choice.locator("option").all_inner_texts()[1:] == ["Dijkdoorbraak", "Brand"]
        choice.select_option(label="Dijkdoorbraak")
        for label in ("Gebeurtenis", "Event"):
            field = page.get_by_label(label, exact=True)
            assert field.input_value() == "Dijkdoorbraak"
            assert not field.is_editable()
    finally:
        restricted.stop(signal.SIGKILL)


def _webhook_faults(server: Server, spec: dict[str, Any]) -> None:
    """Faults of the demo's mock webhook receiver, found in the service's start-up log."""
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    base = str(cast(dict[str, str], started["mock_elements"])["webhook"])
    request = urllib.request.Request(base + "/_mock/faults", method="PUT",
                                     data=json.dumps(spec).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def _until(page: Any, done: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(200)


def test_retry_a_failed_channel_then_update_from_the_alert_page(
        browser: Any, server: Server, shots: Path) -> None:
    """A channel that refused the alert gets a Retry button; once the receiver is fixed,
    Retry delivers it, live. "Update this alert" opens compose filled from the stored
    CAP; what is submitted is an Update referencing it, and the original is superseded."""
    operator = signed_in(browser, server, DEV_KEY)
    _webhook_faults(server, {"mode": "fail", "status": 400})  # refused for good
    try:
        alert_id = compose(operator, server, severity="Severe", headline_nl="Hoogwater Zeeland")
        _until(operator, lambda: delivery_states(operator).get("webhook") == "failed",
               "the webhook delivery did not fail")
    finally:
        _webhook_faults(server, {"mode": "none"})
    operator.get_by_role("button", name="Retry webhook").click()
    _until(operator, lambda: delivery_states(operator).get("webhook") == "delivered",
           "the retried webhook delivery was not delivered")
    assert operator.get_by_role("button", name="Retry webhook").count() == 0
    operator.screenshot(path=shots / "alert-retried.png", full_page=True)

    operator.get_by_role("link", name="Update this alert").click()
    operator.locator("body[data-ready='1']").wait_for()
    assert operator.get_by_label("Kop").input_value() == "Hoogwater Zeeland"
    assert operator.get_by_label("Headline").input_value() == "Flood risk in Zeeland"
    assert " ".join(operator.get_by_role("textbox", name="Polygon").input_value().split()) \
        == POLYGON
    assert alert_id in operator.locator("#update-notice").inner_text()
    operator.get_by_label("Headline").fill("Flood risk in Zeeland: water rising")
    operator.get_by_role("button", name="Submit").click()
    operator.wait_for_url(lambda url: "id=" in url and alert_id not in url)
    update_id = operator.url.split("id=")[1]
    update = api(server, f"/api/v1/alerts/{update_id}")
    assert update["msg_type"] == "Update"
    original = api(server, f"/api/v1/alerts/{alert_id}")
    assert original["lifecycle"] == "superseded", original["lifecycle"]
    operator.screenshot(path=shots / "alert-update.png", full_page=True)


def draw_on_the_map(page: Any, polygon: Any) -> None:
    """Three clicks in polygon mode make a closed ring; undo takes the last point off;
    a click in circle mode sets the centre (radius 1 km until typed)."""
    polygon.fill("")
    page.get_by_role("button", name="adds a polygon point").click()
    assert page.get_by_role("button", name="adds a polygon point").get_attribute(
        "aria-pressed") == "true"
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    for dx, dy in ((0.3, 0.3), (0.7, 0.3), (0.6, 0.7)):
        page.mouse.click(box["x"] + dx * box["width"], box["y"] + dy * box["height"])
    ring = polygon.input_value().split()
    assert len(ring) == 4, ring
    assert ring[0] == ring[-1]
    page.get_by_role("button", name="Remove the last polygon point").click()
    assert len(polygon.input_value().split()) == 2
    page.mouse.click(box["x"] + 0.6 * box["width"], box["y"] + 0.7 * box["height"])
    assert len(polygon.input_value().split()) == 4
    page.get_by_role("button", name="sets the circle's centre").click()
    page.mouse.click(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    circle = page.get_by_label("Circle").input_value()
    assert circle.endswith(" 1"), circle
    page.get_by_label("Circle").fill(circle[:-2] + " 5")
    page.locator("#map .leaflet-overlay-pane path:not([stroke-dasharray])").nth(1).wait_for()


def hear_the_spoken_text(page: Any, language: str) -> None:
    """The player gets the Ogg Opus the service made for the form (on request, through
    the console with the CSRF token) and Chromium decodes it: it has a duration."""
    page.get_by_role("button", name=f"Make the spoken text ({language})").click()
    item = page.locator(f'#preview-audio li[data-language="{language}"]')
    item.locator("audio, .finding-error").first.wait_for()
    assert item.locator(".finding-error").count() == 0, item.inner_text()
    player = item.locator("audio")
    assert player.get_attribute("aria-label") == f"Spoken text, {language}"
    page.wait_for_function("""(selector) => { const a = document.querySelector(selector);
        return a && a.readyState >= 1 && a.duration > 0.5; }""",
        arg=f'#preview-audio li[data-language="{language}"] audio')


def test_area_drawn_on_the_base_map_and_each_channel_as_received(
        browser: Any, server: Server, shots: Path) -> None:
    """The compose map has the offline base map; a stored area fills the polygon; clicks
    on the map add polygon points and set a circle's centre (the fields stay the source
    of truth); the preview draws each cell-broadcast message as a phone screen with the
    pages the encoder made, and the wallet alert as a card."""
    page = signed_in(browser, server, DEV_KEY)  # with the CSP: the player plays under it
    open_compose(page, server.url)
    page.locator("#map[data-basemap='outlines']").wait_for()
    assert int(page.locator("#map").get_attribute("data-basemap-provinces") or 0) == 12
    polygon = page.get_by_role("textbox", name="Polygon")
    page.get_by_label("Stored area").select_option(label="netherlands")
    assert polygon.input_value() == "50.7,3.1 50.7,7.3 53.7,7.3 53.7,3.1 50.7,3.1"
    assert page.get_by_label("Area description").input_value() == "netherlands"
    page.locator("#map .leaflet-overlay-pane path").first.wait_for()

    draw_on_the_map(page, polygon)

    # a sender the demo's EWSS tables give a provider id (the satellite needs one)
    page.get_by_label("Sender", exact=True).fill("meldkamer@nl-alert.example.nl")
    page.get_by_label("Category").select_option("Met")
    page.get_by_label("Gebeurtenis").fill("Overstroming")
    page.get_by_label("Kop").fill("Hoog water in Zeeland")
    page.get_by_label("Instructie").fill("Ga naar de hoogste verdieping. " * 12)
    page.get_by_label("Event", exact=True).fill("Flood")
    page.get_by_label("Headline").fill("Flood risk in Zeeland")
    page.get_by_label("Instruction").fill("Go to the highest floor.")
    page.get_by_text("Valid: would go to").wait_for()
    # the preview of the last edit (earlier ones are replaced as they answer)
    page.locator("#preview-forms td", has_text="Go to the highest floor.").first.wait_for()
    phone = page.locator('figure.phone[data-target="cell_broadcast"]').first
    phone.wait_for()
    pages = phone.locator(".page-text").all_text_contents()
    row = page.locator('#preview-forms tr[data-target="cell_broadcast"]').first
    assert "".join(pages) == row.locator("td").nth(4).text_content()
    assert len(pages) == int((row.locator("td").nth(2).text_content() or "0").split()[0])
    assert len(pages) > 1, pages  # the long instruction takes more than one page
    assert phone.locator(".page-number").first.inner_text() == f"Page 1 of {len(pages)}"
    # the SMS as the parts a phone receives, decoded from the parts the channel submits
    sms = page.locator('figure.phone[data-target="sms"]').first
    sms.wait_for()
    parts = sms.locator(".page-text").all_text_contents()
    sms_row = page.locator('#preview-forms tr[data-target="sms"]').first
    assert "".join(parts) == sms_row.locator("td").nth(4).text_content()
    assert len(parts) == int((sms_row.locator("td").nth(2).text_content() or "0").split()[0])
    assert sms.locator(".page-number").first.inner_text() == f"Part 1 of {len(parts)}"
    card = page.locator('article.wallet-card[data-target="eudi_wallet"]').first
    card.wait_for()
    assert "Veiligheidsregio Zeeland" in card.inner_text()
    # the satellite's ellipse, decoded from the bits the channel would send, on the map
    ellipse = page.locator("#preview-ewss li[data-ratio]").first
    ellipse.wait_for()
    assert float(ellipse.get_attribute("data-ratio") or 0) >= 1.0  # it covers the area
    assert "over-warning ratio" in ellipse.inner_text()
    page.locator("#map .leaflet-overlay-pane path[stroke-dasharray]").first.wait_for()
    hear_the_spoken_text(page, "nl-NL")
    page.screenshot(path=shots / "compose-map-and-channels.png", full_page=True)
    if AXE.is_file():  # the phone screens, card, ellipse list and player pass the audit
        # evaluated through the browser's debugging protocol, which the page's CSP does
        # not govern (a script tag would need the CSP bypassed, hiding a media-src fault)
        page.evaluate("(source) => { (0, eval)(source); }", AXE.read_text(encoding="utf-8"))
        result = page.evaluate("async () => await axe.run()")
        assert [v["id"] for v in result["violations"]
                if v["impact"] in {"serious", "critical"}] == []


def _fire(identifier: str, event_nl: str) -> bytes:
    example = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_text(encoding="utf-8")
    return example.replace("NL-VRR-2026-0042", identifier).replace(
        "<event>Grote brand</event>", f"<event>{event_nl}</event>").encode()


def alert_links(page: Any) -> list[str]:
    return [str(link.get_attribute("href")).split("id=")[1]
            for link in page.locator("#alerts tr a").all()]


def test_history_filters_and_pages(browser: Any, server: Server, shots: Path) -> None:
    """The list page's filter form (labelled fields, sent with Enter) narrows the history
    by event (any case), state and time, and pages through it with the API's cursor."""
    ids = [post_cap(server, _fire(f"NL-VRR-HISTORY-{n}", "Dijkdoorbraak Oost"))["id"]
           for n in range(3)]
    post_cap(server, _fire("NL-VRR-HISTORY-OTHER", "Gifwolk"))
    page = signed_in(browser, server, DEV_KEY)
    page.get_by_label("Event (the whole text, any case)").fill("DIJKDOORBRAAK oost")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/?*event=*")
    page.get_by_text("Alerts matching the filters: 3").wait_for()
    assert sorted(alert_links(page)) == sorted(ids)
    assert page.get_by_label("Event (the whole text, any case)").input_value() == \
        "DIJKDOORBRAAK oost"  # the form shows the filters in force
    page.screenshot(path=shots / "history-filtered.png", full_page=True)

    # two a page: the next page through the cursor, then back to the first
    page.goto(page.url + "&limit=2")
    page.get_by_text("Alerts matching the filters: 3").wait_for()
    first = alert_links(page)
    assert len(first) == 2
    page.get_by_role("link", name="Next page").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**cursor=*")
    page.get_by_text("Alerts matching the filters: 3").wait_for()
    page.locator("#alerts tr").first.wait_for()
    second = alert_links(page)
    assert sorted(first + second) == sorted(ids)
    assert page.get_by_role("link", name="Next page").is_hidden()
    page.get_by_role("link", name="First page").click()
    page.wait_for_url(lambda url: "cursor=" not in url)
    page.get_by_text("Alerts matching the filters: 3").wait_for()

    # a state none of them is in, and a time range after them, find nothing
    page.get_by_label("State", exact=True).select_option("cancelled")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Alerts matching the filters: 0").wait_for()
    page.get_by_label("State", exact=True).select_option("")
    page.get_by_label("Accepted from").fill("2999-01-01T00:00")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Alerts matching the filters: 0").wait_for()
    page.get_by_label("Accepted from").fill("2000-01-01T00:00")
    page.get_by_label("Accepted before").fill("2999-01-01T00:00")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Alerts matching the filters: 3").wait_for()
    assert sorted(alert_links(page)) == sorted(ids)  # a new search starts at 50 a page


def approve_by_api(server: Server, alert_id: str) -> None:
    request = urllib.request.Request(
        f"{server.url}/api/v1/alerts/{alert_id}/approve", data=b"{}", method="POST",
        headers={"Authorization": f"Bearer {APPROVER_KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def audit_rows(page: Any) -> list[list[str]]:
    return [row.locator("td").all_inner_texts() for row in page.locator("#audit tr").all()]


def test_audit_trail_of_an_alert(browser: Any, server: Server) -> None:
    """The alert page lists the audit entries about the alert (time, what, who) as text;
    a key without ``admin`` is told it may not read them."""
    extreme = _fire("NL-VRR-AUDIT-1", "Grote brand").replace(
        b"<severity>Severe</severity>", b"<severity>Extreme</severity>")
    alert_id = post_cap(server, extreme)["id"]
    approve_by_api(server, alert_id)
    page = signed_in(browser, server, DEV_KEY)  # holds admin
    page.goto(f"{server.url}/console/alert?id={alert_id}")
    page.get_by_text("Entries about this alert: 2").wait_for()
    rows = audit_rows(page)
    assert [kind for _at, kind, _who in rows] == ["alert.submitted", "alert.approved"]
    entries = api(server, f"/api/v1/audit?subject={alert_id}")["items"]
    assert [at for at, _kind, _who in rows] == [e["at"] for e in entries]
    assert "approver" in rows[1][2]  # the second principal's key approved it
    who = [" / ".join(v for v in (e["principal"]["actor"], e["principal"]["key"],
                                  e["principal"]["authority"]) if v) for e in entries]
    assert [w for _at, _kind, w in rows] == who
    assert page.locator("#audit").get_by_role("img").count() == 0  # text only

    approver = signed_in(browser, server, APPROVER_KEY)  # approve and read: no admin
    approver.goto(f"{server.url}/console/alert?id={alert_id}")
    approver.get_by_text("The audit trail needs a key with the admin role.").wait_for()
    assert audit_rows(approver) == []


def diff_rows(page: Any) -> dict[tuple[str, str], list[str]]:
    rows: dict[tuple[str, str], list[str]] = {}
    for row in page.locator("#diff tr").all():
        key = (str(row.get_attribute("data-language")), str(row.get_attribute("data-field")))
        rows[key] = [*row.locator("td").all_inner_texts()]
    return rows


def test_approver_sees_what_an_update_changes(browser: Any, server: Server,
                                              shots: Path) -> None:
    """An Update held for approval: its alert page shows, per language, the headline,
    description, instruction and area of the alert it updates beside its own, each row's
    change in words; markup in a text stays text."""
    examples = REPO / "config" / "examples"
    original = (examples / "nl-alert-fire.xml").read_text(encoding="utf-8").replace(
        "NL-VRR-2026-0042", "NL-VRR-DIFF-1")
    post_cap(server, original.encode())
    update = (examples / "nl-alert-fire-update.xml").read_text(encoding="utf-8").replace(
        "NL-VRR-2026-0042", "NL-VRR-DIFF-1").replace("NL-VRR-2026-0043", "NL-VRR-DIFF-2"
        ).replace("<severity>Severe</severity>", "<severity>Extreme</severity>"
        ).replace("<headline>Major fire", "<headline>" + XSS.replace("<", "&lt;") + " Major fire")
    update_id = post_cap(server, update.encode())["id"]
    assert api(server, f"/api/v1/alerts/{update_id}")["lifecycle"] == "pending_approval"

    approver = browser.new_context(bypass_csp=True).new_page()  # for axe's injected script
    approver.goto(server.url + "/console/")
    approver.get_by_label("API key").fill(APPROVER_KEY)
    approver.get_by_role("button", name="Sign in").click()
    approver.get_by_role("heading", name="Alerts").wait_for()
    approver.goto(f"{server.url}/console/alert?id={update_id}")
    approver.get_by_role("heading", name="What this update changes").wait_for()
    approver.locator("#diff tr").first.wait_for()
    rows = diff_rows(approver)
    # cells: language, old text, new text, change (the field is the row header)
    assert rows[("nl-NL", "headline")][3] == "unchanged"
    assert rows[("nl-NL", "description")][1:] == [
        "Er is een grote brand bij een bedrijf aan de Waalhaven. Er komt veel rook vrij.",
        "Er is een grote brand bij een bedrijf aan de Waalhaven. De rookwolk trekt naar het "
        "noordoosten, richting Feijenoord.", "changed"]
    assert rows[("nl-NL", "area")][3] == "changed"
    assert "polygon 51.9150,4.4300" in rows[("nl-NL", "area")][2]
    assert rows[("en-GB", "headline")][2].startswith(XSS)  # as text
    assert rows[("en-GB", "headline")][3] == "changed"
    assert approver.evaluate("window.__xss") is None
    assert approver.locator("#diff strong").all_inner_texts().count("changed") == 5
    # the approver decides from here: approve is on the same page
    assert approver.get_by_role("button", name="Approve").is_visible()
    approver.screenshot(path=shots / "alert-update-diff.png", full_page=True)
    if AXE.is_file():
        approver.add_script_tag(path=str(AXE))
        result = approver.evaluate("async () => await axe.run()")
        assert [v["id"] for v in result["violations"]
                if v["impact"] in {"serious", "critical"}] == []


def test_the_alert_page_draws_its_area_on_the_base_map(browser: Any, server: Server,
                                                       shots: Path) -> None:
    example = (REPO / "config" / "examples" / "nl-alert-fire.xml").read_text(encoding="utf-8")
    with_circle = example.replace("NL-VRR-2026-0042", "NL-VRR-CONSOLE-MAP").replace(
        "</polygon>", "</polygon><circle>51.88,4.46 2.5</circle>", 1)
    alert_id = post_cap(server, with_circle.encode())["id"]
    page = signed_in(browser, server, DEV_KEY)
    page.goto(f"{server.url}/console/alert?id={alert_id}")
    area = page.get_by_role("region", name="Map of the alert's area")
    page.locator("#alert-map[data-basemap='outlines']").wait_for()
    # both infos' polygons and the circle, as the stored CAP has them
    page.locator("#alert-map[data-areas='3']").wait_for()
    assert area.locator(".leaflet-overlay-pane path").count() == 3
    page.screenshot(path=shots / "alert-map.png", full_page=True)


def keyboard_sign_in_and_open(browser: Any, server: Server, key: str, event: str,
                              alert_id: str) -> Any:
    """Sign in, find the alert with the history filter and open it: keys only."""
    page = browser.new_context().new_page()
    page.goto(server.url + "/console/")
    tab_to(page, "api-key")
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Alerts").wait_for()
    tab_to(page, "filter-event")
    assert focus_is_visible(page)
    page.keyboard.type(event)
    page.keyboard.press("Enter")
    page.get_by_text("Alerts matching the filters: 1").wait_for()
    tab_to(page, f"#alerts a[href$='{alert_id}']")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/alert?id={alert_id}")
    page.locator("#alert-state").get_by_text("(").wait_for()
    return page


def test_keyboard_only_approve_follow_cancel(browser: Any, server: Server,
                                             shots: Path) -> None:
    """The second principal approves with the keyboard alone; the operator's page, opened
    with the keyboard, follows the deliveries live, and its Cancel is reached and pressed
    with the keyboard."""
    event = "Toetsenbordbrand"
    extreme = _fire("NL-VRR-KEYBOARD-1", event).replace(
        b"<severity>Severe</severity>", b"<severity>Extreme</severity>")
    alert_id = post_cap(server, extreme)["id"]
    operator = keyboard_sign_in_and_open(browser, server, DEV_KEY, event, alert_id)
    operator.locator("#alert-state").get_by_text("pending_approval").wait_for()
    operator.evaluate("window.__same_page = true")  # gone if the page were reloaded

    approver = keyboard_sign_in_and_open(browser, server, APPROVER_KEY, event, alert_id)
    tab_to(approver, "approve")
    assert focus_is_visible(approver)
    approver.keyboard.press("Enter")
    approver.get_by_text("approve: done").wait_for()

    deadline = time.monotonic() + 30
    while True:  # the operator's deliveries table fills and a channel delivers, no reload
        states = delivery_states(operator)
        if "delivered" in states.values():
            break
        assert time.monotonic() < deadline, json.dumps(states)
        operator.wait_for_timeout(200)
    assert operator.evaluate("window.__same_page") is True
    assert set(states) == {d["channel"] for d in api(server, f"/api/v1/alerts/{alert_id}")[
        "deliveries"]}
    operator.screenshot(path=shots / "keyboard-followed.png", full_page=True)
    readme_screenshot(operator, "alert", scroll_to="h2[data-i18n='alert.deliveries']")

    tab_to(operator, "cancel")
    assert focus_is_visible(operator)
    operator.keyboard.press("Enter")
    operator.get_by_text("Cancel submitted").wait_for()
    deadline = time.monotonic() + 30
    while api(server, f"/api/v1/alerts/{alert_id}")["lifecycle"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # the page learns of the cancellation live, in the state line, and the operator's
    # own result stays readable (a refresh used to overwrite it, a race under load)
    operator.locator("#alert-state").get_by_text("Cancelled by").wait_for()
    assert "Cancel submitted" in operator.locator("#message").inner_text()


def test_a_5_mib_paste_and_an_area_across_the_antimeridian_change_nothing(
        browser: Any, server: Server) -> None:
    """Bad input from the form gets a message that says what is wrong, and nothing is
    stored: a 5 MiB pasted description (over the body limit) and a polygon crossing the
    180 degree meridian (refused by the validator, shown next to the polygon field)."""
    page = signed_in(browser, server, DEV_KEY)
    before = api(server, "/api/v1/alerts?limit=1")["total"]
    open_compose(page, server.url)
    page.get_by_label("Gebeurtenis").fill("Overstroming")
    page.get_by_label("Kop").fill("Hoogwater")
    page.get_by_label("Area description").fill("Fiji")
    crossing = "-17.0,179.5 -16.5,-179.5 -17.5,-179.6 -17.0,179.5"
    page.get_by_role("textbox", name="Polygon").fill(crossing)
    note = page.locator("#finding-polygon")
    note.get_by_text("cap.polygon.antimeridian", exact=False).wait_for()
    assert "two polygons" in (note.text_content() or "")
    page.get_by_role("button", name="Submit").click()
    page.locator("#message").get_by_text("422", exact=False).wait_for()
    assert api(server, "/api/v1/alerts?limit=1")["total"] == before

    page.get_by_role("textbox", name="Polygon").fill(POLYGON)
    page.evaluate("""() => {
        const field = document.getElementById("description_nl-NL");
        field.value = "x".repeat(5 * 1024 * 1024);
        field.dispatchEvent(new Event("input", { bubbles: true }));
    }""")
    page.get_by_role("button", name="Submit").click()
    message = page.locator("#message")
    message.get_by_text("413", exact=False).wait_for()
    shown = message.text_content() or ""
    assert "too large" in shown.lower()
    assert "max_body_bytes" in shown  # says which limit, so an operator can act on it
    assert api(server, "/api/v1/alerts?limit=1")["total"] == before


def test_geocodes_picked_in_the_form_reach_the_stored_alert(browser: Any, server: Server) -> None:
    """An area by geocodes (beside the polygon NL-Alert needs): one valueName=value a line,
    written as CAP <geocode> pairs; a line without a pair is refused, naming the line."""
    page = signed_in(browser, server, DEV_KEY)
    open_compose(page, server.url)
    page.get_by_label("Gebeurtenis").fill("Overstroming")
    page.get_by_label("Kop").fill("Hoogwater Vlissingen")
    page.get_by_label("Instructie").fill("Ga naar de hoogste verdieping.")
    page.get_by_label("Area description").fill("Vlissingen")
    page.get_by_role("textbox", name="Polygon").fill(POLYGON)
    page.get_by_role("textbox", name="Geocodes").fill("CBS=GM0718\nno pair here")
    page.get_by_role("button", name="Submit").click()
    page.locator("#message").get_by_text("geocode line 2", exact=False).wait_for()
    page.get_by_role("textbox", name="Geocodes").fill("CBS=GM0718")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/console/alert?id=*")
    alert_id = page.url.split("id=")[1]
    request = urllib.request.Request(f"{server.url}/api/v1/alerts/{alert_id}/cap",
                                     headers={"Authorization": f"Bearer {DEV_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        cap = response.read().decode()
    assert "<valueName>CBS</valueName><value>GM0718</value>" in cap.replace("\n", "").replace(
        " ", "")


def test_the_polygons_points_are_dragged_and_removed_on_the_map(browser: Any,
                                                                server: Server) -> None:
    """Edit mode (leaflet-geoman, from npm): dragging a vertex moves that point in the
    polygon field, a right-click removes one; the field stays a closed ring."""
    page = signed_in(browser, server, DEV_KEY)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    open_compose(page, server.url)
    field = page.get_by_role("textbox", name="Polygon")
    field.fill(POLYGON)
    before = field.input_value().split()
    page.get_by_role("button", name="edits the polygon's points").click()
    vertices = page.locator("#map .marker-icon:not(.marker-icon-middle)")
    vertices.first.wait_for()
    assert vertices.count() == len(before) - 1  # the ring's points, the closing one once
    page.wait_for_timeout(500)  # the live check's first answer is in
    page.locator("#map").scroll_into_view_if_needed()  # mouse events need it on screen
    box = vertices.first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    old = field.input_value()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 5, y + 5)
    page.mouse.move(x + 60, y + 40, steps=10)
    page.mouse.up()
    page.wait_for_function("(old) => document.getElementById('polygon').value !== old",
                           arg=old)
    moved = field.input_value().split()
    assert len(moved) == len(before)
    assert moved[0] == moved[-1]
    assert moved != before
    page.locator("#map .marker-icon:not(.marker-icon-middle)").nth(1).click(button="right")
    page.wait_for_function("(n) => document.getElementById('polygon').value.trim()"
                           ".split(/\\s+/).length === n", arg=len(before) - 1)
    fewer = field.input_value().split()
    assert fewer[0] == fewer[-1]
    assert not [e for e in errors if "Content Security Policy" in e], errors
