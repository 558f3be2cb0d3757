"""The CAP 1.2 data model: every element of OASIS CAP 1.2 as frozen pydantic models.

Stage: the pure core. Imports nothing from Tocsin but the findings type; no I/O.

Field names are the CAP element names in snake_case (``msgType`` -> ``msg_type``).
Repeated elements are tuples in document order, so two alerts compare equal when
their XML would serialise identically.  Values that CAP packs into one string
(``references``, ``addresses``, ``incidents``, ``polygon``, ``circle``) are held
parsed, so code downstream never re-splits strings; the serializer writes them
back in CAP's canonical form.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, SkipValidation

CAP12_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.1"
CAP10_NAMESPACE = "http://www.incident.com/cap/1.0"
XMLDSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"


_MAX_OFFSET = timedelta(hours=14)


def _cap_instant(value: datetime) -> datetime:
    """Hold a date-time to what CAP 1.2 can write: whole seconds, an offset in whole
    minutes within ±14:00 (the XSD ``dateTime`` range). Rejecting the rest here
    keeps ``parse_cap(serialize(a)) == a`` true for every alert the model accepts."""
    offset = value.utcoffset()
    if value.microsecond:
        raise ValueError("CAP date-times have whole seconds; fractions cannot be written")
    if offset is None or offset % timedelta(minutes=1) or abs(offset) > _MAX_OFFSET:
        raise ValueError("CAP date-times need a UTC offset in whole minutes within ±14:00")
    return value


CapDateTime = Annotated[AwareDatetime, AfterValidator(_cap_instant)]


class Status(StrEnum):
    ACTUAL = "Actual"
    EXERCISE = "Exercise"
    SYSTEM = "System"
    TEST = "Test"
    DRAFT = "Draft"


class MsgType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"
    ACK = "Ack"
    ERROR = "Error"


class Scope(StrEnum):
    PUBLIC = "Public"
    RESTRICTED = "Restricted"
    PRIVATE = "Private"


class Category(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class ResponseType(StrEnum):
    SHELTER = "Shelter"
    EVACUATE = "Evacuate"
    PREPARE = "Prepare"
    EXECUTE = "Execute"
    AVOID = "Avoid"
    MONITOR = "Monitor"
    ASSESS = "Assess"
    ALL_CLEAR = "AllClear"
    NONE = "None"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ValuePair(_Frozen):
    """``eventCode``, ``parameter`` and ``geocode``: a system-specific name and value."""

    value_name: str
    value: str


class Reference(_Frozen):
    """One entry of ``<references>``: the CAP key of an earlier message."""

    sender: str
    identifier: str
    sent: CapDateTime


Point = tuple[float, float]
"""A WGS 84 coordinate pair in CAP's order: (latitude, longitude).

A plain tuple rather than a model: a national alert can carry thousands of
vertices, and tuples of floats are validated inside pydantic-core without a
Python object per vertex.
"""

Polygon = tuple[Point, ...]

Bounds = tuple[float, float, float, float]
"""A polygon's bounding box: (south, north, west, east) in degrees."""


def polygon_bounds(polygon: Polygon) -> Bounds:
    """The extremes of a non-empty polygon's latitudes and longitudes, at C speed."""
    lats, lons = zip(*polygon, strict=False)  # pairs by type; strict=True costs a pass
    return min(lats), max(lats), min(lons), max(lons)


class Circle(_Frozen):
    center: Point
    radius_km: float


class Resource(_Frozen):
    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


class Area(_Frozen):
    area_desc: str
    # Each polygon is read, checked and made a tuple of float pairs by the builder
    # (``router.cap.build``: pair syntax, finite numbers), the one place polygons come
    # from untrusted text; pydantic re-checking every vertex cost a third of the model
    # build of a large alert. Code that constructs an Area itself passes tuples.
    polygons: tuple[Annotated[Polygon, SkipValidation], ...] = ()
    circles: tuple[Circle, ...] = ()
    geocodes: tuple[ValuePair, ...] = ()
    altitude: float | None = None
    ceiling: float | None = None

    @cached_property
    def polygon_bounds(self) -> tuple[Bounds | None, ...]:
        """Each polygon's bounding box (None for an empty one), computed once per area.

        The spec range check and the profiles' allowed-area boxes both read it, so a
        polygon's vertices are scanned once per alert, not once per rule. Not a field:
        it is not serialised or compared, and the model being frozen keeps it true
        (no CAP model is rebuilt with ``model_copy(update=...)``, which would copy it).
        """
        return tuple(polygon_bounds(polygon) if polygon else None for polygon in self.polygons)


class Info(_Frozen):
    language: str | None = None
    categories: tuple[Category, ...] = Field(min_length=1)
    event: str
    response_types: tuple[ResponseType, ...] = ()
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    audience: str | None = None
    event_codes: tuple[ValuePair, ...] = ()
    effective: CapDateTime | None = None
    onset: CapDateTime | None = None
    expires: CapDateTime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[ValuePair, ...] = ()
    resources: tuple[Resource, ...] = ()
    areas: tuple[Area, ...] = ()

    @property
    def effective_language(self) -> str:
        """CAP 1.2: an absent ``<language>`` means ``en-US``."""
        return self.language or "en-US"


class Alert(_Frozen):
    identifier: str
    sender: str
    sent: CapDateTime
    status: Status
    msg_type: MsgType
    source: str | None = None
    scope: Scope
    restriction: str | None = None
    addresses: tuple[str, ...] | None = None
    codes: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[Reference, ...] | None = None
    incidents: tuple[str, ...] | None = None
    infos: tuple[Info, ...] = ()

    @property
    def key(self) -> tuple[str, str, datetime]:
        """The CAP key that identifies a message: (sender, identifier, sent)."""
        return (self.sender, self.identifier, self.sent)


class CapDocument(_Frozen):
    """A parsed alert plus what the document said about itself beyond CAP 1.2 fields."""

    alert: Alert
    source_version: str = "1.2"
    signed: bool = False
