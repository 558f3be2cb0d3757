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
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    })
    try:
        _until(lambda: _feeds(server)["index"]["counts"]["not_modified"] >= 2,
               "the index feed answered 304 twice")
        _until(lambda: _feeds(server)["inline"]["counts"]["fetches"] >= 2
               and _feeds(server)["inline"]["counts"]["duplicate"]
               + _feeds(server)["inline"]["counts"]["new"] == 2, "the inline feed read")
        feeds = _feeds(server)
        taken = feeds["index"]["counts"]["new"] + feeds["inline"]["counts"]["new"]
        assert taken == 2, feeds  # each CAP key once, whichever feed brought it first
        alerts = _get(f"{server.url}/api/v1/alerts")["items"]
        assert sorted(a["key"]["identifier"] for a in alerts) == ["FEED-1", "FEED-2"]
        stats = _get(f"{url}/stats", key=False)
        assert stats["/cap/a1.xml"] == 1, stats  # a taken document is not fetched again

        _until(lambda: all(_feeds(server)[n]["consecutive_errors"] >= 2
                           for n in ("bomb", "error", "huge", "loop")), "faults seen twice")
        feeds = _feeds(server)
        assert feeds["bomb"]["last_error"].startswith("xml.dtd-forbidden"), feeds["bomb"]
        assert feeds["error"]["last_error"].startswith("feed.http-status"), feeds["error"]
        assert feeds["huge"]["last_error"].startswith("feed.too-large"), feeds["huge"]
        assert feeds["loop"]["last_error"].startswith("feed.redirect-loop"), feeds["loop"]
        assert {feeds[n]["state"] for n in ("bomb", "error", "huge", "loop")} == {"failing"}
        assert feeds["index"]["state"] == "ok"
        assert _get(f"{server.url}/healthz", key=False)

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
