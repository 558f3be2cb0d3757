"""Load ``config/accessibility/``: three YAML files into one ``AccessibilityConfig``.

Stage: assets (configuration I/O at start-up). Every problem in every file is
reported at once, each with its file and path, like the routing loader does.

- ``accessibility.yaml``: languages, missing-language policy, drop order,
  readability thresholds, cadences, icons, speech;
- ``abbreviations.yaml``: ``labels_allowed_in_caps``, ``abbreviations``, ``symbols``;
- ``instructions.yaml``: the template library (``labels``, ``hazards``, ``guidance``,
  ``notices``, ``status_markers``);
- ``gsm7-substitutions.yaml``: per language, the opt-in table of letters replaced so
  that a text fits the GSM 7-bit alphabet (``gsm7_substitutions``).

A missing directory or file is not an error: its part of the configuration keeps
its defaults (NL: ``nl`` and ``en`` required, a missing one warns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from router.render.config import AccessibilityConfig

DEFAULT_DIR = Path("config/accessibility")
_FILES = ("accessibility.yaml", "abbreviations.yaml", "instructions.yaml",
          "gsm7-substitutions.yaml")


class AccessibilityConfigError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid accessibility configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


def _read(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: {exc}")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping at the top level")
        return {}
    return data


def load_accessibility(directory: Path = DEFAULT_DIR) -> AccessibilityConfig:
    problems: list[str] = []
    main, words, library, substitutions = (_read(directory / name, problems)
                                           for name in _FILES)
    merged = {**main, **words}
    if substitutions:
        merged["gsm7_substitutions"] = substitutions
    if library:
        merged["templates"] = library
    try:
        config = AccessibilityConfig.model_validate(merged)
    except ValidationError as exc:
        for item in exc.errors():
            where = ".".join(str(part) for part in item["loc"])
            problems.append(f"{directory}: {where}: {item['msg']}")
        raise AccessibilityConfigError(problems) from exc
    if problems:
        raise AccessibilityConfigError(problems)
    return config
