"""Load validation profiles from YAML files and resolve ``extends``.

Stage: the pure middle (profiles); reading the profile files at start-up is its
only I/O. Every problem in every file is collected and reported together, each
with the file and the path inside it, so an operator fixes them in one pass.
Built-in profiles ship in the ``cap_profiles`` package; deployments add
directories of their own (``TOCSIN_PROFILE_DIRS``). A profile name must match
its file name, and may be defined only once across all directories.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from router.profiles.checks import CompiledRule, RuleError, compile_rule
from router.profiles.model import ProfileSpec, SignatureLegacy, SignatureMode


class ProfileConfigError(ValueError):
    """One or more profile files are invalid; ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid validation profiles:\n  " + "\n  ".join(problems))
        self.problems = problems


def builtin_profile_dir() -> Path:
    return Path(str(resources.files("cap_profiles")))


def _profile_files(directories: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for directory in directories:
        files += sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    return files


def _read(path: Path, problems: list[str]) -> ProfileSpec | None:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = ProfileSpec.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path}: cannot be read: {exc}")
        return None
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(part) for part in err["loc"]) or "(top level)"
            problems.append(f"{path}: {where}: {err['msg']}")
        return None
    if spec.name != path.stem:
        problems.append(f"{path}: name: {spec.name!r} must match the file name {path.stem!r}")
        return None
    return spec


def read_specs(directories: Sequence[Path]) -> tuple[dict[str, ProfileSpec], dict[str, Path]]:
    problems: list[str] = []
    specs: dict[str, ProfileSpec] = {}
    origins: dict[str, Path] = {}
    for path in _profile_files(directories):
        spec = _read(path, problems)
        if spec is None:
            continue
        if spec.name in specs:
            problems.append(f"{path}: name: profile {spec.name!r} is already defined in "
                            f"{origins[spec.name]}")
            continue
        specs[spec.name] = spec
        origins[spec.name] = path
    if problems:
        raise ProfileConfigError(problems)
    return specs, origins


def _chain(name: str, specs: dict[str, ProfileSpec]) -> list[ProfileSpec]:
    """The profile and its ancestors, root first; raises on cycles or unknown parents."""
    chain: list[ProfileSpec] = []
    current: str | None = name
    while current is not None:
        if current not in specs:
            raise RuleError(f"extends: unknown profile {current!r}")
        if any(spec.name == current for spec in chain):
            raise RuleError(f"extends: cycle through {current!r}")
        chain.append(specs[current])
        current = specs[current].extends
    return list(reversed(chain))


def signature_settings(name: str, specs: dict[str, ProfileSpec]
                       ) -> tuple[SignatureMode, SignatureLegacy]:
    """The nearest ``signature:`` and ``signature_legacy:`` up the ``extends`` chain."""
    mode: SignatureMode = "ignore"
    legacy = SignatureLegacy()
    for spec in _chain(name, specs):
        mode = spec.signature or mode
        legacy = spec.signature_legacy or legacy
    return mode, legacy


def compile_profile(name: str, specs: dict[str, ProfileSpec]) -> list[CompiledRule]:
    """Inherited rules first; a child's rule with a parent's id replaces it in place."""
    rules: dict[str, CompiledRule] = {}
    for spec in _chain(name, specs):
        for rule_id in spec.disable:
            if rules.pop(rule_id, None) is None:
                raise RuleError(f"disable: no inherited rule {rule_id!r}")
        for index, rule in enumerate(spec.rules):
            if rule.id in (r.id for r in spec.rules[:index]):
                raise RuleError(f"rules.{index}: duplicate rule id {rule.id!r}")
            try:
                rules[rule.id] = compile_rule(spec.name, rule)
            except RuleError as exc:
                raise RuleError(f"rules.{index} ({rule.id}): {exc}") from exc
    return list(rules.values())
