"""The composition root: ``create_app(settings)`` wires settings, profiles, routing,
the store and the HTTP API into one aiohttp application.

Stage: the top of the service (only the CLI is above it). Everything that can
be wrong with the configuration is found here, before the port is opened, and
reported at once as a ``ConfigurationError``.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from router.assets import AccessibilityConfigError, load_accessibility
from router.assets.pruning import AssetPruner
from router.assets.speech import SpeechWorker
from router.assets.tts import Speaker
from router.audience import AudienceStore
from router.audience.http import DESK, SubscriptionDesk
from router.audience.subscriber_csv import read_rows
from router.channel import Channel, KeepsChannelState, LateReceipts
from router.console import add_base_map, add_console_routes
from router.delivery import Dispatcher, DispatchSettings
from router.demo import DemoElement, DemoFeedSource, PortAllocator
from router.errors import ConfigurationError
from router.feeds import add_feed_routes
from router.ingest import CONTEXT, Authenticator, IngestContext, add_routes, request_context
from router.ingest.audit_trail import AuditTrail, config_event
from router.ingest.sweeper import ApprovalSweeper
from router.ingest.throttle import THROTTLE, Throttle, rate_limits
from router.observability.logging import add_secrets, secrets_in
from router.observability.metrics import Metrics
from router.profiles import ProfileSet, load_profiles
from router.profiles.loader import ProfileConfigError
from router.record import BacklogGauges, Recorder, route_channels
from router.record.speech import SpeechBacklogGauges
from router.registry import build_channels, demo_elements
from router.render import AccessibilityConfig, Renderer
from router.render.config import TtsSettings
from router.routing import Route, Router, RoutingConfig, RoutingConfigError, load_routing
from router.settings import ApiKey, Authority, Feed, Settings, hash_api_key
from router.storage import Stores, open_stores
from router.store import AlertStore, AnnouncesWork
from router.trust import (
    ApprovalPolicy,
    PolicyConfigError,
    SignatureChecker,
    TrustStoreError,
    approval_policy,
    compile_policies,
    load_trust_store,
    scope_route_problems,
)

DEMO_KEY = web.AppKey("tocsin.demo_key", str)
DEMO_SUBSCRIBERS = next(
    (path for path in (Path("config/examples/demo-subscribers.csv"),
                       Path(__file__).resolve().parents[1] / "config" / "examples"
                       / "demo-subscribers.csv") if path.is_file()),
    Path("config/examples/demo-subscribers.csv"))
"""Made-up SMS subscribers for demo mode: the working directory's copy (``make run``, the
container) before the source tree's."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
log = structlog.get_logger("tocsin.app")


DEMO_ROLES = ["submit", "cancel", "read", "admin"]
DEMO_APPROVER_ROLES = ["approve", "read"]


def demo_authority(settings: Settings) -> tuple[Authority, str]:
    """Demo mode's development key: any sender, every role but ``approve`` (so that it can
    never approve its own alerts). Fixed by ``TOCSIN_DEV_API_KEY`` for scripts.
    ``TOCSIN_DEV_APPROVER_KEY`` adds a second demo principal holding ``approve``."""
    key = (settings.dev_api_key.get_secret_value() if settings.dev_api_key
           else "dev-" + secrets.token_urlsafe(24))
    keys = [ApiKey(name="dev", hash=hash_api_key(key), roles=DEMO_ROLES)]
    if settings.dev_approver_key is not None:
        approver = settings.dev_approver_key.get_secret_value()
        keys.append(ApiKey(name="approver", hash=hash_api_key(approver),
                           roles=DEMO_APPROVER_ROLES))
        add_secrets([approver])
    add_secrets([key])  # never in a log line
    return Authority(name="demo", senders=["*"], keys=keys), key


def _route_channels(routes: list[Route]) -> set[str]:
    names: set[str] = set()
    for route in routes:
        names |= set(route.channels) | set(route.fallback or ()) | _route_channels(route.routes)
    return names


