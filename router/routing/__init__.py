"""Routing: which channel instances carry an alert, with fallbacks, explained.

Stage: the pure middle, above ``router.cap``; never imports the store, aiohttp
or the channel adapters. ``load_routing`` validates ``routes.yaml`` whole at
start-up; ``Router(config).decide(alert)`` is then a pure function.
"""

from router.routing.config import Match, Region, Route, RoutingConfig
from router.routing.loader import RoutingConfigError, load_routing, parse_routing
from router.routing.tree import Decision, Router, Step, Target

__all__ = [
    "Decision",
    "Match",
    "Region",
    "Route",
    "Router",
    "RoutingConfig",
    "RoutingConfigError",
    "Step",
    "Target",
    "load_routing",
    "parse_routing",
]
