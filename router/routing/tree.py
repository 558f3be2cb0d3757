"""Walk the route tree for one alert: which channels carry it, with fallbacks, and why.

Stage: the pure middle (routing). ``Router.decide`` is a pure function of the
alert: the same alert always yields the same targets in the same order, which
is what makes the delivery plan reproducible and ``tocsin routes test`` truthful.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry

from router.cap.model import Alert
from router.routing.config import Route, RoutingConfig
from router.routing.match import CompiledMatch, region_geometry

BLOCKCHANNEL = "BLOCKCHANNEL"
DEFAULT_ROUTE_ID = "default"


@dataclass(frozen=True)
class Target:
    """One channel instance the alert must go to, the route that chose it, its fallbacks."""

    channel: str
    route: str
    fallback: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One route considered, for explanations."""

    route: str
    depth: int
    matched: bool
    reason: str


@dataclass
class Decision:
    targets: list[Target] = field(default_factory=list)
    trace: list[Step] = field(default_factory=list)
    vetoed: dict[str, str] = field(default_factory=dict)  # channel -> why

    @property
    def channels(self) -> list[str]:
        return [target.channel for target in self.targets]


@dataclass
class _Node:
    route: Route
    match: CompiledMatch | None
    fallback: tuple[str, ...]
    children: list[_Node]


def _compile(route: Route, regions: dict[str, BaseGeometry],
             inherited: tuple[str, ...]) -> _Node:
    fallback = tuple(route.fallback) if route.fallback is not None else inherited
    match = CompiledMatch(route.match, regions) if route.match is not None else None
    return _Node(route, match, fallback,
                 [_compile(child, regions, fallback) for child in route.routes])


def blocked_channels(alert: Alert, aliases: dict[str, list[str]]) -> set[str]:
    """Channel instances vetoed by CAP ``BLOCKCHANNEL`` parameters (as IPAWS uses them).

    A value names a channel instance directly, or an alias from the config
    (``CMAS`` -> the cell broadcast instances); comparison ignores case.
    """
    folded = {key.lower(): [name.lower() for name in names] for key, names in aliases.items()}
    blocked: set[str] = set()
    for info in alert.infos:
        for parameter in info.parameters:
            if parameter.value_name == BLOCKCHANNEL:
                value = parameter.value.strip().lower()
                blocked.add(value)
                blocked.update(folded.get(value, ()))
    return blocked


class Router:
    """A compiled route tree. Build once from validated config; decide per alert."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config  # as loaded: the metrics' route x channel label set comes from it
        regions = {name: region_geometry(region) for name, region in config.regions.items()}
        self._roots = [_compile(route, regions, ()) for route in config.routes]
        self._default = tuple(config.default)
        self._aliases = config.block_aliases

    def decide(self, alert: Alert) -> Decision:
        decision = Decision()
        for node in self._roots:
            if self._visit(node, alert, decision, depth=0):
                break
        if not decision.targets:
            decision.trace.append(Step(DEFAULT_ROUTE_ID, 0, True, "no route matched"))
            for channel in self._default:
                self._add(decision, Target(channel, DEFAULT_ROUTE_ID))
        self._veto(decision, blocked_channels(alert, self._aliases))
        return decision

    def _visit(self, node: _Node, alert: Alert, decision: Decision, depth: int) -> bool:
        """Depth-first; returns True when a matching route says stop."""
        matched, reason = node.match.verdict(alert) if node.match else (True, "no conditions")
        decision.trace.append(Step(node.route.id, depth, matched, reason))
        if not matched:
            return False
        for channel in node.route.channels:
            self._add(decision, Target(channel, node.route.id, node.fallback))
        for child in node.children:
            if self._visit(child, alert, decision, depth + 1):
                return True
        return node.route.stop

    @staticmethod
    def _add(decision: Decision, target: Target) -> None:
        if target.channel not in decision.channels:
            decision.targets.append(target)

    @staticmethod
    def _veto(decision: Decision, blocked: set[str]) -> None:
        if not blocked:
            return
        kept = []
        for target in decision.targets:
            if target.channel.lower() in blocked:
                decision.vetoed[target.channel] = "the alert's BLOCKCHANNEL parameter"
                continue
            fallback = tuple(c for c in target.fallback if c.lower() not in blocked)
            kept.append(Target(target.channel, target.route, fallback))
        decision.targets = kept
