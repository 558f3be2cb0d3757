"""What feeds may carry beyond Atom/RSS indexes of CAP, through real processes:
``tocsin serve`` polling the mock feed server (``channels.mock.feed_server``) --
EDXL-DE envelopes unwrapped (the envelope kept with each alert), a container of
several alerts refused with its own finding, the area filter and the per-feed limit
on concurrent fetches of linked documents."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.contract.harnesses import MockElementProcess
from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, Server, start_server
from tests.integration.test_feeds import _feeds, _get, _until, feed_server

pytestmark = pytest.mark.slow
__all__ = ["feed_server"]  # the fixture, shared with test_feeds

EDXL = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"


def _body(identifier: str) -> str:
    return make_alert(identifier).split(b"?>", 1)[1].decode()


def _edxl(*alerts: str) -> bytes:
    objects = "".join(f"<contentObject><xmlContent><embeddedXMLContent>{_body(a)}"
                      "</embeddedXMLContent></xmlContent></contentObject>" for a in alerts)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<EDXLDistribution xmlns="{EDXL}"><distributionID>D-7</distributionID>'
            "<senderID>meldkamer@vr-rr.example.nl</senderID>"
            "<dateTimeSent>2026-11-25T14:05:00+01:00</dateTimeSent>"
            "<distributionStatus>Actual</distributionStatus>"
            f"<distributionType>Report</distributionType>{objects}</EDXLDistribution>").encode()


def serve_with(tmp_path: Path, feeds: list[dict[str, Any]]) -> Server:
    config = tmp_path / "feeds.yaml"
    config.write_text(json.dumps({"feeds": [
        {"interval_s": 0.3, "max_backoff_s": 1.0, "timeout_s": 5.0, **feed}
        for feed in feeds]}), encoding="utf-8")
    return start_server(tmp_path / "data", args=("--config", str(config)))


def _raw(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {DEV_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_edxl_envelopes_are_unwrapped_and_a_container_of_alerts_refused(
        tmp_path: Path, feed_server: tuple[str, Path]) -> None:
    url, directory = feed_server
    (directory / "plain.xml").write_bytes(make_alert("PLAIN-1"))
    envelope = _edxl("EDXL-1", "EDXL-2")
    (directory / "envelope.xml").write_bytes(envelope)
    (directory / "many.xml").write_bytes(
        f"<bundle>{_body('MANY-1')}{_body('MANY-2')}</bundle>".encode())
    server = serve_with(tmp_path, [
        {"name": "index", "url": f"{url}/feed.atom"},
        {"name": "direct", "url": f"{url}/cap/envelope.xml"},
        {"name": "container", "url": f"{url}/cap/many.xml"},
    ])
    try:
        _until(lambda: _feeds(server)["index"]["counts"]["not_modified"] >= 1
               and _feeds(server)["direct"]["counts"]["fetches"] >= 2
               and _feeds(server)["container"]["consecutive_errors"] >= 1, "the feeds read")
        feeds = _feeds(server)
        alerts = {a["key"]["identifier"]: a for a in _get(f"{server.url}/api/v1/alerts")["items"]}
        assert sorted(alerts) == ["EDXL-1", "EDXL-2", "PLAIN-1"]  # nothing of the container
        direct = feeds["direct"]["counts"]
        assert direct["new"] + direct["duplicate"] == 2, feeds["direct"]
        assert sum(f["counts"]["new"] for f in feeds.values()) == 3, feeds
        assert feeds["container"]["state"] == "failing"
        assert feeds["container"]["last_error"].startswith("feed.several-alerts"), feeds
        index_findings = [(f["entry"], f["code"]) for f in feeds["index"]["findings"]]
        assert index_findings == [(f"{url}/cap/many.xml", "feed.several-alerts")], feeds
        assert feeds["index"]["counts"]["rejected"] == 1, feeds["index"]  # once, not per poll

        for identifier in ("EDXL-1", "EDXL-2"):
            status, kept = _raw(f"{server.url}/api/v1/alerts/{alerts[identifier]['id']}/envelope")
            assert status == 200
            assert kept == envelope  # the envelope as received, beside each alert
            status, cap = _raw(f"{server.url}/api/v1/alerts/{alerts[identifier]['id']}/cap")
            assert cap.startswith(b"<?xml")
            assert b"EDXLDistribution" not in cap
            assert identifier.encode() in cap
        status, problem = _raw(f"{server.url}/api/v1/alerts/{alerts['PLAIN-1']['id']}/envelope")
        assert status == 404
        assert json.loads(problem)["code"] == "alert.no-envelope"
    finally:
        server.stop(signal.SIGKILL)


def _moved(identifier: str, *, polygon: str | None, area_desc: str) -> bytes:
    """The NL example alert elsewhere: its polygons replaced (or removed), its areaDesc
    changed."""
    text = make_alert(identifier).decode()
    old = "<polygon>51.8950,4.4300 51.8950,4.4900 51.8700,4.4900 51.8700,4.4300 51.8950,4.4300</polygon>"
    assert old in text
    text = text.replace(old, f"<polygon>{polygon}</polygon>" if polygon else "")
    for desc in ("Rotterdam-Zuid, Waalhaven en omgeving",
                 "Rotterdam-Zuid, Waalhaven and surroundings"):
        text = text.replace(f"<areaDesc>{desc}</areaDesc>", f"<areaDesc>{area_desc}</areaDesc>")
    return text.encode()


def test_the_area_filter_takes_only_alerts_in_the_area(
        tmp_path: Path, feed_server: tuple[str, Path]) -> None:
    url, directory = feed_server
    (directory / "in.xml").write_bytes(make_alert("IN-1"))  # Rotterdam
    (directory / "out.xml").write_bytes(_moved(
        "OUT-1", polygon="48.90,2.30 48.90,2.40 48.80,2.40 48.80,2.30 48.90,2.30",
        area_desc="Paris"))
    (directory / "desc.xml").write_bytes(_moved("DESC-1", polygon=None,
                                                area_desc="Rotterdam-Noord"))
    server = serve_with(tmp_path, [
        # a region of config/routes.yaml: geometry only
        {"name": "region", "url": f"{url}/feed.atom", "area": {"region": "netherlands"}},
        # a box far from all three, and an areaDesc glob
        {"name": "desc", "url": f"{url}/inline.atom",
         "area": {"bbox": [10.0, 10.0, 11.0, 11.0], "area_desc": ["rotterdam-*"]}},
    ])
    try:
        _until(lambda: all(f["counts"]["fetches"] >= 2 for f in _feeds(server).values()),
               "both feeds read twice")
        feeds = _feeds(server)
        region, desc = feeds["region"]["counts"], feeds["desc"]["counts"]
        assert region["filtered"] == 2, feeds["region"]  # OUT-1, and DESC-1 without geometry
        assert region["new"] + region["duplicate"] == 1, feeds["region"]
        assert desc["filtered"] == 1, feeds["desc"]  # OUT-1 (Paris)
        assert desc["new"] + desc["duplicate"] == 2, feeds["desc"]  # IN-1 by its areaDesc
        assert region["rejected"] == desc["rejected"] == 0, feeds
        alerts = sorted(a["key"]["identifier"] for a in _get(f"{server.url}/api/v1/alerts")["items"])
        assert alerts == ["DESC-1", "IN-1"]
    finally:
        server.stop(signal.SIGKILL)


def test_demo_mode_polls_its_mock_feed_server(tmp_path: Path) -> None:
    """``tocsin serve --demo`` runs the mock feed server beside the other elements and
    polls it as ``demo-feed``: a CAP file put into its directory comes in as an alert."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    server = start_server(tmp_path / "data", env={"TOCSIN_MOCK_FEED_DIR": str(corpus)})
    try:
        started = next(line for line in server.log_lines()
                       if line.get("event") == "service.started")
        base = str(started["mock_elements"]["feed"])  # type: ignore[index]
        [demo] = _get(f"{server.url}/api/v1/feeds")["feeds"]
        assert demo["name"] == "demo-feed"
        assert demo["url"] == f"{base}/feed.atom"
        assert demo["authority"] == "demo"
        _until(lambda: _feeds(server)["demo-feed"]["state"] == "ok", "the empty feed read")
        assert _get(f"{server.url}/api/v1/alerts")["total"] == 0  # an empty corpus: nothing
        (corpus / "dropped.xml").write_bytes(make_alert("DEMO-FEED-1"))
        _until(lambda: _get(f"{server.url}/api/v1/alerts")["total"] == 1, "the dropped file")
        [alert] = _get(f"{server.url}/api/v1/alerts")["items"]
        assert alert["key"]["identifier"] == "DEMO-FEED-1"
        assert _get(f"{base}/_mock/health", key=False) == {"ok": True}
        assert _get(f"{base}/_mock/received", key=False)["/cap/dropped.xml"] == 1
    finally:
        server.stop(signal.SIGKILL)


