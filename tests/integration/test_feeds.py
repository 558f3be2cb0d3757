"""Feed ingest through real processes: ``tocsin serve`` polling the mock feed server
(``channels.mock.feed_server``) -- conditional GET, deduplication by CAP key across an
index feed and an inline feed, ``ingest.key-conflict`` kept as a finding, and faults
(entity bomb, 500, 50 MiB body, redirect loop) leaving the service and the other feeds
healthy."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.integration.conftest import make_alert
from tests.integration.server import DEV_KEY, REPO, Server, free_port, start_server

pytestmark = pytest.mark.slow


def _get(url: str, key: bool = True) -> Any:
    headers = {"Authorization": f"Bearer {DEV_KEY}"} if key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    directory = tmp_path / "corpus"
    directory.mkdir()
    port = free_port()
    log = (tmp_path / "feed-server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "channels.mock.feed_server", "--dir",
                             str(directory), "--port", str(port)], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _get(f"{url}/stats", key=False)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url, directory
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def _serve_with_feeds(tmp_path: Path, feeds: dict[str, str]) -> Server:
    config = tmp_path / "feeds.yaml"
    config.write_text(json.dumps({"feeds": [
        {"name": name, "url": url, "interval_s": 0.3, "max_backoff_s": 1.0,
         "timeout_s": 5.0} for name, url in feeds.items()]}), encoding="utf-8")
    return start_server(tmp_path / "data", args=("--config", str(config)))


def _feeds(server: Server) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in _get(f"{server.url}/api/v1/feeds")["feeds"]}


def _until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _check_misencoded_entry(server: Server) -> None:
    """One misencoded entry: a finding for it, counted once, the other entry still taken."""
    _until(lambda: _feeds(server)["entry-encoding"]["counts"]["fetches"] >= 2,
           "the misencoded-entry feed read twice")
    odd = _feeds(server)["entry-encoding"]
    assert odd["state"] == "ok", odd
    assert odd["counts"]["rejected"] == 1, odd  # once, not once per poll
    assert odd["counts"]["new"] + odd["counts"]["duplicate"] == 1, odd
    assert [f["code"] for f in odd["findings"]] == ["xml.encoding"], odd


def test_feed_ingest_dedup_conflict_and_faults(tmp_path: Path,
                                               feed_server: tuple[str, Path]) -> None:
    url, directory = feed_server
    first = make_alert("FEED-1")
    (directory / "a1.xml").write_bytes(first)
    (directory / "a2.xml").write_bytes(make_alert("FEED-2"))
    server = _serve_with_feeds(tmp_path, {
        "index": f"{url}/feed.atom", "inline": f"{url}/inline.atom",
        "bomb": f"{url}/fault/bomb.atom", "error": f"{url}/fault/500.atom",
        "huge": f"{url}/fault/huge.atom", "loop": f"{url}/fault/redirect-loop.atom",
        "encoding": f"{url}/fault/wrong-encoding.atom", "cut": f"{url}/fault/truncated.atom",
        "html": f"{url}/fault/html", "entry-encoding": f"{url}/fault/wrong-encoding-entry.atom",
    })
    try:
        _until(lambda: _feeds(server)["index"]["counts"]["not_modified"] >= 2,
               "the index feed answered 304 twice")
        _until(lambda: _feeds(server)["inline"]["counts"]["fetches"] >= 2
               and _feeds(server)["inline"]["counts"]["duplicate"]
               + _feeds(server)["inline"]["counts"]["new"] == 2, "the inline feed read")
        feeds = _feeds(server)
        # Each CAP key once, whichever feed brought it first: the misencoded-entry feed
        # lists one of the same documents beside its bad entry, so count every feed.
        taken = sum(feed["counts"]["new"] for feed in feeds.values())
        assert taken == 2, feeds
        alerts = _get(f"{server.url}/api/v1/alerts")["items"]
        assert sorted(a["key"]["identifier"] for a in alerts) == ["FEED-1", "FEED-2"]
        stats = _get(f"{url}/stats", key=False)
        assert stats["/cap/a1.xml"] == 1, stats  # a taken document is not fetched again

        _check_misencoded_entry(server)
        faulty = ("bomb", "error", "huge", "loop", "encoding", "cut", "html")
        _until(lambda: all(_feeds(server)[n]["consecutive_errors"] >= 2 for n in faulty),
               "faults seen twice")
        feeds = _feeds(server)
        assert feeds["encoding"]["last_error"].startswith("xml.encoding"), feeds["encoding"]
        assert feeds["cut"]["last_error"].startswith("xml.malformed"), feeds["cut"]
        assert feeds["html"]["last_error"].startswith("feed.format"), feeds["html"]
        assert feeds["bomb"]["last_error"].startswith("xml.dtd-forbidden"), feeds["bomb"]
        assert feeds["error"]["last_error"].startswith("feed.http-status"), feeds["error"]
        assert feeds["huge"]["last_error"].startswith("feed.too-large"), feeds["huge"]
        assert feeds["loop"]["last_error"].startswith("feed.redirect-loop"), feeds["loop"]
        assert {feeds[n]["state"] for n in faulty} == {"failing"}
        assert feeds["index"]["state"] == "ok"
        assert _get(f"{server.url}/healthz", key=False)
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'tocsin_feed_events_total{feed="index",what="not_modified"}' in metrics
        assert 'tocsin_feed_failures_total{code="xml.dtd-forbidden",feed="bomb"}' in metrics
        assert 'tocsin_feed_last_success_timestamp_seconds{feed="index"}' in metrics
        assert 'tocsin_feed_failures_total{code="xml.encoding",feed="entry-encoding"}' \
            in metrics
        assert 'tocsin_feed_events_total{feed="entry-encoding",what="rejected"}' in metrics

        # the same CAP key with other content: a finding, the stored alert untouched
        changed = first.replace(b"Major fire in Rotterdam-Zuid", b"Small fire")
        (directory / "a1-changed.xml").write_bytes(changed)
        _until(lambda: any(f["code"] == "ingest.key-conflict"
                           for f in _feeds(server)["index"]["findings"]), "key conflict")
        stored = next(a for a in _get(f"{server.url}/api/v1/alerts")["items"]
                      if a["key"]["identifier"] == "FEED-1")
        with urllib.request.urlopen(urllib.request.Request(
                f"{server.url}/api/v1/alerts/{stored['id']}/cap",
                headers={"Authorization": f"Bearer {DEV_KEY}"}), timeout=10) as response:
            kept = response.read()  # from whichever feed came first (inline: re-serialised)
        assert b"Major fire in Rotterdam-Zuid" in kept
        assert b"Small fire" not in kept
        assert len(_get(f"{server.url}/api/v1/alerts")["items"]) == 2
        # a new alert in the feed still arrives after all of that
        (directory / "a3.xml").write_bytes(make_alert("FEED-3"))
        _until(lambda: len(_get(f"{server.url}/api/v1/alerts")["items"]) == 3, "FEED-3")
    finally:
        server.stop(signal.SIGKILL)


def _post(server: Server, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(f"{server.url}/api/v1/alerts", data=body,
                                     headers=server.headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def _follow_up(identifier: str, msg_type: str, references: str) -> bytes:
    text = make_alert(identifier).decode()
    text = text.replace("<msgType>Alert</msgType>", f"<msgType>{msg_type}</msgType>")
    return text.replace("<scope>Public</scope>",
                        f"<scope>Public</scope>\n  <references>{references}</references>").encode()


def _public(server: Server, etag: str | None = None) -> tuple[int, bytes, str]:
    headers = {"If-None-Match": etag} if etag else {}
    request = urllib.request.Request(f"{server.url}/feeds/public.atom", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers["ETag"]
    except urllib.error.HTTPError as exc:
        if exc.code != 304:
            raise
        return 304, b"", exc.headers["ETag"]


def test_public_feed_is_valid_atom_with_etag_and_raw_documents(server: Server) -> None:
    original = make_alert("PUB-1")
    status, accepted = _post(server, original)
    assert status == 202
    code, body, etag = _public(server)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10"
    [entry] = parsed.entries
    assert entry.title == "Grote brand in Rotterdam-Zuid"
    assert "Severe" in entry.summary
    assert "Rotterdam-Zuid, Waalhaven" in entry.summary
    link = next(x.href for x in entry.links if x.type == "application/cap+xml")
    assert link.endswith(f"/feeds/alerts/{accepted['id']}.xml")
    with urllib.request.urlopen(link, timeout=10) as response:
        assert response.read() == original  # the bytes as received
    assert _public(server, etag)[0] == 304
    _post(server, make_alert("PUB-2", sent="2026-11-25T15:05:00+01:00"))
    code, body, new_etag = _public(server, etag)  # accepted: the cache was invalidated
    assert code == 200
    assert new_etag != etag
    entries = feedparser.parse(body).entries
    assert len(entries) == 2
    with urllib.request.urlopen(entries[0].links[0].href, timeout=10) as response:
        assert b"PUB-2" in response.read()  # newest sent first


def test_federation_second_instance_follows_the_first(tmp_path: Path) -> None:
    first = start_server(tmp_path / "first")
    second = None
    try:
        second = _serve_with_feeds(tmp_path, {"first": f"{first.url}/feeds/public.atom"})
        sent = "2026-11-25T14:05:00+01:00"
        key = f"meldkamer@vr-rr.example.nl,FED-1,{sent}"
        _post(first, make_alert("FED-1"))

        def on_second() -> dict[str, dict[str, Any]]:
            return {a["key"]["identifier"]: a for a in _get(f"{second.url}/api/v1/alerts")["items"]}

        _until(lambda: "FED-1" in on_second(), "the alert on the second instance")
        _post(first, _follow_up("FED-2", "Update", key))
        _until(lambda: on_second().get("FED-1", {}).get("lifecycle") == "superseded",
               "the Update followed")
        _post(first, _follow_up("FED-3", "Cancel",
                                f"meldkamer@vr-rr.example.nl,FED-2,{sent}"))
        _until(lambda: on_second().get("FED-2", {}).get("lifecycle") == "cancelled",
               "the Cancel followed")
        time.sleep(1.5)  # several more polls: nothing taken twice
        alerts = on_second()
        assert sorted(alerts) == ["FED-1", "FED-2", "FED-3"]
        assert _get(f"{second.url}/api/v1/alerts")["total"] == 3
        counts = _feeds(second)["first"]["counts"]
        assert counts["new"] == 3, counts
        assert counts["rejected"] == 0, counts
    finally:
        if second is not None:
            second.stop(signal.SIGKILL)
        first.stop(signal.SIGKILL)


def test_serve_feed_flag_polls_the_url(tmp_path: Path, feed_server: tuple[str, Path]) -> None:
    url, directory = feed_server
    (directory / "one.xml").write_bytes(make_alert("FLAG-1"))
    server = start_server(tmp_path / "data", args=("--feed", f"{url}/feed.atom"))
    try:
        _until(lambda: _get(f"{server.url}/api/v1/alerts")["total"] == 1, "the flag's feed")
        [status] = [f for f in _get(f"{server.url}/api/v1/feeds")["feeds"]
                    if f["name"] != "demo-feed"]  # demo mode's own mock feed beside it
        assert status["url"] == f"{url}/feed.atom"
        assert status["authority"] == "demo"
    finally:
        server.stop(signal.SIGKILL)
