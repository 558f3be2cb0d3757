"""The routing configuration (``config/routes.yaml``) as validated data.

Stage: the pure middle (routing). A route tree in the manner of Prometheus
Alertmanager, with one deliberate difference: **fan-out is the default** — every
matching route adds its channels — and a route says ``stop: true`` to end
matching after itself. (Alertmanager's ``continue: false`` default silently
drops alerts for operators who expect fan-out; for public warning, a missed
channel is the worse failure.)

Matching is depth-first in file order. A route matches when every matcher in
its ``match`` holds (AND across keys, OR within a key's list); its children are
considered only when it matches. ``fallback`` is inherited by children that do
not set their own. Info-level matchers (category, event, severity, …) must all
hold for the *same* ``<info>`` block.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.cap.model import Category, Certainty, MsgType, Scope, Severity, Status, Urgency

ROUTE_ID = r"^[a-z0-9][a-z0-9_-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(_Strict):
    """A named area for ``area_intersects``: polygon vertices as [lat, lon] pairs, or a box."""

    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=4)
    bbox: tuple[float, float, float, float] | None = None  # min_lat, min_lon, max_lat, max_lon

    @model_validator(mode="after")
    def _one_shape(self) -> Self:
        if (self.polygon is None) == (self.bbox is None):
            raise ValueError("a region has exactly one of polygon or bbox")
        return self


class Match(_Strict):
    status: list[Status] | None = None
    msg_type: list[MsgType] | None = None
    scope: list[Scope] | None = None
    sender: list[str] | None = None  # shell-style globs: "*@veiligheidsregio.nl"
    category: list[Category] | None = None
    event: list[str] | None = None  # globs, case-insensitive
    event_code: dict[str, list[str]] | None = None  # valueName -> accepted values
    severity: list[Severity] | None = None
    urgency: list[Urgency] | None = None
    certainty: list[Certainty] | None = None
    language: list[str] | None = None  # primary subtags: nl, en
    geocode: dict[str, list[str]] | None = None  # valueName -> values (globs)
    area_intersects: list[str] | None = None  # region names


class Route(_Strict):
    id: str = Field(pattern=ROUTE_ID)
    match: Match | None = None
    channels: list[str] = Field(default_factory=list)
    fallback: list[str] | None = None
    stop: bool = False
    routes: list[Route] = Field(default_factory=list)


class RoutingConfig(_Strict):
    regions: dict[str, Region] = Field(default_factory=dict)
    block_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="BLOCKCHANNEL values (e.g. IPAWS 'CMAS') -> channel instances they veto",
    )
    routes: list[Route] = Field(min_length=1)
    default: list[str] = Field(min_length=1, description="channels when no route matched")
