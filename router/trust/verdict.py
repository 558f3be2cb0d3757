"""What the signature check decided about one alert.

Stage: trust. Four states, as the status API shows them:

- ``verified``: the signature verifies, its certificate leads to the trust store
  (or is pinned there) and was valid at the judging time, and it may sign for
  the alert's sender;
- ``unsigned``: the alert carries no ``<Signature>``;
- ``invalid``: the signature does not verify, or does not cover exactly the whole
  alert with the transforms and references Tocsin accepts — always an error;
- ``untrusted``: the signature may be sound but nothing vouches for its key
  (unknown CA, no certificate, expired at ``<sent>``, refused algorithm, ...).

``problem`` carries the finding code and message for anything but ``verified``
and ``unsigned``; the profile's ``signature:`` setting decides its severity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from lxml import etree

TimeMode = Literal["valid-at-sent", "valid-now"]


class SignatureState(StrEnum):
    VERIFIED = "verified"
    UNSIGNED = "unsigned"
    INVALID = "invalid"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    location: str = "/alert/Signature"


@dataclass(frozen=True)
class SignatureVerdict:
    state: SignatureState
    checked_at: datetime
    """When the check ran (receipt)."""
    mode: TimeMode
    judged_at: datetime | None = None
    """The instant certificates were judged at: ``<sent>``, or receipt in ``valid-now``."""
    signer: str | None = None
    """The signing certificate's subject (RFC 4514)."""
    certificate_sha256: str | None = None
    problem: Problem | None = None
    signed_tree: etree._Element | None = None
    """The content the signature covers, as the verifier returned it (no ``<Signature>``)."""

    def to_json(self) -> dict[str, str | None]:
        return {
            "state": self.state.value, "signer": self.signer,
            "certificate_sha256": self.certificate_sha256,
            "checked_at": self.checked_at.isoformat(), "mode": self.mode,
            "judged_at": self.judged_at.isoformat() if self.judged_at else None,
            "reason": self.problem.code if self.problem else None,
        }
