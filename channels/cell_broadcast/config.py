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
    pools: dict[int, tuple[int, ...]] = Field(default_factory=lambda: dict(NL_POOLS))
    """The identifier the table picks -> every identifier handsets in this country
    show the same way (same title, tone and opt-out), in the order to use them. A CBC
    that holds one message per identifier needs a free one for each simultaneous
    alert of the class; a single member means the country's handsets enable only
    that one (Dutch handsets: shared/specs/cell-broadcast.md §2.2). Every identifier
    the table can pick must have an entry, so a one-member pool is written down."""

    def pickable(self) -> set[int]:
        """Every identifier this table can pick for some alert."""
        ids = {rule.id for rule in self.rules}
        ids |= {i for i in (self.test, self.exercise) if i is not None}
        if self.scheme == "cmas":
            ids |= set(range(4371, 4379))
        return ids

    @model_validator(mode="after")
    def _every_identifier_has_a_pool(self) -> Identifiers:
        missing = sorted(self.pickable() - set(self.pools))
        if missing:
            raise ValueError(
                f"identifiers.pools has no entry for {missing}: list, for each, the "
                "identifiers handsets in this country show the same way (just itself "
                "when they enable only that one)")
        for head, members in self.pools.items():
            if not members or len(set(members)) != len(members):
                raise ValueError(f"identifiers.pools[{head}] must list distinct identifiers")
            if any(not 0 <= m <= 65535 for m in members):
                raise ValueError(f"identifiers.pools[{head}] has an identifier outside 0..65535")
        return self


NL_POOLS: dict[int, tuple[int, ...]] = {4370: (4370,), 4371: (4371,), 4372: (4372,),
                                        4380: (4380,), 4381: (4381,)}
"""Dutch handsets enable one identifier per level (shared/specs/cell-broadcast.md §2.2)."""


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


PERIOD_UNIT_S = {"cbsp": 1.883, "sbc_ap": 1.0}
"""Seconds one ``repetition_period`` unit lasts at the CBC's peers: CBSP (2G, to a
BSC) counts 1.883 s units, SBc-AP (4G/5G, to an MME/AMF) seconds. osmo-cbc passes the
same integer to both (shared/specs/cell-broadcast.md §4, §8.x)."""


class Repetition(_Strict):
    peer: Literal["cbsp", "sbc_ap"] = "sbc_ap"
    """What the CBC's peers speak, which decides the unit of the period it sends on:
    ``cbsp`` (2G BSCs, 1.883 s units) or ``sbc_ap`` (4G/5G MMEs/AMFs, seconds). A CBC
    with peers of both kinds reads one integer both ways: pick the one whose
    broadcasts must not end early (the channel kills at expiry either way)."""
    period_s: float = Field(default=60, ge=0, le=4095 * 1.883)
    """Seconds between two broadcasts of a message (0: broadcast once)."""
    broadcasts: int = Field(default=0, ge=0, le=65535)
    """Broadcasts when the alert has no ``<expires>`` (0: until cancelled)."""
    category: Literal["normal", "high_priority", "background"] = "high_priority"

    @property
    def unit_s(self) -> float:
        return PERIOD_UNIT_S[self.peer]

    @property
    def period(self) -> int:
        """The ``repetition_period`` sent to the CBC, in its peers' unit (1..4095,
        or 0 for a single broadcast)."""
        if self.period_s == 0:
            return 0
        return min(4095, max(1, round(self.period_s / self.unit_s)))

    @property
    def real_period_s(self) -> float:
        """The period the handsets see, after rounding to whole units."""
        return self.period * self.unit_s


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
    """The channel used on its own (no Tocsin store): the file of its ledger (kept
    across restarts); without it the ledger lives in memory only. Under ``tocsin
    serve`` the ledger lives in the store's channel state, shared by every node; an
    existing file is imported into it once and renamed ``<file>.imported``."""
    deployment: str | None = None
    """A deployment YAML file (``config/cell_broadcast.yaml``)."""
    transport: Literal["ecbe"] = "ecbe"
    keys_messages_by: Literal["identifier", "identifier_and_serial"] = "identifier"
    """How the CBC tells messages apart. osmo-cbc: by ``identifier`` alone (one message
    per identifier, so simultaneous alerts of a class need the identifier pools); a CBC
    keyed by ``identifier_and_serial`` holds several per identifier and needs no pool."""
    sweep_interval_s: float = Field(default=5.0, gt=0, le=3600)
    """How often the channel looks for broadcasts past their alert's expiry to kill
    (also once at start, so a restart kills what fell due while it was down)."""

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
