"""The one place entry points are loaded: channel adapters from ``tocsin.channels``,
sandbox network elements for demo mode from ``tocsin.demo_elements``.

Stage: composition (used by the app and the CLI). A third party adds a channel
by shipping a package that declares, in its ``pyproject.toml``::

    [project.entry-points."tocsin.channels"]
    pager = "acme_pager:PagerChannel"

where ``PagerChannel(name, config)`` satisfies ``router.channel.Channel``; a mock
element for it goes in ``tocsin.demo_elements`` (an object satisfying
``router.demo.DemoElement``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, cast

from router.channel import Channel, ChannelFactory
from router.demo import DemoElement
from router.errors import ConfigurationError

GROUP = "tocsin.channels"
DEMO_GROUP = "tocsin.demo_elements"


def channel_types() -> dict[str, ChannelFactory]:
    """Every registered adapter type, by entry-point name."""
    return {ep.name: cast(ChannelFactory, ep.load()) for ep in entry_points(group=GROUP)}


def build_channels(instances: Mapping[str, Mapping[str, Any]]) -> dict[str, Channel]:
    """Build channel instances from configuration ``{instance: {type: ..., ...}}``.

    Every problem (unknown type, bad configuration) is collected and raised at
    once, with the instance name, before anything starts.
    """
    types = channel_types()
    channels: dict[str, Channel] = {}
    problems: list[str] = []
    for name, config in instances.items():
        kind = str(config.get("type", name))
        factory = types.get(kind)
        if factory is None:
            problems.append(f"channels.{name}: unknown type {kind!r} "
                            f"(registered: {', '.join(sorted(types))})")
            continue
        options = {key: value for key, value in config.items() if key != "type"}
        try:
            channels[name] = factory(name, options)
        except (ValueError, TypeError) as exc:
            problems.append(f"channels.{name}: {exc}")
        except OSError as exc:  # a key or table file it names cannot be read
            where = f" {exc.filename}" if exc.filename else ""
            problems.append(f"channels.{name}: cannot read{where}: {exc.strerror or exc}")
    if problems:
        raise ConfigurationError(problems)
    return channels


def demo_elements() -> tuple[DemoElement, ...]:
    """Every registered sandbox element, in entry-point name order (the order
    ``tocsin mock-channels`` counts ports up in).

    Raises ``ConfigurationError`` naming the group when none is registered (the
    package's metadata not installed: ``pip install -e .``), and naming each entry
    point that does not load or is not a ``DemoElement``: demo mode promises every
    channel delivering, so it does not start with part of its network missing.
    """
    elements: list[DemoElement] = []
    problems: list[str] = []
    for ep in sorted(entry_points(group=DEMO_GROUP), key=lambda ep: ep.name):
        try:
            loaded = ep.load()
        except (ImportError, AttributeError) as exc:
            problems.append(f"{DEMO_GROUP}.{ep.name}: {ep.value} does not load: {exc}")
            continue
        if not isinstance(loaded, DemoElement):
            problems.append(f"{DEMO_GROUP}.{ep.name}: {ep.value} is not a demo element "
                            "(router.demo.DemoElement)")
            continue
        elements.append(loaded)
    if not elements and not problems:
        problems.append(f"demo mode: no mock network elements are registered in the "
                        f"entry-point group {DEMO_GROUP!r}; install Tocsin with its "
                        "metadata (`pip install -e .`) or run without --demo")
    if problems:
        raise ConfigurationError(problems)
    return tuple(elements)
