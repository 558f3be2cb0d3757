"""The composition root: ``create_app(settings)`` wires settings, profiles, routing,
the store and the HTTP API into one aiohttp application.

Stage: the top of the service (only the CLI is above it). Everything that can
be wrong with the configuration is found here, before the port is opened, and
reported at once as a ``ConfigurationError``.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from router.errors import ConfigurationError
from router.ingest import CONTEXT, Authenticator, IngestContext, add_routes, request_context
from router.profiles import ProfileSet, load_profiles
from router.profiles.loader import ProfileConfigError
from router.routing import Router, RoutingConfigError, load_routing
from router.settings import Authority, Settings, hash_api_key
from router.store import SqliteStore, Store

DEMO_KEY = web.AppKey("tocsin.demo_key", str)
log = structlog.get_logger("tocsin.app")


def demo_authority(settings: Settings) -> tuple[Authority, str]:
    """Demo mode's development key: any sender. Fixed by ``TOCSIN_DEV_API_KEY`` for scripts."""
    key = (settings.dev_api_key.get_secret_value() if settings.dev_api_key
           else "dev-" + secrets.token_urlsafe(24))
    return Authority(name="demo", senders=["*"], key_hashes=[hash_api_key(key)]), key


def _load_parts(settings: Settings) -> tuple[ProfileSet, Router]:
    problems: list[str] = []
    profiles: ProfileSet | None = None
    router: Router | None = None
    try:
        profiles = load_profiles(settings.profile_dirs)
    except ProfileConfigError as exc:
        problems += exc.problems
    try:
        router = Router(load_routing(settings.routes_file))
    except RoutingConfigError as exc:
        problems += exc.problems
    if profiles is not None:
        wanted = {("default_profile", settings.default_profile)} | {
            (f"authorities[{a.name}].profile", a.profile) for a in settings.authorities
            if a.profile}
        problems += [f"settings: {where}: profile {name!r} is not loaded "
                     f"(known: {', '.join(profiles.names())})"
                     for where, name in sorted(wanted) if name not in profiles.names()]
    if problems or profiles is None or router is None:
        raise ConfigurationError(problems)
    return profiles, router


def create_app(settings: Settings, store: Store | None = None) -> web.Application:
    profiles, router = _load_parts(settings)
    authorities = list(settings.authorities)
    app = web.Application(middlewares=[request_context],
                          client_max_size=settings.max_body_bytes)
    if settings.demo:
        authority, key = demo_authority(settings)
        authorities.append(authority)
        app[DEMO_KEY] = key
    auth = Authenticator(authorities)
    if not len(auth):
        log.warning("auth.no_keys", detail="no authorities configured: every request "
                    "will be refused with 401; add authorities or use --demo")
    context = IngestContext(settings=settings, profiles=profiles, router=router,
                            store=store or SqliteStore(settings.database_path,
                                                       max_batch=settings.group_commit_max),
                            auth=auth)
    app[CONTEXT] = context

    async def store_lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await context.store.open()
        log.info("service.started", host=settings.host, port=settings.port,
                 data_dir=str(settings.data_dir), demo=settings.demo,
                 profiles=profiles.names())
        yield
        await context.store.close()
        log.info("service.stopped")

    async def start_draining(_app: web.Application) -> None:
        context.draining = True
        log.info("service.draining")

    app.cleanup_ctx.append(store_lifecycle)
    app.on_shutdown.append(start_draining)
    add_routes(app)
    return app
