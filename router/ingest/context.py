"""What the HTTP handlers share, held in the aiohttp application under ``CONTEXT``.

Stage: ingest. Built once by ``router.app.create_app``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from router.channel import Channel
from router.ingest.auth import Authenticator
from router.profiles import ProfileSet
from router.routing import Router
from router.settings import Settings
from router.store import Store


@dataclass
class IngestContext:
    settings: Settings
    profiles: ProfileSet
    router: Router
    store: Store
    auth: Authenticator
    draining: bool = False
    on_accepted: Callable[[], None] = lambda: None
    """Called after each new alert is committed (the app wakes the dispatcher)."""
    channels: Mapping[str, Channel] = field(default_factory=dict)
    """The configured channel instances (the wallet API serves keys and documents)."""


CONTEXT = web.AppKey("tocsin.ingest", IngestContext)
