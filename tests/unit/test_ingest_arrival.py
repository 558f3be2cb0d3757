"""An alert expired on arrival is not accepted silently: ``cap.expires.past`` is a
warning in the 202 by default, and a 422 when ``expired_on_arrival: reject``."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
KEY = "dev-key-for-arrival-tests-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}
EXPIRED = (EXAMPLES / "nl-alert-fire.xml").read_text(encoding="utf-8").replace(
    "<certainty>Observed</certainty>",
    "<certainty>Observed</certainty>\n    <expires>2026-11-25T15:05:00+01:00</expires>").encode()


@pytest.mark.parametrize(("mode", "status"), [("warn", 202), ("reject", 422)])
async def test_expired_on_arrival(tmp_path: Path, mode: str, status: int) -> None:
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False,
                        expired_on_arrival=mode)  # type: ignore[arg-type]
    async with TestClient(TestServer(create_app(settings))) as client:
        answer = await client.post("/api/v1/alerts", data=EXPIRED, headers=HEADERS)
        body = await answer.json()
        assert answer.status == status, body
        listed = body["warnings"] if status == 202 else body["findings"]
        past = [f for f in listed if f["code"] == "cap.expires.past"]
        assert [f["location"] for f in past] == ["/alert/info[1]/expires",
                                                 "/alert/info[2]/expires"]
        assert {f["severity"] for f in past} == {"warning" if mode == "warn" else "error"}
