"""Authority policy: may this authority say this, about this, there, on these channels?

Stage: trust (pure). ``compile_policies`` turns the settings' authorities into
``AuthorityPolicy`` objects once, at start-up (reading and preparing area files), and
reports every problem of every authority together; ``AuthorityPolicy.check`` is then
a pure function of the parsed alert returning one ``authz.*`` finding per violated
rule, so the ingest stage answers 403 with all of them at once.

Findings and messages name the rule and the alert's element, never another
authority or this authority's own configuration (sender patterns, polygons): a
rejected caller learns what to change in its alert, not how others are set up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase, translate

from router.cap import Finding
from router.cap.findings import error
from router.cap.model import Alert, Category, Info, MsgType, Severity, Status
from router.settings import Authority
from router.trust.area import AreaCheck, AreaPolicyError, load_area

SEVERITY_RANK = {Severity.UNKNOWN: 0, Severity.MINOR: 1, Severity.MODERATE: 2,
                 Severity.SEVERE: 3, Severity.EXTREME: 4}


class PolicyConfigError(ValueError):
    """Every problem found in the authorities' policies, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AuthorityPolicy:
    name: str
    senders: tuple[str, ...]
    profile: str | None = None
    statuses: frozenset[Status] | None = None
    msg_types: frozenset[MsgType] | None = None
    events: re.Pattern[str] | None = None
    """The ``<event>`` globs as one compiled pattern (lower case)."""
    event_codes: dict[str, re.Pattern[str]] | None = None
    categories: frozenset[Category] | None = None
    max_severity: Severity | None = None
    area: AreaCheck | None = None
    channels: frozenset[str] | None = None
    supervises: frozenset[str] = frozenset()
    read_all: bool = False
    forward_unknown_references: bool = False

    def sender_allowed(self, sender: str) -> bool:
        return any(fnmatchcase(sender, pattern) for pattern in self.senders)

    def may_reference(self, authority: str) -> bool:
        """Its own alerts and those of the authorities it supervises."""
        return authority == self.name or authority in self.supervises

    def may_read(self, authority: str) -> bool:
        return self.read_all or self.may_reference(authority)

    def check(self, alert: Alert) -> list[Finding]:
        """One finding per violated rule (status, msgType, event, severity, area)."""
        findings: list[Finding] = []
        if self.statuses is not None and alert.status not in self.statuses:
            findings.append(error("authz.status", "/alert/status",
                                  f"this authority may not issue {alert.status.value} alerts"))
        if self.msg_types is not None and alert.msg_type not in self.msg_types:
            findings.append(error("authz.msg-type", "/alert/msgType",
                                  f"this authority may not issue {alert.msg_type.value} "
                                  "messages"))
        findings += _first("authz.event", self._event_violations(alert.infos))
        findings += _first("authz.severity", self._severity_violations(alert.infos))
        if self.area is not None:
            findings += _first("authz.area", self.area.violations(alert))
        return findings

    def _event_violations(self, infos: Sequence[Info]) -> list[tuple[str, str]]:
        found = []
        for i, info in enumerate(infos, start=1):
            if self.categories is not None and not set(info.categories) <= self.categories:
                found.append((f"/alert/info[{i}]/category",
                              "this authority may not warn in category "
                              + ", ".join(sorted(c.value for c in info.categories
                                                 if c not in self.categories))))
            elif not self._event_allowed(info):
                found.append((f"/alert/info[{i}]/event",
                              f"this authority may not warn about {info.event!r}"))
        return found

    def _event_allowed(self, info: Info) -> bool:
        if self.events is None and self.event_codes is None:
            return True
        if self.events is not None and self.events.match(info.event.lower()):
            return True
        return self.event_codes is not None and any(
            (pattern := self.event_codes.get(code.value_name)) is not None
            and pattern.match(code.value) for code in info.event_codes)

    def _severity_violations(self, infos: Sequence[Info]) -> list[tuple[str, str]]:
        if self.max_severity is None:
            return []
        highest = SEVERITY_RANK[self.max_severity]
        return [(f"/alert/info[{i}]/severity",
                 f"{info.severity.value} is above the highest severity this authority "
                 f"may use ({self.max_severity.value})")
                for i, info in enumerate(infos, start=1)
                if SEVERITY_RANK[info.severity] > highest]

    def split_channels(self, channels: Iterable[str]) -> tuple[list[str], list[str]]:
        """(allowed, forbidden) of the channel instances routing chose."""
        allowed: list[str] = []
        forbidden: list[str] = []
        for name in channels:
            (allowed if self.channels is None or name in self.channels else forbidden
             ).append(name)
        return allowed, forbidden


def _first(code: str, violations: list[tuple[str, str]]) -> list[Finding]:
    """One finding for a rule: at its first violation, counting the others."""
    if not violations:
        return []
    location, message = violations[0]
    more = len(violations) - 1
    return [error(code, location, message + (f" (and {more} more)" if more else ""))]


def _globs(patterns: Iterable[str]) -> re.Pattern[str]:
    """fnmatch globs as one pattern: one ``match`` per value instead of one per glob."""
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns) or "(?!)")


def compile_policy(authority: Authority) -> AuthorityPolicy:
    """One authority's policy; AreaPolicyError when its area file is unusable."""
    return AuthorityPolicy(
        name=authority.name, senders=tuple(authority.senders), profile=authority.profile,
        statuses=None if authority.status is None else frozenset(authority.status),
        msg_types=None if authority.msg_types is None else frozenset(authority.msg_types),
        events=None if authority.events is None else _globs(e.lower() for e in authority.events),
        event_codes=None if authority.event_codes is None else {
            name: _globs(values) for name, values in authority.event_codes.items()},
        categories=None if authority.categories is None else frozenset(authority.categories),
        max_severity=authority.max_severity,
        area=None if authority.area is None else load_area(authority.area),
        channels=None if authority.channels is None else frozenset(authority.channels),
        supervises=frozenset(authority.supervises), read_all=authority.read == "all",
        forward_unknown_references=authority.forward_unknown_references)


def compile_policies(authorities: Iterable[Authority],
                     channel_names: set[str]) -> dict[str, AuthorityPolicy]:
    """Every authority's policy; PolicyConfigError lists every problem found."""
    authorities = list(authorities)
    names = {a.name for a in authorities}
    problems: list[str] = []
    policies: dict[str, AuthorityPolicy] = {}
    for authority in authorities:
        where = f"authorities[{authority.name}]"
        if authority.name in policies:
            problems.append(f"{where}: the name is used twice")
        problems += [f"{where}.channels: {name!r} is not a configured channel instance"
                     for name in sorted(set(authority.channels or ()) - channel_names)]
        problems += [f"{where}.supervises: no authority is named {name!r}"
                     for name in sorted(set(authority.supervises) - names)]
        try:
            policies[authority.name] = compile_policy(authority)
        except AreaPolicyError as exc:
            problems.append(f"{where}.area.polygons_file: {exc}")
    if problems:
        raise PolicyConfigError(problems)
    return policies
