"""The crisis dashboard in a real browser (Debian's chromium, driven by Playwright)
against a real ``tocsin serve --demo``: an alert posted to the API appears on the map and
in the table with each channel's delivery state, a Cancel shows without a reload, an
alert held for approval is listed as waiting, and axe-core finds nothing serious.
Screenshots go to the test's temporary directory, as for the console's other pages."""

from __future__ import annotations

import http.server
import json
import re
import signal
import struct
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest

from tests.integration.server import DEV_KEY, Server, free_port, start_server
from tests.integration.test_console import (
    APPROVER_KEY,
    AXE,
    browser,
    readme_screenshot,
    shots,
    signed_in,
)
from tests.integration.test_dispatch_flow import FAST, with_expiry

__all__ = ["browser", "shots"]  # the fixtures this module uses from the console's tests
FINAL = {"delivered", "failed", "expired", "cancelled", "skipped", "superseded"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("dashboard") / "data", env={
        **FAST, "TOCSIN_DEV_APPROVER_KEY": APPROVER_KEY,
        "TOCSIN_APPROVAL": json.dumps({"rules": [{"severity": ["Extreme"]}]})})
    yield running
    running.stop(signal.SIGKILL)


def post(server: Server, body: bytes) -> str:
    request = urllib.request.Request(server.url + "/api/v1/alerts", data=body,
                                     headers=server.headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        alert_id: str = json.load(response)["id"]
        return alert_id


def api(server: Server, path: str) -> Any:
    request = urllib.request.Request(server.url + path,
                                     headers={"Authorization": f"Bearer {DEV_KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def chips(page: Any, alert_id: str) -> dict[str, str]:
    found: dict[str, str] = page.eval_on_selector_all(
        f'#alerts tr[data-id="{alert_id}"] .chip',
        "chips => Object.fromEntries(chips.map(c => [c.dataset.channel, c.dataset.state]))")
    return found


def until(condition: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def test_dashboard_follows_alerts_live(browser: Any, server: Server, shots: Path) -> None:
    page = signed_in(browser, server, DEV_KEY)
    page.goto(server.url + "/console/dashboard")
    page.locator("body[data-ready='1']").wait_for()
    loads = page.evaluate("performance.getEntriesByType('navigation').length")

    alert_id = post(server, with_expiry("DASH-1", 3600))
    row = page.locator(f'#alerts tr[data-id="{alert_id}"]')
    row.wait_for()
    assert row.locator("a").inner_text() == "Grote brand in Rotterdam-Zuid"
    page.locator("#map path.leaflet-interactive, #map canvas").first.wait_for()
    # every planned channel is on the row, and the states end as the API reports them
    planned = {d["channel"] for d in api(server, f"/api/v1/alerts/{alert_id}")["deliveries"]}
    states = until(lambda: (s := chips(page, alert_id)) and set(s) == planned
                   and all(v in FINAL for v in s.values()) and s, "deliveries final")
    assert states == {d["channel"]: d["state"]
                      for d in api(server, f"/api/v1/alerts/{alert_id}")["deliveries"]}
    assert page.locator("#channels li").count() >= 1
    page.screenshot(path=shots / "dashboard-delivered.png", full_page=True)
    readme_screenshot(page, "dashboard")

    held = post(server, with_expiry("DASH-2", 3600).replace(
        b"<severity>Severe</severity>", b"<severity>Extreme</severity>"))
    page.locator("#approvals a", has_text="Grote brand in Rotterdam-Zuid").wait_for()
    assert page.locator(f'#alerts tr[data-id="{held}"]').inner_text().count(
        "waiting for approval") == 1

    # cancel it from the alert page (another tab): the dashboard shows it, unreloaded
    other = page.context.new_page()
    other.goto(f"{server.url}/console/alert?id={alert_id}")
    other.get_by_role("button", name="Cancel this alert").click()
    other.get_by_text("Cancel submitted").wait_for()
    page.locator("#ended li", has_text="cancelled").wait_for()
    assert page.locator(f'#alerts tr[data-id="{alert_id}"]').count() == 0
    page.locator("#alerts tr", has_text="Cancel").first.wait_for()  # the Cancel goes out
    assert page.evaluate("performance.getEntriesByType('navigation').length") == loads
    assert page.url.endswith("/console/dashboard")
    page.screenshot(path=shots / "dashboard-cancelled.png", full_page=True)


@pytest.mark.skipif(not AXE.is_file(), reason="axe-core missing: run `npm ci` (make install)")
def test_dashboard_has_no_serious_accessibility_violations(browser: Any, server: Server,
                                                           shots: Path) -> None:
    post(server, with_expiry("DASH-AXE", 3600))
    page = browser.new_context(bypass_csp=True).new_page()  # for axe's injected script
    page.goto(server.url + "/console/")
    page.get_by_label("API key").fill(DEV_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Alerts").wait_for()
    page.goto(server.url + "/console/dashboard")
    page.locator("#alerts tr").first.wait_for()
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run()")
    serious = [f"{v['id']}: {v['help']}" for v in result["violations"]
               if v["impact"] in {"serious", "critical"}]
    page.screenshot(path=shots / "dashboard.png", full_page=True)
    assert serious == []


def test_dashboard_shows_each_network_element(browser: Any, server: Server,
                                             shots: Path) -> None:
    """Beyond the breakers: what each adapter knows of its element (health().facts)."""
    page = signed_in(browser, server, DEV_KEY)
    page.goto(server.url + "/console/dashboard")
    page.locator("body[data-ready='1']").wait_for()
    post(server, with_expiry("DASH-NET", 3600))
    # this alert on air, or (the demo CBC's identifier pool being small) an earlier one
    page.locator('#alerts .chip[data-channel="cell_broadcast"][data-state="delivered"]'
                 ).first.wait_for()
    cbc = page.locator('#channels li[data-channel="cell_broadcast"]')
    # the identifier the CBC holds for it, named by its headline
    cbc.locator(".facts li", has_text=re.compile(
        r"^On air: .*\d+ — (Grote brand in Rotterdam-Zuid|Brand gemeld door de buurregio)")
        ).wait_for(timeout=40_000)
    assert cbc.locator(".health").inner_text() == "up"
    sms = page.locator('#channels li[data-channel="sms"]')
    assert re.search(r"SMSC 127\.0\.0\.1:\d+: (\d+) of \1 binds up", sms.inner_text())
    assert "http://127.0.0.1:" in page.locator(
        '#channels li[data-channel="galileo_ewss"]').inner_text()
    wallet = page.locator('#channels li[data-channel="eudi_wallet"]')
    wallet.get_by_text(re.compile(r"^Push service 127\.0\.0\.1: last push sent")).wait_for()
    page.screenshot(path=shots / "dashboard-network.png", full_page=True)


def test_dashboard_marks_alerts_taken_from_feeds(browser: Any, server: Server,
                                                 shots: Path) -> None:
    """An alert the demo's feed (``demo-feed``) brings in is marked with the feed's name,
    a posted one is not, and the feeds' own state is a row of its own."""
    page = signed_in(browser, server, DEV_KEY)
    page.goto(server.url + "/console/dashboard")
    page.locator("body[data-ready='1']").wait_for()
    (server.data_dir / "mock-feed" / "neighbour.xml").write_bytes(
        with_expiry("DASH-FEED", 3600).replace(b"Grote brand in Rotterdam-Zuid",
                                               b"Brand gemeld door de buurregio"))
    row = page.locator("#alerts tr", has_text="Brand gemeld door de buurregio")
    row.wait_for(timeout=40_000)  # the demo polls its feed every 5 s
    assert row.locator(".feed").inner_text() == "from feed demo-feed"
    posted = post(server, with_expiry("DASH-POSTED", 3600))
    page.locator(f'#alerts tr[data-id="{posted}"]').wait_for()
    assert page.locator(f'#alerts tr[data-id="{posted}"] .feed').count() == 0
    feed = page.locator('#feeds li[data-feed="demo-feed"]')
    until(lambda: re.search(r"^demo-feed: ok, last read .*, 1 new, 0 refused$",
                            feed.inner_text()), "the feed's row counts the alert it took",
          timeout=40)
    assert {f["name"]: f["counts"]["new"] for f in api(server, "/api/v1/feeds")["feeds"]} == {
        "demo-feed": 1}
    page.screenshot(path=shots / "dashboard-feeds.png", full_page=True)


def mock_call(server: Server, element: str, method: str, path: str, body: Any) -> None:
    """A control call to one of the demo's mock network elements (``/_mock/...``)."""
    started = next(line for line in server.log_lines() if line.get("event") == "service.started")
    elements: dict[str, str] = started["mock_elements"]  # type: ignore[assignment]
    request = urllib.request.Request(elements[element] + path, method=method,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_dashboard_shows_the_delivery_backlog(
        browser: Any, tmp_path_factory: pytest.TempPathFactory, shots: Path) -> None:
    """A webhook receiver that answers 503 keeps its delivery waiting: the dashboard shows
    it waiting, with its age, and shows the backlog empty once the receiver is back."""
    running = start_server(tmp_path_factory.mktemp("backlog") / "data", env={
        **FAST, "TOCSIN_DISPATCH_BREAKER_RESET_S": "1",
        "TOCSIN_STORE_BACKLOG_INTERVAL_S": "0.5"})
    try:
        page = signed_in(browser, running, DEV_KEY)
        page.goto(running.url + "/console/dashboard")
        page.locator("#backlog td", has_text="Nothing waiting").wait_for()
        mock_call(running, "webhook", "PUT", "/_mock/faults", {"mode": "fail", "status": 503})
        alert_id = post(running, with_expiry("DASH-BACKLOG", 3600).replace(
            b"<severity>Severe</severity>", b"<severity>Moderate</severity>"))
        assert "webhook" in {d["channel"] for d in api(
            running, f"/api/v1/alerts/{alert_id}")["deliveries"]}
        row = page.locator('#backlog tr[data-channel="webhook"]')
        row.wait_for()
        assert int(row.locator("td").nth(1).inner_text()) + int(
            row.locator("td").nth(2).inner_text()) >= 1
        until(lambda: re.fullmatch(r"[1-9]\d* s", row.locator("td").nth(3).inner_text()),
              "the oldest delivery's wait, in seconds")
        page.screenshot(path=shots / "dashboard-backlog.png", full_page=True)
        mock_call(running, "webhook", "PUT", "/_mock/faults", {"mode": "none"})
        until(lambda: chips(page, alert_id).get("webhook") == "delivered", "webhook delivered")
        page.locator("#backlog td", has_text="Nothing waiting").wait_for()
    finally:
        running.stop(signal.SIGKILL)


def test_dashboard_draws_an_offline_base_map(browser: Any, server: Server, shots: Path) -> None:
    """Countries and the Dutch provinces under the alert areas, every byte of them from
    this service: each request the page makes goes to 127.0.0.1."""
    requested: list[str] = []
    page = signed_in(browser, server, DEV_KEY)
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url + "/console/dashboard")
    page.locator("#map[data-basemap]").wait_for(state="attached")
    drawn = page.eval_on_selector("#map", "m => ({...m.dataset})")
    assert drawn["basemap"] == "outlines"
    assert int(drawn["basemapCountries"]) > 200  # Natural Earth's 1:50m countries
    assert int(drawn["basemapProvinces"]) == 12  # Drenthe ... Zuid-Holland
    assert any("/console/vendor/world-atlas/countries-50m.json" in url for url in requested)
    assert any(url.endswith("/console/basemap/provinces.geojson") for url in requested)
    # the outlines sit on their own pane, beneath the pane the alert areas are drawn on
    panes = page.evaluate("""() => ['basemap', 'overlay'].map(name => Number(getComputedStyle(
        document.querySelector('.leaflet-' + name + '-pane')).zIndex))""")
    assert panes[0] < panes[1]
    assert {urlsplit(url).hostname for url in requested} == {"127.0.0.1"}
    page.screenshot(path=shots / "dashboard-base-map.png", full_page=True)


def _png() -> bytes:
    """A 1x1 grey PNG, made here (one tile, shown for every z/x/y)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))


class _Tiles(http.server.BaseHTTPRequestHandler):
    """A tile service on the crisis centre's own network, stood in for on 127.0.0.1."""

    paths: ClassVar[list[str]] = []
    PNG = _png()

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.PNG)))
        self.end_headers()
        self.wfile.write(self.PNG)

    def log_message(self, *_args: Any) -> None:
        pass


def test_a_configured_tile_service_is_used_instead(
        browser: Any, tmp_path_factory: pytest.TempPathFactory, shots: Path) -> None:
    tiles = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{tiles.server_address[1]}"
    running = start_server(tmp_path_factory.mktemp("tiles") / "data", env={
        "TOCSIN_CONSOLE": json.dumps({"base_map_url": origin + "/tiles/{z}/{x}/{y}.png",
                                      "base_map_attribution": "<b>Kadaster</b>"})})
    try:
        page = signed_in(browser, running, DEV_KEY)
        response = page.goto(running.url + "/console/dashboard")
        assert f"img-src 'self' data: {origin};" in response.headers["content-security-policy"]
        page.locator("#map[data-basemap]").wait_for(state="attached")
        assert page.eval_on_selector("#map", "m => m.dataset.basemap") == "tiles"
        until(lambda: any(p.startswith("/tiles/7/") for p in _Tiles.paths), "tiles fetched")
        page.locator("#map .leaflet-tile-loaded").first.wait_for()
        # the attribution is the configured text, not markup
        assert "<b>Kadaster</b>" in page.locator(".leaflet-control-attribution").inner_text()
        assert page.locator("#map .leaflet-basemap-pane").count() == 0
        page.screenshot(path=shots / "dashboard-tiles.png", full_page=True)
    finally:
        running.stop(signal.SIGKILL)
        tiles.shutdown()
        tiles.server_close()


def test_dashboard_in_dutch_and_english_with_the_exercise_banner(
        browser: Any, server: Server, shots: Path) -> None:
    """The dashboard's strings come from the console's tables (Dutch for a Dutch browser,
    English on ?lang=en), and while an Exercise alert is active a banner says so in
    words at the top, besides the mark on its row."""
    context = browser.new_context(locale="nl-NL", extra_http_headers={"Accept-Language": "nl"},
                                  bypass_csp=True)  # for axe's injected script
    page = context.new_page()
    page.goto(server.url + "/console/")
    page.get_by_label("API-sleutel").fill(DEV_KEY)
    page.get_by_role("button", name="Aanmelden").click()
    page.get_by_role("heading", name="Waarschuwingen").wait_for()
    page.goto(server.url + "/console/dashboard")
    page.locator("body[data-ready='1']").wait_for()
    assert page.evaluate("document.documentElement.lang") == "nl"
    assert page.locator("#status-banner").is_hidden()  # no Exercise or Test alert active
    page.get_by_role("heading", name="Actieve waarschuwingen", exact=True).wait_for()
    page.get_by_role("heading", name="Kanalen en netwerkelementen").wait_for()
    assert page.get_by_role("region", name="Kaart van de gebieden van actieve waarschuwingen").count()
    page.locator("#totals", has_text="wachten op goedkeuring").wait_for()
    assert page.locator("#channels .breaker").first.inner_text().startswith("stroomonderbreker")

    exercise = with_expiry("DASH-EXERCISE", 3600).replace(b"<status>Actual</status>",
                                                           b"<status>Exercise</status>")
    assert b"<status>Exercise</status>" in exercise
    alert_id = post(server, exercise)
    banner = page.locator("#status-banner")
    banner.get_by_text("OEFENING").wait_for()
    assert re.fullmatch(r"OEFENING actief — gemarkeerd met OEFENING: \d+; dit zijn geen "
                        r"echte waarschuwingen", banner.inner_text()), banner.inner_text()
    mark = page.locator(f'#alerts tr[data-id="{alert_id}"] .status-mark')
    assert mark.inner_text() == "OEFENING"
    style = banner.evaluate("e => { const s = getComputedStyle(e); "
                            "return [s.position, s.color, s.backgroundColor] }")
    assert style == ["sticky", "rgb(0, 0, 0)", "rgb(255, 213, 0)"]
    page.screenshot(path=shots / "dashboard-nl-exercise.png", full_page=True)
    if AXE.is_file():  # the banner and the Dutch page: nothing serious either
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run()")
        assert [v["id"] for v in result["violations"]
                if v["impact"] in {"serious", "critical"}] == []

    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    page.get_by_role("heading", name="Active alerts", exact=True).wait_for()
    banner.get_by_text("EXERCISE").wait_for()
    assert re.fullmatch(r"EXERCISE active — marked EXERCISE: \d+; these are not real "
                        r"warnings", banner.inner_text()), banner.inner_text()
