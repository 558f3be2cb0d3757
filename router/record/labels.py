"""The bounded ``route`` x ``channel`` pairs a routing configuration can plan.

Stage: record (reads the routing configuration, pure). Used to initialise the
planned-deliveries series at zero for every pair the routes can produce.
"""

from __future__ import annotations

from router.routing import Route, RoutingConfig
from router.routing.tree import DEFAULT_ROUTE_ID


def route_channels(config: RoutingConfig) -> set[tuple[str, str]]:
    pairs = {(DEFAULT_ROUTE_ID, channel) for channel in config.default}
    for route in config.routes:
        pairs |= _walk(route, ())
    return pairs


def _walk(route: Route, inherited: tuple[str, ...]) -> set[tuple[str, str]]:
    fallback = tuple(route.fallback) if route.fallback is not None else inherited
    pairs = {(route.id, channel) for channel in (*route.channels, *fallback)}
    for child in route.routes:
        pairs |= _walk(child, fallback)
    return pairs
