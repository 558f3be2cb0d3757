"""Configuration of a cell broadcast channel instance and of its deployment.

Stage: the adapter's configuration (pydantic, ``extra="forbid"``). The channel
entry in ``tocsin.yaml`` names the CBC and, optionally, a deployment file
(``config/cell_broadcast.yaml`` is the Dutch one); without a file the
deployment defaults below apply, and they are the NL-Alert defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.cell_broadcast.serial import GeoScope


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentifierRule(_Strict):
    """One row of the Message Identifier table; an absent field matches anything."""

    id: int = Field(ge=0, le=65535)
    severity: tuple[str, ...] = ()
    urgency: tuple[str, ...] = ()
    certainty: tuple[str, ...] = ()
    parameter: dict[str, str] = Field(default_factory=dict)
    """CAP ``<parameter>`` valueName -> value that must all be present."""


class Identifiers(_Strict):
    scheme: Literal["rules", "cmas"] = "rules"
    """``rules``: the first matching row of ``rules``; ``cmas``: the 3GPP severity /
    urgency / certainty matrix (4371-4378), then ``rules`` for what it leaves out."""
    test: int | None = Field(default=4380, ge=0, le=65535)
    exercise: int | None = Field(default=4381, ge=0, le=65535)
    rules: tuple[IdentifierRule, ...] = (
        IdentifierRule(id=4370, parameter={"EU-Alert-Level": "1"}),
        IdentifierRule(id=4372, severity=("Extreme",)),
        IdentifierRule(id=4371),
    )


class Languages(_Strict):
    mode: Literal["bilingual", "separate", "single"] = "bilingual"
    """``bilingual``: one message, primary text then the secondary part (NL-Alert);
    ``separate``: the secondary language on the additional-language identifier
    (+13); ``single``: the primary language only."""
    primary: str = "nl"
    secondary: str | None = "en"
    separator: str = "\n\n"
    secondary_share: float = Field(default=1 / 3, gt=0, lt=1)
    """The part of the budget the secondary language is sure to get (bilingual)."""


class Repetition(_Strict):
    period: int = Field(default=60, ge=0, le=4095)
    """Sent to the CBC as-is: seconds on SBc-AP, 1.883 s units on CBSP (osmo-cbc
    passes one integer to both)."""
    period_unit_s: float = Field(default=1.0, gt=0)
    """Seconds one period unit lasts, to count broadcasts up to ``<expires>``."""
    broadcasts: int = Field(default=0, ge=0, le=65535)
    """Broadcasts when the alert has no ``<expires>`` (0: until cancelled)."""
    category: Literal["normal", "high_priority", "background"] = "high_priority"


class Deployment(_Strict):
    identifiers: Identifiers = Identifiers()
    languages: Languages = Languages()
    repetition: Repetition = Repetition()
    geo_scope: Literal["cell_wide_immediate", "plmn_wide", "lac_sac_tac_wide",
                       "cell_wide"] = "plmn_wide"
    max_pages: int = Field(default=15, ge=1, le=15)
    cell_lists: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """CAP geocode ``valueName=value`` -> the operator's cells for it (kept with the
    message for a CBC that targets cells; osmo-cbc broadcasts PLMN-wide)."""
    code_reuse_hours: float = Field(default=48, ge=0)
    """A message code is not given to another alert on the same identifier for this
    long (handsets would take the new alert for a repeat of the old)."""

    @property
    def scope(self) -> GeoScope:
        return GeoScope.from_ecbe(self.geo_scope)


class CellBroadcastConfig(_Strict):
    url: str = Field(pattern=r"^https?://")
    """The CBC's base URL (osmo-cbc: ``http://127.0.0.1:12345``)."""
    timeout_s: float = Field(default=25.0, gt=0, le=120)
    """osmo-cbc holds a request up to 15 s waiting for its peers: keep this >= 20."""
    cbe_name: str = "tocsin"
    state_file: str | None = None
    """The ledger of messages this channel has on the CBC (kept across restarts);
    without it the ledger lives in memory only."""
    deployment: str | None = None
    """A deployment YAML file (``config/cell_broadcast.yaml``)."""
    transport: Literal["ecbe"] = "ecbe"

    @model_validator(mode="after")
    def _deployment_readable(self) -> CellBroadcastConfig:
        if self.deployment is not None:
            load_deployment(self.deployment)
        return self


def load_deployment(path: str | None) -> Deployment:
    if path is None:
        return Deployment()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"deployment file {path}: {exc.strerror or exc}") from exc
    return Deployment.model_validate(data or {})
