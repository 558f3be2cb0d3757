"""``tocsin check-config [--config FILE]``: the whole configuration checked at once.

Like ``amtool check-config``: the settings (file, ``TOCSIN_*`` environment), the
channel instances, the routes against those channels, the validation profiles, the
accessibility files, the authorities' policies and keys, and the trust store are
loaded exactly as ``tocsin serve`` loads them, without opening the store or the
network. Every problem is printed on its own line as ``FILE:LINE: what``, pointing
into the settings file for a setting, into ``routes.yaml`` for a route, and so on.

Exit status: 0 the service would start with this configuration; 1 it would not
(every problem listed).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

_CHANNEL = re.compile(r"^channels\.([^:]+): (.*)$", re.DOTALL)
_AUTHORITY = re.compile(r"^authorities\[([^\]]+)\]((?:\.\w+)*): (.*)$", re.DOTALL)
_SETTING = re.compile(r"^(?:settings: )?(\w+)(?:\[([^\]]+)\])?((?:\.\w+)*): (.*)$", re.DOTALL)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("check-config", help="check the whole configuration",
                                   description=__doc__)
    parser.add_argument("--config", type=Path, default=None,
                        help="settings file (default: TOCSIN_CONFIG, else defaults and "
                             "environment only)")
    parser.set_defaults(handler=run)


class SettingsLines:
    """Where each setting is in the settings file: a path of keys and list indices -> a
    1-based line, from the YAML node tree (so comments and flow style do not matter)."""

    def __init__(self, path: Path | None) -> None:
        import yaml  # noqa: PLC0415

        self.path = path
        self.root: yaml.Node | None = None
        if path is not None and path.is_file():
            try:
                self.root = yaml.compose(path.read_text(encoding="utf-8"),
                                         Loader=yaml.SafeLoader)
            except yaml.YAMLError:
                self.root = None  # reported by the settings loader, with its own line

    def line(self, *loc: Any) -> int | None:
        import yaml  # noqa: PLC0415

        node = self.root
        if node is None:
            return None
        line = None
        for key in loc:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if getattr(k, "value", None) == key),
                            None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) \
                    and key < len(node.value):
                node = node.value[key]
            else:
                return line
            if node is None:
                return line
            line = node.start_mark.line + 1
        return line

    def index_of(self, list_key: str, name: str) -> int | None:
        """The position of the ``name:`` entry in the list ``list_key`` (authorities)."""
        import yaml  # noqa: PLC0415

        if not isinstance(self.root, yaml.MappingNode):
            return None
        entries = next((v for k, v in self.root.value if k.value == list_key), None)
        if not isinstance(entries, yaml.SequenceNode):
            return None
        for index, entry in enumerate(entries.value):
            if isinstance(entry, yaml.MappingNode) and any(
                    k.value == "name" and getattr(v, "value", None) == name
                    for k, v in entry.value):
                return index
        return None

    def at(self, message: str, *loc: Any) -> str:
        """``FILE:LINE: message`` when the setting is in the file, else where it came
        from (the environment variable, or the default)."""
        line = self.line(*loc)
        if self.path is not None and line is not None:
            return f"{self.path}:{line}: {message}"
        top = str(loc[0]) if loc else ""
        variable = f"TOCSIN_{top.upper()}"
        source = f"environment {variable}" if variable in os.environ else "settings"
        return f"{source}: {message}"


def locate(problem: str, lines: SettingsLines) -> str:
    """A start-up problem pointed at the line of the settings file it concerns; problems
    about other files (routes, profiles) already name their file and line."""
    channel = _CHANNEL.match(problem)
    if channel is not None:
        return lines.at(f"channels.{channel.group(1)}: {channel.group(2)}",
                        "channels", channel.group(1))
    authority = _AUTHORITY.match(problem)
    if authority is not None:
        name, rest, why = authority.groups()
        index = lines.index_of("authorities", name)
        keys = [part for part in rest.split(".") if part]
        loc = ("authorities", index, *keys) if index is not None else ("authorities",)
        return lines.at(f"authorities[{name}]{rest}: {why}", *loc)
    setting = _SETTING.match(problem)
    if setting is not None and setting.group(1) in _settings_fields():
        key, _bracket, rest, why = setting.groups()
        return lines.at(f"{key}{rest}: {why}", key, *[p for p in rest.split(".") if p])
    return problem


def _settings_fields() -> set[str]:
    from router.settings import Settings  # noqa: PLC0415

    return set(Settings.model_fields)


def _settings_problems(error: Any, lines: SettingsLines) -> list[str]:
    """A pydantic ValidationError of the settings, one line per error."""
    found = []
    for item in error.errors():
        loc = tuple(item["loc"])
        where = ".".join(str(part) for part in loc) or "(top level)"
        found.append(lines.at(f"{where}: {item['msg']}", *loc))
    return found


def _yaml_problem(path: Path) -> str | None:
    import yaml  # noqa: PLC0415

    try:
        yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"{path}: cannot be read: {exc.strerror}"
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        return f"{path}{line}: not valid YAML: {exc.problem}"
    except yaml.YAMLError as exc:
        return f"{path}: not valid YAML: {exc}"
    return None


def problems_of(config: Path | None) -> list[str]:
    """Every problem of the configuration ``tocsin serve --config config`` would load."""
    from pydantic import ValidationError  # noqa: PLC0415

    from router.app import check_configuration  # noqa: PLC0415
    from router.settings import load_settings  # noqa: PLC0415

    path = config or (Path(os.environ["TOCSIN_CONFIG"]) if "TOCSIN_CONFIG" in os.environ
                      else None)
    if path is not None:
        if not path.is_file():
            return [f"{path}: does not exist"]
        problem = _yaml_problem(path)
        if problem is not None:
            return [problem]
    lines = SettingsLines(path)
    try:
        settings = load_settings(path)
    except ValidationError as exc:
        return _settings_problems(exc, lines)
    return [locate(problem, lines) for problem in check_configuration(settings)]


def run(args: argparse.Namespace) -> int:
    problems = problems_of(args.config)
    source = args.config or os.environ.get("TOCSIN_CONFIG") or "defaults and environment"
    if problems:
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the "
              f"configuration ({source}): tocsin serve would not start", file=sys.stderr)
        return 1
    print(f"configuration OK ({source})")
    return 0
