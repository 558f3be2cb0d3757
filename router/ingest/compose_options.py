"""``GET /api/v1/compose-options``: the choices a compose form offers for one profile.

Stage: ingest (HTTP). Why the API says it rather than the console knowing it: the
events a profile allows and the verified instruction texts are configuration of this
service (``cap_profiles/``, ``config/accessibility/instructions.yaml``), and the
console is only a client. The answer is advice for a form; the post is still checked
by the profile itself.

- ``events``: when the profile (or a profile it extends) has an ``allowed_values``
  rule on ``info.event``, those values, and free text only if that rule is a warning;
  otherwise the hazards of the template library, each with its human-verified name
  per language, and free text allowed.
- ``instructions``: the guidance templates, each with its codes and its text per
  language, inserted into the instruction field as written (Tocsin never translates).
- ``status_markers``: the word an Exercise or Test starts with, per language.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from aiohttp import web
from pydantic import Field

from router.http.problems import ProblemError
from router.ingest.context import CONTEXT
from router.ingest.schemas import _Out
from router.profiles.loader import builtin_profile_dir, read_specs
from router.profiles.model import ProfileSpec, RuleSpec
from router.routing.config import Region

EVENT_PATH = "info.event"


class EventChoice(_Out):
    value: str = Field(description="the event as the profile or the template names it")
    text: dict[str, str] = Field(description="language -> the event's name in it")


class InstructionChoice(_Out):
    codes: list[str] = Field(description="the template's codes (responseType:Shelter ...)")
    text: dict[str, str] = Field(description="language -> human-verified instruction")


class RegionChoice(_Out):
    name: str = Field(description="the region's name in the routing configuration")
    polygon: list[tuple[float, float]] = Field(
        description="its outline as [lat, lon] pairs, first point repeated last (a bbox "
                    "as its four corners)")


class ComposeOptions(_Out):
    profile: str
    events_from: str = Field(description="'profile' (its allowed events) or 'templates'")
    free_text: bool = Field(description="an event outside the list is allowed")
    events: list[EventChoice]
    instructions: list[InstructionChoice]
    status_markers: dict[str, dict[str, str]]
    regions: list[RegionChoice] = Field(
        description="the authority's stored areas: the routing configuration's regions, "
                    "which a form may take as its polygon")


def _outline(region: Region) -> list[tuple[float, float]]:
    """A region as a closed CAP ring: its polygon, or its bbox's corners."""
    if region.bbox is not None:
        low_lat, low_lon, high_lat, high_lon = region.bbox
        return [(low_lat, low_lon), (low_lat, high_lon), (high_lat, high_lon),
                (high_lat, low_lon), (low_lat, low_lon)]
    ring = list(region.polygon or [])
    return ring if not ring or ring[0] == ring[-1] else [*ring, ring[0]]


@lru_cache(maxsize=32)
def allowed_events(directories: tuple[Path, ...], profile: str
                   ) -> tuple[tuple[str, ...], bool] | None:
    """The values the profile's nearest ``allowed_values`` rule on ``info.event`` allows
    and whether it is only a warning; None when no rule in its chain restricts events.
    Read once per profile (profiles load at start-up; a change needs a restart)."""
    specs, _ = read_specs([builtin_profile_dir(), *directories])
    chain: list[ProfileSpec] = []
    current: str | None = profile
    while current is not None and current in specs and specs[current] not in chain:
        chain.append(specs[current])
        current = specs[current].extends
    rules: dict[str, RuleSpec] = {}
    for spec in reversed(chain):  # the root first; a child's rule replaces its parent's
        for rule_id in spec.disable:
            rules.pop(rule_id, None)
        for rule in spec.rules:
            rules[rule.id] = rule
    for rule in rules.values():
        check = rule.allowed_values
        if check is not None and check.path == EVENT_PATH and rule.when is None:
            return tuple(check.values), rule.severity == "warning"
    return None


async def compose_options(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    principal = await ctx.auth.authenticate(request.headers.get("Authorization"))
    authority = ctx.auth.policy(principal)
    profile = request.query.get("profile") or authority.profile or ctx.settings.default_profile
    if profile not in ctx.profiles.names():
        raise ProblemError(400, "ingest.unknown-profile", "Unknown profile",
                           f"profile {profile!r} is not loaded; known profiles: "
                           f"{', '.join(ctx.profiles.names())}")
    library = ctx.renderer.config.templates if ctx.renderer is not None else None
    restricted = allowed_events(tuple(ctx.settings.profile_dirs), profile)
    if restricted is not None:
        values, free_text = restricted
        events = [EventChoice(value=v, text={}) for v in values]
    else:
        free_text = True
        events = [EventChoice(value=h.text.get("en") or next(iter(h.text.values()), ""),
                              text=dict(h.text))
                  for h in (library.hazards if library else ())]
    out = ComposeOptions(
        profile=profile, events_from="templates" if restricted is None else "profile",
        free_text=free_text, events=events,
        instructions=[InstructionChoice(codes=list(g.codes), text=dict(g.text))
                      for g in (library.guidance if library else ())],
        status_markers=dict(library.status_markers) if library else {},
        regions=[RegionChoice(name=name, polygon=_outline(region))
                 for name, region in sorted(ctx.router.config.regions.items())])
    return web.Response(body=out.model_dump_json(), content_type="application/json")
