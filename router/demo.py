"""What ``tocsin serve --demo`` and ``tocsin mock-channels`` need of a sandbox network
element, so that the service finds the elements without importing them.

Stage: contract (like ``router.channel``). Elements are implemented next to the
adapters they stand in front of (``channels/mock``) and registered in the
``tocsin.demo_elements`` entry-point group (``router.registry.demo_elements``)::

    [project.entry-points."tocsin.demo_elements"]
    pager = "acme_pager.mock:PAGER_ELEMENT"

Nothing under ``router/`` imports ``channels/``: an installation without the mock
elements still serves; only demo mode refuses to start, saying what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from aiohttp import web


@runtime_checkable
class PortAllocator(Protocol):
    """Loopback ports for the elements of one process, never handed out twice.

    Binding port 0 and closing the socket can give two callers the same number;
    an allocator remembers what it handed out, and demo mode reserves the service's
    own port in it before any element takes one (an SMSC takes a second port for SMPP
    from the same allocator)."""

    def reserve(self, port: int) -> None:
        """Never hand out ``port``."""

    def take(self) -> int:
        """A loopback port free now that this allocator has not handed out."""


@runtime_checkable
class DemoElement(Protocol):
    """One sandbox network element and the channel instance pointed at it."""

    @property
    def channel(self) -> str:
        """The channel instance name the default routes use (``config/routes.yaml``)."""

    @property
    def element(self) -> str:
        """What the element stands in for, for logs and ``tocsin mock-channels``."""

    @property
    def path(self) -> str:
        """Where the element's main endpoint is, relative to its base URL (display)."""

    @property
    def ports(self) -> PortAllocator:
        """The allocator the element takes any further ports from; demo mode takes the
        element's HTTP port from it too."""

    @property
    def make_app(self) -> Callable[[Path], web.Application]:
        """Build the element's app; it may keep state under the given data directory."""

    @property
    def channel_config(self) -> Callable[[str, Path], dict[str, Any]]:
        """The channel configuration for an element listening at ``base_url``."""


@runtime_checkable
class DemoFeedSource(Protocol):
    """A ``DemoElement`` that is a feed to poll rather than a channel to deliver to (the
    mock CAP feed server): demo mode polls ``base_url + feed_path`` as the feed
    ``demo-feed`` (``router.feeds``) and configures no channel for it."""

    @property
    def feed_path(self) -> str:
        """The feed's path relative to the element's base URL."""
