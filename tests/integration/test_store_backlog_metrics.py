"""The store's backlog on ``/metrics``, through a real ``tocsin serve`` (issue 18:
``/metrics`` showed 41 queued while 12,905 deliveries were pending in the store).

The webhook's peer is down (its URL is a loopback port nobody listens on), so its
deliveries cannot go out: they retry, the breaker opens and they wait, all of it in the
store. The file channel delivers. ``/metrics`` must count the webhook's open deliveries
and show the age of its oldest growing, and show the file channel's backlog empty."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import make_alert
from tests.integration.server import Server, free_port, start_server
from tests.integration.test_dispatch_flow import FAST, post

ROUTES = ("routes:\n  - id: all\n    match: {status: [Actual]}\n"
          "    channels: [webhook, file]\ndefault: [file]\n")
OPEN = ("pending", "waiting_for_channel", "sending", "standby")


def backlog(server: Server) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """``tocsin_store_deliveries`` by channel and state, and the oldest ages by channel."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, dict[str, float]] = {}
    ages: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tocsin_store_deliveries":
                counts.setdefault(sample.labels["channel"], {})[sample.labels["state"]] = (
                    sample.value)
            elif sample.name == "tocsin_store_oldest_pending_age_seconds":
                ages[sample.labels["channel"]] = sample.value
    return counts, ages


def configure(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    config = {"routes_file": str(tmp_path / "routes.yaml"), "channels": {
        "webhook": {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/down",
                    "secret": "s" * 32, "timeout_s": 1},
        "file": {"type": "file", "path": str(tmp_path / "file.jsonl")}}}
    (tmp_path / "tocsin.yaml").write_text(json.dumps(config), encoding="utf-8")
    return {**FAST, "TOCSIN_CONFIG": str(tmp_path / "tocsin.yaml"),
            "TOCSIN_STORE_BACKLOG_INTERVAL_S": "0.2"}


async def test_metrics_show_the_deliveries_the_store_cannot_send(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env=configure(tmp_path))
    try:
        for n in range(3):
            await post(server, make_alert(f"BACKLOG-{n}"))
        deadline = time.monotonic() + 20  # bounded
        while True:
            counts, ages = backlog(server)
            webhook = counts.get("webhook", {})
            if (sum(webhook.get(s, 0) for s in OPEN) == 3
                    and sum(counts.get("file", {}).get(s, 0) for s in OPEN) == 0
                    and ages.get("webhook", 0) > 0):
                break
            assert time.monotonic() < deadline, (counts, ages)
            await asyncio.sleep(0.2)
        first = ages["webhook"]
        while True:  # bounded: the same deadline
            await asyncio.sleep(0.5)
            later_counts, later_ages = backlog(server)
            if later_ages["webhook"] >= first + 1.0:
                break  # from acceptance: it grows while the deliveries wait
            assert time.monotonic() < deadline, (first, later_ages)
    finally:
        server.stop()
    assert set(webhook) == set(OPEN)
    assert webhook["standby"] == 0
    assert sum(later_counts["webhook"].get(s, 0) for s in OPEN) == 3  # still not sent
    assert later_ages["file"] == 0