def channel_configs(settings: Settings, mock_urls: dict[str, str]) -> dict[str, Any]:
    """The configured channel instances; demo mode adds a file channel and one channel
    per mock network element (entry-point group ``tocsin.demo_elements``) pointed at the element's
    loopback URL in ``mock_urls`` -- unless the settings configure that name already."""
    configs: dict[str, Any] = dict(settings.channels)
    if settings.demo:
        configs.setdefault("file", {"type": "file",
                                    "path": str(settings.data_dir / "demo-deliveries.jsonl")})
    if settings.demo and mock_urls:
        for element in _demo_elements():
            if element.channel in mock_urls and not isinstance(element, DemoFeedSource):
                configs.setdefault(element.channel, element.channel_config(
                    mock_urls[element.channel], settings.data_dir))
    return configs


DEMO_FEED_INTERVAL_S = 5.0
"""How often demo mode polls its mock feed server: a file dropped into its directory
shows within seconds, and an unchanged feed costs one 304."""


def with_demo_feeds(settings: Settings, mock_ports: dict[str, int]
                    ) -> tuple[Settings, dict[str, str]]:
    """The mock elements' loopback URLs, and the settings with a feed ``demo-feed`` per
    mock feed source (``router.demo.DemoFeedSource``) among them (demo mode)."""
    mock_urls = {name: f"http://127.0.0.1:{port}" for name, port in mock_ports.items()}
    feeds = [Feed(url=mock_urls[e.channel] + e.feed_path, name=f"demo-{e.channel}",
                  interval_s=DEMO_FEED_INTERVAL_S)
             for e in (_demo_elements() if mock_urls else ())
             if isinstance(e, DemoFeedSource) and e.channel in mock_urls]
    if feeds:
        settings = settings.model_copy(update={"feeds": [*settings.feeds, *feeds]})
    return settings, mock_urls


def _demo_ports(settings: Settings) -> dict[str, int]:
    """A loopback port per demo element, none equal to another element's (an SMSC's
    SMPP port included) or to the service's own port, chosen but not yet bound.
    Each element names its allocator; every port one hands out is reserved in the
    others, so elements of different packages never meet on a port either."""
    elements = _demo_elements()
    allocators: list[PortAllocator] = []
    for element in elements:
        if not any(element.ports is known for known in allocators):
            allocators.append(element.ports)
    for allocator in allocators:
        allocator.reserve(settings.port)
    chosen: dict[str, int] = {}
    for element in elements:
        if element.channel in settings.channels:
            continue
        chosen[element.channel] = port = element.ports.take()
        for allocator in allocators:
            if allocator is not element.ports:
                allocator.reserve(port)
    return chosen


def _demo_elements() -> tuple[DemoElement, ...]:
    """The registered sandbox elements (``router.registry.demo_elements``); loaded in
    demo mode only, so the service imports no mock code otherwise."""
    return demo_elements()


def _load_parts(settings: Settings, public: dict[str, bool]
                ) -> tuple[ProfileSet, Router, AccessibilityConfig]:
    """Accessibility, profiles, routing (with the scope rule), checked together."""
    channel_names = set(public)
    problems: list[str] = []
    accessibility: AccessibilityConfig | None = None
    try:
        accessibility = load_accessibility(settings.accessibility_dir)
    except AccessibilityConfigError as exc:
        problems += exc.problems
    profiles: ProfileSet | None = None
    router: Router | None = None
    try:
        profiles = load_profiles(settings.profile_dirs)
    except ProfileConfigError as exc:
        problems += exc.problems
    try:
        # Outside demo mode the loader checks every channel a route names against the
        # configured instances, each problem with its file and line.
        routing = load_routing(settings.routes_file,
                               None if settings.demo else channel_names)
        router = Router(routing)
        named = _route_channels(routing.routes) | set(routing.default)
        missing = sorted(named - channel_names)
        if missing:
            log.warning("channels.unavailable", channels=missing,
                        detail="routes name channels this demo does not have yet; their "
                        "deliveries fail and fall back")
    except RoutingConfigError as exc:
        problems += exc.problems
    if profiles is not None:
        wanted = {("default_profile", settings.default_profile)} | {
            (f"authorities[{a.name}].profile", a.profile) for a in settings.authorities
            if a.profile}
        problems += [f"settings: {where}: profile {name!r} is not loaded "
                     f"(known: {', '.join(profiles.names())})"
                     for where, name in sorted(wanted) if name not in profiles.names()]
    if router is not None:
        problems += scope_route_problems(router.config.routes, public,
                                         where=str(settings.routes_file))
    if problems or profiles is None or router is None or accessibility is None:
        raise ConfigurationError(problems)
    return profiles, router, accessibility


