"""Service settings: defaults, then a YAML file, then ``TOCSIN_*`` environment, then flags.

Stage: configuration, read by the composition roots (``router.app``, ``router.cli``).
Unknown keys are errors (``extra="forbid"``) so a typo in a deployment's file is
caught at start-up, not silently ignored.

Precedence, highest first: command-line flags (``tocsin serve --port``), the
environment (``TOCSIN_PORT=8081``; nested values as JSON, e.g.
``TOCSIN_PROFILE_DIRS='["/etc/tocsin/profiles"]'``), the file named by
``--config`` or ``TOCSIN_CONFIG`` (see ``config/tocsin.example.yaml``), defaults.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from router.cap.model import Category, MsgType, Severity, Status

KEY_HASH_PREFIX = "sha256:"


def hash_api_key(key: str) -> str:
    """How API keys are stored in configuration.

    Keys are random tokens of at least 128 bits (``tocsin keys new``), not
    passwords a person chose, so a plain SHA-256 is enough to keep the file from
    being a list of usable keys; a slow password hash would only slow every request.
    """
    return KEY_HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


ROLES = ("submit", "approve", "cancel", "read", "admin")
"""What a principal may do: ``submit`` alerts and updates, ``approve`` (or reject) a
colleague's alert that waits for a second pair of eyes, ``cancel`` (post a Cancel),
``read`` its authority's alerts, ``admin`` (the audit trail, key management)."""

DEFAULT_ROLES = ("submit", "cancel", "read")
"""The roles of a key configured without ``roles`` (every ``key_hashes`` entry): what any
key could do before roles existed. ``approve`` and ``admin`` are never implied."""


def _check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    return roles


def _check_key_hash(value: str) -> str:
    digest = value.removeprefix(KEY_HASH_PREFIX)
    if not value.startswith(KEY_HASH_PREFIX) or len(digest) != 64:
        raise ValueError(
            f"{value[:12]!r}... is not 'sha256:<64 hex digits>'; "
            "make one with `tocsin keys new` or `tocsin keys hash`")
    int(digest, 16)
    return value


class ApiKey(BaseModel):
    """One key of an authority, configured in the settings file: a principal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.@-]+$",
                      description="who holds the key (a person or a system)")
    hash: str
    roles: list[str] = Field(default_factory=lambda: list(DEFAULT_ROLES))

    @field_validator("hash")
    @classmethod
    def _hash_looks_right(cls, value: str) -> str:
        return _check_key_hash(value)

    @field_validator("roles")
    @classmethod
    def _roles_known(cls, roles: list[str]) -> list[str]:
        return _check_roles(roles)


class AreaPolicy(BaseModel):
    """Where an authority may warn: every ``<polygon>``/``<circle>`` inside the polygons
    (widened by ``tolerance_m``), every ``<geocode>`` value starting with a listed prefix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    polygons_file: Path | None = Field(
        default=None, description="GeoJSON: a Polygon/MultiPolygon geometry, Feature or "
                                  "FeatureCollection (WGS 84 longitude, latitude)")
    geocode_prefixes: dict[str, list[str]] | None = Field(
        default=None, description="valueName -> value prefixes, e.g. {CBS: [GM05, GM06]}")
    tolerance_m: float = Field(default=0.0, ge=0, le=100_000)


