"""Validation profiles: CAP rules as data (``cap_profiles/*.yaml``), applied to alerts.

Stage: the pure middle, above ``router.cap``. ``load_profiles`` reads and
compiles every profile once at start-up (raising ``ProfileConfigError`` with
every problem); ``ProfileSet.validate`` is then a pure function of the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from router.cap import CapDocument, Finding, ParseOutcome, XmlLimits, parse_cap, read_tree
from router.profiles.checks import CompiledRule, RuleError
from router.profiles.loader import (
    ProfileConfigError,
    builtin_profile_dir,
    compile_profile,
    read_specs,
    signature_settings,
)
from router.profiles.model import ProfileSpec, SignatureLegacy, SignatureMode
from router.profiles.paths import Walk

DEFAULT_PROFILE = "cap12"

__all__ = [
    "DEFAULT_PROFILE",
    "Profile",
    "ProfileConfigError",
    "ProfileSet",
    "SignatureLegacy",
    "SignatureMode",
    "load_profiles",
]


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    source: Path
    rules: tuple[CompiledRule, ...]
    signature: SignatureMode = "ignore"
    signature_legacy: SignatureLegacy = field(default_factory=SignatureLegacy)

    def findings(self, document: CapDocument) -> list[Finding]:
        walk = Walk(document.alert)
        return [finding for rule in self.rules for finding in rule.findings(document, walk)]


class ProfileSet:
    """Every loaded profile, by name."""

    def __init__(self, profiles: dict[str, Profile]) -> None:
        self._profiles = profiles

    def names(self) -> list[str]:
        return sorted(self._profiles)

    def get(self, name: str) -> Profile:
        """The named profile; ``KeyError`` names the ones that exist."""
        try:
            return self._profiles[name]
        except KeyError:
            raise KeyError(f"unknown profile {name!r}; known: {', '.join(self.names())}") from None

    def validate(self, data: bytes, profile: str = DEFAULT_PROFILE,
                 limits: XmlLimits | None = None) -> ParseOutcome:
        """Parse, validate against CAP 1.2, then apply the profile (never raises but KeyError)."""
        chosen = self.get(profile)
        outcome = parse_cap(data, limits)
        if outcome.document is None:
            return outcome
        extra = chosen.findings(outcome.document)
        return ParseOutcome(outcome.document, outcome.findings + extra, outcome.readable)

    def validate_tree(self, root: etree._Element, profile: str, *,
                      signed: bool) -> ParseOutcome:
        """As ``validate``, for a tree already parsed (and, when signed, verified)."""
        chosen = self.get(profile)
        outcome = read_tree(root, signed=signed)
        if outcome.document is None:
            return outcome
        extra = chosen.findings(outcome.document)
        return ParseOutcome(outcome.document, outcome.findings + extra, outcome.readable)


def _compile_all(specs: dict[str, ProfileSpec], origins: dict[str, Path]) -> dict[str, Profile]:
    problems: list[str] = []
    profiles: dict[str, Profile] = {}
    for name, spec in specs.items():
        try:
            rules = compile_profile(name, specs)
        except RuleError as exc:
            problems.append(f"{origins[name]}: {exc}")
            continue
        mode, legacy = signature_settings(name, specs)
        profiles[name] = Profile(name, spec.title, origins[name], tuple(rules), mode, legacy)
    if problems:
        raise ProfileConfigError(problems)
    return profiles


def load_profiles(extra_dirs: Sequence[Path] = ()) -> ProfileSet:
    """Load the built-in profiles plus those in ``extra_dirs``; report every problem at once."""
    specs, origins = read_specs([builtin_profile_dir(), *extra_dirs])
    if DEFAULT_PROFILE not in specs:
        raise ProfileConfigError([f"the default profile {DEFAULT_PROFILE!r} is missing"])
    return ProfileSet(_compile_all(specs, origins))
