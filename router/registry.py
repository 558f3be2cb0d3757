"""The one place entry points are loaded: channel adapters from ``tocsin.channels``.

Stage: composition (used by the app and the CLI). A third party adds a channel
by shipping a package that declares, in its ``pyproject.toml``::

    [project.entry-points."tocsin.channels"]
    pager = "acme_pager:PagerChannel"

where ``PagerChannel(name, config)`` satisfies ``router.channel.Channel``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, cast

from router.channel import Channel, ChannelFactory
from router.errors import ConfigurationError

GROUP = "tocsin.channels"


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