class Authority(BaseModel):
    """A body allowed to post alerts: its keys, the CAP ``sender`` values it may use and
    its policy (each rule optional; an absent rule allows everything)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    senders: list[str] = Field(min_length=1, description="fnmatch patterns, e.g. '*@vr-rr.nl'")
    key_hashes: list[str] = Field(default_factory=list,
                                  description="keys with the default roles (DEFAULT_ROLES)")
    keys: list[ApiKey] = Field(default_factory=list, description="named keys with roles")
    profile: str | None = Field(default=None, description="default profile for this authority")
    status: list[Status] | None = None
    msg_types: list[MsgType] | None = None
    events: list[str] | None = Field(default=None, description="<event> globs, any case")
    event_codes: dict[str, list[str]] | None = Field(
        default=None, description="<eventCode> valueName -> value globs")
    categories: list[Category] | None = None
    max_severity: Severity | None = None
    area: AreaPolicy | None = None
    channels: list[str] | None = Field(default=None,
                                       description="channel instances its alerts may use")
    supervises: list[str] = Field(
        default_factory=list, description="authorities whose alerts it may update, cancel "
                                          "and approve")
    read: Literal["own", "all"] = "own"
    forward_unknown_references: bool = Field(
        default=False, description="true: an Update or Cancel whose references name no "
        "alert in this store is routed and sent (alerts first announced through another "
        "system); false: it is held as held_unknown_reference and sent nowhere")

    @field_validator("key_hashes")
    @classmethod
    def _hashes_look_right(cls, hashes: list[str]) -> list[str]:
        for value in hashes:
            _check_key_hash(value)
        return hashes


class RateLimit(BaseModel):
    """A token bucket: ``burst`` requests at once, refilled at ``per_s`` (0: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_s: float = Field(ge=0, description="requests a second, sustained; 0 switches it off")
    burst: int = Field(ge=1, description="requests allowed at once")


class ApprovalRule(BaseModel):
    """An alert matching every condition given here waits for a second principal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: list[Status] | None = None
    msg_type: list[MsgType] | None = None
    severity: list[Severity] | None = Field(default=None, description="of any <info>")
    channels: list[str] | None = Field(default=None,
                                       description="routed to any of these channel instances")
    parameter: dict[str, list[str]] | None = Field(
        default=None, description="an <info> <parameter> valueName -> values")


def _default_approval_rules() -> list[ApprovalRule]:
    """Actual + Extreme; and anything on cell broadcast at the Presidential level (EU-Alert
    Level 1, message identifier 4370 in the default identifier rules)."""
    return [ApprovalRule(status=[Status.ACTUAL], severity=[Severity.EXTREME]),
            ApprovalRule(channels=["cell_broadcast"], parameter={"EU-Alert-Level": ["1"]})]


class ApprovalSettings(BaseModel):
    """Four-eyes approval: which accepted alerts wait in ``pending_approval``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    rules: list[ApprovalRule] = Field(default_factory=_default_approval_rules)
    window_s: float = Field(default=600.0, gt=0, le=86_400,
                            description="unapproved after this long: expired_unapproved")
    cancel_needs_approval: bool = Field(
        default=False, description="false: a Cancel goes out at once (withdrawing a "
                                   "warning must never wait)")


class FeedArea(BaseModel):
    """Where a feed's alerts must be to be taken (``router.feeds.poller``): an alert
    passes when one of its ``<area>`` geometries (polygon or circle) intersects the
    shape -- a region of the routes file, a polygon or a box -- or when one of its areas
    carries a listed geocode or an ``<areaDesc>`` matching a listed glob. An area without
    geometry passes only by geocode or areaDesc; an alert with no ``<info>`` at all (a
    bare Cancel, Ack or Error) names no area and passes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str | None = Field(default=None, description="a region of the routes file")
    polygon: list[tuple[float, float]] | None = Field(
        default=None, min_length=4, description="[lat, lon] vertices, first = last")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="min_lat, min_lon, max_lat, max_lon")
    geocode: dict[str, list[str]] | None = Field(
        default=None, description="valueName -> value globs, e.g. {CBS: ['GM0599']}")
    area_desc: list[str] | None = Field(default=None, description="<areaDesc> globs, any case")

    @model_validator(mode="after")
    def _something_to_match(self) -> FeedArea:
        shapes = [s for s in (self.region, self.polygon, self.bbox) if s is not None]
        if len(shapes) > 1:
            raise ValueError("an area filter has at most one of region, polygon or bbox")
        if not shapes and self.geocode is None and self.area_desc is None:
            raise ValueError("an area filter needs region, polygon, bbox, geocode or area_desc")
        return self


class Feed(BaseModel):
    """A CAP feed of another authority that the service polls (``router.feeds``). Its
    alerts are taken in as ``authority`` exactly as if that authority had posted them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://", description="Atom, RSS 2.0 or a single CAP")
    name: str | None = Field(default=None, description="for status and metrics; default: url")
    authority: str | None = Field(
        default=None, description="the configured authority the feed acts as; default: "
        "the only authority (demo mode: demo)")
    profile: str | None = Field(default=None, description="default: the authority's")
    interval_s: float = Field(default=60.0, ge=0.1, le=86_400)
    signature_required: bool = Field(
        default=False, description="refuse alerts without a verified XML signature")
    status: list[Status] | None = Field(default=None, description="take only these <status>")
    events: list[str] | None = Field(default=None, description="<event> globs, any case")
    area: FeedArea | None = Field(default=None, description="take only alerts in this area")
    max_bytes: int = Field(default=4 << 20, ge=1024, description="per fetch")
    fetch_concurrency: int = Field(
        default=4, ge=1, le=64, description="linked CAP documents fetched at once")
    timeout_s: float = Field(default=20.0, gt=0, le=600, description="per fetch")
    max_redirects: int = Field(default=3, ge=0, le=10)
    max_backoff_s: float = Field(default=900.0, gt=0)

    @property
    def label(self) -> str:
        return self.name or self.url


class ConsoleSettings(BaseModel):
    """The operator console's maps. Without ``base_map_url`` they draw offline outlines
    (countries, and the first-level subdivisions of ``base_map_countries``) from the npm
    packages Tocsin serves; with it, that tile or WMS service instead (a national base
    map on the crisis centre's own network). Its origin is added to the pages'
    Content-Security-Policy ``img-src``, and to nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_map_url: str | None = Field(
        default=None, pattern=r"^https?://[^/?#\s]+(/\S*)?$",
        description="a tile URL template with {z}, {x} and {y} (an XYZ/WMTS REST service), "
                    "or a WMS endpoint when base_map_wms_layers is set")
    base_map_wms_layers: str | None = Field(
        default=None, min_length=1, description="the WMS LAYERS to ask base_map_url for")
    base_map_attribution: str = Field(default="", max_length=300,
                                      description="shown in the map's corner, as text")
    base_map_countries: list[str] = Field(
        default_factory=lambda: ["NL"],
        description="ISO 3166-1 alpha-2 countries whose provinces (first-level "
                    "subdivisions, Natural Earth) the offline base map outlines")

    @field_validator("base_map_countries")
    @classmethod
    def _alpha2(cls, countries: list[str]) -> list[str]:
        for country in countries:
            if len(country) != 2 or not country.isascii() or not country.isalpha():
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 code")
        return [country.upper() for country in countries]

    @model_validator(mode="after")
    def _template_or_wms(self) -> ConsoleSettings:
        url = self.base_map_url
        if url is not None and self.base_map_wms_layers is None and not all(
                part in url for part in ("{z}", "{x}", "{y}")):
            raise ValueError("base_map_url needs {z}, {x} and {y} (a tile template), "
                             "or base_map_wms_layers for a WMS endpoint")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    demo: bool = False
    dev_api_key: SecretStr | None = Field(
        default=None, description="demo mode only: the development key (else one is generated)")
    dev_approver_key: SecretStr | None = Field(
        default=None, description="demo mode only: a second demo principal holding approve; "
        "when set, demo alerts that are Actual and Extreme wait for its approval")
    approval: ApprovalSettings | None = Field(
        default=None, description="four-eyes approval; unset: the defaults outside demo "
        "mode, and in demo mode Actual + Extreme only when dev_approver_key is set")
    approval_sweep_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    body_read_timeout_s: float = Field(
        default=30.0, gt=0, le=600,
        description="a request body must arrive within this, else 408 http.body-timeout")
    max_event_streams_per_key: int = Field(
        default=16, ge=1, le=10_000,
        description="live event streams (GET /api/v1/alerts/{id}/events) one API key may "
                    "hold open at once; the next is 429 sse.too-many-streams")
    default_profile: str = "cap12"
    expired_on_arrival: Literal["warn", "reject"] = Field(
        default="warn", description="an alert whose every <expires> is already past when "
        "it arrives: accepted with the warning cap.expires.past (warn), or refused with "
        "422 and that finding as an error (reject)")
    profile_dirs: list[Path] = Field(default_factory=list)
    routes_file: Path = Path("config/routes.yaml")
    authorities: list[Authority] = Field(default_factory=list)
    feeds: list[Feed] = Field(default_factory=list,
                              description="CAP feeds to poll (router.feeds)")
    public_feed_statuses: list[Status] = Field(
        default_factory=lambda: [Status.ACTUAL], min_length=1,
        description="the <status> values GET /feeds/public.atom lists (router.feeds): "
        "Actual alone by default; an Exercise or Test listed is marked in its entry")
    public_feed_page_size: int = Field(
        default=50, ge=1, le=1000,
        description="entries per history page of GET /feeds/public.atom?before= (router.feeds)")
    shutdown_timeout: float = Field(default=10.0, gt=0)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings,
                                     description="the operator console's base map")
    store: str | None = Field(
        default=None, description="where alerts and audiences are stored: unset for SQLite "
        "in the data directory, or a store URL such as sqlite:///var/lib/tocsin/t.sqlite3 "
        "or postgresql://tocsin@db.example/tocsin (router.storage)")
    store_lease_s: float = Field(
        default=30.0, ge=1, le=600, description="on a shared store (PostgreSQL): how long a "
        "node's claim on a delivery holds without renewal; a dead node's deliveries go out "
        "again from another node within this many seconds (router.store.leases)")
    store_open_timeout_s: float = Field(
        default=30.0, ge=0, le=3600, description="at start-up, how long to wait for a "
        "PostgreSQL store that does not answer yet (a database starting with the nodes)")
    group_commit_max: int = Field(default=256, ge=1, le=10_000)
    channels: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="channel instances: name -> {type: <entry point>, ...its options}")
    dispatch_enabled: bool = Field(
        default=True, description="false: accept and store only (an ingest-only node; "
        "another node with the same store dispatches)")
    dispatch_poll_interval_s: float = Field(default=0.2, gt=0, le=10)
    dispatch_send_timeout_s: float = Field(
        default=30.0, gt=0, le=3600,
        description="how long one send may take before it counts as failed and is retried; "
                    "a channel may declare its own (Capabilities.send_timeout_s), and "
                    "subscriber fan-outs (SMS, wallet) have their own")
    dispatch_retry_multiplier_s: float = Field(default=0.5, gt=0, le=60,
                                               description="first retry after about this")
    dispatch_retry_max_s: float = Field(default=30.0, gt=0, le=3600)
    dispatch_retry_window_s: float = Field(
        default=3600.0, gt=0, description="retry deadline for alerts without <expires>")
    dispatch_breaker_failures: int = Field(default=5, ge=1)
    dispatch_breaker_reset_s: float = Field(default=30.0, gt=0)
    store_backlog_interval_s: float = Field(
        default=5.0, gt=0, le=300,
        description="how often the store's delivery backlog is read into the "
        "tocsin_store_deliveries and tocsin_store_oldest_pending_age_seconds gauges")
    asset_retention_days: float = Field(
        default=7.0, ge=0, le=3650,
        description="spoken audio is deleted this long after the alert's latest <expires> "
        "(then its asset routes answer 410 asset.pruned); alerts without <expires> keep it")
    asset_prune_interval_s: float = Field(
        default=3600.0, gt=0, le=86400,
        description="how often expired audio is looked for and deleted")
    accessibility_dir: Path = Field(
        default=Path("config/accessibility"),
        description="accessible variants: languages, word lists, templates, speech")
    wallet_push_hosts: list[str] = Field(
        default_factory=lambda: ["fcm.googleapis.com", "*.push.services.mozilla.com",
                                 "*.push.apple.com", "*.notify.windows.com"],
        description="fnmatch patterns of push service hosts wallet subscriptions may name, "
                    "each with an optional ':port' (443 when none is given); endpoints must "
                    "be https (demo mode adds loopback hosts on any port, http allowed)")
    trust_store: Path | None = Field(
        default=None, description="XML-DSig trust: a PEM file or a directory of PEM files; a CA "
        "certificate there is a trust anchor, a leaf certificate a pinned signer")
    trust_sender_bindings: dict[str, list[str]] = Field(
        default_factory=dict,
        description="certificate SHA-256 (of a trust-store certificate) -> fnmatch patterns of "
                    "the CAP senders it may sign for")
    signature_time: Literal["valid-at-sent", "valid-now"] = Field(
        default="valid-at-sent", description="the instant certificates are judged at: the "
        "alert's <sent> (archived alerts outlive their certificates) or receipt")
    signature_clock_skew_s: float = Field(
        default=300.0, ge=0, le=3600,
        description="how far ahead of this clock a signed alert's <sent> may be")
    subscriber_default_region: str | None = Field(
        default=None, min_length=2, max_length=2,
        description="ISO 3166-1 alpha-2 region national phone numbers are read in at "
                    "`tocsin subscribers import` (e.g. NL for 06 1234 5678); without it "
                    "every number must carry its country code (+31 6 ...)")
    audit_rejections_per_minute: int = Field(
        default=60, ge=0, le=100_000,
        description="refused posts written to the audit trail one by one per key and minute; "
                    "beyond that they are counted and written as one aggregated entry")
    audit_aggregate_interval_s: float = Field(
        default=60.0, gt=0, le=3600,
        description="how often counted refusals (no valid key, or over the cap) are "
                    "written as one aggregated audit entry")
    write_rate_limit: RateLimit = Field(
        default=RateLimit(per_s=10, burst=600),
        description="per API key, on every POST/PUT/PATCH/DELETE: an authority posting "
                    "hundreds of alerts in a storm stays under it; 429 with Retry-After")
    subscription_rate_limit: RateLimit = Field(
        default=RateLimit(per_s=1, burst=60),
        description="per client address (IPv6: per /64) on the public wallet "
                    "subscription routes; 429 with Retry-After")
    rate_limit_max_keys: int = Field(
        default=100_000, ge=100, description="buckets kept per limiter (least recently "
                                             "used dropped first): bounded memory")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("subscriber_default_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not an ISO 3166-1 alpha-2 region")
        return region.upper() if region is not None else None
    log_format: Literal["json", "console"] = "json"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "tocsin.sqlite3"


def load_settings(config_file: Path | None = None, **flags: object) -> Settings:
    """Settings from every source; ``flags`` are command-line values (None = not given)."""
    path = config_file or (Path(os.environ["TOCSIN_CONFIG"]) if "TOCSIN_CONFIG" in os.environ
                           else None)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"configuration file {path} does not exist")
    given = {name: value for name, value in flags.items() if value is not None}

    class _FromSources(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003  (called by keyword)
            file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if path is not None:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
            return tuple(sources)

    loaded = _FromSources(**given)  # type: ignore[arg-type]
    return Settings.model_validate(loaded.model_dump())
