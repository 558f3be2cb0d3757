"""What an accept does before its 202, counted rather than timed: the work a request
pays for stays the work it needs (a regression guard for ingest speed).

Counting how each form fits each planned channel (pages, SMS parts, GSM-7 costs) was
half of an accept's time; it is the preview's, done when asked. The variants endpoint
still reports what does not fit the planned channels, and the channels' notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from router.app import create_app
from router.ingest import variants
from router.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"
KEY = "dev-key-for-work-count-tests-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/cap+xml"}


async def test_an_accept_counts_no_pages_or_parts_and_the_preview_still_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = variants.preview

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("preview")
        return real(*args, **kwargs)
    monkeypatch.setattr(variants, "preview", counted)
    fitted: list[str] = []
    real_fit = variants.fit_findings

    def fit_counted(*args: Any, **kwargs: Any) -> Any:
        fitted.append("fit")
        return real_fit(*args, **kwargs)
    monkeypatch.setattr(variants, "fit_findings", fit_counted)
    settings = Settings(demo=True, data_dir=tmp_path, dev_api_key=KEY, dispatch_enabled=False)
    async with TestClient(TestServer(create_app(settings))) as client:
        for name in ("nl-alert-fire.xml", "nl-alert-fire-update.xml"):
            answer = await client.post("/api/v1/alerts", data=(EXAMPLES / name).read_bytes(),
                                       headers=HEADERS)
            assert answer.status == 202, await answer.text()
        assert (calls, fitted) == ([], [])  # nothing of the preview before the 202
        alert_id = (await answer.json())["id"]
        shown = await client.get(f"/api/v1/alerts/{alert_id}/variants",
                                 headers={"Authorization": f"Bearer {KEY}"})
        body = await shown.json()
        assert shown.status == 200, body
    assert calls == ["preview"]  # computed when asked
    assert body["forms"]  # every channel's fit, as sent
