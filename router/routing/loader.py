"""Load ``routes.yaml``: every problem reported at once, each with its line and path.

Stage: the pure middle (routing); reading the file at start-up is its only I/O.
Structural errors come from the pydantic models; cross-references (regions,
channel names, unique route ids) are checked here against the channel
instances the deployment actually configured.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.routing.config import Route, RoutingConfig


class RoutingConfigError(ValueError):
    """``problems`` lists every problem as ``file:line: path: reason``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid routing rules:\n  " + "\n  ".join(problems))
        self.problems = problems


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int:
    """Follow a pydantic error location through the YAML node tree to a 1-based line."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _walk(routes: list[Route], path: str) -> Iterator[tuple[str, Route]]:
    for index, route in enumerate(routes):
        here = f"{path}.{index}"
        yield here, route
        yield from _walk(route.routes, f"{here}.routes")


def _references(config: RoutingConfig, channels: Collection[str] | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for path, route in _walk(config.routes, "routes"):
        if route.id in seen:
            problems.append((f"{path}.id", f"id {route.id!r} is used at {seen[route.id]} too"))
        seen.setdefault(route.id, path)
        for name in (route.match.area_intersects or []) if route.match else []:
            if name not in config.regions:
                problems.append((f"{path}.match.area_intersects",
                                 f"unknown region {name!r} (defined: {sorted(config.regions)})"))
        if channels is not None:
            for key, names in (("channels", route.channels), ("fallback", route.fallback or [])):
                problems += [(f"{path}.{key}", f"unknown channel {name!r}")
                             for name in names if name not in channels]
    if channels is not None:
        problems += [("default", f"unknown channel {name!r}")
                     for name in config.default if name not in channels]
    return problems


def parse_routing(text: str, source: str,
                  channels: Collection[str] | None = None) -> RoutingConfig:
    """Validate routing YAML; ``channels`` (if given) are the configured channel instances."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutingConfigError([f"{source}: not valid YAML: {exc}"]) from exc
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as exc:
        raise RoutingConfigError([
            f"{source}:{_line_of(root, tuple(err['loc']))}: "
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]) from exc
    problems = _references(config, channels)
    if problems:
        raise RoutingConfigError([f"{source}:{_line_of(root, tuple(_loc(path)))}: {path}: {why}"
                                  for path, why in problems])
    return config


def _loc(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in path.split(".")]


def load_routing(path: Path, channels: Collection[str] | None = None) -> RoutingConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RoutingConfigError([f"{path}: cannot be read: {exc.strerror}"]) from exc
    return parse_routing(text, str(path), channels)
