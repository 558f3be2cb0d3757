"""Scope: ``Private`` and ``Restricted`` alerts never reach a public channel.

Stage: trust (pure). A channel instance says whether it reaches the public
(``Capabilities.public``, declared by each adapter). The rule is checked twice:
statically at start-up, where a route can only ever match confidential alerts
(its ``match.scope``, narrowed by its ancestors', is Private and/or Restricted) and
still names a public channel -- a configuration error; and at run time by the
dispatcher, which ends such a delivery ``skipped`` with reason ``scope``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from router.cap.model import Alert, Scope

CONFIDENTIAL = frozenset({Scope.PRIVATE, Scope.RESTRICTED})


class _Match(Protocol):
    @property
    def scope(self) -> Sequence[Scope] | None: ...


class RouteLike(Protocol):
    """What the check reads of a ``router.routing.Route`` (routing is a stage above)."""

    @property
    def id(self) -> str: ...
    @property
    def match(self) -> _Match | None: ...
    @property
    def channels(self) -> Sequence[str]: ...
    @property
    def fallback(self) -> Sequence[str] | None: ...
    @property
    def routes(self) -> Sequence[RouteLike]: ...


def confidential(alert: Alert) -> bool:
    return alert.scope in CONFIDENTIAL


def scope_route_problems(routes: Iterable[RouteLike], public: Mapping[str, bool],
                         where: str = "routes") -> list[str]:
    """A problem for every route that only confidential alerts reach yet names a public
    channel (as a channel or a fallback)."""
    return _walk(list(routes), frozenset(Scope), public, where)


def _walk(routes: Sequence[RouteLike], scopes: frozenset[Scope], public: Mapping[str, bool],
          where: str) -> list[str]:
    problems: list[str] = []
    for route in routes:
        own = scopes
        if route.match is not None and route.match.scope is not None:
            own = scopes & frozenset(route.match.scope)
        if own and own <= CONFIDENTIAL:
            named = [*route.channels, *(route.fallback or ())]
            problems += [f"{where}: route {route.id!r} matches only "
                         f"{'/'.join(sorted(s.value for s in own))} alerts but sends to "
                         f"public channel {name!r}; scope forbids it"
                         for name in named if public.get(name, False)]
        problems += _walk(route.routes, own, public, where)
    return problems