def _principals(settings: Settings, app: web.Application, channels: set[str],
                store: AlertStore) -> tuple[Authenticator, ApprovalPolicy]:
    """Who may call (settings keys, demo keys, keys in the store), each authority's
    compiled policy (a bad polygon file is a ConfigurationError naming it), and the
    approval policy."""
    authorities = list(settings.authorities)
    if settings.demo:
        authority, key = demo_authority(settings)
        authorities.append(authority)
        app[DEMO_KEY] = key
    try:
        policies = compile_policies(authorities, channels)
    except PolicyConfigError as exc:
        raise ConfigurationError(exc.problems) from exc
    auth = Authenticator(authorities, policies, store)
    if not len(auth):
        log.warning("auth.no_settings_keys", detail="no keys in the settings: only keys "
                    "made with `tocsin keys new --authority` are accepted")
    approval = approval_policy(settings)
    _warn_without_approvers(authorities, approval)
    return auth, approval


def _warn_without_approvers(authorities: list[Authority], approval: ApprovalPolicy) -> None:
    """Alerts that need approval expire when no settings key may approve them (keys made
    with `tocsin keys new` are not known at start-up, hence a warning, not an error)."""
    if not approval.enabled:
        return
    for authority in authorities:
        if not any("approve" in k.roles for k in authority.keys):
            log.warning("approval.no_approver_in_settings", authority=authority.name,
                        detail="no key in the settings holds 'approve'; alerts that need "
                        "approval expire unless a key made with `tocsin keys new "
                        "--roles approve` approves them")


def _each(*calls: Callable[[], None]) -> Callable[[], None]:
    def call_each() -> None:
        for call in calls:
            call()
    return call_each


def _secrets_noted(configs: dict[str, Any]) -> dict[str, Any]:
    """The channel configurations, their secrets registered for log redaction."""
    add_secrets(secrets_in(configs))
    return configs


def build_metrics(channels: set[str], profiles: ProfileSet, routing: RoutingConfig) -> Metrics:
    """Metrics whose bounded label sets come from the configuration: channel instances
    and the channels routes name, loaded profiles, route x channel pairs."""
    pairs = route_channels(routing)
    return Metrics(channels | {channel for _route, channel in pairs}, profiles.names(), pairs)


async def _start_mock_elements(settings: Settings,
                               ports: dict[str, int]) -> list[web.AppRunner]:
    """Demo mode: every mock network element on its loopback port."""
    runners = []
    for element in _demo_elements():
        if element.channel in ports:
            runner = web.AppRunner(element.make_app(settings.data_dir), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", ports[element.channel]).start()
            runners.append(runner)
    return runners


def dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        poll_interval_s=settings.dispatch_poll_interval_s,
        send_timeout_s=settings.dispatch_send_timeout_s,
        retry_multiplier_s=settings.dispatch_retry_multiplier_s,
        retry_max_s=settings.dispatch_retry_max_s,
        retry_jitter_s=settings.dispatch_retry_multiplier_s / 2,
        retry_window_s=settings.dispatch_retry_window_s,
        breaker_failures=settings.dispatch_breaker_failures,
        breaker_reset_s=settings.dispatch_breaker_reset_s)


async def seed_demo_subscribers(store: AudienceStore) -> None:
    """Demo mode: a few made-up SMS subscribers in the example alert's area, once."""
    if await store.subscriber_count("msisdn") == 0 and DEMO_SUBSCRIBERS.is_file():
        problems: list[str] = []
        await store.import_subscribers(list(read_rows(DEMO_SUBSCRIBERS, "msisdn", problems)))


