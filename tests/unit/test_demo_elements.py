"""Demo mode finds its sandbox elements through the ``tocsin.demo_elements`` entry-point
group, as it finds channels: an element a third-party distribution registers is
started and wired like the built-in ones, and an installation with none says so
instead of starting half a demo."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

import router.registry
from router.app import check_configuration, create_app
from router.cli import mock_cmd
from router.errors import ConfigurationError
from router.ingest import CONTEXT
from router.settings import Settings

DEMO_GROUP = "tocsin.demo_elements"

ELEMENT_MODULE = '''
from dataclasses import dataclass, field
from aiohttp import web

STARTED = []
URLS = []


class Ports:
    def __init__(self):
        self.taken = set()

    def reserve(self, port):
        self.taken.add(port)

    def take(self):
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.taken.add(port)
        return port


async def page(_request):
    return web.Response(text="paged")


def make_app(data_dir):
    STARTED.append(data_dir)
    app = web.Application()
    app.router.add_get("/page", page)
    return app


def channel_config(base_url, data_dir):
    URLS.append(base_url)
    return {"type": "file", "path": str(data_dir / "pager.jsonl")}


@dataclass(frozen=True)
class Element:
    channel: str = "acme_pager"
    element: str = "pager gateway"
    path: str = "/page"
    ports: object = field(default_factory=Ports)
    make_app: object = make_app
    channel_config: object = channel_config


ELEMENT = Element()
NOT_AN_ELEMENT = object()
'''


def _distribution(root: Path, entries: str) -> None:
    """A distribution on ``sys.path`` registering ``entries`` in the demo group only."""
    (root / "acme_pager_mock.py").write_text(ELEMENT_MODULE, encoding="utf-8")
    info = root / "acme_pager_mock-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pager-mock\n"
                                   "Version: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{DEMO_GROUP}]\n" + textwrap.dedent(entries),
                                           encoding="utf-8")


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    _distribution(site, "acme_pager = acme_pager_mock:ELEMENT\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "acme_pager_mock", raising=False)
    return tmp_path / "data"


async def test_serve_demo_starts_an_element_registered_only_through_the_group(
        acme: Path) -> None:
    settings = Settings(demo=True, data_dir=acme, dispatch_enabled=False,
                        dev_api_key="dev-key-for-demo-element-tests-0123")
    app = create_app(settings)
    assert "acme_pager" in app[CONTEXT].channels  # configured from the element
    async with TestClient(TestServer(app)):
        import acme_pager_mock  # noqa: PLC0415  (the module the entry point loaded)

        assert [acme] == acme_pager_mock.STARTED
        async with ClientSession() as session, session.get(
                acme_pager_mock.URLS[0] + "/page") as answer:
            assert await answer.text() == "paged"


def test_no_registered_element_is_a_configuration_error_naming_the_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    installed = router.registry.entry_points
    monkeypatch.setattr(router.registry, "entry_points", lambda group: (
        () if group == DEMO_GROUP else installed(group=group)))
    settings = Settings(demo=True, data_dir=tmp_path, dispatch_enabled=False)
    with pytest.raises(ConfigurationError) as raised:
        create_app(settings)
    assert DEMO_GROUP in str(raised.value)
    assert any(DEMO_GROUP in problem for problem in check_configuration(settings))
    args = argparse.Namespace(only=[], data_dir=tmp_path / "mock", host="127.0.0.1",
                              port=0)
    assert mock_cmd.run(args) == 2
    assert DEMO_GROUP in capsys.readouterr().err


def test_an_entry_that_is_not_an_element_is_named(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _distribution(tmp_path, "odd = acme_pager_mock:NOT_AN_ELEMENT\n"
                            "gone = acme_pager_mock:MISSING\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "acme_pager_mock", raising=False)
    from router.registry import demo_elements  # noqa: PLC0415

    with pytest.raises(ConfigurationError) as raised:
        demo_elements()
    problems = "\n".join(raised.value.problems)
    assert f"{DEMO_GROUP}.odd" in problems
    assert "is not a demo element" in problems
    assert f"{DEMO_GROUP}.gone" in problems
    assert "does not load" in problems


def test_the_mock_feed_server_is_a_feed_source_not_a_channel(tmp_path: Path) -> None:
    """Demo mode polls the feed element as ``demo-feed`` and configures no channel for it."""
    from channels.mock.demo import FEED_SERVER  # noqa: PLC0415
    from router.app import channel_configs, with_demo_feeds  # noqa: PLC0415
    from router.demo import DemoElement, DemoFeedSource  # noqa: PLC0415

    assert isinstance(FEED_SERVER, DemoElement)
    assert isinstance(FEED_SERVER, DemoFeedSource)
    assert FEED_SERVER in router.registry.demo_elements()  # registered in the group
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key="dev-key-for-feed-source-0123")
    assert "feed" not in channel_configs(settings, {"feed": "http://127.0.0.1:9"})
    with_feed, urls = with_demo_feeds(settings, {"feed": 9, "webhook": 10})
    assert urls["feed"] == "http://127.0.0.1:9"
    assert [(f.name, f.url) for f in with_feed.feeds] == [
        ("demo-feed", "http://127.0.0.1:9/feed.atom")]
    assert with_demo_feeds(settings, {})[0].feeds == []  # not in demo mode: no element runs