def test_mock_channels_runs_the_feed_server_on_the_corpus_directory(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.xml").write_bytes(make_alert("MOCK-FEED-1"))

    class FeedElement(MockElementProcess):
        ELEMENT = "feed"

    element = FeedElement(tmp_path / "mock", env={"TOCSIN_MOCK_FEED_DIR": str(corpus)})
    try:
        with urllib.request.urlopen(f"{element.url}/feed.atom", timeout=10) as response:
            parsed = feedparser.parse(response.read())
        assert [e.title for e in parsed.entries] == ["one"]
        element.call("PUT", "/_mock/faults", {"mode": "fail", "status": 503, "count": 1})
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{element.url}/feed.atom", timeout=10)
        assert failed.value.code == 503
        failed.value.close()
    finally:
        element.stop()
    # without TOCSIN_MOCK_FEED_DIR the corpus is <data dir>/mock-feed, made empty
    element = FeedElement(tmp_path / "mock2")
    try:
        assert (tmp_path / "mock2" / "mock-feed").is_dir()
        with urllib.request.urlopen(f"{element.url}/feed.atom", timeout=10) as response:
            assert feedparser.parse(response.read()).entries == []
    finally:
        element.stop()


def test_linked_documents_are_fetched_at_most_fetch_concurrency_at_once(
        tmp_path: Path, feed_server: tuple[str, Path]) -> None:
    url, directory = feed_server
    for n in range(7):
        (directory / f"c{n}.xml").write_bytes(make_alert(f"CONC-{n}"))
    slow = urllib.request.Request(f"{url}/_mock/faults", method="PUT", data=json.dumps(
        {"mode": "slow", "delay_s": 0.5}).encode())  # every request answered after 0.5 s
    urllib.request.urlopen(slow, timeout=10).close()
    server = serve_with(tmp_path, [{"name": "c", "url": f"{url}/feed.atom",
                                    "fetch_concurrency": 3}])
    try:
        _until(lambda: _get(f"{server.url}/api/v1/alerts")["total"] == 7, "all seven taken")
        stats = _get(f"{url}/stats", key=False)
        assert stats["cap:max-in-flight"] == 3, stats  # in parallel, and never more than 3
        assert all(stats[f"/cap/c{n}.xml"] == 1 for n in range(7)), stats
    finally:
        server.stop(signal.SIGKILL)


def test_status_and_event_filters_read_cap_1_1_too(
        tmp_path: Path, feed_server: tuple[str, Path]) -> None:
    """The submit path upgrades CAP 1.1; the feed's filters read it before that."""
    url, directory = feed_server
    (directory / "old.xml").write_bytes(make_alert("OLD-1").replace(
        b"urn:oasis:names:tc:emergency:cap:1.2", b"urn:oasis:names:tc:emergency:cap:1.1"))
    (directory / "drill.xml").write_bytes(make_alert("DRILL-1").replace(
        b"<status>Actual</status>", b"<status>Exercise</status>"))
    server = serve_with(tmp_path, [{"name": "f", "url": f"{url}/feed.atom",
                                    "status": ["Actual"], "events": ["major fire"]}])
    try:
        _until(lambda: _feeds(server)["f"]["counts"]["fetches"] >= 2, "the feed read twice")
        counts = _feeds(server)["f"]["counts"]
        assert counts["filtered"] == 1, _feeds(server)["f"]  # the Exercise only
        assert counts["new"] == 1, _feeds(server)["f"]
        [alert] = _get(f"{server.url}/api/v1/alerts")["items"]
        assert alert["key"]["identifier"] == "OLD-1"
    finally:
        server.stop(signal.SIGKILL)