def signature_checker(settings: Settings) -> SignatureChecker:
    """The XML-DSig checker over the configured trust store (read once, here)."""
    try:
        store = load_trust_store(settings.trust_store, settings.trust_sender_bindings)
    except TrustStoreError as exc:
        raise ConfigurationError(exc.problems) from exc
    return SignatureChecker(store, mode=settings.signature_time,
                            skew=timedelta(seconds=settings.signature_clock_skew_s))


def _hand_durable_state(channels: dict[str, Channel], stores: Stores) -> None:
    """Give each channel the durable areas it asks for: its message ledger (late
    receipts find their recipients after a restart) and its channel state."""
    for name, channel in channels.items():
        if isinstance(channel, LateReceipts):
            channel.use_message_ledger(stores.audience.message_ledger(name))
        if isinstance(channel, KeepsChannelState):  # shared by every node on the store
            channel.use_channel_state(stores.channel_state.for_channel(name))


def _wake_on_work(store: AlertStore, wake: Callable[[], None]) -> Callable[[], None]:
    """``wake`` for this node's accepts, and for work any node of a shared store commits."""
    if isinstance(store, AnnouncesWork):
        store.watch_work(wake)
    return wake


def subscription_desk(settings: Settings, stores: Stores,
                      channels: dict[str, Channel]) -> SubscriptionDesk:
    """What the audience's subscription routes need (``router.audience.http``)."""
    return SubscriptionDesk(audience=stores.audience,
                            body_read_timeout_s=settings.body_read_timeout_s,
                            push_hosts=tuple(settings.wallet_push_hosts),
                            demo=settings.demo, channels=channels)


def _share(app: web.Application, context: IngestContext, desk: SubscriptionDesk) -> None:
    """What the handlers read: the alert API's context, the audience routes' desk."""
    app[CONTEXT] = context
    app[DESK] = desk


def _add_all_routes(app: web.Application, settings: Settings) -> None:
    """The API, the feeds, then the operator console (a client of that API, served beside it)."""
    add_routes(app)
    add_feed_routes(app)  # after the store's lifecycle, so feed pollers start after it opens
    add_console_routes(app)
    add_base_map(app, settings.console)


def _speech(settings: Settings, store: AlertStore, tts: TtsSettings, recorder: Recorder
            ) -> tuple[SpeechWorker, list[Callable[[web.Application], AsyncIterator[None]]]]:
    """The speech worker, and what runs beside the service for it: the worker (where this
    node dispatches), the pruning of expired audio (where the audio is made) and the
    speech backlog gauges (on every node)."""
    assets = settings.data_dir / "assets"
    speech = SpeechWorker(store, Speaker(tts), assets,
                          enabled=settings.dispatch_enabled and tts.enabled)
    pruner = AssetPruner(store, assets, retention=timedelta(days=settings.asset_retention_days),
                         interval_s=settings.asset_prune_interval_s,
                         enabled=settings.dispatch_enabled)
    gauges = SpeechBacklogGauges(store, recorder.metrics, settings.store_backlog_interval_s)
    return speech, [speech.running, pruner.running, gauges.running]


