"""Principals: who is calling (one API key), for which authority, with which roles.

Stage: trust (pure). A principal's ``id`` is what approvals and the audit trail
record, and what "a different principal" compares: a key from the settings file is
``<authority>/<name>`` (an unnamed ``key_hashes`` entry: ``<authority>/key-<first 8
hex digits of its hash>``); a key made with ``tocsin keys new --authority`` is
``<authority>/<its id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from router.settings import ROLES


class Role(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    CANCEL = "cancel"
    READ = "read"
    ADMIN = "admin"


assert {r.value for r in Role} == set(ROLES)  # noqa: S101  (the settings list is the same set)


class UnknownRoleError(ValueError):
    """A role name that is not one of ``Role``."""


def parse_roles(text: str | list[str]) -> frozenset[Role]:
    """``"submit,approve"`` (or a list) as roles; UnknownRoleError names the unknown ones."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    unknown = sorted(set(names) - set(ROLES))
    if unknown:
        raise UnknownRoleError(f"unknown roles {', '.join(unknown)}; roles are "
                               f"{', '.join(ROLES)}")
    return frozenset(Role(n) for n in names)


@dataclass(frozen=True)
class Principal:
    id: str
    authority: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return role in self.roles
