"""Configuration of a ``galileo_ewss`` channel instance and its mapping tables.

Stage: channel adapter configuration. The instance options live in the settings
file under ``channels:``; the tables that turn CAP into CAMF codes (which event is
which hazard, which sender is which provider, what guidance each hazard gets) are
data in a YAML file of their own (default ``config/galileo_ewss/tables.yaml``),
validated whole when the channel is built so a bad table stops the service at
start-up instead of mis-coding a warning later.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from channels.galileo_ewss.tables import GUIDANCE_B_RESERVED

HazardCode = Annotated[int, Field(ge=1, le=113)]
GuidanceCode = Annotated[int, Field(ge=0, le=31)]

INTERNATIONAL_LIBRARY_VERSION = 1
"""A10 for the international guidance library. UNVERIFIED: the research note found
no source saying which version number CAMF v1.0's library carries; override it with
``library_version`` in the tables once EUSPA confirms it."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Guidance(_Strict):
    """International library codes: ``a`` from List A, ``b`` from List B (0 = none)."""

    a: GuidanceCode = 0
    b: GuidanceCode = 0

    @field_validator("b")
    @classmethod
    def _not_reserved(cls, value: int) -> int:
        if value in GUIDANCE_B_RESERVED:
            raise ValueError(f"List B code {value} is reserved")
        return value


class Tables(_Strict):
    """The CAP -> CAMF mapping tables (``config/galileo_ewss/tables.yaml``)."""

    country: int = Field(default=150, ge=0, le=511, description="A2 (Netherlands = 150)")
    library_version: int = Field(default=INTERNATIONAL_LIBRARY_VERSION, ge=0, le=7)
    cancel_as_all_clear: bool = Field(
        default=False, description="send a CAP Cancel as a CAMF All Clear (semantic gap: a "
        "Cancel retracts a message, an All Clear says the threat is over)")
    refine_ellipse: bool = Field(default=True, description="use A17 = B1 to tighten the ellipse")
    overwarning_warn_ratio: float = Field(default=4.0, gt=1)
    providers: dict[str, int] = Field(default_factory=dict,
                                      description="CAP sender glob -> A3 provider id (0-31)")
    hazard_value_name: str | None = Field(
        default="CAMF", description="an <eventCode> with this valueName gives A4 directly")
    event_codes: dict[str, dict[str, HazardCode]] = Field(
        default_factory=dict, description="<eventCode> valueName -> value -> A4")
    events: dict[str, HazardCode] = Field(
        default_factory=dict, description="<event> text (case-insensitive) -> A4")
    default_guidance: Guidance = Guidance(a=1, b=7)
    guidance: dict[HazardCode, Guidance] = Field(default_factory=dict)

    @field_validator("providers")
    @classmethod
    def _provider_ids(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [f"{glob}: {pid}" for glob, pid in value.items() if not 0 <= pid <= 31]
        if bad:
            raise ValueError(f"provider ids are 5 bits (0-31): {', '.join(bad)}")
        return value

    @field_validator("events")
    @classmethod
    def _fold(cls, value: dict[str, int]) -> dict[str, int]:
        return {event.strip().casefold(): code for event, code in value.items()}

    def provider(self, sender: str) -> int | None:
        """A3 for a CAP sender: the first glob in file order that matches."""
        return next((pid for glob, pid in self.providers.items()
                     if fnmatchcase(sender.casefold(), glob.casefold())), None)

    def guidance_for(self, hazard: int) -> Guidance:
        return self.guidance.get(hazard, self.default_guidance)


def load_tables(path: Path) -> Tables:
    """Read and validate the tables; ``ValueError`` naming the file and every problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    try:
        return Tables.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from exc


class EwssConfig(_Strict):
    """Options of a ``galileo_ewss`` channel instance."""

    url: str = Field(pattern=r"^https?://", description="base URL of the uplink")
    tables_file: Path = Path("config/galileo_ewss/tables.yaml")
    encoding: Literal["hex", "base64"] = "hex"
    timeout_s: float = Field(default=5.0, gt=0, le=120)