def create_app(settings: Settings, stores: Stores | None = None) -> web.Application:
    """The service; ``stores`` defaults to the settings' store URL (``router.storage``)."""
    mock_ports = _demo_ports(settings) if settings.demo else {}
    settings, mock_urls = with_demo_feeds(settings, mock_ports)
    channels = build_channels(_secrets_noted(channel_configs(settings, mock_urls)))
    profiles, router, accessibility = _load_parts(
        settings, {name: c.capabilities.public for name, c in channels.items()})
    signatures = signature_checker(settings)
    app = web.Application(middlewares=[request_context, rate_limits],
                          client_max_size=settings.max_body_bytes)
    app[THROTTLE] = Throttle(settings)
    stores = stores or open_stores(settings.store, settings.data_dir,
                                   max_batch=settings.group_commit_max,
                                   lease_s=settings.store_lease_s,
                                   open_timeout_s=settings.store_open_timeout_s)
    store = stores.alerts
    auth, approval = _principals(settings, app, set(channels), store)
    _hand_durable_state(channels, stores)
    recorder = Recorder(store, build_metrics(set(channels), profiles, router.config))
    context = IngestContext(settings=settings, profiles=profiles, router=router,
                            store=store, audience=stores.audience, auth=auth, recorder=recorder,
                            drafts=stores.drafts,
                            renderer=Renderer(accessibility),
                            capabilities={n: c.capabilities for n, c in channels.items()},
                            speech=accessibility.tts.enabled, channels=channels,
                            signatures=signatures, approval=approval,
                            audit=(trail := AuditTrail(store, auth, settings)))
    _share(app, context, subscription_desk(settings, stores, channels))
    dispatcher = Dispatcher(store, channels, dispatch_settings(settings), recorder,
                            audience=stores.audience)
    speech, speech_tasks = _speech(settings, store, accessibility.tts, recorder)
    context.on_accepted = _wake_on_work(store, _each(dispatcher.wake, speech.wake))

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        mock_runners = await _start_mock_elements(settings, mock_ports)
        await stores.open()
        if settings.demo:
            await seed_demo_subscribers(stores.audience)
        if settings.dispatch_enabled:
            await dispatcher.start()
        else:
            log.warning("dispatch.disabled", detail="accepting and storing only")
        log.info("service.started", host=settings.host, port=settings.port,
                 data_dir=str(settings.data_dir), demo=settings.demo,
                 profiles=profiles.names(), channels=sorted(channels),
                 mock_elements=mock_urls)
        yield
        if settings.dispatch_enabled:
            log.info("service.stopping", step="dispatcher")
            await dispatcher.stop(settings.shutdown_timeout)
        log.info("service.stopping", step="store")
        await stores.close()
        if mock_runners:
            log.info("service.stopping", step="mock-channels")
        for runner in mock_runners:
            await runner.cleanup()
        log.info("service.stopped")

    async def start_draining(_app: web.Application) -> None:
        context.draining = True
        log.info("service.draining")

    app.cleanup_ctx.append(lifecycle)
    app.cleanup_ctx.extend(speech_tasks)  # after the store opens, stop before it
    app.cleanup_ctx.append(BacklogGauges(  # likewise; on every node, dispatching or not
        store, recorder.metrics, settings.store_backlog_interval_s).running)
    loaded = config_event(settings, profiles)
    app.cleanup_ctx.append(lambda _app: trail.running(loaded))  # likewise
    if approval.enabled and settings.dispatch_enabled:
        app.cleanup_ctx.append(ApprovalSweeper(
            store, settings.approval_sweep_interval_s).running)
    app.on_shutdown.append(start_draining)
    _add_all_routes(app, settings)
    return app


def check_configuration(settings: Settings) -> list[str]:
    """Every problem start-up would meet, without starting anything (``tocsin
    check-config``): channel instances built (and closed unstarted), accessibility files,
    profiles, routes against the channels, the scope rule, authority policies with their
    polygon files, the trust store. Each problem names its file (and line) or setting;
    an empty list means ``tocsin serve`` with these settings starts."""
    problems: list[str] = []
    public: dict[str, bool] = {}
    if settings.demo:
        try:
            demo_elements()
        except ConfigurationError as exc:
            problems += exc.problems
    try:
        built = build_channels(channel_configs(settings, {}))
        public = {name: channel.capabilities.public for name, channel in built.items()}
    except ConfigurationError as exc:
        problems += exc.problems
        public = dict.fromkeys(channel_configs(settings, {}), True)  # still check routes
    try:
        _load_parts(settings, public)
    except ConfigurationError as exc:
        problems += exc.problems
    authorities = list(settings.authorities)
    if settings.demo:
        authorities.append(demo_authority(settings)[0])
    try:
        compile_policies(authorities, set(public))
    except PolicyConfigError as exc:
        problems += exc.problems
    try:
        signature_checker(settings)
    except ConfigurationError as exc:
        problems += exc.problems
    return problems
