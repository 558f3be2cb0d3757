"""The feed area filter's settings: one shape at most, something to match, and a
region name that the routes file defines (checked at start-up, not at the first poll)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from router.app import create_app
from router.errors import ConfigurationError
from router.settings import Feed, FeedArea, Settings


def test_an_area_filter_has_one_shape_at_most_and_something_to_match() -> None:
    with pytest.raises(ValidationError, match="at most one of region, polygon or bbox"):
        FeedArea(region="netherlands", bbox=(50.0, 3.0, 54.0, 7.0))
    with pytest.raises(ValidationError, match="needs region, polygon, bbox"):
        FeedArea()
    assert FeedArea(area_desc=["rotterdam*"]).area_desc == ["rotterdam*"]


def _settings(tmp_path: Path, area: FeedArea) -> Settings:
    return Settings(demo=True, data_dir=tmp_path, dispatch_enabled=False,
                    dev_api_key="dev-key-for-feed-area-tests-0123",
                    feeds=[Feed(url="http://127.0.0.1:9/feed.atom", name="f", area=area)])


def test_an_unknown_region_stops_start_up_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_app(_settings(tmp_path, FeedArea(region="atlantis")))
    [problem] = caught.value.problems
    assert "feed f: area region 'atlantis'" in problem
    assert "netherlands" in problem
    create_app(_settings(tmp_path / "ok", FeedArea(region="netherlands")))  # a known one
