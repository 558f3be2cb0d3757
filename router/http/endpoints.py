"""One route: its handler and what the OpenAPI document says of it.

Stage: HTTP plumbing. Each package that serves routes lists its ``Endpoint``s;
``router.ingest.routes`` registers every list and documents them from the same
entries, so the document describes exactly the routes that exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    responses: dict[int, tuple[type[BaseModel] | str | None, str]]
    authenticated: bool = True
    parameters: list[dict[str, Any]] = field(default_factory=list)
    cap_body: bool = False
    json_body: type[BaseModel] | None = None
