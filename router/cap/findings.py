"""Findings: the one way Tocsin reports what is wrong (or doubtful) about an input.

Stage: the pure core. A finding is data, not an exception: parsing, validation
and profiles all return lists of findings so that every problem is reported at
once, in a form an operator's tooling can read (``code``) and a person can act
on (``message``), pointing at the element (``location``, an XPath-like path with
1-based indices such as ``/alert/info[2]/area[1]/polygon[1]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class FindingSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: FindingSeverity
    location: str
    message: str


def error(code: str, location: str, message: str) -> Finding:
    return Finding(code=code, severity=FindingSeverity.ERROR, location=location, message=message)


def warning(code: str, location: str, message: str) -> Finding:
    return Finding(code=code, severity=FindingSeverity.WARNING, location=location, message=message)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is FindingSeverity.ERROR for f in findings)
