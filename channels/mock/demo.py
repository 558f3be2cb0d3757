"""The mock network elements that ``tocsin serve --demo`` and ``tocsin mock-channels`` run.

Each mock module contributes one ``DemoElement``: how to build its aiohttp app and
how to configure the channel instance that talks to it once it listens on a base
URL. Demo mode starts every element on a free loopback port and configures the
channel under the name the default routes use, so the first README command shows
every channel delivering without any other process.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from channels.mock import ports, smsc
from channels.mock.cbc import create_cbc
from channels.mock.ewss_uplink import create_uplink
from channels.mock.feed_server import make_app as create_feed_server
from channels.mock.push_service import create_push_service, demo_wallet_config
from channels.mock.webhook_receiver import create_receiver
from router.demo import PortAllocator

DEMO_WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105  (demo mode only, loopback only)


@dataclass(frozen=True)
class DemoElement:
    """One sandbox network element and the channel instance pointed at it
    (``router.demo.DemoElement``; registered in ``tocsin.demo_elements``)."""

    channel: str
    """The channel instance name the default routes use (``config/routes.yaml``)."""
    element: str
    """What the element stands in for, for logs and ``tocsin mock-channels``."""
    make_app: Callable[[Path], web.Application]
    """Build the element's app; it may keep state under the given data directory."""
    channel_config: Callable[[str, Path], dict[str, Any]]
    """The channel configuration for an element listening at ``base_url``."""
    path: str = "/"
    """Where the element's main endpoint is, relative to its base URL (for display)."""
    ports: PortAllocator = field(default=ports.PORTS)
    """This process's loopback allocator, shared by every mock element."""


def _webhook_secret() -> str:
    """``TOCSIN_MOCK_WEBHOOK_SECRET`` lets integration tests choose the HMAC secret."""
    return os.environ.get("TOCSIN_MOCK_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET)


WEBHOOK = DemoElement(
    channel="webhook",
    element="webhook receiver",
    make_app=lambda _data_dir: create_receiver(_webhook_secret()),
    channel_config=lambda base_url, _data_dir: {
        "type": "webhook", "url": f"{base_url}/hook", "secret": _webhook_secret()},
    path="/hook",
)


SMSC = DemoElement(
    channel="sms",
    element="SMSC (smpp34 SMPP 3.4 server)",
    make_app=smsc.demo_app,
    channel_config=smsc.demo_channel_config,
    path="/_mock/received",
)


def _config_file(relative: str) -> Path:
    """A file under ``config/``: the working directory's (``make run``, the container's
    /srv/tocsin) before the source tree's (an editable install run from elsewhere)."""
    here = Path("config") / relative
    return here if here.exists() else Path(__file__).resolve().parents[2] / "config" / relative


EWSS_TABLES = _config_file("galileo_ewss/tables.yaml")


GALILEO_EWSS = DemoElement(
    channel="galileo_ewss",
    element="EWSS alert message centre",
    make_app=lambda _data_dir: create_uplink(),
    channel_config=lambda base_url, _data_dir: {
        "type": "galileo_ewss", "url": base_url, "tables_file": str(EWSS_TABLES)},
    path="/camf",
)



CELL_BROADCAST_DEPLOYMENT = _config_file("cell_broadcast.yaml")


CELL_BROADCAST = DemoElement(
    channel="cell_broadcast",
    element="cell broadcast centre (osmo-cbc ECBE API)",
    make_app=lambda _data_dir: create_cbc(),
    channel_config=lambda base_url, _data_dir: {
        "type": "cell_broadcast", "url": base_url,  # its ledger: the store's channel state
        **({"deployment": str(CELL_BROADCAST_DEPLOYMENT)}
           if CELL_BROADCAST_DEPLOYMENT.exists() else {})},
    path="/api/ecbe/v1/message",
)


WALLET_PUSH = DemoElement(
    channel="eudi_wallet",
    element="Web Push service with test phones",
    make_app=lambda data_dir: create_push_service(data_dir / "wallet-demo"),
    channel_config=demo_wallet_config,
    path="/push/",
)


@dataclass(frozen=True)
class FeedSourceElement(DemoElement):
    """An element that is a feed to poll, not a channel (``router.demo.DemoFeedSource``):
    demo mode polls ``feed_path`` as the feed ``demo-feed`` and configures no channel."""

    feed_path: str = "/feed.atom"


def _feed_dir(data_dir: Path) -> Path:
    """``TOCSIN_MOCK_FEED_DIR`` (e.g. ``config/examples``), else ``<data dir>/mock-feed``,
    empty until CAP files are put in it: a demo takes in only what is put there."""
    chosen = os.environ.get("TOCSIN_MOCK_FEED_DIR")
    directory = Path(chosen) if chosen else data_dir / "mock-feed"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


FEED_SERVER = FeedSourceElement(
    channel="feed",
    element="CAP feed server (a directory of CAP files as Atom)",
    make_app=lambda data_dir: create_feed_server(_feed_dir(data_dir)),
    channel_config=lambda _base_url, _data_dir: {},  # a feed source: no channel
    path="/feed.atom",
)


ELEMENTS: tuple[DemoElement, ...] = (WEBHOOK, SMSC, GALILEO_EWSS, CELL_BROADCAST, WALLET_PUSH,
                                     FEED_SERVER)
"""Every element of this package; each is registered in the ``tocsin.demo_elements``
entry-point group (``pyproject.toml``), which is how the service finds it."""
