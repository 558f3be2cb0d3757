"""What the HTTP handlers share, held in the aiohttp application under ``CONTEXT``.

Stage: ingest. Built once by ``router.app.create_app``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from router.audience import AudienceStore
from router.channel import Capabilities, Channel
from router.ingest.audit_trail import AuditTrail
from router.ingest.auth import Authenticator
from router.ingest.health_watch import HealthWatch
from router.ingest.streams import StreamSlots
from router.profiles import ProfileSet
from router.record import Recorder
from router.render import Renderer
from router.routing import Router
from router.settings import Settings
from router.store import AlertStore
from router.store.drafts import DraftStore
from router.trust import ApprovalPolicy, SignatureChecker, TrustStore


@dataclass
class IngestContext:
    settings: Settings
    profiles: ProfileSet
    router: Router
    store: AlertStore
    auth: Authenticator
    recorder: Recorder
    """The record stage: ingest metrics and audit lines, live progress for SSE."""
    draining: bool = False
    on_accepted: Callable[[], None] = lambda: None
    """Called after each new alert is committed (the app wakes the dispatcher)."""
    renderer: Renderer | None = None
    """Renders accessible variants before an alert is stored; None: no variants."""
    capabilities: Mapping[str, Capabilities] = field(default_factory=dict)
    """Every configured channel instance's capabilities (their text budgets)."""
    speech: bool = False
    """Spoken variants are made after acceptance (a speech worker runs)."""
    channels: Mapping[str, Channel] = field(default_factory=dict)
    """The configured channel instances (the wallet API serves keys and documents)."""
    signatures: SignatureChecker = field(default_factory=lambda: SignatureChecker(TrustStore()))
    """Checks XML-DSig signatures against the configured trust store."""
    event_streams: StreamSlots = field(default_factory=StreamSlots)
    """Open SSE streams per API key (bounded by ``max_event_streams_per_key``)."""
    audit: AuditTrail | None = None
    """Appends refused requests to the audit trail (accepted alerts: the store itself)."""
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    """Which accepted alerts wait for a second principal (off unless configured)."""
    audience: AudienceStore | None = None
    """Subscribers and recipient outcomes (``router.audience``); None: a service with no
    subscriber channels, whose status answers carry no recipient counts."""
    health: HealthWatch = field(default_factory=HealthWatch)
    """The channels' last health readings, for the dashboard's stream (read while one is
    open, at most every ``router.ingest.health_watch.EVERY_S``)."""
    drafts: DraftStore | None = None
    """The console's saved compose forms (``/api/v1/drafts``); None: no drafts kept."""


CONTEXT = web.AppKey("tocsin.ingest", IngestContext)
