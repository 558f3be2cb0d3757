"""Wire the feed pollers into the app and serve their status.

Stage: feeds. ``add_feed_routes(app)`` (called once by ``router.app.create_app``, after
the ingest context is shared) starts one poller task per configured feed when the app
starts -- after the store opens, because it is appended to ``cleanup_ctx`` after the
store's lifecycle -- and cancels them before the store closes. ``GET /api/v1/feeds``
(any valid API key holding ``read``) answers each feed's state, counts and recent
findings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict

import aiohttp
import structlog
from aiohttp import web

from router.errors import ConfigurationError
from router.feeds.metrics import FeedMetrics
from router.feeds.poller import FeedPoller
from router.feeds.publish import PublicFeed
from router.http.endpoints import Endpoint
from router.http.problems import Problem
from router.ingest import add_endpoints
from router.ingest.context import CONTEXT, IngestContext
from router.settings import Feed
from router.trust import Principal, Role

POLLERS = web.AppKey("tocsin.feeds", list[FeedPoller])
log = structlog.get_logger("tocsin.feeds")


def _authority_of(feed: Feed, ctx: IngestContext) -> str:
    names = [a.name for a in ctx.settings.authorities]
    if ctx.settings.demo:
        names.append("demo")
    if feed.authority is not None:
        chosen = feed.authority
    elif len(names) == 1 or ctx.settings.demo:
        chosen = "demo" if ctx.settings.demo else names[0]
    else:
        raise ConfigurationError([f"feed {feed.label}: set `authority:` (one of "
                              f"{', '.join(names) or 'none configured'})"])
    if chosen not in names:
        raise ConfigurationError([f"feed {feed.label}: authority {chosen!r} is not configured"])
    return chosen


def build_pollers(ctx: IngestContext, metrics: FeedMetrics) -> list[FeedPoller]:
    pollers = []
    for feed in ctx.settings.feeds:
        authority = _authority_of(feed, ctx)
        policy = ctx.auth.policy(Principal("feed", authority, frozenset()))
        profile = feed.profile or policy.profile or ctx.settings.default_profile
        if profile not in ctx.profiles.names():
            raise ConfigurationError([f"feed {feed.label}: profile {profile!r} is not loaded"])
        metrics.register(feed.label, feed.interval_s)
        pollers.append(FeedPoller(feed, authority, profile, ctx, metrics))
    return pollers


def add_feed_routes(app: web.Application) -> None:
    ctx = app[CONTEXT]
    app[POLLERS] = build_pollers(ctx, FeedMetrics(ctx.recorder.metrics.registry))
    public = PublicFeed(ctx)
    accepted = ctx.on_accepted

    def on_accepted() -> None:
        public.invalidate()
        accepted()

    ctx.on_accepted = on_accepted
    add_endpoints(app, [
        Endpoint("GET", "/api/v1/feeds", feed_status,
                 "Each configured feed's state, counts and recent findings",
                 {200: ("application/json", "the feeds"), 401: (Problem, "no valid key"),
                  403: (Problem, "the key does not hold read")}),
        Endpoint("GET", "/feeds/public.atom", public.feed,
                 "Public Actual alerts in force (Atom 1.0), newest first; ETag. "
                 "rel=next links page the history (?before=); ?lang= picks each entry's "
                 "<info> in the closest language",
                 {200: ("application/atom+xml", "the feed"), 304: (None, "not modified"),
                  400: ("text/plain", "lang or before not valid")},
                 authenticated=False, parameters=[
                     {"name": "lang", "in": "query", "required": False,
                      "schema": {"type": "string"}, "description": "a BCP 47 language tag"},
                     {"name": "before", "in": "query", "required": False,
                      "schema": {"type": "string"},
                      "description": "history older than this cursor (a rel=next link's)"}]),
        Endpoint("GET", "/feeds/alerts/{alert_id}.xml", public.document,
                 "A public alert of the feed or its history, the CAP document as received",
                 {200: ("application/cap+xml", "the CAP document"),
                  404: ("text/plain", "no public alert with this id")},
                 authenticated=False, parameters=[{"name": "alert_id", "in": "path",
                                                   "required": True,
                                                   "schema": {"type": "string"}}]),
    ])
    if app[POLLERS]:
        app.cleanup_ctx.append(_running)


async def _running(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(auto_decompress=True,
                                    headers={"User-Agent": "tocsin-feeds"})
    tasks = [asyncio.create_task(p.run(session), name=f"feed:{p.status.name}")
             for p in app[POLLERS]]
    log.info("feeds.started", feeds=[p.status.name for p in app[POLLERS]])
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await session.close()


async def feed_status(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    ctx.auth.require(principal, Role.READ)
    return web.json_response({"feeds": [asdict(p.status) for p in request.app[POLLERS]]})
