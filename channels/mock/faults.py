"""Fault injection shared by every mock network element.

A mock is told, over its control API, to misbehave for the next N requests
(or until told otherwise): answer with an error status, answer slowly, drop
the connection without answering, or redirect (``307`` to ``location``, the
request method and body kept: what a compromised or misconfigured endpoint does
to make a client repeat its POST elsewhere). Tests use it to drive retries, breakers and
fallbacks through the real HTTP path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["none", "fail", "slow", "drop", "redirect"] = "none"
    status: int = Field(default=503, ge=400, le=599)
    location: str | None = Field(default=None, max_length=2048,
                                 description="redirect: where the 307 points")
    delay_s: float = Field(default=0.0, ge=0, le=60)
    count: int | None = Field(default=None, ge=1, description="requests affected; null = all")


@dataclass
class FaultInjector:
    spec: FaultSpec
    hits: int = 0

    @classmethod
    def healthy(cls) -> FaultInjector:
        return cls(FaultSpec())

    def set(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.hits = 0

    async def apply(self, request: web.Request) -> web.StreamResponse | None:
        """A response to give instead of the real one, or None to behave."""
        spec = self.spec
        if spec.mode == "none":
            return None
        if spec.count is not None and self.hits >= spec.count:
            self.spec = FaultSpec()
            return None
        self.hits += 1
        if spec.mode == "slow":
            await asyncio.sleep(spec.delay_s)
            return None
        if spec.mode == "drop":
            if request.transport is not None:
                request.transport.abort()  # the client sees the connection reset, no answer
            return web.Response(status=499)
        if spec.mode == "redirect":
            return web.Response(status=307, headers={"Location": spec.location or "/"})
        return web.json_response({"error": "injected fault"}, status=spec.status)


def add_control_routes(app: web.Application,
                       injector: Callable[[web.Application], FaultInjector]) -> None:
    """``PUT /_mock/faults``, ``GET /_mock/faults`` (the fault in force and ``hits``: how
    many requests it has answered since it was set, which is how many calls reached the
    element during an outage) and ``GET /_mock/health``, the same on every mock element
    that takes the shared faults; ``injector`` finds the element's ``FaultInjector``."""

    async def put_faults(request: web.Request) -> web.Response:
        try:
            spec = FaultSpec.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        injector(request.app).set(spec)
        return web.json_response(spec.model_dump())

    async def get_faults(request: web.Request) -> web.Response:
        current = injector(request.app)
        return web.json_response({**current.spec.model_dump(), "hits": current.hits})

    app.router.add_put("/_mock/faults", put_faults)
    app.router.add_get("/_mock/faults", get_faults)
    app.router.add_get("/_mock/health", health)


async def health(_request: web.Request) -> web.Response:
    """200 while the element runs."""
    return web.json_response({"ok": True})
